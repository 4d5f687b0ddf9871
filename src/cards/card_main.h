/* What every device process's main() does once its device exists: turn signals into events
 * of the main loop, serve the vhost-user socket (listening, or the socketpair azote passed),
 * publish counters for azote, run until a signal or until the --fd frontend leaves. */
#ifndef AZOTE_CARDS_CARD_MAIN_H
#define AZOTE_CARDS_CARD_MAIN_H

#include "cards/card_stats.h"
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
};

/* Block SIGTERM, SIGINT and SIGHUP (every thread started later inherits the mask) and ignore
 * SIGPIPE. Call before any thread starts. Returns a signalfd, or -errno. */
int card_signals_block(void);

/* Serve until a signal (on signal_fd, which is closed here) or the frontend's hang-up (--fd).
 * Returns the process exit status: 0, 1 (runtime failure) or 2 (set-up failure). */
int card_serve(const struct card_run *run, int signal_fd);

#endif
