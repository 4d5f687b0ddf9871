/* What the API and the config file configure before the guest starts, in Firecracker's terms
 * (boot source, machine config, drives, network interfaces, logger, metrics), kept as the
 * struct vm_config the VMM boots from plus the strings it points to. Both front ends apply the
 * same JSON sections through these functions, so a config file and a sequence of PUTs give
 * the same VM and the same errors. */
#ifndef AZOTE_API_VM_RESOURCES_H
#define AZOTE_API_VM_RESOURCES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/vm_config.h"

/* What Firecracker's drives have and struct disk_config does not. */
struct drive_extra {
	bool is_root_device;
	char partuuid[64];
	char cache_type[16]; /* "Unsafe" or "Writeback" (azote always honours flushes) */
	char io_engine[8];   /* "Sync" or "Async" (azote always uses io_uring) */
};

struct vm_resources {
	struct vm_config cfg; /* disks are kept in Firecracker's order: the root device first */
	struct drive_extra drives[VM_CONFIG_MAX_DISKS];
	char *kernel, *initrd, *boot_args; /* owned; cfg points to them */
	char *cmdline;			   /* boot_args plus root=, built by vm_resources_seal */
	bool boot_source_set;
	char *log_path; /* PUT /logger */
	char log_level[8];
	bool show_level, show_origin;
	char *metrics_path; /* PUT /metrics */
};

/* Defaults (1 vCPU, 128 MiB, no devices). */
void vm_resources_init(struct vm_resources *r);
void vm_resources_fini(struct vm_resources *r);

/* Apply one section. `patch` merges into what exists (PATCH); otherwise it replaces (PUT).
 * Each returns 0, or -1 with a fault message in err. Nothing changes on failure. */
int vm_resources_boot_source(struct vm_resources *r, const json_t *body, char *err, size_t n);
int vm_resources_machine(struct vm_resources *r, const json_t *body, bool patch, char *err,
			 size_t n);
int vm_resources_drive(struct vm_resources *r, const char *id, const json_t *body, bool patch,
		       char *err, size_t n);
int vm_resources_net(struct vm_resources *r, const char *id, const json_t *body, bool patch,
		     char *err, size_t n);
int vm_resources_logger(struct vm_resources *r, const json_t *body, char *err, size_t n);
int vm_resources_metrics(struct vm_resources *r, const json_t *body, char *err, size_t n);

/* A whole Firecracker-style configuration (the --config-file format). */
int vm_resources_load(struct vm_resources *r, const json_t *root, char *err, size_t n);

/* Before boot: build the kernel command line (boot args, root device). 0 or -1 with err. */
int vm_resources_seal(struct vm_resources *r, char *err, size_t n);

/* GET /machine-config and GET /vm/config bodies (new references). */
json_t *vm_resources_machine_json(const struct vm_resources *r);
json_t *vm_resources_json(const struct vm_resources *r);

#endif
