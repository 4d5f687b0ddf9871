#include "devices/pvpanic.h"

#include "devices/ratelimit.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>

struct pvpanic {
	platform_event_fn event;
	void *ctx;
	struct ratelimit log_limit; /* the only mutable state; atomic */
};

void pvpanic_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pvpanic *dev = opaque;

	if (!is_write) {
		/* Linux masks the events it may send with this byte; later bits (e.g. "shutdown")
		 * stay unused because they are not offered. Wider reads see an empty bus. */
		for (uint32_t i = 0; i < len; i++)
			data[i] =
			    offset == 0 && i == 0 ? PVPANIC_PANICKED | PVPANIC_CRASH_LOADED : 0xff;
		return;
	}
	if (offset != 0 || len == 0)
		return;
	if (data[0] & PVPANIC_PANICKED)
		dev->event(dev->ctx, PLATFORM_PANIC);
	else if ((data[0] & PVPANIC_CRASH_LOADED) && ratelimit_allow(&dev->log_limit))
		/* Not fatal: the crash kernel boots next, and the VM must keep running for it. */
		log_warn("guest kernel panicked; its crash kernel (kdump) is taking over");
}

int pvpanic_create(struct pvpanic **out, platform_event_fn event, void *ctx)
{
	struct pvpanic *dev;

	if (!event)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->event = event;
	dev->ctx = ctx;
	*out = dev;
	return 0;
}

void pvpanic_destroy(struct pvpanic *dev)
{
	free(dev);
}
