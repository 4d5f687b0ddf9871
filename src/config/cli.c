#include "config/vm_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/seccomp.h"
#include "util/size.h"

static void config_fail(struct config_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void config_fail(struct config_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void cli_usage(void)
{
	printf("usage: azote --kernel PATH [--initrd PATH] [--cmdline STR] [--cpus N] [--mem SIZE]\n"
	       "             [--disk ...] [--net ...] [--api-sock PATH]\n"
	       "       azote --api-sock PATH               (configure and start through the API)\n"
	       "       azote --config-file VM.json [--api-sock PATH | --no-api]\n"
	       "\n"
	       "Boot a Linux guest (bzImage) on KVM with its console on this terminal.\n"
	       "  --kernel PATH   bzImage to boot (required)\n"
	       "  --initrd PATH   initial ramdisk\n"
	       "  --cmdline STR   kernel command line (default \"%s\")\n"
	       "  --cpus N        number of vCPUs (default %d)\n"
	       "  --mem SIZE      guest RAM, e.g. 256M, 2G; no unit means MiB (default 128M)\n"
	       "  --disk path=IMG[,ro][,id=NAME]  a virtio-blk disk served by an azote-blk process\n"
	       "  --disk socket=PATH[,id=NAME]    a disk served by a running vhost-user-blk backend\n"
	       "  --net tap=NAME[,mac=MAC][,id=NAME]  a virtio-net interface on an existing TAP\n"
	       "                  device, served by an azote-net process\n"
	       "  --net socket=PATH[,id=NAME]     an interface served by a running vhost-user-net\n"
	       "                  backend\n"
	       "  --api-sock PATH serve the Firecracker-compatible management API on this Unix\n"
	       "                  socket (before the guest starts when there is no --kernel)\n"
	       "  --config-file F boot the VM Firecracker's JSON configuration F describes\n"
	       "  --no-api        with --config-file: no API socket\n"
	       "  --exit-stats    print VM-exit counts by reason when the guest ends\n"
	       "  --xen           present a Xen HVM platform (hypercalls, event channels, xenstore,\n"
	       "                  PV console) instead of KVM's; needs KVM_CAP_XEN_HVM\n"
	       "  --xen-version X.Y  the Xen version the guest sees (default 4.17)\n"
	       "  --quiet         print only errors\n"
	       "  --seccomp-level N  0 no seccomp filter, 1 syscall numbers only, 2 numbers and\n"
	       "                  arguments (default %d); azote's device processes get the same\n"
	       "  --print-seccomp ROLE  print the filter of vmm, vcpu, blk or net (at\n"
	       "                  --seccomp-level) and exit\n"
	       "  --help, --version\n"
	       "\n"
	       "Console: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.\n"
	       "Exit status: 0 guest powered off or rebooted (or SIGTERM), 1 runtime failure,\n"
	       "2 bad input or set-up failure, 3 guest kernel panic.\n",
	       VM_CONFIG_DEFAULT_CMDLINE, VM_CONFIG_DEFAULT_CPUS, SECCOMP_LEVEL_DEFAULT);
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEM, OPT_DISK, OPT_NET, OPT_API_SOCK, OPT_CONFIG_FILE, OPT_NO_API, OPT_EXIT_STATS,
       OPT_QUIET, OPT_HELP, OPT_VERSION, OPT_SECCOMP_LEVEL, OPT_PRINT_SECCOMP, OPT_XEN, OPT_XEN_VERSION };

static const struct option cli_options[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"api-sock", required_argument, NULL, OPT_API_SOCK},
	{"config-file", required_argument, NULL, OPT_CONFIG_FILE},
	{"no-api", no_argument, NULL, OPT_NO_API},
	{"exit-stats", no_argument, NULL, OPT_EXIT_STATS},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{"seccomp-level", required_argument, NULL, OPT_SECCOMP_LEVEL},
	{"print-seccomp", required_argument, NULL, OPT_PRINT_SECCOMP},
	{"xen", no_argument, NULL, OPT_XEN},
	{"xen-version", required_argument, NULL, OPT_XEN_VERSION},
	{NULL, 0, NULL, 0},
};

static int cli_number(const char *flag, const char *text, struct vm_config *cfg,
		      struct config_error *err)
{
	uint64_t v;
	int rc;

	if (!strcmp(flag, "cpus")) {
		rc = uint_parse(text, 0, UINT32_MAX, &v);
		if (rc) {
			config_fail(err, "--cpus %s: not a whole number", text);
			return -EINVAL;
		}
		cfg->cpus = (unsigned)v;
		return 0;
	}
	rc = size_parse(text, &v);
	if (rc == -ERANGE) {
		config_fail(err, "--mem %s: too large", text);
		return -EINVAL;
	}
	if (rc) {
		config_fail(err, "--mem %s: not a size (examples: 512M, 2G)", text);
		return -EINVAL;
	}
	cfg->mem_bytes = v;
	return 0;
}

/* "MAJOR.MINOR", each 0..65535 (CPUID packs them in 16 bits each). */
static int cli_xen_version(struct vm_config *cfg, const char *text, struct config_error *err)
{
	unsigned major, minor;
	int end = 0;

	if (sscanf(text, "%5u.%5u%n", &major, &minor, &end) != 2 || text[end] || major > 0xffff ||
	    minor > 0xffff || text[0] < '0' || text[0] > '9') {
		config_fail(err, "--xen-version %s: expected MAJOR.MINOR, e.g. 4.17", text);
		return -EINVAL;
	}
	cfg->xen_major = major;
	cfg->xen_minor = minor;
	return 0;
}

static int cli_disk(struct vm_config *cfg, const char *text, struct config_error *err)
{
	struct disk_config *d;

	if (cfg->ndisks == VM_CONFIG_MAX_DISKS) {
		config_fail(err, "--disk: at most %d disks", VM_CONFIG_MAX_DISKS);
		return -EINVAL;
	}
	d = &cfg->disks[cfg->ndisks];
	if (disk_config_parse(text, d, err))
		return -EINVAL;
	if (!d->id[0])
		snprintf(d->id, sizeof(d->id), "vd%c", 'a' + cfg->ndisks);
	for (unsigned i = 0; i < cfg->ndisks; i++)
		if (!strcmp(cfg->disks[i].id, d->id)) {
			config_fail(err, "--disk: id '%s' used twice", d->id);
			return -EINVAL;
		}
	cfg->ndisks++;
	return 0;
}

static int cli_net(struct vm_config *cfg, const char *text, struct config_error *err)
{
	struct net_config *n;

	if (cfg->nnets == VM_CONFIG_MAX_NETS) {
		config_fail(err, "--net: at most %d interfaces", VM_CONFIG_MAX_NETS);
		return -EINVAL;
	}
	n = &cfg->nets[cfg->nnets];
	if (net_config_parse(text, n, err))
		return -EINVAL;
	if (!n->id[0])
		snprintf(n->id, sizeof(n->id), "eth%u", cfg->nnets);
	for (unsigned i = 0; i < cfg->nnets; i++) {
		if (!strcmp(cfg->nets[i].id, n->id)) {
			config_fail(err, "--net: id '%s' used twice", n->id);
			return -EINVAL;
		}
		if (n->tap && cfg->nets[i].tap && !strcmp(cfg->nets[i].tap, n->tap)) {
			config_fail(err, "--net: tap '%s' used twice", n->tap);
			return -EINVAL;
		}
		if (n->mac_set && cfg->nets[i].mac_set && !memcmp(cfg->nets[i].mac, n->mac, 6)) {
			config_fail(err, "--net: two interfaces with the same mac");
			return -EINVAL;
		}
	}
	cfg->nnets++;
	return 0;
}

/* The VM comes from the command line, a config file or the API: exactly one of them. */
static int cli_check_mode(const struct vm_config *cfg, struct config_error *err)
{
	bool vm_flags = cfg->kernel_path || cfg->initrd_path || cfg->ndisks || cfg->nnets;

	if (cfg->no_api && !cfg->config_file) {
		config_fail(err, "--no-api needs --config-file (nothing else could start the VM)");
		return -EINVAL;
	}
	if (cfg->no_api && cfg->api_sock) {
		config_fail(err, "--no-api and --api-sock contradict each other");
		return -EINVAL;
	}
	if (cfg->config_file && vm_flags) {
		config_fail(err, "--config-file describes the whole VM: drop --kernel, --initrd, "
				 "--disk and --net");
		return -EINVAL;
	}
	if (cfg->config_file || (cfg->api_sock && !vm_flags))
		return 0; /* validated when the configuration arrives */
	return vm_config_validate(cfg, err);
}

enum cli_result cli_parse(int argc, char *const argv[], struct vm_config *cfg,
			  struct config_error *err)
{
	int c;

	*cfg = (struct vm_config){.cpus = VM_CONFIG_DEFAULT_CPUS,
				  .mem_bytes = VM_CONFIG_DEFAULT_MEM,
				  .cmdline = VM_CONFIG_DEFAULT_CMDLINE,
				  .seccomp_level = SECCOMP_LEVEL_DEFAULT,
				  .xen_major = 4,
				  .xen_minor = 17};
	err->msg[0] = '\0';
	optind = 1;
	opterr = 0; /* we word the errors ourselves */
	while ((c = getopt_long(argc, argv, ":", cli_options, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: cfg->kernel_path = optarg; break;
		case OPT_INITRD: cfg->initrd_path = optarg; break;
		case OPT_CMDLINE: cfg->cmdline = optarg; break;
		case OPT_CPUS:
			if (cli_number("cpus", optarg, cfg, err))
				return CLI_ERROR;
			break;
		case OPT_MEM:
			if (cli_number("mem", optarg, cfg, err))
				return CLI_ERROR;
			break;
		case OPT_DISK:
			if (cli_disk(cfg, optarg, err))
				return CLI_ERROR;
			break;
		case OPT_NET:
			if (cli_net(cfg, optarg, err))
				return CLI_ERROR;
			break;
		case OPT_API_SOCK: cfg->api_sock = optarg; break;
		case OPT_CONFIG_FILE: cfg->config_file = optarg; break;
		case OPT_NO_API: cfg->no_api = true; break;
		case OPT_EXIT_STATS: cfg->exit_stats = true; break;
		case OPT_XEN: cfg->xen = true; break;
		case OPT_XEN_VERSION:
			if (cli_xen_version(cfg, optarg, err))
				return CLI_ERROR;
			break;
		case OPT_QUIET: cfg->quiet = true; break;
		case OPT_SECCOMP_LEVEL:
			cfg->seccomp_level = seccomp_level_parse(optarg);
			if (cfg->seccomp_level < 0) {
				config_fail(err, "--seccomp-level %s: must be 0, 1 or 2", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_PRINT_SECCOMP:
			if (seccomp_role_parse(optarg) < 0) {
				config_fail(err, "--print-seccomp %s: the roles are vmm, vcpu, blk "
						 "and net", optarg);
				return CLI_ERROR;
			}
			cfg->print_seccomp = optarg;
			break;
		case OPT_HELP: return CLI_HELP;
		case OPT_VERSION: return CLI_VERSION;
		case ':':
			config_fail(err, "%s needs a value", argv[optind - 1]);
			return CLI_ERROR;
		default:
			config_fail(err, "unknown option '%s' (see --help)", argv[optind - 1]);
			return CLI_ERROR;
		}
	}
	if (optind < argc) {
		config_fail(err, "unexpected argument '%s' (see --help)", argv[optind]);
		return CLI_ERROR;
	}
	if (cfg->print_seccomp)
		return CLI_PRINT_SECCOMP;
	return cli_check_mode(cfg, err) ? CLI_ERROR : CLI_OK;
}
