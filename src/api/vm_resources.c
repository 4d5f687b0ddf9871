#include "api/vm_resources.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/json_check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

void vm_resources_init(struct vm_resources *r)
{
	memset(r, 0, sizeof(*r));
	r->cfg.cpus = VM_CONFIG_DEFAULT_CPUS;
	r->cfg.mem_bytes = VM_CONFIG_DEFAULT_MEM;
	r->cfg.cmdline = VM_CONFIG_DEFAULT_CMDLINE;
	snprintf(r->log_level, sizeof(r->log_level), "Info");
}

void vm_resources_fini(struct vm_resources *r)
{
	free(r->kernel);
	free(r->initrd);
	free(r->boot_args);
	free(r->cmdline);
	free(r->log_path);
	free(r->metrics_path);
	memset(r, 0, sizeof(*r));
}

/* Replace *slot with a copy of s (NULL clears it). */
static int set_str(char **slot, const char *s)
{
	char *copy = s ? strdup(s) : NULL;

	if (s && !copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int check_readable(const char *what, const char *path, char *err, size_t n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail(err, n, "The %s file cannot be opened: %s (%s)", what, strerror(errno),
			    path);
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return fail(err, n, "The %s file is a directory: %s", what, path);
	}
	close(fd);
	return 0;
}

/* --- boot source --- */

int vm_resources_boot_source(struct vm_resources *r, const json_t *body, char *err, size_t n)
{
	static const struct json_field fields[] = {
	    {"kernel_image_path", JF_STRING, true},
	    {"boot_args", JF_STRING, false},
	    {"initrd_path", JF_STRING, false},
	};
	const char *kernel, *initrd, *args;
	char *k = NULL, *i = NULL, *a = NULL;

	if (json_check_fields(body, fields, COUNT(fields), err, n))
		return -1;
	kernel = json_str(body, "kernel_image_path", NULL);
	initrd = json_str(body, "initrd_path", NULL);
	args = json_str(body, "boot_args", NULL);
	if (check_readable("kernel", kernel, err, n) ||
	    (initrd && check_readable("initrd", initrd, err, n)))
		return -1;
	if (set_str(&k, kernel) || set_str(&i, initrd) || set_str(&a, args)) {
		free(k);
		free(i);
		free(a);
		return fail(err, n, "out of memory");
	}
	free(r->kernel);
	free(r->initrd);
	free(r->boot_args);
	r->kernel = k;
	r->initrd = i;
	r->boot_args = a;
	r->cfg.kernel_path = k;
	r->cfg.initrd_path = i;
	r->boot_source_set = true;
	return 0;
}

/* --- machine config --- */

int vm_resources_machine(struct vm_resources *r, const json_t *body, bool patch, char *err,
			 size_t n)
{
	const struct json_field fields[] = {
	    {"vcpu_count", JF_U32, !patch},    {"mem_size_mib", JF_U32, !patch},
	    {"smt", JF_BOOL, false},	       {"track_dirty_pages", JF_BOOL, false},
	    {"cpu_template", JF_STRING, false}, {"huge_pages", JF_STRING, false},
	};
	uint32_t cpus, mib;
	const char *tmpl = json_str(body, "cpu_template", "None");
	const char *huge = json_str(body, "huge_pages", "None");

	if (json_check_fields(body, fields, COUNT(fields), err, n))
		return -1;
	cpus = json_u32(body, "vcpu_count", r->cfg.cpus);
	mib = json_u32(body, "mem_size_mib", (uint32_t)(r->cfg.mem_bytes >> 20));
	if (cpus < 1 || cpus > VM_CONFIG_MAX_CPUS)
		return fail(err, n, "The vCPU number is invalid! vcpu_count must be 1 to %d.",
			    VM_CONFIG_MAX_CPUS);
	if (((uint64_t)mib << 20) < VM_CONFIG_MIN_MEM)
		return fail(err, n, "The memory size (MiB) is invalid: mem_size_mib must be at least %llu.",
			    (unsigned long long)(VM_CONFIG_MIN_MEM >> 20));
	if (json_bool(body, "smt", false))
		return fail(err, n, "smt: azote does not support simultaneous multithreading "
				    "topologies; use \"smt\": false");
	if (json_bool(body, "track_dirty_pages", false))
		return fail(err, n, "track_dirty_pages: azote does not support dirty page tracking "
				    "(no snapshots); use false");
	if (strcmp(tmpl, "None"))
		return fail(err, n, "cpu_template \"%s\": azote does not support CPU templates; use "
				    "\"None\"", tmpl);
	if (strcmp(huge, "None"))
		return fail(err, n, "huge_pages \"%s\": azote backs guest RAM with transparent huge "
				    "pages only; use \"None\"", huge);
	r->cfg.cpus = cpus;
	r->cfg.mem_bytes = (uint64_t)mib << 20;
	return 0;
}

json_t *vm_resources_machine_json(const struct vm_resources *r)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)r->cfg.cpus,
			 "mem_size_mib", (json_int_t)(r->cfg.mem_bytes >> 20), "smt", 0,
			 "track_dirty_pages", 0, "huge_pages", "None");
}

/* --- drives --- */

/* Struct copies move the buffers that path/socket/tap point into. */
static void disk_fix(struct disk_config *d)
{
	if (d->path)
		d->path = d->spec;
	if (d->socket)
		d->socket = d->spec;
}

static int find_disk(const struct vm_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->cfg.ndisks; i++)
		if (!strcmp(r->cfg.disks[i].id, id))
			return (int)i;
	return -1;
}

static int check_id(const char *what, const char *path_id, const json_t *body, const char *key,
		    char *err, size_t n)
{
	const char *body_id = json_str(body, key, "");

	if (strcmp(path_id, body_id))
		return fail(err, n, "The id from the path [%s] does not match the id from the body "
				    "[%s]!", path_id, body_id);
	if (!config_id_valid(path_id))
		return fail(err, n, "Invalid %s id '%s': use 1-31 letters, digits, '-' or '_'.",
			    what, path_id);
	return 0;
}

static int drive_backing(const json_t *body, struct disk_config *d, char *err, size_t n)
{
	const char *path = json_str(body, "path_on_host", NULL);
	const char *sock = json_str(body, "socket", NULL);
	struct stat st;

	if (!path == !sock)
		return fail(err, n, "A drive needs exactly one of path_on_host and socket.");
	if (strlen(path ? path : sock) >= sizeof(d->spec))
		return fail(err, n, "The drive's path is longer than %zu bytes.", sizeof(d->spec) - 1);
	if (path && stat(path, &st))
		return fail(err, n, "Unable to open the drive's backing file %s: %s", path,
			    strerror(errno));
	if (path && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return fail(err, n, "The drive's backing file %s is not a regular file or block "
				    "device.", path);
	snprintf(d->spec, sizeof(d->spec), "%s", path ? path : sock);
	d->path = path ? d->spec : NULL;
	d->socket = sock ? d->spec : NULL;
	return 0;
}

static int drive_patch(struct vm_resources *r, const char *id, const json_t *body, char *err,
		       size_t n)
{
	static const struct json_field fields[] = {
	    {"drive_id", JF_STRING, true},
	    {"path_on_host", JF_STRING, false},
	    {"rate_limiter", JF_OBJECT, false},
	};
	int i;
	struct disk_config d;

	if (json_check_fields(body, fields, COUNT(fields), err, n) ||
	    check_id("drive", id, body, "drive_id", err, n))
		return -1;
	i = find_disk(r, id);
	if (i < 0)
		return fail(err, n, "Could not find a drive with id %s.", id);
	if (json_has(body, "rate_limiter"))
		return fail(err, n, "rate_limiter: azote does not support rate limiters.");
	if (!json_has(body, "path_on_host"))
		return 0;
	d = r->cfg.disks[i];
	disk_fix(&d);
	if (d.socket)
		return fail(err, n, "Drive %s is served by a vhost-user socket; it has no "
				    "path_on_host to change.", id);
	if (drive_backing(body, &d, err, n))
		return -1;
	r->cfg.disks[i] = d;
	disk_fix(&r->cfg.disks[i]);
	return 0;
}

int vm_resources_drive(struct vm_resources *r, const char *id, const json_t *body, bool patch,
		       char *err, size_t n)
{
	static const struct json_field fields[] = {
	    {"drive_id", JF_STRING, true},	   {"path_on_host", JF_STRING, false},
	    {"is_root_device", JF_BOOL, true},	   {"is_read_only", JF_BOOL, false},
	    {"partuuid", JF_STRING, false},	   {"cache_type", JF_STRING, false},
	    {"rate_limiter", JF_OBJECT, false},	   {"io_engine", JF_STRING, false},
	    {"socket", JF_STRING, false},
	};
	struct disk_config d = {0};
	struct drive_extra x = {0};
	const char *cache = json_str(body, "cache_type", "Unsafe");
	const char *engine = json_str(body, "io_engine", "Sync");
	int i;

	if (patch)
		return drive_patch(r, id, body, err, n);
	if (json_check_fields(body, fields, COUNT(fields), err, n) ||
	    check_id("drive", id, body, "drive_id", err, n))
		return -1;
	if (json_has(body, "rate_limiter"))
		return fail(err, n, "rate_limiter: azote does not support rate limiters.");
	if (strcmp(cache, "Unsafe") && strcmp(cache, "Writeback"))
		return fail(err, n, "cache_type \"%s\": expected \"Unsafe\" or \"Writeback\".", cache);
	if (strcmp(engine, "Sync") && strcmp(engine, "Async"))
		return fail(err, n, "io_engine \"%s\": expected \"Sync\" or \"Async\".", engine);
	if (strlen(json_str(body, "partuuid", "")) >= sizeof(x.partuuid))
		return fail(err, n, "partuuid is too long.");
	if (drive_backing(body, &d, err, n))
		return -1;
	d.read_only = json_bool(body, "is_read_only", false);
	if (d.socket && d.read_only)
		return fail(err, n, "is_read_only applies to path_on_host; a socket backend decides "
				    "itself.");
	snprintf(d.id, sizeof(d.id), "%s", id);
	x.is_root_device = json_bool(body, "is_root_device", false);
	snprintf(x.partuuid, sizeof(x.partuuid), "%s", json_str(body, "partuuid", ""));
	snprintf(x.cache_type, sizeof(x.cache_type), "%s", cache);
	snprintf(x.io_engine, sizeof(x.io_engine), "%s", engine);

	i = find_disk(r, id);
	for (unsigned j = 0; x.is_root_device && j < r->cfg.ndisks; j++)
		if ((int)j != i && r->drives[j].is_root_device)
			return fail(err, n, "A root block device already exists!");
	if (i < 0) {
		if (r->cfg.ndisks == VM_CONFIG_MAX_DISKS)
			return fail(err, n, "Too many drives: azote supports at most %d.",
				    VM_CONFIG_MAX_DISKS);
		i = (int)r->cfg.ndisks++;
	}
	/* The root device goes first: it is then the guest's /dev/vda. */
	if (x.is_root_device) {
		for (int j = i; j > 0; j--) {
			r->cfg.disks[j] = r->cfg.disks[j - 1];
			r->drives[j] = r->drives[j - 1];
			disk_fix(&r->cfg.disks[j]);
		}
		i = 0;
	}
	r->cfg.disks[i] = d;
	r->drives[i] = x;
	disk_fix(&r->cfg.disks[i]);
	return 0;
}

/* --- network interfaces --- */

static int find_net(const struct vm_resources *r, const char *id)
{
	for (unsigned i = 0; i < r->cfg.nnets; i++)
		if (!strcmp(r->cfg.nets[i].id, id))
			return (int)i;
	return -1;
}

static int net_patch(struct vm_resources *r, const char *id, const json_t *body, char *err,
		     size_t n)
{
	static const struct json_field fields[] = {
	    {"iface_id", JF_STRING, true},
	    {"rx_rate_limiter", JF_OBJECT, false},
	    {"tx_rate_limiter", JF_OBJECT, false},
	};

	if (json_check_fields(body, fields, COUNT(fields), err, n) ||
	    check_id("network interface", id, body, "iface_id", err, n))
		return -1;
	if (find_net(r, id) < 0)
		return fail(err, n, "Could not find a network interface with id %s.", id);
	if (json_has(body, "rx_rate_limiter") || json_has(body, "tx_rate_limiter"))
		return fail(err, n, "rx/tx_rate_limiter: azote does not support rate limiters.");
	return 0;
}

int vm_resources_net(struct vm_resources *r, const char *id, const json_t *body, bool patch,
		     char *err, size_t n)
{
	static const struct json_field fields[] = {
	    {"iface_id", JF_STRING, true},
	    {"host_dev_name", JF_STRING, true},
	    {"guest_mac", JF_STRING, false},
	    {"rx_rate_limiter", JF_OBJECT, false},
	    {"tx_rate_limiter", JF_OBJECT, false},
	};
	struct net_config c = {0};
	const char *tap, *mac;
	int i;

	if (patch)
		return net_patch(r, id, body, err, n);
	if (json_check_fields(body, fields, COUNT(fields), err, n) ||
	    check_id("network interface", id, body, "iface_id", err, n))
		return -1;
	if (json_has(body, "rx_rate_limiter") || json_has(body, "tx_rate_limiter"))
		return fail(err, n, "rx/tx_rate_limiter: azote does not support rate limiters.");
	tap = json_str(body, "host_dev_name", "");
	mac = json_str(body, "guest_mac", NULL);
	if (!tap[0] || strlen(tap) >= IFNAMSIZ)
		return fail(err, n, "host_dev_name \"%s\": a TAP name is 1 to %d bytes.", tap,
			    IFNAMSIZ - 1);
	if (mac && mac_parse(mac, c.mac))
		return fail(err, n, "guest_mac \"%s\" is not a unicast MAC address like "
				    "06:00:AC:10:00:02.", mac);
	c.mac_set = mac != NULL;
	snprintf(c.spec, sizeof(c.spec), "%s", tap);
	c.tap = c.spec;
	snprintf(c.id, sizeof(c.id), "%s", id);
	i = find_net(r, id);
	for (unsigned j = 0; j < r->cfg.nnets; j++) {
		if ((int)j == i)
			continue;
		if (r->cfg.nets[j].tap && !strcmp(r->cfg.nets[j].spec, tap))
			return fail(err, n, "The host device name %s is already in use.", tap);
		if (c.mac_set && r->cfg.nets[j].mac_set && !memcmp(r->cfg.nets[j].mac, c.mac, 6))
			return fail(err, n, "The guest MAC address %s is already in use.", mac);
	}
	if (i < 0) {
		if (r->cfg.nnets == VM_CONFIG_MAX_NETS)
			return fail(err, n, "Too many network interfaces: azote supports at most %d.",
				    VM_CONFIG_MAX_NETS);
		i = (int)r->cfg.nnets++;
	}
	r->cfg.nets[i] = c;
	r->cfg.nets[i].tap = r->cfg.nets[i].spec;
	return 0;
}

/* --- logger and metrics --- */

int vm_resources_logger(struct vm_resources *r, const json_t *body, char *err, size_t n)
{
	static const struct json_field fields[] = {
	    {"log_path", JF_STRING, false},	  {"level", JF_STRING, false},
	    {"show_level", JF_BOOL, false},	  {"show_log_origin", JF_BOOL, false},
	    {"module", JF_STRING, false},
	};
	static const char *const levels[] = {"Off", "Error", "Warning", "Info", "Debug", "Trace"};
	const char *level = json_str(body, "level", "Info");
	unsigned l;

	if (json_check_fields(body, fields, COUNT(fields), err, n))
		return -1;
	for (l = 0; l < COUNT(levels) && strcasecmp(level, levels[l]); l++)
		;
	if (l == COUNT(levels))
		return fail(err, n, "Invalid log level: %s (expected Off, Error, Warning, Info, "
				    "Debug or Trace).", level);
	if (json_has(body, "module"))
		return fail(err, n, "module: azote does not filter logs by module.");
	if (set_str(&r->log_path, json_str(body, "log_path", NULL)))
		return fail(err, n, "out of memory");
	snprintf(r->log_level, sizeof(r->log_level), "%s", levels[l]);
	r->show_level = json_bool(body, "show_level", false);
	r->show_origin = json_bool(body, "show_log_origin", false);
	return 0;
}

int vm_resources_metrics(struct vm_resources *r, const json_t *body, char *err, size_t n)
{
	static const struct json_field fields[] = {{"metrics_path", JF_STRING, true}};

	if (json_check_fields(body, fields, COUNT(fields), err, n))
		return -1;
	if (set_str(&r->metrics_path, json_str(body, "metrics_path", NULL)))
		return fail(err, n, "out of memory");
	return 0;
}

/* --- the whole configuration --- */

static int load_array(struct vm_resources *r, const json_t *root, const char *key,
		      const char *id_key, char *err, size_t n)
{
	const json_t *arr = json_object_get(root, key), *item;
	size_t i;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return fail(err, n, "`%s` must be an array.", key);
	json_array_foreach(arr, i, item) {
		const char *id = json_is_object(item) ? json_str(item, id_key, NULL) : NULL;
		int rc;

		if (!id)
			return fail(err, n, "%s[%zu]: missing field `%s`", key, i, id_key);
		rc = !strcmp(key, "drives") ? vm_resources_drive(r, id, item, false, err, n)
					    : vm_resources_net(r, id, item, false, err, n);
		if (rc)
			return -1;
	}
	return 0;
}

static int load_section(const json_t *root, const char *key, const json_t **out, char *err,
			size_t n)
{
	const json_t *v = json_object_get(root, key);

	*out = v && !json_is_null(v) ? v : NULL;
	if (*out && !json_is_object(*out))
		return fail(err, n, "`%s` must be an object.", key);
	return 0;
}

int vm_resources_load(struct vm_resources *r, const json_t *root, char *err, size_t n)
{
	static const char *const known[] = {"boot-source", "machine-config", "drives",
					    "network-interfaces", "logger", "metrics"};
	static const char *const unsupported[] = {"balloon", "vsock", "mmds-config", "entropy",
						  "cpu-config"};
	const json_t *boot, *machine, *logger, *metrics;
	const char *key;
	json_t *v;

	if (!json_is_object(root))
		return fail(err, n, "The configuration must be a JSON object.");
	json_object_foreach((json_t *)root, key, v) {
		bool ok = false;

		for (size_t i = 0; i < COUNT(known); i++)
			ok = ok || !strcmp(key, known[i]);
		for (size_t i = 0; !ok && i < COUNT(unsupported); i++)
			if (!strcmp(key, unsupported[i])) {
				if (!json_is_null(v))
					return fail(err, n, "`%s`: azote does not support this "
							    "device; remove it or set it to null.",
						    key);
				ok = true;
			}
		if (!ok)
			return fail(err, n, "unknown field `%s` in the configuration", key);
	}
	if (load_section(root, "boot-source", &boot, err, n) ||
	    load_section(root, "machine-config", &machine, err, n) ||
	    load_section(root, "logger", &logger, err, n) ||
	    load_section(root, "metrics", &metrics, err, n))
		return -1;
	if (!boot)
		return fail(err, n, "missing field `boot-source`");
	if ((logger && vm_resources_logger(r, logger, err, n)) ||
	    (metrics && vm_resources_metrics(r, metrics, err, n)) ||
	    vm_resources_boot_source(r, boot, err, n) ||
	    (machine && vm_resources_machine(r, machine, false, err, n)))
		return -1;
	return load_array(r, root, "drives", "drive_id", err, n) ||
			       load_array(r, root, "network-interfaces", "iface_id", err, n)
		   ? -1
		   : 0;
}

/* Firecracker's kernels take `pci=off` because its devices are virtio-mmio; azote's are PCI
 * functions, so the word is dropped when the VM has devices (and said in the log). */
static void drop_pci_off(char *cmdline)
{
	for (char *p = strstr(cmdline, "pci=off"); p; p = strstr(p, "pci=off")) {
		bool start = p == cmdline || p[-1] == ' ', end = p[7] == '\0' || p[7] == ' ';

		if (start && end)
			memmove(p, p + 7 + (p[7] == ' '), strlen(p + 7 + (p[7] == ' ')) + 1);
		else
			p += 7;
	}
}

int vm_resources_seal(struct vm_resources *r, char *err, size_t n)
{
	const char *args = r->boot_args ? r->boot_args : VM_CONFIG_DEFAULT_CMDLINE;
	size_t len = strlen(args) + 128;
	char *line;

	if (!r->boot_source_set)
		return fail(err, n, "Cannot start the microVM without a boot source: PUT "
				    "/boot-source first.");
	line = malloc(len);
	if (!line)
		return fail(err, n, "out of memory");
	snprintf(line, len, "%s", args);
	if (r->cfg.ndisks || r->cfg.nnets)
		drop_pci_off(line);
	if (r->cfg.ndisks && r->drives[0].is_root_device) {
		size_t at = strlen(line);

		if (r->drives[0].partuuid[0])
			snprintf(line + at, len - at, " root=PARTUUID=%s %s", r->drives[0].partuuid,
				 r->cfg.disks[0].read_only ? "ro" : "rw");
		else
			snprintf(line + at, len - at, " root=/dev/vda %s",
				 r->cfg.disks[0].read_only ? "ro" : "rw");
	}
	free(r->cmdline);
	r->cmdline = line;
	r->cfg.cmdline = line;
	return 0;
}

static json_t *drive_json(const struct disk_config *d, const struct drive_extra *x)
{
	return json_pack("{s:s, s:s?, s:b, s:o, s:s, s:b, s:n, s:s, s:s?}", "drive_id", d->id,
			 "path_on_host", d->path, "is_root_device", x->is_root_device, "partuuid",
			 x->partuuid[0] ? json_string(x->partuuid) : json_null(), "cache_type",
			 x->cache_type, "is_read_only", d->read_only, "rate_limiter", "io_engine",
			 x->io_engine, "socket", d->socket);
}

static json_t *net_json(const struct net_config *c)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", c->mac[0], c->mac[1],
		 c->mac[2], c->mac[3], c->mac[4], c->mac[5]);
	return json_pack("{s:s, s:s, s:s?, s:n, s:n}", "iface_id", c->id, "host_dev_name", c->tap,
			 "guest_mac", c->mac_set ? mac : NULL, "rx_rate_limiter",
			 "tx_rate_limiter");
}

json_t *vm_resources_json(const struct vm_resources *r)
{
	json_t *drives = json_array(), *nets = json_array(), *boot, *root;

	for (unsigned i = 0; i < r->cfg.ndisks; i++)
		json_array_append_new(drives, drive_json(&r->cfg.disks[i], &r->drives[i]));
	for (unsigned i = 0; i < r->cfg.nnets; i++)
		json_array_append_new(nets, net_json(&r->cfg.nets[i]));
	boot = r->boot_source_set
		   ? json_pack("{s:s, s:s?, s:s?}", "kernel_image_path", r->kernel, "initrd_path",
			       r->initrd, "boot_args", r->boot_args)
		   : json_null();
	root = json_pack("{s:o, s:o, s:o, s:o, s:o?, s:o?, s:n, s:n, s:n, s:n, s:n}", "boot-source",
			 boot, "machine-config", vm_resources_machine_json(r), "drives", drives,
			 "network-interfaces", nets, "logger",
			 r->log_path || r->show_level || r->show_origin
			     ? json_pack("{s:s?, s:s, s:b, s:b}", "log_path", r->log_path, "level",
					 r->log_level, "show_level", r->show_level,
					 "show_log_origin", r->show_origin)
			     : NULL,
			 "metrics",
			 r->metrics_path ? json_pack("{s:s}", "metrics_path", r->metrics_path)
					 : NULL,
			 "balloon", "vsock", "mmds-config", "entropy", "cpu-config");
	return root;
}
