/* The PV console (io/console.h): the guest writes its hvc0 output into a ring page and signals
 * an event channel; azote copies it to its stdout. Input stays on the serial console. */
#ifndef AZOTE_XEN_XEN_CONSOLE_H
#define AZOTE_XEN_XEN_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

struct xen_console {
	uint8_t *page;
	uint32_t out_cons; /* azote's copy */
	int out_fd;
	bool broken;
};

/* Serve page (4 KiB, zeroed), writing output to out_fd. */
void xen_console_init(struct xen_console *c, uint8_t *page, int out_fd);
/* Copy what the guest has written to out_fd. True when something was consumed (the guest may
 * wait for room). */
bool xen_console_drain(struct xen_console *c);

#endif
