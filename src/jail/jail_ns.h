/* The jail's namespaces: a PID namespace the jailed process is init of, an optional network
 * namespace to join, and a mount namespace whose root is the jail's directory. */
#ifndef AZOTE_JAIL_JAIL_NS_H
#define AZOTE_JAIL_JAIL_NS_H

#include <sys/types.h>

/* Fork a child that is PID 1 of a new PID namespace: the child's pid as the caller sees it in
 * the parent, 0 in the child, or -errno (logged). */
__attribute__((warn_unused_result)) pid_t jail_ns_fork(void);

/* Check that fd (opened from path) is a network namespace. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_ns_check_net(int fd, const char *path);

/* Join the network namespace open on fd (path names it in messages). 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_ns_join_net(int fd, const char *path);

/* In a new mount namespace (every mount made private first), make root the whole filesystem:
 * bind it onto itself, mount a procfs of the caller's PID namespace on <root>/proc (azote finds
 * its cards through /proc/self/exe), pivot_root into it and detach the old root; when the
 * current root is the initramfs, which pivot_root refuses, move the bind mount over it and
 * chroot instead. Ends with the working directory at the new "/". 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_ns_enter_root(const char *root);

#endif
