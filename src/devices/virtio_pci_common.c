/* The common configuration structure (virtio 1.2 section 4.1.4.3): feature negotiation, the
 * device status state machine, queue set-up, and what DRIVER_OK and reset do to the backend.
 *
 * The structure is a list of little-endian registers; an access of any length at any offset is
 * split over the registers it overlaps, and a partial write is a read-modify-write of each, so a
 * driver that uses odd widths gets byte-exact results and nothing can reach past the list. The
 * 64-bit queue addresses are two 32-bit registers, as drivers may write them. */
#include "devices/virtio_pci_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

enum vpci_reg {
	REG_DFSELECT,
	REG_DF,
	REG_GFSELECT,
	REG_GF,
	REG_MSIX_CONFIG,
	REG_NUM_QUEUES,
	REG_STATUS,
	REG_CONFIG_GEN,
	REG_Q_SELECT,
	REG_Q_SIZE,
	REG_Q_VECTOR,
	REG_Q_ENABLE,
	REG_Q_NOTIFY_OFF,
	REG_Q_DESC_LO,
	REG_Q_DESC_HI,
	REG_Q_DRIVER_LO,
	REG_Q_DRIVER_HI,
	REG_Q_DEVICE_LO,
	REG_Q_DEVICE_HI,
	REG_COUNT
};

static const struct {
	uint8_t offset, size;
} vpci_regs[REG_COUNT] = {
    [REG_DFSELECT] = {0x00, 4},	    [REG_DF] = {0x04, 4},	   [REG_GFSELECT] = {0x08, 4},
    [REG_GF] = {0x0c, 4},	    [REG_MSIX_CONFIG] = {0x10, 2}, [REG_NUM_QUEUES] = {0x12, 2},
    [REG_STATUS] = {0x14, 1},	    [REG_CONFIG_GEN] = {0x15, 1},  [REG_Q_SELECT] = {0x16, 2},
    [REG_Q_SIZE] = {0x18, 2},	    [REG_Q_VECTOR] = {0x1a, 2},	   [REG_Q_ENABLE] = {0x1c, 2},
    [REG_Q_NOTIFY_OFF] = {0x1e, 2}, [REG_Q_DESC_LO] = {0x20, 4},   [REG_Q_DESC_HI] = {0x24, 4},
    [REG_Q_DRIVER_LO] = {0x28, 4},  [REG_Q_DRIVER_HI] = {0x2c, 4}, [REG_Q_DEVICE_LO] = {0x30, 4},
    [REG_Q_DEVICE_HI] = {0x34, 4},
};

/* The queue queue_select names, or NULL when it names none. */
static struct virtio_pci_queue *vpci_selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->num_queues ? &vp->queues[vp->queue_select] : NULL;
}

/* Queue registers are the driver's to change only before DRIVER_OK and before queue_enable. */
static struct virtio_pci_queue *vpci_configurable(struct virtio_pci *vp)
{
	struct virtio_pci_queue *q = vpci_selected(vp);

	return q && !q->enabled && !(vp->status & VIRTIO_STATUS_DRIVER_OK) ? q : NULL;
}

static uint32_t half(uint64_t v, bool high)
{
	return (uint32_t)(high ? v >> 32 : v);
}

static void set_half(uint64_t *v, bool high, uint32_t x)
{
	*v = high ? (*v & 0xffffffffull) | (uint64_t)x << 32 : (*v & ~0xffffffffull) | x;
}

static uint32_t vpci_reg_read(struct virtio_pci *vp, enum vpci_reg r)
{
	struct virtio_pci_queue *q = vpci_selected(vp);

	switch (r) {
	case REG_DFSELECT:
		return vp->device_feature_select;
	case REG_DF:
		return vp->device_feature_select < 2
			   ? half(vp->device_features, vp->device_feature_select)
			   : 0;
	case REG_GFSELECT:
		return vp->driver_feature_select;
	case REG_GF:
		return vp->driver_feature_select < 2
			   ? half(vp->driver_features, vp->driver_feature_select)
			   : 0;
	case REG_MSIX_CONFIG:
		return vp->msix_config;
	case REG_NUM_QUEUES:
		return vp->num_queues;
	case REG_STATUS:
		return vp->status;
	case REG_CONFIG_GEN:
		return vp->config_generation;
	case REG_Q_SELECT:
		return vp->queue_select;
	case REG_Q_SIZE:
		return q ? q->size : 0;
	case REG_Q_VECTOR:
		return q ? q->vector : MSIX_NO_VECTOR;
	case REG_Q_ENABLE:
		return q ? q->enabled : 0;
	case REG_Q_NOTIFY_OFF:
		return q ? vp->queue_select : 0; /* queue n notifies at n * multiplier */
	case REG_Q_DESC_LO:
	case REG_Q_DESC_HI:
		return q ? half(q->desc, r == REG_Q_DESC_HI) : 0;
	case REG_Q_DRIVER_LO:
	case REG_Q_DRIVER_HI:
		return q ? half(q->driver, r == REG_Q_DRIVER_HI) : 0;
	case REG_Q_DEVICE_LO:
	case REG_Q_DEVICE_HI:
		return q ? half(q->device, r == REG_Q_DEVICE_HI) : 0;
	case REG_COUNT:
		break;
	}
	return 0;
}

static bool vpci_features_ok(const struct virtio_pci *vp)
{
	return !(vp->driver_features & ~vp->device_features) &&
	       (vp->driver_features & (1ull << VIRTIO_F_VERSION_1));
}

/* Hand the enabled queues to the backend and route their interrupts. */
static void vpci_start(struct virtio_pci *vp)
{
	struct virtio_queue_setup *setups = calloc(vp->num_queues, sizeof(*setups));
	unsigned n = 0;
	int rc;

	if (!setups) {
		vpci_needs_reset(vp, "starting", -ENOMEM);
		return;
	}
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		const struct virtio_pci_queue *q = &vp->queues[i];
		if (q->enabled)
			setups[n++] = (struct virtio_queue_setup){.index = i,
								  .size = q->size,
								  .desc_gpa = q->desc,
								  .avail_gpa = q->driver,
								  .used_gpa = q->device,
								  .kick_fd = q->kick_fd,
								  .call_fd = q->call_fd};
	}
	vp->started = true; /* even a failed start may have left the backend half-started */
	rc = vp->ops->start(vp->ctx, vp->driver_features, setups, n);
	free(setups);
	if (rc) {
		vpci_needs_reset(vp, "starting", rc);
		return;
	}
	for (uint16_t i = 0; i < vp->num_queues; i++)
		if (vp->queues[i].enabled)
			msix_source_set(&vp->msix, i, vp->queues[i].call_fd, vp->queues[i].vector);
}

/* The driver never clears bits (except by writing 0, a reset); NEEDS_RESET is the device's.
 * FEATURES_OK sticks only for an acceptable feature set, DRIVER_OK only after FEATURES_OK. */
static void vpci_status_write(struct virtio_pci *vp, uint8_t v)
{
	uint8_t set = (uint8_t)(v & ~vp->status & ~VIRTIO_STATUS_NEEDS_RESET);

	if (v == 0) {
		vpci_reset(vp);
		return;
	}
	if ((set & VIRTIO_STATUS_FEATURES_OK) && !vpci_features_ok(vp))
		set &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((set & VIRTIO_STATUS_DRIVER_OK) && (!((vp->status | set) & VIRTIO_STATUS_FEATURES_OK) ||
						(vp->status & VIRTIO_STATUS_NEEDS_RESET)))
		set &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	vp->status |= set;
	if (set & VIRTIO_STATUS_DRIVER_OK)
		vpci_start(vp);
}

static uint16_t vpci_vector(const struct virtio_pci *vp, uint32_t v)
{
	/* A vector the table does not have reads back as NO_VECTOR: the driver checks that. */
	return msix_vector_valid(&vp->msix, (uint16_t)v) ? (uint16_t)v : MSIX_NO_VECTOR;
}

static void vpci_queue_vector_write(struct virtio_pci *vp, uint32_t v)
{
	struct virtio_pci_queue *q = vpci_selected(vp);

	if (!q)
		return;
	q->vector = vpci_vector(vp, v);
	/* Drivers set vectors before DRIVER_OK; one that moves a live queue is followed. */
	if (vp->started && q->enabled && !(vp->status & VIRTIO_STATUS_NEEDS_RESET))
		msix_source_set(&vp->msix, vp->queue_select, q->call_fd, q->vector);
}

static void vpci_queue_size_write(struct virtio_pci *vp, uint32_t v)
{
	struct virtio_pci_queue *q = vpci_configurable(vp);
	bool packed = vp->driver_features & (1ull << VIRTIO_F_RING_PACKED);

	/* Split rings need a power of two; invalid sizes are ignored (the old one stays). */
	if (q && v && v <= vp->queue_max && (packed || !(v & (v - 1))))
		q->size = (uint16_t)v;
}

static void vpci_addr_write(struct virtio_pci *vp, enum vpci_reg r, uint32_t v)
{
	struct virtio_pci_queue *q = vpci_configurable(vp);

	if (!q)
		return;
	if (r == REG_Q_DESC_LO || r == REG_Q_DESC_HI)
		set_half(&q->desc, r == REG_Q_DESC_HI, v);
	else if (r == REG_Q_DRIVER_LO || r == REG_Q_DRIVER_HI)
		set_half(&q->driver, r == REG_Q_DRIVER_HI, v);
	else
		set_half(&q->device, r == REG_Q_DEVICE_HI, v);
}

static void vpci_reg_write(struct virtio_pci *vp, enum vpci_reg r, uint32_t v)
{
	struct virtio_pci_queue *q;

	switch (r) {
	case REG_DFSELECT:
		vp->device_feature_select = v;
		break;
	case REG_GFSELECT:
		vp->driver_feature_select = v;
		break;
	case REG_GF:
		/* Frozen once FEATURES_OK was accepted. */
		if (vp->driver_feature_select < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK))
			set_half(&vp->driver_features, vp->driver_feature_select, v);
		break;
	case REG_MSIX_CONFIG:
		vp->msix_config = vpci_vector(vp, v);
		break;
	case REG_STATUS:
		vpci_status_write(vp, (uint8_t)v);
		break;
	case REG_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		break;
	case REG_Q_SIZE:
		vpci_queue_size_write(vp, v);
		break;
	case REG_Q_VECTOR:
		vpci_queue_vector_write(vp, v);
		break;
	case REG_Q_ENABLE:
		q = vpci_configurable(vp);
		if (q && v == 1) /* writing 0 is not allowed; a reset disables */
			q->enabled = true;
		break;
	case REG_Q_DESC_LO:
	case REG_Q_DESC_HI:
	case REG_Q_DRIVER_LO:
	case REG_Q_DRIVER_HI:
	case REG_Q_DEVICE_LO:
	case REG_Q_DEVICE_HI:
		vpci_addr_write(vp, r, v);
		break;
	case REG_DF:
	case REG_NUM_QUEUES:
	case REG_CONFIG_GEN:
	case REG_Q_NOTIFY_OFF:
	case REG_COUNT:
		break; /* read-only */
	}
}

/* Bytes [lo, hi) of the access [offset, offset+len) that fall in register r, if any. */
static bool vpci_overlap(enum vpci_reg r, uint64_t offset, uint32_t len, uint64_t *lo, uint64_t *hi)
{
	uint64_t start = vpci_regs[r].offset, end = start + vpci_regs[r].size;

	*lo = offset > start ? offset : start;
	*hi = offset + len < end ? offset + len : end;
	return *lo < *hi;
}

void vpci_common_read(struct virtio_pci *vp, uint32_t offset, uint8_t *data, uint32_t len)
{
	uint64_t lo, hi;

	memset(data, 0, len);
	for (int r = 0; r < REG_COUNT; r++) {
		uint32_t v;
		if (!vpci_overlap(r, offset, len, &lo, &hi))
			continue;
		v = vpci_reg_read(vp, r);
		for (uint64_t b = lo; b < hi; b++)
			data[b - offset] = (uint8_t)(v >> (8 * (b - vpci_regs[r].offset)));
	}
}

void vpci_common_write(struct virtio_pci *vp, uint32_t offset, const uint8_t *data, uint32_t len)
{
	uint64_t lo, hi;

	for (int r = 0; r < REG_COUNT; r++) {
		uint32_t v;
		if (!vpci_overlap(r, offset, len, &lo, &hi))
			continue;
		v = vpci_reg_read(vp, r);
		for (uint64_t b = lo; b < hi; b++) {
			unsigned shift = (unsigned)(8 * (b - vpci_regs[r].offset));
			v = (v & ~(0xffu << shift)) | (uint32_t)data[b - offset] << shift;
		}
		vpci_reg_write(vp, r, v);
	}
}

static void drain_eventfd(int fd)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0)
		return; /* EAGAIN: nothing was pending */
}

void vpci_reset(struct virtio_pci *vp)
{
	if (vp->started)
		vp->ops->reset(vp->ctx);
	vp->started = false;
	for (uint16_t i = 0; i < vp->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->queues[i];
		msix_source_set(&vp->msix, i, -1, MSIX_NO_VECTOR);
		/* Signals from before the reset mean nothing to the next driver. */
		drain_eventfd(q->kick_fd);
		drain_eventfd(q->call_fd);
		q->size = vp->queue_max;
		q->vector = MSIX_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
	vp->device_features = vp->ops->features(vp->ctx) & ~VPCI_UNSUPPORTED_FEATURES;
	vp->driver_features = 0;
	vp->device_feature_select = vp->driver_feature_select = 0;
	vp->msix_config = MSIX_NO_VECTOR;
	vp->queue_select = 0;
	vp->status = 0;
	vp->isr = 0;
}

void vpci_needs_reset(struct virtio_pci *vp, const char *why, int rc)
{
	if (ratelimit_allow(&vp->warn_limit))
		log_warn("%s: %s failed (%s): the device needs a reset", vp->name, why,
			 strerror(rc < 0 ? -rc : rc));
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* Section 2.1.2: with DRIVER_OK set, the driver learns it from a config interrupt. */
	if (vp->status & VIRTIO_STATUS_DRIVER_OK) {
		vp->isr |= VIRTIO_ISR_CONFIG;
		msix_notify(&vp->msix, vp->msix_config);
	}
}
