/* The jail's root directory on the host: <base>/<exec name>/<id>/root, holding copies of azote
 * and its cards, the device nodes azote needs, /run for its API socket and /proc's mount point.
 * The operator's own files (kernel, initrd, images) may already be in it and are left alone. */
#ifndef AZOTE_JAIL_JAIL_CHROOT_H
#define AZOTE_JAIL_JAIL_CHROOT_H

#include <sys/types.h>

/* The device processes azote starts from its own directory, copied along with it. */
#define JAIL_CARDS                                                                                 \
	{                                                                                          \
		"azote-blk", "azote-net"                                                           \
	}

/* 0 when path is an executable regular file; otherwise logs why and returns -errno. */
__attribute__((warn_unused_result)) int jail_exec_check(const char *path);

/* Create or refresh the jail's root at root: the directory (made, or checked to be a real
 * directory owned by root and writable by root only), the exec file and the cards next to it
 * copied in (root:root, 0755; a missing card is skipped), dev/kvm, dev/net/tun (when the host
 * has it) and dev/urandom made with the host's device numbers, owned by uid:gid, and run/
 * emptied and owned by uid:gid. Refuses a dynamically linked exec file whose loader is not in
 * the root. Logs and returns -errno on failure. */
__attribute__((warn_unused_result)) int jail_chroot_build(const char *root, const char *exec_file,
							  uid_t uid, gid_t gid);

/* Write pid (as the host sees it) to <root>/<name>.pid. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int jail_chroot_write_pid(const char *root, const char *name,
							      pid_t pid);

#endif
