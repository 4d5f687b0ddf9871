#include "kvm/iobus.h"

#include <errno.h>
#include <string.h>

int iobus_register(struct iobus *bus, uint64_t base, uint64_t len, iobus_handler_fn fn,
		   void *opaque)
{
	unsigned i;

	if (!len || !fn || base + len < base)
		return -EINVAL;
	if (bus->count == IOBUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->count; i++) {
		const struct iobus_range *r = &bus->ranges[i];
		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	/* Keep the array sorted by base so that dispatch can bisect. */
	for (i = bus->count; i > 0 && bus->ranges[i - 1].base > base; i--)
		bus->ranges[i] = bus->ranges[i - 1];
	bus->ranges[i] = (struct iobus_range){.base = base, .len = len, .fn = fn, .opaque = opaque};
	bus->count++;
	return 0;
}

static const struct iobus_range *iobus_find(const struct iobus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->count;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct iobus_range *r = &bus->ranges[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool iobus_dispatch(struct iobus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	const struct iobus_range *r = iobus_find(bus, addr);

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
		return false;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}
