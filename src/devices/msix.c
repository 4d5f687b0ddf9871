#include "devices/msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Table entry fields (byte offsets in an entry). */
#define ENTRY_ADDR_LO 0
#define ENTRY_ADDR_HI 4
#define ENTRY_DATA    8
#define ENTRY_CTRL    12

uint32_t msix_table_bytes(unsigned nvec)
{
	return (uint32_t)nvec * MSIX_ENTRY_SIZE;
}

uint32_t msix_pba_bytes(unsigned nvec)
{
	return (uint32_t)(nvec + 63) / 64 * 8;
}

bool msix_vector_valid(const struct msix *m, uint16_t vector)
{
	return vector < m->nvec;
}

static uint32_t entry_get(const struct msix *m, unsigned v, unsigned field)
{
	const uint8_t *p = m->table + v * MSIX_ENTRY_SIZE + field;

	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t entry_addr(const struct msix *m, unsigned v)
{
	return entry_get(m, v, ENTRY_ADDR_LO) | (uint64_t)entry_get(m, v, ENTRY_ADDR_HI) << 32;
}

static bool vector_masked(const struct msix *m, unsigned v)
{
	return !m->enabled || m->maskall || (entry_get(m, v, ENTRY_CTRL) & MSIX_ENTRY_MASKED);
}

static void pba_set(struct msix *m, unsigned v)
{
	m->pba[v / 64] |= 1ull << (v % 64);
}

static bool pba_test_clear(struct msix *m, unsigned v)
{
	bool set = m->pba[v / 64] & (1ull << (v % 64));

	m->pba[v / 64] &= ~(1ull << (v % 64));
	return set;
}

static void msix_warn(struct msix *m, const char *what, int rc)
{
	if (ratelimit_allow(&m->warn_limit))
		log_warn("MSI-X: %s: %s", what, strerror(-rc));
}

static void msix_inject(struct msix *m, unsigned v)
{
	int rc = kvm_irq_signal_msi(m->irq, entry_addr(m, v), entry_get(m, v, ENTRY_DATA));

	m->injected++;
	if (rc < 0)
		msix_warn(m, "KVM_SIGNAL_MSI", rc);
}

/* Consume the eventfd's count; true when it had been signalled. */
static bool source_drain(const struct msix_source *s)
{
	uint64_t count = 0;

	return read(s->watch.fd, &count, sizeof(count)) == sizeof(count) && count;
}

static enum msix_path source_want(const struct msix *m, const struct msix_source *s)
{
	if (s->watch.fd < 0 || s->vector >= m->nvec)
		return MSIX_PATH_NONE;
	return vector_masked(m, s->vector) ? MSIX_PATH_WATCH : MSIX_PATH_IRQFD;
}

/* Take the source off its current path; signals that arrived while watched become pending. */
static void source_leave(struct msix *m, struct msix_source *s)
{
	int rc;

	if (s->path == MSIX_PATH_IRQFD) {
		rc = kvm_irq_irqfd(m->irq, s->watch.fd, s->irqfd_gsi, false);
		if (rc)
			msix_warn(m, "detaching an irqfd", rc);
	} else if (s->path == MSIX_PATH_WATCH) {
		kvm_irq_unwatch(m->irq, &s->watch);
		if (source_drain(s) && s->vector < m->nvec)
			pba_set(m, s->vector);
	}
	s->path = MSIX_PATH_NONE;
}

static void source_enter(struct msix *m, struct msix_source *s, enum msix_path want)
{
	uint32_t gsi;
	int rc;

	if (want == MSIX_PATH_IRQFD) {
		gsi = m->gsi[s->vector];
		rc = kvm_irq_set_msi_route(m->irq, gsi, entry_addr(m, s->vector),
					   entry_get(m, s->vector, ENTRY_DATA));
		if (!rc)
			rc = kvm_irq_irqfd(m->irq, s->watch.fd, gsi, true);
		if (!rc) {
			s->path = MSIX_PATH_IRQFD;
			s->irqfd_gsi = gsi;
			return;
		}
		/* The loop can still deliver it, one exit-free KVM_SIGNAL_MSI at a time. */
		msix_warn(m, "no irqfd, interrupts go through the event loop", rc);
		want = MSIX_PATH_WATCH;
	}
	if (want == MSIX_PATH_WATCH) {
		rc = kvm_irq_watch(m->irq, &s->watch);
		if (rc)
			msix_warn(m, "cannot watch an interrupt eventfd", rc);
		else
			s->path = MSIX_PATH_WATCH;
	}
}

/* Bring every source and pending bit in line with the table and control bits. Lock held. Order
 * matters: leaving a watch collects its last signals as pending, pending vectors that are now
 * deliverable are injected, and only then do irqfds come back (KVM injects at assign time if the
 * eventfd was signalled in between), so nothing is lost or reordered before a later signal. */
static void msix_update(struct msix *m)
{
	for (unsigned i = 0; i < m->nsrc; i++) {
		struct msix_source *s = &m->src[i];
		enum msix_path want = source_want(m, s);

		/* A watch that stands in for a refused irqfd counts as a move too: it is retried.
		 */
		s->moving = s->path != want ||
			    (want == MSIX_PATH_IRQFD && s->irqfd_gsi != m->gsi[s->vector]);
		if (s->moving)
			source_leave(m, s);
	}
	for (unsigned v = 0; v < m->nvec; v++)
		if (!vector_masked(m, v) && pba_test_clear(m, v))
			msix_inject(m, v);
	for (unsigned i = 0; i < m->nsrc; i++) {
		struct msix_source *s = &m->src[i];
		int rc;

		if (s->moving) {
			source_enter(m, s, source_want(m, s));
		} else if (s->path == MSIX_PATH_IRQFD) {
			/* Follow a reprogrammed entry; a no-op unless address or data changed. */
			rc = kvm_irq_set_msi_route(m->irq, s->irqfd_gsi, entry_addr(m, s->vector),
						   entry_get(m, s->vector, ENTRY_DATA));
			if (rc)
				msix_warn(m, "KVM_SET_GSI_ROUTING", rc);
		}
	}
}

/* A watched source was signalled (event loop thread). */
static void msix_on_signal(struct kvm_irq_watch *w)
{
	struct msix_source *s = (struct msix_source *)w; /* watch is the first member */
	struct msix *m = s->msix;

	pthread_mutex_lock(&m->lock);
	/* A source that left the watch meanwhile is not ours to read any more. */
	if (s->path == MSIX_PATH_WATCH && source_drain(s) && s->vector < m->nvec) {
		if (vector_masked(m, s->vector))
			pba_set(m, s->vector);
		else
			msix_inject(m, s->vector);
	}
	pthread_mutex_unlock(&m->lock);
}

int msix_init(struct msix *m, struct kvm_irq *irq, unsigned nvec, unsigned nsrc)
{
	int rc = 0;

	memset(m, 0, sizeof(*m));
	if (!irq || nvec == 0 || nvec > MSIX_MAX_VECTORS)
		return -EINVAL;
	m->irq = irq;
	m->table = calloc(nvec, MSIX_ENTRY_SIZE);
	m->pba = calloc(msix_pba_bytes(nvec) / 8, 8);
	m->gsi = calloc(nvec, sizeof(*m->gsi));
	m->src = calloc(nsrc ? nsrc : 1, sizeof(*m->src));
	if (!m->table || !m->pba || !m->gsi || !m->src) {
		msix_fini(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->nvec = nvec;
	m->nsrc = nsrc;
	for (unsigned i = 0; i < nsrc; i++)
		m->src[i] = (struct msix_source){
		    .watch = {.fn = msix_on_signal, .fd = -1}, .msix = m, .vector = MSIX_NO_VECTOR};
	for (unsigned v = 0; v < nvec && !rc; v++) {
		m->table[v * MSIX_ENTRY_SIZE + ENTRY_CTRL] = MSIX_ENTRY_MASKED; /* reset state */
		rc = kvm_irq_alloc_gsi(irq, &m->gsi[v]);
	}
	if (rc)
		msix_fini(m);
	return rc;
}

void msix_fini(struct msix *m)
{
	if (m->nvec) {
		pthread_mutex_lock(&m->lock);
		for (unsigned i = 0; i < m->nsrc; i++)
			source_leave(m, &m->src[i]);
		pthread_mutex_unlock(&m->lock);
		pthread_mutex_destroy(&m->lock);
	}
	free(m->table);
	free(m->pba);
	free(m->gsi);
	free(m->src);
	memset(m, 0, sizeof(*m));
}

int msix_add_cap(struct msix *m, struct pci_dev *dev, unsigned bar, uint32_t table_off,
		 uint32_t pba_off)
{
	uint16_t cap;
	int rc;

	if (bar >= PCI_NUM_BARS || (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	rc = pci_dev_add_cap(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN, &cap);
	if (rc)
		return rc;
	pci_cfg_set(dev, (uint16_t)(cap + 2), 2, m->nvec - 1); /* table size, N - 1 */
	pci_cfg_set(dev, (uint16_t)(cap + 4), 4, table_off | bar);
	pci_cfg_set(dev, (uint16_t)(cap + 8), 4, pba_off | bar);
	pci_dev_set_writable(dev, (uint16_t)(cap + 2), 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	m->cap = cap;
	return 0;
}

void msix_config_written(struct msix *m, const struct pci_dev *dev, uint32_t offset, uint32_t len)
{
	uint32_t ctrl;

	if (!m->cap || offset >= m->cap + 4u || offset + len <= m->cap + 2u)
		return;
	ctrl = pci_cfg_get(dev, (uint16_t)(m->cap + 2), 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & MSIX_CTRL_ENABLE;
	m->maskall = ctrl & MSIX_CTRL_MASKALL;
	msix_update(m);
	pthread_mutex_unlock(&m->lock);
}

/* Writable bits of each byte of a table entry: the address is dword aligned, and only the mask
 * bit of the vector control is implemented. */
static uint8_t entry_wmask(unsigned byte)
{
	if (byte == ENTRY_ADDR_LO)
		return 0xfc;
	if (byte < ENTRY_CTRL)
		return 0xff;
	return byte == ENTRY_CTRL ? MSIX_ENTRY_MASKED : 0;
}

void msix_table_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t size = msix_table_bytes(m->nvec);
	bool changed = false;

	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < len; i++) {
		bool inside = offset < size && i < size - offset;
		uint64_t o = offset + i;
		uint8_t wm, nb;

		if (!is_write) {
			data[i] = inside ? m->table[o] : 0;
			continue;
		}
		if (!inside)
			continue;
		wm = entry_wmask((unsigned)(o % MSIX_ENTRY_SIZE));
		nb = (uint8_t)((m->table[o] & ~wm) | (data[i] & wm));
		changed |= nb != m->table[o];
		m->table[o] = nb;
	}
	if (changed)
		msix_update(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_access(struct msix *m, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t size = msix_pba_bytes(m->nvec);

	if (is_write)
		return; /* read-only */
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t o = offset + i;
		data[i] = offset < size && i < size - offset
			      ? (uint8_t)(m->pba[o / 8] >> (8 * (o % 8)))
			      : 0;
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_source_set(struct msix *m, unsigned idx, int fd, uint16_t vector)
{
	struct msix_source *s;

	if (idx >= m->nsrc)
		return;
	pthread_mutex_lock(&m->lock);
	s = &m->src[idx];
	if (s->watch.fd != fd || s->vector != vector) {
		source_leave(m, s);
		s->watch.fd = fd < 0 ? -1 : fd;
		s->vector = vector;
		msix_update(m);
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, uint16_t vector)
{
	pthread_mutex_lock(&m->lock);
	if (vector < m->nvec) {
		if (vector_masked(m, vector))
			pba_set(m, vector);
		else
			msix_inject(m, vector);
	}
	pthread_mutex_unlock(&m->lock);
}
