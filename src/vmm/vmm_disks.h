/* The VM's disks: one device process (or external vhost-user backend) per disk, each behind a
 * virtio-pci function. */
#ifndef AZOTE_VMM_VMM_DISKS_H
#define AZOTE_VMM_VMM_DISKS_H

#include <stdbool.h>
#include <sys/types.h>

#include "vhost/frontend.h"

struct vmm;
struct virtio_pci;

struct vmm_disk {
	struct vmm *vmm;
	const struct disk_config *cfg;
	struct vhost_frontend fe;
	pid_t pid;             /* the azote-blk we started, 0 for socket= backends */
	bool watched;          /* its socket is in the event loop (hang-up detection) */
	struct virtio_pci *dev;
};

/* Start or connect every configured disk's backend and negotiate with it. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int vmm_disks_create(struct vmm *vmm);
/* Watch the backends' sockets for hang-ups in the VMM loop. 0 or -errno. */
__attribute__((warn_unused_result)) int vmm_disks_watch(struct vmm *vmm);
/* Reap exited device processes (SIGCHLD) and report them. */
void vmm_disks_reap(struct vmm *vmm);
/* Close the sockets (backends see the hang-up and exit) and reap what we started. */
void vmm_disks_destroy(struct vmm *vmm);

#endif
