/* Routes of Firecracker's API and their lifecycle rules. Every request is answered on the event
 * loop's thread; nothing here blocks except InstanceStart, which builds the machine. */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_server.h"
#include "api/json_check.h"
#include "metrics/metrics.h"
#include "util/log.h"
#include "vmm/vmm.h"
#include "vmm/vmm_pause.h"
#include "devices/i8042.h"

#define AZOTE_VERSION	      "0.2.0"
#define FIRECRACKER_API_LEVEL "1.7.0" /* the Firecracker API version azote answers to */

#define NOT_AFTER  "The requested operation is not supported after starting the microVM."
#define NOT_BEFORE "The requested operation is not supported before starting the microVM."

struct api {
	struct vmm *vmm;
	struct vm_resources *res;
	struct metrics *metrics;
	struct http_server *http;
};

enum when { ANYTIME, PRE_BOOT, POST_BOOT };

struct route;
typedef int (*route_fn)(struct api *api, const struct route *rt, const char *id,
			const struct http_request *req, struct http_response *resp);

struct route {
	enum http_verb method;
	const char *path; /* a trailing '*' matches one path segment: the resource id */
	enum when when;
	bool needs_body;
	route_fn fn;
	const char *metric; /* Firecracker's metric name: "machine_cfg" */
};

static int reply_json(struct http_response *resp, int status, json_t *body)
{
	resp->status = status;
	resp->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	json_decref(body);
	return status < 300 ? 0 : -1;
}

static int reply_fault(struct http_response *resp, const char *msg)
{
	http_response_fault(resp, 400, "%s", msg);
	return -1;
}

static bool booted(const struct api *api)
{
	return api->vmm->booted;
}

static const char *instance_state(const struct api *api)
{
	if (!booted(api))
		return "Not started";
	return vmm_is_paused(api->vmm) ? "Paused" : "Running";
}

/* --- GET --- */

static int get_instance(struct api *api, const struct route *rt, const char *id,
			const struct http_request *req, struct http_response *resp)
{
	return reply_json(resp, 200,
			  json_pack("{s:s, s:s, s:s, s:s}", "id", "anonymous-instance", "state",
				    instance_state(api), "vmm_version", AZOTE_VERSION, "app_name",
				    "azote"));
}

static int get_version(struct api *api, const struct route *rt, const char *id,
		       const struct http_request *req, struct http_response *resp)
{
	return reply_json(resp, 200,
			  json_pack("{s:s, s:s}", "firecracker_version", FIRECRACKER_API_LEVEL,
				    "azote_version", AZOTE_VERSION));
}

static int get_machine(struct api *api, const struct route *rt, const char *id,
		       const struct http_request *req, struct http_response *resp)
{
	return reply_json(resp, 200, vm_resources_machine_json(api->res));
}

static int get_vm_config(struct api *api, const struct route *rt, const char *id,
			 const struct http_request *req, struct http_response *resp)
{
	return reply_json(resp, 200, vm_resources_json(api->res));
}

static int get_metrics(struct api *api, const struct route *rt, const char *id,
		       const struct http_request *req, struct http_response *resp)
{
	resp->status = 200;
	resp->body = metrics_prometheus(api->metrics, &resp->body_len);
	resp->content_type = "text/plain; version=0.0.4";
	return resp->body ? 0 : reply_fault(resp, "out of memory");
}

/* --- configuration (PUT / PATCH) --- */

static json_t *body_json(const struct http_request *req, struct http_response *resp)
{
	char err[256];
	json_t *body = json_check_parse(req->body, req->body_len, err, sizeof(err));

	if (!body)
		reply_fault(resp, err);
	return body;
}

/* The body, parsed and checked against fields; NULL with a fault in resp when it is not. */
static json_t *body_checked(const struct http_request *req, struct http_response *resp,
			    const struct json_field *fields, size_t n)
{
	char err[512];
	json_t *body = body_json(req, resp);

	if (body && json_check_fields(body, fields, n, err, sizeof(err))) {
		json_decref(body);
		reply_fault(resp, err);
		return NULL;
	}
	return body;
}

typedef int (*apply_fn)(struct api *api, const char *id, const json_t *body, bool patch,
			char *err, size_t n);

static int apply(struct api *api, const char *id, const struct http_request *req,
		 struct http_response *resp, apply_fn fn)
{
	char err[512];
	json_t *body = body_json(req, resp);
	int rc;

	if (!body)
		return -1;
	rc = fn(api, id, body, req->method == HTTP_VERB_PATCH, err, sizeof(err));
	json_decref(body);
	if (rc)
		return reply_fault(resp, err);
	resp->status = 204;
	return 0;
}

static int apply_boot(struct api *api, const char *id, const json_t *b, bool p, char *e, size_t n)
{
	return vm_resources_boot_source(api->res, b, e, n);
}

static int apply_machine(struct api *api, const char *id, const json_t *b, bool p, char *e,
			 size_t n)
{
	return vm_resources_machine(api->res, b, p, e, n);
}

static int apply_drive(struct api *api, const char *id, const json_t *b, bool p, char *e, size_t n)
{
	/* After boot a drive's backing file cannot be swapped yet: only the no-op patch passes. */
	if (p && booted(api) && json_has(b, "path_on_host")) {
		snprintf(e, n, "Changing drive %s's path_on_host after the microVM started is not "
			       "supported by azote.", id);
		return -1;
	}
	return vm_resources_drive(api->res, id, b, p, e, n);
}

static int apply_net(struct api *api, const char *id, const json_t *b, bool p, char *e, size_t n)
{
	return vm_resources_net(api->res, id, b, p, e, n);
}

static int apply_logger(struct api *api, const char *id, const json_t *b, bool p, char *e, size_t n)
{
	return vm_resources_logger(api->res, b, e, n) || api_apply_logger(api->res, e, n) ? -1 : 0;
}

static int apply_metrics(struct api *api, const char *id, const json_t *b, bool p, char *e,
			 size_t n)
{
	int rc;

	if (api->res->metrics_path) {
		snprintf(e, n, "Reinitialization of metrics not allowed.");
		return -1;
	}
	if (vm_resources_metrics(api->res, b, e, n))
		return -1;
	rc = metrics_set_path(api->metrics, api->res->metrics_path);
	if (rc) {
		snprintf(e, n, "Cannot open the metrics file %s: %s", api->res->metrics_path,
			 strerror(-rc));
		free(api->res->metrics_path);
		api->res->metrics_path = NULL;
	}
	return rc ? -1 : 0;
}

#define APPLY_ROUTE(name, fnname)                                                                  \
	static int name(struct api *api, const struct route *rt, const char *id,                   \
			const struct http_request *req, struct http_response *resp)                \
	{                                                                                          \
		return apply(api, id, req, resp, fnname);                                          \
	}
APPLY_ROUTE(put_boot, apply_boot)
APPLY_ROUTE(put_machine, apply_machine)
APPLY_ROUTE(put_drive, apply_drive)
APPLY_ROUTE(put_net, apply_net)
APPLY_ROUTE(put_logger, apply_logger)
APPLY_ROUTE(put_metrics, apply_metrics)

/* --- actions and VM state --- */

int api_apply_logger(const struct vm_resources *res, char *err, size_t n)
{
	static const char *const names[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};
	static const enum log_level levels[] = {LOG_OFF, LOG_ERROR, LOG_WARN,
						LOG_INFO, LOG_DEBUG, LOG_DEBUG};
	enum log_level level = LOG_INFO;
	int rc;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(res->log_level, names[i]))
			level = levels[i];
	rc = log_configure(res->log_path, level, res->show_level, res->show_origin);
	if (rc)
		snprintf(err, n, "Cannot open the log file %s: %s", res->log_path, strerror(-rc));
	return rc ? -1 : 0;
}

int api_instance_start(struct vmm *vmm, struct vm_resources *res, struct metrics *metrics,
		       char *err, size_t n)
{
	if (vm_resources_seal(res, err, n))
		return -1;
	if (vmm_boot(vmm)) {
		snprintf(err, n, "Failed to start the microVM: %s", log_last_error());
		return -1;
	}
	metrics_vm_started(metrics);
	return 0;
}

static int put_actions(struct api *api, const struct route *rt, const char *id,
		       const struct http_request *req, struct http_response *resp)
{
	static const struct json_field fields[] = {{"action_type", JF_STRING, true}};
	char err[512];
	json_t *body = body_checked(req, resp, fields, 1);
	const char *action;
	int rc = -1;

	if (!body)
		return -1;
	action = json_str(body, "action_type", "");
	if (!strcmp(action, "InstanceStart")) {
		if (booted(api))
			snprintf(err, sizeof(err), NOT_AFTER);
		else
			rc = api_instance_start(api->vmm, api->res, api->metrics, err, sizeof(err));
	} else if (!strcmp(action, "SendCtrlAltDel")) {
		if (!booted(api))
			snprintf(err, sizeof(err), NOT_BEFORE);
		else if ((rc = i8042_send_ctrl_alt_del(api->vmm->i8042)))
			snprintf(err, sizeof(err), "The guest has not enabled its keyboard yet: "
						   "Ctrl-Alt-Del cannot be delivered.");
	} else if (!strcmp(action, "FlushMetrics")) {
		if (!api->res->metrics_path)
			snprintf(err, sizeof(err), "The metrics system is not initialized: PUT "
						   "/metrics first.");
		else if ((rc = metrics_flush(api->metrics)))
			snprintf(err, sizeof(err), "Cannot write the metrics: %s", strerror(-rc));
	} else {
		snprintf(err, sizeof(err), "unknown variant `%s`, expected one of `InstanceStart`, "
					   "`SendCtrlAltDel`, `FlushMetrics`", action);
	}
	json_decref(body);
	if (rc)
		return reply_fault(resp, err);
	resp->status = 204;
	return 0;
}

static int patch_vm(struct api *api, const struct route *rt, const char *id,
		    const struct http_request *req, struct http_response *resp)
{
	static const struct json_field fields[] = {{"state", JF_STRING, true}};
	char err[512];
	json_t *body = body_checked(req, resp, fields, 1);
	const char *state;
	int rc = -1;

	if (!body)
		return -1;
	state = json_str(body, "state", "");
	if (!strcmp(state, "Paused"))
		rc = vmm_pause(api->vmm);
	else if (!strcmp(state, "Resumed"))
		rc = vmm_resume(api->vmm);
	else
		snprintf(err, sizeof(err), "unknown variant `%s`, expected `Paused` or `Resumed`",
			 state);
	if (rc && rc != -1)
		snprintf(err, sizeof(err), "Cannot change the microVM's state to %s: %s", state,
			 strerror(-rc));
	json_decref(body);
	if (rc)
		return reply_fault(resp, err);
	resp->status = 204;
	return 0;
}

static const struct route routes[] = {
    {HTTP_VERB_GET, "/", ANYTIME, false, get_instance, "instance_info"},
    {HTTP_VERB_GET, "/version", ANYTIME, false, get_version, "vmm_version"},
    {HTTP_VERB_GET, "/machine-config", ANYTIME, false, get_machine, "machine_cfg"},
    {HTTP_VERB_GET, "/vm/config", ANYTIME, false, get_vm_config, "vm_config"},
    {HTTP_VERB_GET, "/metrics", ANYTIME, false, get_metrics, "metrics"},
    {HTTP_VERB_PUT, "/boot-source", PRE_BOOT, true, put_boot, "boot_source"},
    {HTTP_VERB_PUT, "/machine-config", PRE_BOOT, true, put_machine, "machine_cfg"},
    {HTTP_VERB_PATCH, "/machine-config", PRE_BOOT, true, put_machine, "machine_cfg"},
    {HTTP_VERB_PUT, "/drives/*", PRE_BOOT, true, put_drive, "drive"},
    {HTTP_VERB_PATCH, "/drives/*", POST_BOOT, true, put_drive, "drive"},
    {HTTP_VERB_PUT, "/network-interfaces/*", PRE_BOOT, true, put_net, "network"},
    {HTTP_VERB_PATCH, "/network-interfaces/*", POST_BOOT, true, put_net, "network"},
    {HTTP_VERB_PUT, "/actions", ANYTIME, true, put_actions, "actions"},
    {HTTP_VERB_PATCH, "/vm", POST_BOOT, true, patch_vm, "vm"},
    {HTTP_VERB_PUT, "/logger", PRE_BOOT, true, put_logger, "logger"},
    {HTTP_VERB_PUT, "/metrics", PRE_BOOT, true, put_metrics, "metrics"},
};

/* Does path match pattern? A trailing "/ *" (without the space) takes one non-empty segment,
 * returned in id. */
static bool route_match(const char *pattern, const char *path, char *id, size_t idlen)
{
	size_t plen = strlen(pattern);
	const char *seg;

	if (plen < 2 || strcmp(pattern + plen - 2, "/*"))
		return !strcmp(pattern, path) || (strlen(path) > 1 && !strncmp(pattern, path, plen) &&
						  !strcmp(path + plen, "/"));
	if (strncmp(pattern, path, plen - 1))
		return false;
	seg = path + plen - 1;
	if (!*seg || strchr(seg, '/') || strlen(seg) >= idlen)
		return false;
	snprintf(id, idlen, "%s", seg);
	return true;
}

static void api_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
	struct api *api = ctx;
	const struct route *rt = NULL;
	bool path_known = false;
	char id[64] = "";
	int rc;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_match(routes[i].path, req->path, id, sizeof(id)))
			continue;
		path_known = true;
		if (routes[i].method == req->method) {
			rt = &routes[i];
			break;
		}
	}
	if (!rt) {
		http_response_fault(resp, 400, "Invalid request method and/or path: %s %s.",
				    req->method_name, req->path);
		metrics_count_api(api->metrics, req->method_name,
				  path_known ? req->path : "(unknown)", resp->status);
		return;
	}
	if (rt->when == PRE_BOOT && booted(api))
		rc = reply_fault(resp, NOT_AFTER);
	else if (rt->when == POST_BOOT && !booted(api))
		rc = reply_fault(resp, NOT_BEFORE);
	else if (!rt->needs_body && req->body_len)
		rc = reply_fault(resp, "This request takes no body.");
	else
		rc = rt->fn(api, rt, id, req, resp);
	if (rc && resp->status < 400)
		resp->status = 400;
	if (resp->status >= 400)
		log_info("API %s %s: %d %.*s", req->method_name, req->path, resp->status,
			 (int)(resp->body_len < 300 ? resp->body_len : 300),
			 resp->body ? resp->body : "");
	metrics_count_api(api->metrics, req->method_name, rt->metric, resp->status);
}

int api_create(struct api **out, struct vmm *vmm, struct vm_resources *res,
	       struct metrics *metrics, const char *socket_path)
{
	struct api *api = calloc(1, sizeof(*api));
	int rc;

	if (!api)
		return -ENOMEM;
	api->vmm = vmm;
	api->res = res;
	api->metrics = metrics;
	rc = http_server_listen(&api->http, &vmm->loop, socket_path, NULL, api_handle, api);
	if (rc) {
		free(api);
		return rc;
	}
	metrics_set_http(metrics, api->http);
	*out = api;
	return 0;
}

void api_destroy(struct api *api)
{
	if (!api)
		return;
	metrics_set_http(api->metrics, NULL);
	http_server_destroy(api->http);
	free(api);
}
