#include "vmm/vmm_disks.h"

#include <errno.h>
#include <libgen.h>
#include <linux/virtio_blk.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/virtio_pci.h"
#include "pci/pci_host.h"
#include "util/log.h"
#include "vmm/vmm.h"

#define DISK_QUEUE_SIZE 256
/* The config up to write_zeroes_may_unmap: all the features azote offers use. Newer fields
 * (secure erase, zoned) make the struct longer in newer headers, and backends built with older
 * ones (QEMU 7.2's qemu-storage-daemon) refuse a GET_CONFIG longer than theirs. */
#define VIRTIO_BLK_CONFIG_LEN 60
#define CARD_FD         3 /* where azote-blk finds its end of the socketpair */

extern char **environ;

/* azote-blk is installed next to azote. */
static int blk_card_path(char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(path, len, "%s/azote-blk", dirname(self));
	if (access(path, X_OK)) {
		log_error("disk: %s not found (azote-blk must be installed next to azote)", path);
		return -ENOENT;
	}
	return 0;
}

static int disk_spawn(struct vmm_disk *disk, unsigned queues, int *sock)
{
	char card[PATH_MAX], fd_arg[16], queues_arg[16];
	char *argv[16];
	int sv[2], argc = 0, rc = blk_card_path(card, sizeof(card));
	posix_spawn_file_actions_t fa;

	if (rc)
		return rc;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	snprintf(fd_arg, sizeof(fd_arg), "%d", CARD_FD);
	snprintf(queues_arg, sizeof(queues_arg), "%u", queues);
	argv[argc++] = card;
	argv[argc++] = "--fd";
	argv[argc++] = fd_arg;
	argv[argc++] = "--file";
	argv[argc++] = (char *)disk->cfg->path;
	argv[argc++] = "--queues";
	argv[argc++] = queues_arg;
	argv[argc++] = "--serial";
	argv[argc++] = (char *)disk->cfg->id;
	if (disk->cfg->read_only)
		argv[argc++] = "--ro";
	argv[argc] = NULL;
	/* Every other fd of ours is close-on-exec: the card gets only its socket. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], CARD_FD);
	rc = -posix_spawn(&disk->pid, card, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc) {
		log_error("disk %s: cannot start %s: %s", disk->cfg->id, card, strerror(-rc));
		close(sv[0]);
		return rc;
	}
	*sock = sv[0];
	return 0;
}

static int disk_connect(struct vmm_disk *disk, int *sock)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int rc;

	if (strlen(disk->cfg->socket) >= sizeof(addr.sun_path)) {
		log_error("disk %s: socket path too long", disk->cfg->id);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, disk->cfg->socket);
	*sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*sock < 0)
		return -errno;
	if (connect(*sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		log_error("disk %s: cannot connect to %s: %s", disk->cfg->id, disk->cfg->socket,
			  strerror(-rc));
		close(*sock);
		return rc;
	}
	return 0;
}

/* The guest-visible side: a virtio-pci function whose registers drive the frontend. */
static int disk_add_pci(struct vmm *vmm, struct vmm_disk *disk)
{
	struct virtio_pci_params p = {.ops = &vhost_frontend_blk_ops,
				      .ctx = &disk->fe,
				      .irq = &vmm->irq,
				      .name = disk->fe.name};
	unsigned slot;
	int rc = virtio_pci_create(&disk->dev, &p);

	if (!rc)
		rc = pci_host_add(vmm->pci, virtio_pci_dev(disk->dev), &slot);
	if (rc)
		log_error("%s: cannot add its PCI function: %s", disk->fe.name, strerror(-rc));
	return rc;
}

static int disk_create(struct vmm *vmm, struct vmm_disk *disk)
{
	char name[48];
	int sock, rc;
	struct vhost_frontend_params p = {
		.name = name,
		.mem = &vmm->mem,
		.device_id = vhost_frontend_blk_ops.device_id,
		.config_len = VIRTIO_BLK_CONFIG_LEN,
		.max_queues = (uint16_t)vmm->cfg->cpus, /* one queue per vCPU */
		.queue_size = DISK_QUEUE_SIZE,
	};

	snprintf(name, sizeof(name), "disk %s", disk->cfg->id);
	rc = disk->cfg->path ? disk_spawn(disk, vmm->cfg->cpus, &sock)
			     : disk_connect(disk, &sock);
	if (rc)
		return rc;
	p.sock = sock;
	rc = vhost_frontend_init(&disk->fe, &p);
	if (rc)
		return rc;
	/* The guest must see the number of queues we offer, whatever the backend has. */
	if (disk->fe.backend_features & (1ull << VIRTIO_BLK_F_MQ)) {
		uint16_t nq = disk->fe.nqueues;
		memcpy(disk->fe.config + offsetof(struct virtio_blk_config, num_queues), &nq,
		       sizeof(nq));
	}
	return disk_add_pci(vmm, disk);
}

int vmm_disks_create(struct vmm *vmm)
{
	int rc = 0;

	for (unsigned i = 0; !rc && i < vmm->cfg->ndisks; i++) {
		struct vmm_disk *disk = &vmm->disks[i];
		disk->vmm = vmm;
		disk->cfg = &vmm->cfg->disks[i];
		vmm->ndisks_ready = i + 1;
		rc = disk_create(vmm, disk);
	}
	return rc;
}

static void vmm_on_disk_hangup(void *opaque, int fd, uint32_t events)
{
	struct vmm_disk *disk = opaque;

	evloop_del(&disk->vmm->loop, fd);
	disk->watched = false;
	log_error("disk %s: device process is gone; the disk needs a reset (the VM keeps running)",
		  disk->cfg->id);
	vhost_frontend_mark_dead(&disk->fe);
	virtio_pci_set_needs_reset(disk->dev);
}

/* The backend signals its error eventfd when the guest broke one of the rings. */
static void vmm_on_disk_error(void *opaque, int fd, uint32_t events)
{
	struct vmm_disk *disk = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	log_error("disk %s: the guest broke a virtqueue; the device needs a reset", disk->cfg->id);
	virtio_pci_set_needs_reset(disk->dev);
}

int vmm_disks_watch(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->ndisks_ready; i++) {
		struct vmm_disk *disk = &vmm->disks[i];
		int rc = evloop_add(&vmm->loop, disk->fe.sock, EPOLLRDHUP, vmm_on_disk_hangup, disk);
		if (!rc)
			rc = evloop_add(&vmm->loop, disk->fe.err_fd, EPOLLIN, vmm_on_disk_error, disk);
		if (rc)
			return rc;
		disk->watched = true;
	}
	return 0;
}

void vmm_disks_reap(struct vmm *vmm)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < vmm->ndisks_ready; i++) {
			struct vmm_disk *disk = &vmm->disks[i];
			if (disk->pid != pid)
				continue;
			disk->pid = 0;
			if (WIFSIGNALED(status))
				log_error("disk %s: azote-blk (pid %d) killed by signal %s",
					  disk->cfg->id, (int)pid,
					  sigabbrev_np(WTERMSIG(status)) ?: "?");
			else if (WEXITSTATUS(status))
				log_error("disk %s: azote-blk (pid %d) exited with status %d",
					  disk->cfg->id, (int)pid, WEXITSTATUS(status));
		}
	}
}

/* Give the card time to complete in-flight writes and exit; a stuck one is killed. */
static void disk_wait(struct vmm_disk *disk)
{
	for (int i = 0; disk->pid > 0 && i < 300; i++) {
		if (waitpid(disk->pid, NULL, WNOHANG) == disk->pid) {
			disk->pid = 0;
			return;
		}
		usleep(10000);
	}
	if (disk->pid > 0) {
		log_error("disk %s: azote-blk (pid %d) did not exit; killing it", disk->cfg->id,
			  (int)disk->pid);
		kill(disk->pid, SIGKILL);
		waitpid(disk->pid, NULL, 0);
		disk->pid = 0;
	}
}

void vmm_disks_destroy(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->ndisks_ready; i++) {
		struct vmm_disk *disk = &vmm->disks[i];
		if (disk->watched) {
			evloop_del(&vmm->loop, disk->fe.sock);
			evloop_del(&vmm->loop, disk->fe.err_fd);
		}
		/* Resetting the device makes the card complete its requests in flight; closing
		 * the socket then tells it to exit. */
		virtio_pci_destroy(disk->dev);
		disk->dev = NULL;
		vhost_frontend_fini(&disk->fe);
		disk_wait(disk);
	}
	vmm->ndisks_ready = 0;
}
