#include "vmm/vmm_cards.h"

#include <errno.h>
#include <libgen.h>
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

#define CARD_FD   3  /* where a card finds its end of the socketpair */
#define STATS_FD  4  /* and the page it publishes its counters in */
#define CARD_ARGS 24 /* argv slots for a card's own arguments */

extern char **environ;

/* Cards are installed next to azote. */
static int card_path(const char *program, char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return -errno;
	self[n] = '\0';
	snprintf(path, len, "%s/%s", dirname(self), program);
	if (access(path, X_OK)) {
		log_error("%s not found (%s must be installed next to azote)", path, program);
		return -ENOENT;
	}
	return 0;
}

static int card_spawn(struct vmm_card *card, const char *program, char *const args[], int *sock)
{
	char path[PATH_MAX], fd_arg[16], stats_arg[16];
	char *argv[CARD_ARGS + 6];
	int sv[2], argc = 0, stats_fd, rc = card_path(program, path, sizeof(path));
	posix_spawn_file_actions_t fa;

	if (rc)
		return rc;
	snprintf(fd_arg, sizeof(fd_arg), "%d", CARD_FD);
	argv[argc++] = path;
	argv[argc++] = "--fd";
	argv[argc++] = fd_arg;
	snprintf(stats_arg, sizeof(stats_arg), "%d", STATS_FD);
	argv[argc++] = "--stats-fd";
	argv[argc++] = stats_arg;
	for (unsigned i = 0; args[i]; i++) {
		if (i == CARD_ARGS)
			return -E2BIG;
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	stats_fd = card_stats_create(&card->stats);
	if (stats_fd < 0)
		return stats_fd;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(stats_fd);
		return -errno;
	}
	/* Every other fd of ours is close-on-exec: the card gets its socket and its page. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], CARD_FD);
	posix_spawn_file_actions_adddup2(&fa, stats_fd, STATS_FD);
	rc = -posix_spawn(&card->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(stats_fd);
	if (rc) {
		log_error("%s: cannot start %s: %s", card->name, path, strerror(-rc));
		close(sv[0]);
		return rc;
	}
	card->program = program;
	*sock = sv[0];
	return 0;
}

static int card_connect(struct vmm_card *card, const char *path, int *sock)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int rc;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("%s: socket path too long", card->name);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	*sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*sock < 0)
		return -errno;
	if (connect(*sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		log_error("%s: cannot connect to %s: %s", card->name, path, strerror(-rc));
		close(*sock);
		return rc;
	}
	return 0;
}

int vmm_card_open(struct vmm_card *card, const char *program, char *const args[],
		  const char *socket_path, struct vhost_frontend_params *p)
{
	int rc = socket_path ? card_connect(card, socket_path, &p->sock)
			     : card_spawn(card, program, args, &p->sock);

	return rc ? rc : vhost_frontend_init(&card->fe, p);
}

/* The guest-visible side: a virtio-pci function whose registers drive the frontend. */
int vmm_card_add_pci(struct vmm_card *card, const struct virtio_backend_ops *ops)
{
	struct vmm *vmm = card->vmm;
	struct virtio_pci_params p = {
	    .ops = ops, .ctx = &card->fe, .irq = &vmm->irq, .name = card->fe.name};
	unsigned slot;
	int rc = virtio_pci_create(&card->dev, &p);

	if (!rc)
		rc = pci_host_add(vmm->pci, virtio_pci_dev(card->dev), &slot);
	if (rc)
		log_error("%s: cannot add its PCI function: %s", card->name, strerror(-rc));
	return rc;
}

int vmm_cards_create(struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	int rc = 0;

	for (unsigned i = 0; !rc && i < cfg->ndisks + cfg->nnets; i++) {
		struct vmm_card *card = &vmm->cards[i];

		card->vmm = vmm;
		vmm->ncards_ready = i + 1;
		rc = i < cfg->ndisks ? vmm_disk_create(vmm, card, &cfg->disks[i])
				     : vmm_net_create(vmm, card, &cfg->nets[i - cfg->ndisks]);
	}
	return rc;
}

static void vmm_on_card_hangup(void *opaque, int fd, uint32_t events)
{
	struct vmm_card *card = opaque;

	evloop_del(&card->vmm->loop, fd);
	evloop_del(&card->vmm->loop, card->fe.err_fd);
	card->watched = false;
	log_error("%s: device process is gone; the device needs a reset (the VM keeps running)",
		  card->name);
	vhost_frontend_mark_dead(&card->fe);
	virtio_pci_set_needs_reset(card->dev);
}

/* The backend signals its error eventfd when the guest broke one of the rings. */
static void vmm_on_card_error(void *opaque, int fd, uint32_t events)
{
	struct vmm_card *card = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	log_error("%s: the guest broke a virtqueue; the device needs a reset", card->name);
	virtio_pci_set_needs_reset(card->dev);
}

int vmm_cards_watch(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->ncards_ready; i++) {
		struct vmm_card *card = &vmm->cards[i];
		int rc = evloop_add(&vmm->loop, card->fe.sock, EPOLLRDHUP, vmm_on_card_hangup, card);

		if (!rc)
			rc = evloop_add(&vmm->loop, card->fe.err_fd, EPOLLIN, vmm_on_card_error,
					card);
		if (rc)
			return rc;
		card->watched = true;
	}
	return 0;
}

void vmm_cards_reap(struct vmm *vmm)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (unsigned i = 0; i < vmm->ncards_ready; i++) {
			struct vmm_card *card = &vmm->cards[i];

			if (card->pid != pid)
				continue;
			card->pid = 0;
			if (WIFSIGNALED(status))
				log_error("%s: %s (pid %d) killed by signal %s", card->name,
					  card->program, (int)pid,
					  sigabbrev_np(WTERMSIG(status)) ?: "?");
			else if (WEXITSTATUS(status))
				log_error("%s: %s (pid %d) exited with status %d", card->name,
					  card->program, (int)pid, WEXITSTATUS(status));
		}
	}
}

/* Give the card time to complete in-flight requests and exit; a stuck one is killed. */
static void card_wait(struct vmm_card *card)
{
	for (int i = 0; card->pid > 0 && i < 300; i++) {
		if (waitpid(card->pid, NULL, WNOHANG) == card->pid) {
			card->pid = 0;
			return;
		}
		usleep(10000);
	}
	if (card->pid > 0) {
		log_error("%s: %s (pid %d) did not exit; killing it", card->name, card->program,
			  (int)card->pid);
		kill(card->pid, SIGKILL);
		waitpid(card->pid, NULL, 0);
		card->pid = 0;
	}
}

void vmm_cards_destroy(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->ncards_ready; i++) {
		struct vmm_card *card = &vmm->cards[i];

		if (card->watched) {
			evloop_del(&vmm->loop, card->fe.sock);
			evloop_del(&vmm->loop, card->fe.err_fd);
		}
		/* Resetting the device makes the card complete its requests in flight; closing
		 * the socket then tells it to exit. */
		virtio_pci_destroy(card->dev);
		card->dev = NULL;
		vhost_frontend_fini(&card->fe);
		card_wait(card);
		card_stats_unmap(card->stats);
		card->stats = NULL;
	}
	vmm->ncards_ready = 0;
}
