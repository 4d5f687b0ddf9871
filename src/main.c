/* azote: command line -> configuration (flags, a config file or the API) -> VM -> exit status. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api.h"
#include "api/vm_resources.h"
#include "config/vm_config.h"
#include "metrics/metrics.h"
#include "sandbox/seccomp.h"
#include "util/log.h"
#include "vmm/vmm.h"

#define AZOTE_VERSION "0.2.0"

/* The command line's VM, as the API reports it (GET /vm/config). */
static int resources_from_cli(struct vm_resources *r, const struct vm_config *cli)
{
	json_t *boot = json_pack("{s:s, s:s?, s:s}", "kernel_image_path", cli->kernel_path,
				 "initrd_path", cli->initrd_path, "boot_args", cli->cmdline);
	char err[256];
	int rc = boot ? vm_resources_boot_source(r, boot, err, sizeof(err)) : -1;

	json_decref(boot);
	if (rc) {
		log_error("%s", err);
		return -1;
	}
	r->cfg.cpus = cli->cpus;
	r->cfg.mem_bytes = cli->mem_bytes;
	r->cfg.ndisks = cli->ndisks;
	r->cfg.nnets = cli->nnets;
	for (unsigned i = 0; i < cli->ndisks; i++) {
		struct disk_config *d = &r->cfg.disks[i];

		const struct disk_config *c = &cli->disks[i];

		/* The API's form: spec holds just the path or the socket. */
		*d = *c;
		snprintf(d->spec, sizeof(d->spec), "%s", c->path ? c->path : c->socket);
		d->path = c->path ? d->spec : NULL;
		d->socket = c->socket ? d->spec : NULL;
		snprintf(r->drives[i].cache_type, sizeof(r->drives[i].cache_type), "Writeback");
		snprintf(r->drives[i].io_engine, sizeof(r->drives[i].io_engine), "Async");
	}
	for (unsigned i = 0; i < cli->nnets; i++) {
		const struct net_config *c = &cli->nets[i];
		struct net_config *n = &r->cfg.nets[i];

		*n = *c;
		snprintf(n->spec, sizeof(n->spec), "%s", c->tap ? c->tap : c->socket);
		n->tap = c->tap ? n->spec : NULL;
		n->socket = c->socket ? n->spec : NULL;
	}
	/* The command line is used as given: no root= added, no pci=off dropped. */
	r->cfg.cmdline = cli->cmdline;
	return 0;
}

static int load_config_file(struct vm_resources *r, const char *path)
{
	json_error_t e;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	char err[512];
	int rc;

	if (!root) {
		log_error("--config-file %s: %s (line %d, column %d)", path, e.text, e.line, e.column);
		return -1;
	}
	rc = vm_resources_load(r, root, err, sizeof(err));
	json_decref(root);
	if (!rc)
		rc = api_apply_logger(r, err, sizeof(err));
	if (rc)
		log_error("--config-file %s: %s", path, err);
	return rc;
}

int main(int argc, char **argv)
{
	struct vm_config cli;
	struct config_error cerr;
	struct vm_resources res;
	struct metrics *metrics = NULL;
	struct api *api = NULL;
	struct vmm *vmm = NULL;
	char err[512];
	int status = VMM_EXIT_BAD_INPUT;
	bool boot_now;

	switch (cli_parse(argc, argv, &cli, &cerr)) {
	case CLI_HELP:
		cli_usage();
		return 0;
	case CLI_VERSION:
		printf("azote %s\n", AZOTE_VERSION);
		return 0;
	case CLI_PRINT_SECCOMP:
		if (seccomp_print(seccomp_role_parse(cli.print_seccomp), cli.seccomp_level,
				  STDOUT_FILENO)) {
			log_error("--print-seccomp %s: cannot build the filter", cli.print_seccomp);
			return VMM_EXIT_RUNTIME;
		}
		return 0;
	case CLI_ERROR:
		log_error("%s", cerr.msg);
		return VMM_EXIT_BAD_INPUT;
	case CLI_OK:
		break;
	}
	/* A closed stdout must count as dropped console output, not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	/* A crash (or a seccomp kill, SIGSYS) must not write the guest's RAM to a core file. */
	if (setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}) < 0)
		log_warn("cannot disable core dumps: %s", strerror(errno));
	if (cli.quiet)
		log_set_level(LOG_ERROR);
	vm_resources_init(&res);
	res.cfg.exit_stats = cli.exit_stats;
	res.cfg.seccomp_level = cli.seccomp_level;
	res.cfg.xen = cli.xen;
	res.cfg.xen_major = cli.xen_major;
	res.cfg.xen_minor = cli.xen_minor;
	if (cli.config_file)
		boot_now = !load_config_file(&res, cli.config_file);
	else if (cli.kernel_path)
		boot_now = !resources_from_cli(&res, &cli);
	else
		boot_now = false; /* the API configures and starts the VM */
	if ((cli.config_file || cli.kernel_path) && !boot_now)
		goto out;
	if (vmm_new(&vmm, &res.cfg) || metrics_create(&metrics, vmm))
		goto out;
	if (cli.api_sock && api_create(&api, vmm, &res, metrics, cli.api_sock))
		goto out;
	if (res.metrics_path && metrics_set_path(metrics, res.metrics_path)) {
		log_error("metrics: cannot open %s", res.metrics_path);
		goto out;
	}
	if (boot_now) {
		int rc = cli.kernel_path ? vmm_boot(vmm)
					 : api_instance_start(vmm, &res, metrics, err, sizeof(err));

		if (rc) {
			if (!cli.kernel_path)
				log_error("%s", err);
			goto out;
		}
		metrics_vm_started(metrics);
	}
	status = vmm_run(vmm);
out:
	api_destroy(api);
	metrics_destroy(metrics);
	vmm_destroy(vmm);
	vm_resources_fini(&res);
	return status;
}
