#include "vmm/vmm_cards.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
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
_Static_assert(VMM_CARD_PASS_FD == STATS_FD + 1, "passed fds follow the stats page");
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

/* The child's fds: socket, stats page, then the passed ones at VMM_CARD_PASS_FD on. Every
 * source is first copied above the targets, so that no dup2 overwrites a later one's source. */
static int card_fd_actions(posix_spawn_file_actions_t *fa, const int *src, unsigned n, int *tmp)
{
	int rc = 0;

	posix_spawn_file_actions_init(fa);
	/* The card never reads the console: its stdin is /dev/null when there is one. */
	if (access("/dev/null", R_OK) == 0)
		rc = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	for (unsigned i = 0; !rc && i < n; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, VMM_CARD_PASS_FD + (int)n);
		if (tmp[i] < 0)
			rc = errno;
		else
			rc = posix_spawn_file_actions_adddup2(fa, tmp[i], CARD_FD + (int)i);
	}
	/* Also what azote inherited without close-on-exec (a shell's or supervisor's fds). */
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(fa, CARD_FD + (int)n);
	return -rc;
}

static int card_spawn(struct vmm_card *card, const char *program, char *const args[],
		      const int *pass, unsigned npass, int *sock)
{
	char path[PATH_MAX], fd_arg[16], stats_arg[16], level_arg[16];
	char *argv[CARD_ARGS + 8];
	int src[2 + VMM_CARD_PASS_MAX], tmp[2 + VMM_CARD_PASS_MAX];
	int sv[2], argc = 0, stats_fd, rc = card_path(program, path, sizeof(path));
	posix_spawn_file_actions_t fa;

	if (rc)
		return rc;
	if (npass > VMM_CARD_PASS_MAX)
		return -E2BIG;
	snprintf(fd_arg, sizeof(fd_arg), "%d", CARD_FD);
	argv[argc++] = path;
	argv[argc++] = "--fd";
	argv[argc++] = fd_arg;
	snprintf(stats_arg, sizeof(stats_arg), "%d", STATS_FD);
	argv[argc++] = "--stats-fd";
	argv[argc++] = stats_arg;
	/* The card installs its filter at azote's level once it serves. */
	snprintf(level_arg, sizeof(level_arg), "%d", card->vmm->cfg->seccomp_level);
	argv[argc++] = "--seccomp-level";
	argv[argc++] = level_arg;
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
	/* Every other fd of ours is close-on-exec: the card gets its socket, its page and what
	 * the kind passes (the image, the tap queues), nothing else. */
	src[0] = sv[1];
	src[1] = stats_fd;
	memcpy(src + 2, pass, npass * sizeof(int));
	for (unsigned i = 0; i < 2 + npass; i++)
		tmp[i] = -1;
	rc = card_fd_actions(&fa, src, 2 + npass, tmp);
	if (!rc)
		rc = -posix_spawn(&card->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (unsigned i = 0; i < 2 + npass; i++)
		if (tmp[i] >= 0)
			close(tmp[i]);
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

int vmm_card_open(struct vmm_card *card, const char *program, char *const args[], const int *pass,
		  unsigned npass, const char *socket_path, struct vhost_frontend_params *p)
{
	int rc = socket_path ? card_connect(card, socket_path, &p->sock)
			     : card_spawn(card, program, args, pass, npass, &p->sock);

	/* Ours no longer: an image's OFD lock must go with the card, not stay with azote. */
	for (unsigned i = 0; i < npass; i++)
		close(pass[i]);
	return rc ? rc : vhost_frontend_init(&card->fe, p);
}

int vmm_card_spawn(struct vmm_card *card, const char *program, char *const args[], const int *pass,
		   unsigned npass, int *sock)
{
	int rc = card_spawn(card, program, args, pass, npass, sock);

	for (unsigned i = 0; i < npass; i++)
		close(pass[i]);
	return rc;
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

/* azote's own file limit, from what this VM can hold open: the fixed ones (stdio, KVM, the VM,
 * its memory, the loop's fds, logs, metrics: 64), the API (16 connections and the socket), two
 * per vCPU, per card its socket, error eventfd and stats page with a kick, a call and an irqfd per
 * queue, and the fds of the one card being started. Only ever lowered below the hard limit. */
static void vmm_cards_limit_fds(const struct vm_config *cfg)
{
	unsigned pairs = cfg->cpus < 16 ? cfg->cpus : 16;
	unsigned long need = 64 + 17 + 2ul * cfg->cpus + 2 * (2 + VMM_CARD_PASS_MAX);
	struct rlimit lim;

	need += cfg->ndisks * (8 + 3ul * cfg->cpus) + cfg->nnets * (8 + 3ul * (2 * pairs + 1));
	if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return;
	if (lim.rlim_max > need)
		lim.rlim_max = need;
	lim.rlim_cur = lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
		log_warn("cannot set RLIMIT_NOFILE to %lu: %s", need, strerror(errno));
	else
		log_debug("RLIMIT_NOFILE %lu", (unsigned long)lim.rlim_cur);
}

int vmm_cards_create(struct vmm *vmm)
{
	const struct vm_config *cfg = vmm->cfg;
	int rc = 0;

	vmm_cards_limit_fds(cfg);
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
		int rc;

		if (card->xen_vbd)
			continue; /* the Xen platform watches its socket */
		rc = evloop_add(&vmm->loop, card->fe.sock, EPOLLRDHUP, vmm_on_card_hangup, card);

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
		if (card->xen_vbd && card->xen_sock >= 0)
			close(card->xen_sock);
		card->xen_vbd = false;
		card_wait(card);
		card_stats_unmap(card->stats);
		card->stats = NULL;
	}
	vmm->ncards_ready = 0;
}
