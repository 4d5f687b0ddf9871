/* The device processes. Their filter goes in as soon as they serve, before the frontend has
 * said anything: the whole vhost-user session runs under it, so it covers mapping the guest's
 * RAM (a memfd), the kick and call eventfds, and starting and stopping one thread per queue. */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "sandbox/seccomp_rules.h"

/* What both cards do. */
static const struct seccomp_rule card[] = {
    SC_ALLOW(epoll_create1),
    SC_ALLOW(epoll_wait),
    SC_ALLOW(epoll_pwait),
    SC_ALLOW(epoll_ctl),
    /* The vhost-user socket: messages carry fds; --socket serves one frontend at a time. */
    SC_ALLOW(recvmsg),
    SC_ALLOW(recvfrom),
    SC_ALLOW(sendmsg),
    SC_ALLOW(accept4),
    SC_ARGS2(setsockopt, SC_EQ32(1, SOL_SOCKET), SC_EQ32(2, SO_RCVTIMEO)),
    SC_ARGS2(setsockopt, SC_EQ32(1, SOL_SOCKET), SC_EQ32(2, SO_SNDTIMEO)),
    SC_ALLOW(newfstatat), /* the size of the memory fds the frontend sends */
    SC_FCNTL(F_GETFL),	  /* kick eventfds made non-blocking */
    SC_FCNTL(F_SETFL),
    SC_ALLOW(eventfd2), /* a queue thread's stop event */
    /* Queue threads, started when the driver enables a queue: threads only, never a
     * process (clone3's flags sit in memory a filter cannot read: glibc falls back to
     * clone when clone3 says ENOSYS). */
    SC_ARGS1(clone, SC_SET(0, CLONE_THREAD | CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND)),
    {.nr = SCMP_SYS(clone3), .enosys = true},
    SC_ALLOW(rt_sigaction), /* glibc's first pthread_create sets up its own signals */
    SC_ALLOW(set_robust_list),
    SC_ALLOW(rseq),
    SC_ALLOW(unlink), /* --socket: the socket file is removed at exit */
};

static const struct seccomp_rule blk[] = {
    SC_ALLOW(io_uring_setup), SC_ALLOW(io_uring_enter), SC_ALLOW(io_uring_register),
    /* Small requests on images io_uring would hand to a worker anyway run inline. */
    SC_ALLOW(preadv), SC_ALLOW(pwritev),
    SC_ALLOW(fdatasync), /* the image is flushed once more at exit */
};

static const struct seccomp_rule net[] = {
    SC_ALLOW(writev), /* a frame from guest memory to the tap, as it lies */
    /* Queue pairs attach and detach their tap queue; the driver's offloads go to the tap. */
    SC_IOCTL(TUNSETQUEUE),
    SC_IOCTL(TUNSETOFFLOAD),
    SC_IOCTL(TUNSETVNETHDRSZ),
};

const struct seccomp_rules seccomp_rules_card = SECCOMP_RULES(card);
const struct seccomp_rules seccomp_rules_blk = SECCOMP_RULES(blk);
const struct seccomp_rules seccomp_rules_net = SECCOMP_RULES(net);
