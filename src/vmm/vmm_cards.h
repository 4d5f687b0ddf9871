/* The VM's device processes ("cards"): one per disk and per network interface, each a
 * vhost-user backend (an azote-blk or azote-net azote starts, or an existing backend's socket)
 * behind a virtio-pci function. This file owns what all cards share: starting the process,
 * connecting, the PCI function, watching for hang-ups, reaping and tear-down. */
#ifndef AZOTE_VMM_VMM_CARDS_H
#define AZOTE_VMM_VMM_CARDS_H

#include <stdbool.h>
#include <sys/types.h>

#include "cards/card_stats.h"
#include "config/vm_config.h"
#include "vhost/frontend.h"

#define VMM_MAX_CARDS (VM_CONFIG_MAX_DISKS + VM_CONFIG_MAX_NETS)

struct vmm;
struct virtio_pci;

struct vmm_card {
	struct vmm *vmm;
	char name[48];         /* "disk vda", "net eth0": the prefix of every message */
	const char *program;   /* "azote-blk" when we started it */
	struct vhost_frontend fe;
	pid_t pid;             /* the process we started, 0 for socket= backends */
	bool watched;          /* its socket is in the event loop (hang-up detection) */
	struct virtio_pci *dev;
	struct card_stats_page *stats; /* counters the card publishes (cards we start), or NULL */
	bool xen_vbd;          /* --xen disk: no vhost-user; the Xen platform talks to the card */
	int xen_sock;          /* its socket (with xen_vbd), closed to stop the card */
};

/* Start or connect every configured disk's and interface's backend, negotiate with it and add
 * its PCI function. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int vmm_cards_create(struct vmm *vmm);
/* Watch the backends' sockets (hang-ups) and error eventfds in the VMM loop. 0 or -errno. */
__attribute__((warn_unused_result)) int vmm_cards_watch(struct vmm *vmm);
/* Reap exited device processes (SIGCHLD) and report them. */
void vmm_cards_reap(struct vmm *vmm);
/* Reset the devices, close the sockets (backends see the hang-up and exit) and reap what we
 * started. */
void vmm_cards_destroy(struct vmm *vmm);

/* For the per-kind files (vmm_disk.c, vmm_net.c). */
/* Where a card finds the fds its kind passes (pass[0] at 5, pass[1] at 6...), and how many. */
#define VMM_CARD_PASS_FD  5
#define VMM_CARD_PASS_MAX 16
/* Reach the card's backend and negotiate (p->sock is filled in here): with `socket_path`, connect
 * to a running backend; otherwise start `program` (installed next to azote) as
 * `program --fd 3 ARGS...` on a socketpair, with the npass fds of pass at VMM_CARD_PASS_FD on.
 * The pass fds are closed here in every case. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int vmm_card_open(struct vmm_card *card, const char *program,
						       char *const args[], const int *pass,
						       unsigned npass, const char *socket_path,
						       struct vhost_frontend_params *p);
/* Start `program` as vmm_card_open does, without a vhost-user handshake: *sock is the card's
 * socket, to speak the kind's own protocol on. The pass fds are closed here. 0 or -errno. */
__attribute__((warn_unused_result)) int vmm_card_spawn(struct vmm_card *card, const char *program,
							char *const args[], const int *pass,
							unsigned npass, int *sock);
/* Put the negotiated frontend behind a virtio-pci function on the VM's PCI bus. */
__attribute__((warn_unused_result)) int vmm_card_add_pci(struct vmm_card *card,
							  const struct virtio_backend_ops *ops);

__attribute__((warn_unused_result)) int vmm_disk_create(struct vmm *vmm, struct vmm_card *card,
							 const struct disk_config *cfg);
/* --xen: the disk as a Xen vbd served by azote-blk --xen-blkif (vmm_xen_disk.c). */
__attribute__((warn_unused_result)) int vmm_xen_disk_create(struct vmm *vmm, struct vmm_card *card,
							     const struct disk_config *cfg);
__attribute__((warn_unused_result)) int vmm_net_create(struct vmm *vmm, struct vmm_card *card,
							const struct net_config *cfg);

#endif
