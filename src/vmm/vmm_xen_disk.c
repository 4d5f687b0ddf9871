/* --xen with --disk path=IMG: the disk is a Xen vbd (xvda, xvdb...) whose blkif ring an
 * azote-blk --xen-blkif process serves. azote passes it the image, the guest's RAM, the grant
 * table's frames and the event channel's two eventfds, waits for the card's READY (the disk's
 * size), and hands the rest to the Xen platform (xen_vbd.c): xenstore, xenbus, event channel. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cards/blk/blk_image.h"
#include "util/log.h"
#include "vmm/vmm.h"
#include "xen/xen.h"
#include "xen/xen_blkif_abi.h"
#include "xen/xen_vbd.h"

/* The card opens and checks the image before it answers: generous for the lab's TCG. */
#define XEN_DISK_READY_MS 30000

static int xen_disk_ready(struct vmm_card *card, int sock, struct xen_blkif_ctl *m)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	int n = poll(&p, 1, XEN_DISK_READY_MS);

	if (n <= 0 || read(sock, m, sizeof(*m)) != (ssize_t)sizeof(*m) ||
	    m->op != XEN_BLKIF_CTL_READY || m->status) {
		log_error("%s: azote-blk did not start (see its message above)", card->name);
		return -EIO;
	}
	return 0;
}

static int xen_disk_spawn(struct vmm *vmm, struct vmm_card *card, const struct disk_config *cfg,
			  int img, const int efd[2], int *sock)
{
	char fds[5][16], regions[GUEST_MEM_MAX_REGIONS][80];
	char *args[32] = {"--xen-blkif", "--file-fd", fds[0], "--file-name", (char *)cfg->path,
			  "--xen-ram-fd", fds[1], "--xen-gnt-fd", fds[2], "--xen-kick-fd", fds[3],
			  "--xen-call-fd", fds[4], "--sandbox", "on"};
	int pass[5] = {img, -1, -1, -1, -1};
	unsigned argc = 15;

	for (unsigned i = 0; i < 5; i++)
		snprintf(fds[i], sizeof(fds[i]), "%d", VMM_CARD_PASS_FD + (int)i);
	for (unsigned i = 0; i < vmm->mem.nregions; i++) {
		const struct guest_region *r = &vmm->mem.regions[i];

		snprintf(regions[i], sizeof(regions[i]), "%llu,%llu,%llu",
			 (unsigned long long)r->gpa, (unsigned long long)r->size,
			 (unsigned long long)r->fd_offset);
		args[argc++] = "--xen-ram-region";
		args[argc++] = regions[i];
	}
	if (cfg->read_only)
		args[argc++] = "--ro";
	args[argc] = NULL;
	/* vmm_card_spawn closes what it is given: the card gets copies of ours. */
	pass[1] = dup(vmm->mem.memfd);
	pass[2] = dup(xen_gnttab_fd(vmm->xen));
	pass[3] = dup(efd[0]);
	pass[4] = dup(efd[1]);
	for (unsigned i = 1; i < 5; i++) {
		if (pass[i] < 0) {
			int rc = -errno;

			for (unsigned j = 0; j < 5; j++)
				if (pass[j] >= 0)
					close(pass[j]);
			return rc;
		}
	}
	return vmm_card_spawn(card, "azote-blk", args, pass, 5, sock);
}

int vmm_xen_disk_create(struct vmm *vmm, struct vmm_card *card, const struct disk_config *cfg)
{
	unsigned index = (unsigned)(card - vmm->cards);
	struct xen_blkif_ctl m;
	int efd[2] = {-1, -1}, sock = -1, img, rc;

	snprintf(card->name, sizeof(card->name), "disk xvd%c", 'a' + index);
	if (cfg->socket) {
		log_error("%s: --disk socket= is not supported with --xen (use path=IMG)",
			  card->name);
		return -ENOTSUP;
	}
	img = blk_image_open_file(cfg->path, cfg->read_only);
	if (img < 0)
		return img;
	efd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd[0] < 0 || efd[1] < 0) {
		rc = -errno;
		close(img);
		goto fail;
	}
	rc = xen_disk_spawn(vmm, card, cfg, img, efd, &sock);
	if (rc)
		goto fail;
	card->xen_vbd = true;
	card->xen_sock = sock;
	rc = xen_disk_ready(card, sock, &m);
	if (rc)
		goto fail;
	/* From here the eventfds are the platform's. */
	return xen_add_vbd(vmm->xen, &(struct xen_vbd_config){.name = card->name,
							      .path = cfg->path,
							      .index = index,
							      .dom0_port = xen_vbd_dom0_port(index),
							      .sectors = m.sectors,
							      .ro = m.ro,
							      .sock = sock,
							      .kick_efd = efd[0],
							      .call_efd = efd[1]});
fail:
	if (efd[0] >= 0)
		close(efd[0]);
	if (efd[1] >= 0)
		close(efd[1]);
	return rc;
}
