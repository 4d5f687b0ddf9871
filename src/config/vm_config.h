/* The one description of a VM that the CLI (and later the config file and API) produce. */
#ifndef AZOTE_CONFIG_VM_CONFIG_H
#define AZOTE_CONFIG_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define VM_CONFIG_DEFAULT_CPUS    1
#define VM_CONFIG_DEFAULT_MEM     (128ull << 20)
#define VM_CONFIG_MIN_MEM         (16ull << 20)
/* xAPIC IDs in the MADT are 8 bits and 0xff is broadcast. */
#define VM_CONFIG_MAX_CPUS        254
#define VM_CONFIG_DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=1"

#define VM_CONFIG_MAX_DISKS 8
#define VM_CONFIG_MAX_NETS  8

/* A disk: an image served by an azote-blk process azote starts, or an existing vhost-user-blk
 * backend's socket. */
struct disk_config {
	char id[32];          /* name in messages and the guest's serial (default vda, vdb...) */
	const char *path;     /* image file (NULL when socket is set) */
	const char *socket;   /* vhost-user socket of a running backend */
	bool read_only;
	char spec[512];       /* copy of the --disk text; path and socket point into it */
};

/* A network interface: a TAP device served by an azote-net process azote starts, or an
 * existing vhost-user-net backend's socket. */
struct net_config {
	char id[32];          /* name in messages (default eth0, eth1...) */
	const char *tap;      /* TAP interface name (NULL when socket is set) */
	const char *socket;   /* vhost-user socket of a running backend */
	uint8_t mac[6];       /* guest MAC; azote picks a locally administered one if not given */
	bool mac_set;
	char spec[512];       /* copy of the --net text; tap and socket point into it */
};

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: no initrd */
	const char *cmdline;     /* never NULL after parsing */
	unsigned cpus;
	uint64_t mem_bytes;
	struct disk_config disks[VM_CONFIG_MAX_DISKS];
	unsigned ndisks;
	struct net_config nets[VM_CONFIG_MAX_NETS];
	unsigned nnets;
	bool exit_stats; /* print VM-exit counters by reason when the VM ends */
	bool xen;        /* present the Xen HVM platform instead of KVM's (--xen) */
	unsigned xen_major, xen_minor; /* the Xen version the guest sees */
	/* How the process is driven (not part of the VM): the management API's socket, a
	 * Firecracker-style JSON configuration, or neither (the command line above). */
	const char *api_sock;
	const char *config_file;
	bool no_api;
	bool quiet;      /* only errors on stderr */
	int seccomp_level;         /* 0 off, 1 syscall numbers, 2 numbers and arguments */
	const char *print_seccomp; /* --print-seccomp ROLE: print that filter and exit */
};

/* Why a command line was refused: a one-line message for the user. */
struct config_error {
	char msg[256];
};

/* Outcome of cli_parse besides success. */
enum cli_result { CLI_OK, CLI_HELP, CLI_VERSION, CLI_PRINT_SECCOMP, CLI_ERROR };

/* Parse argv into cfg (strings point into argv). On CLI_ERROR, err says what is wrong. */
enum cli_result cli_parse(int argc, char *const argv[], struct vm_config *cfg,
			  struct config_error *err);

/* Parse one --disk value ("path=IMG[,ro][,id=NAME]" or "socket=PATH[,id=NAME]") into d.
 * 0 or -EINVAL with err. */
__attribute__((warn_unused_result)) int disk_config_parse(const char *text, struct disk_config *d,
							   struct config_error *err);

/* Parse one --net value ("tap=NAME[,mac=MAC][,id=NAME]" or "socket=PATH[,id=NAME]") into n.
 * 0 or -EINVAL with err. */
__attribute__((warn_unused_result)) int net_config_parse(const char *text, struct net_config *n,
							  struct config_error *err);

/* Parse "aa:bb:cc:dd:ee:ff" (hex, case-insensitive) into mac; 0 or -EINVAL. Unicast, non-zero
 * addresses only: a multicast or all-zero MAC cannot be an interface's. */
__attribute__((warn_unused_result)) int mac_parse(const char *text, uint8_t mac[6]);

/* A config id becomes part of messages and guest-visible names: 1-31 of [A-Za-z0-9_-]. */
bool config_id_valid(const char *id);

/* Print the usage text to stdout. */
void cli_usage(void);

/* Check what does not need the host: sizes, counts, required fields. 0 or -EINVAL with err. */
__attribute__((warn_unused_result)) int vm_config_validate(const struct vm_config *cfg,
							    struct config_error *err);

/* Check cfg against this host: max vCPUs of its KVM and its physical memory. */
__attribute__((warn_unused_result)) int vm_config_check_host(const struct vm_config *cfg,
							      unsigned kvm_max_vcpus,
							      uint64_t host_mem_bytes,
							      struct config_error *err);

#endif
