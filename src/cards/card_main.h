/* What every device process's main() does once its device exists: turn signals into events
 * of the main loop, serve the vhost-user socket (listening, or the socketpair azote passed),
 * publish counters for azote, enter the sandbox before the first guest request, run until a
 * signal or until the --fd frontend leaves. */
#ifndef AZOTE_CARDS_CARD_MAIN_H
#define AZOTE_CARDS_CARD_MAIN_H

#include <stdbool.h>

#include "cards/card_stats.h"
#include "sandbox/card_sandbox.h"
#include "sandbox/seccomp.h"
#include "vhost/backend.h"

struct card_run {
	const char *socket_path; /* --socket PATH, or NULL */
	int fd;			 /* --fd N when socket_path is NULL */
	int stats_fd;		 /* --stats-fd N, or -1 */
	const struct vhost_backend_ops *ops;
	const struct vhost_backend_params *params;
	void *dev;
	void (*fill_stats)(void *dev, struct card_stats_page *page);
	const char *ready_msg; /* logged once serving: what the device is */
	enum seccomp_role seccomp_role; /* the filter installed once the device serves */
	int seccomp_level;		/* --seccomp-level: 0, 1 or 2 */
	bool sandbox;			/* --sandbox on (the default) */
	struct card_sandbox sb;
};

/* An on/off option's value (--sandbox): "on" or "off". 0 or -EINVAL. */
int card_option_on_off(const char *arg, bool *on);

/* The first steps of every card's main(): name its log lines, set the level, and block the
 * signals SIGTERM, SIGINT and SIGHUP (every thread started later inherits the mask) and
 * ignore SIGPIPE; call before any thread starts. Returns the signalfd, or -1 after logging why. */
int card_begin(const char *name, bool verbose);


/* Serve until a signal (on signal_fd, which is closed here) or the frontend's hang-up (--fd).
 * With the sandbox and --socket, the process splits: the child serves, sandboxed; the parent
 * keeps only its signals (passed on to the child) and removes the socket file, which the
 * sandboxed child can no longer name, once the child has exited. Returns the process exit
 * status: 0, 1 (runtime failure) or 2 (set-up failure). */
int card_serve(const struct card_run *run, int signal_fd);

#endif
