#include "xen/xen_console.h"

#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "xen/xen_abi.h"

void xen_console_init(struct xen_console *c, uint8_t *page, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->page = page;
	c->out_fd = out_fd;
}

bool xen_console_drain(struct xen_console *c)
{
	uint8_t buf[XENCONS_OUT_SIZE];
	uint32_t prod, n;

	if (c->broken)
		return false;
	prod = __atomic_load_n((uint32_t *)(c->page + XENCONS_OUT_PROD), __ATOMIC_ACQUIRE);
	n = prod - c->out_cons;
	if (n > XENCONS_OUT_SIZE) {
		log_warn("xen console: the guest broke the ring protocol; hvc0 output stops");
		c->broken = true;
		return false;
	}
	if (!n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		buf[i] = c->page[XENCONS_OUT + ((c->out_cons + i) & (XENCONS_OUT_SIZE - 1))];
	c->out_cons = prod;
	__atomic_store_n((uint32_t *)(c->page + XENCONS_OUT_CONS), c->out_cons, __ATOMIC_RELEASE);
	/* Best effort, like the serial console: a closed stdout loses output, not the guest. */
	for (uint32_t off = 0; off < n;) {
		ssize_t w = write(c->out_fd, buf + off, n - off);

		if (w <= 0)
			break;
		off += (uint32_t)w;
	}
	return true;
}
