/* azote's management API: Firecracker's REST API on a Unix socket, served by the VMM's event
 * loop. It configures a struct vm_resources before the guest starts and drives the VMM's
 * lifecycle (InstanceStart, pause/resume, Ctrl-Alt-Del, metrics flushes). */
#ifndef AZOTE_API_API_H
#define AZOTE_API_API_H

#include <stdint.h>

#include "api/vm_resources.h"

struct vmm;
struct api;
struct metrics;

/* Serve the API on socket_path for vmm, whose configuration is res->cfg. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int api_create(struct api **out, struct vmm *vmm,
						   struct vm_resources *res,
						   struct metrics *metrics,
						   const char *socket_path);
void api_destroy(struct api *api);

/* Apply the logger and metrics sections of res (config file and PUT /logger, /metrics).
 * 0, or -1 with err. */
int api_apply_logger(const struct vm_resources *res, char *err, size_t n);

/* Start the guest: seal res (kernel command line) and boot. 0, or -1 with err. */
int api_instance_start(struct vmm *vmm, struct vm_resources *res, struct metrics *metrics,
		       char *err, size_t n);

#endif
