#include "kvm/iobus.h"

#include <errno.h>
#include <stdio.h>
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

void iobus_set_name(struct iobus *bus, uint64_t base, const char *name)
{
	for (unsigned i = 0; i < bus->count; i++)
		if (bus->ranges[i].base == base)
			bus->ranges[i].name = name;
}

static void iobus_count_unclaimed(struct iobus *bus, uint64_t addr)
{
	__atomic_add_fetch(&bus->unhandled, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < IOBUS_UNCLAIMED_SLOTS; i++) {
		struct iobus_unclaimed *u = &bus->unclaimed[i];
		uint64_t seen = __atomic_load_n(&u->addr, __ATOMIC_RELAXED);
		/* Slots are claimed once with addr+1 (0 = free); racing claims may waste a slot. */
		if (seen == 0 && __atomic_compare_exchange_n(&u->addr, &seen, addr + 1, false,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			seen = addr + 1;
		if (seen == addr + 1) {
			__atomic_add_fetch(&u->count, 1, __ATOMIC_RELAXED);
			return;
		}
	}
}

bool iobus_dispatch(struct iobus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct iobus_range *r = (struct iobus_range *)iobus_find(bus, addr);

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		iobus_count_unclaimed(bus, addr);
		return false;
	}
	__atomic_add_fetch(&r->hits, 1, __ATOMIC_RELAXED);
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}

void iobus_format_stats(const struct iobus *bus, char *buf, size_t len)
{
	size_t n = strlen(buf);

	for (unsigned i = 0; i < bus->count && n < len; i++)
		if (bus->ranges[i].hits)
			n += (size_t)snprintf(buf + n, len - n, " %s=%llu",
					      bus->ranges[i].name ? bus->ranges[i].name : "?",
					      (unsigned long long)bus->ranges[i].hits);
	for (unsigned i = 0; i < IOBUS_UNCLAIMED_SLOTS && n < len; i++)
		if (bus->unclaimed[i].addr)
			n += (size_t)snprintf(buf + n, len - n, " %#llx=%llu",
					      (unsigned long long)bus->unclaimed[i].addr - 1,
					      (unsigned long long)bus->unclaimed[i].count);
}
