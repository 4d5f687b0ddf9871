/* The GSI routing table and MSI-X: what KVM is asked to do (routes, irqfds, direct MSIs) as the
 * guest programs the table, masks and unmasks vectors and the function, and as eventfds fire while
 * masked. KVM is the recording fake of kvm_irq_fake.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/msix.h"
#include "kvm/irq.h"
#include "kvm_irq_fake.h"
#include "pci/pci_dev.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NVEC 3
#define NSRC 2
#define ADDR 0xfee01000u

struct rig {
	struct fake_kvm *kvm;
	struct kvm_irq irq;
	struct msix msix;
	struct pci_dev dev;
	int efd[NSRC];
};

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct pci_id id = {.vendor = 0x1af4, .device = 0x1042};

	assert_non_null(r);
	r->kvm = fake_kvm_new();
	assert_int_equal(kvm_irq_init(&r->irq, &fake_kvm_ops, r->kvm), 0);
	assert_int_equal(msix_init(&r->msix, &r->irq, NVEC, NSRC), 0);
	pci_dev_init(&r->dev, NULL, &id, "msix test");
	assert_int_equal(msix_add_cap(&r->msix, &r->dev, 0, 0x4000, 0x5000), 0);
	for (int i = 0; i < NSRC; i++) {
		r->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(r->efd[i] >= 0);
	}
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	msix_fini(&r->msix);
	assert_int_equal(r->kvm->nirqfds, 0); /* fini detached everything */
	assert_int_equal(r->kvm->bad_deassigns, 0);
	kvm_irq_fini(&r->irq);
	for (int i = 0; i < NSRC; i++)
		close(r->efd[i]);
	free(r->kvm);
	free(r);
	return 0;
}

static void table_write32(struct rig *r, unsigned vec, unsigned field, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};

	msix_table_access(&r->msix, vec * 16 + field, d, 4, true);
}

static uint32_t table_read32(struct rig *r, unsigned vec, unsigned field)
{
	uint8_t d[4];

	msix_table_access(&r->msix, vec * 16 + field, d, 4, false);
	return d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void program(struct rig *r, unsigned vec, uint32_t addr, uint32_t data)
{
	table_write32(r, vec, 0, addr);
	table_write32(r, vec, 4, 0);
	table_write32(r, vec, 8, data);
}

static void set_mask(struct rig *r, unsigned vec, bool masked)
{
	table_write32(r, vec, 12, masked);
}

static void control(struct rig *r, uint16_t ctrl)
{
	uint8_t d[2] = {(uint8_t)ctrl, (uint8_t)(ctrl >> 8)};

	pci_dev_config_write(&r->dev, r->msix.cap + 2u, d, 2);
	msix_config_written(&r->msix, &r->dev, r->msix.cap + 2u, 2);
}

static uint64_t pba(struct rig *r)
{
	uint8_t d[8];
	uint64_t v = 0;

	msix_pba_access(&r->msix, 0, d, 8, false);
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)d[i] << (8 * i);
	return v;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, 8), 8);
}

static bool fd_pending(int fd)
{
	uint64_t v;

	if (read(fd, &v, 8) != 8)
		return false;
	/* Put it back: the check must not consume. */
	assert_int_equal(write(fd, &v, 8), 8);
	return true;
}

/* The event loop: run the callbacks of whatever watched eventfd is readable. */
static void run_loop(struct rig *r)
{
	kvm_irq_on_watch(&r->irq, kvm_irq_watch_fd(&r->irq), 0);
}

static void test_base_routing(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;
	unsigned ioapic = 0, pic = 0;

	/* Committed at init; GSI 0..23 exactly as KVM's own default table. */
	assert_true(f->commits >= 1);
	for (unsigned i = 0; i < f->nroutes; i++) {
		const struct kvm_irq_routing_entry *e = &f->routes[i];
		assert_int_equal(e->type, KVM_IRQ_ROUTING_IRQCHIP);
		assert_true(e->gsi < 24);
		if (e->u.irqchip.irqchip == 2) {
			assert_int_equal(e->u.irqchip.pin, e->gsi);
			ioapic++;
		} else {
			assert_true(e->gsi < 16);
			assert_int_equal(e->u.irqchip.irqchip, e->gsi < 8 ? 0 : 1);
			assert_int_equal(e->u.irqchip.pin, e->gsi % 8);
			pic++;
		}
	}
	assert_int_equal(ioapic, 24);
	assert_int_equal(pic, 16);
	/* Serial (4) and SCI (9) reach both chips. */
	assert_non_null(fake_route(f, 4, KVM_IRQ_ROUTING_IRQCHIP));
	assert_non_null(fake_route(f, 9, KVM_IRQ_ROUTING_IRQCHIP));
	/* The vectors got GSIs past the pins, one each. */
	for (unsigned v = 0; v < NVEC; v++)
		assert_int_equal(r->msix.gsi[v], KVM_IRQ_PINS + v);
}

static void test_gsi_exhaustion(void **state)
{
	struct fake_kvm *f = fake_kvm_new();
	struct kvm_irq irq;
	uint32_t gsi;
	unsigned n = 0;

	assert_int_equal(kvm_irq_init(&irq, &fake_kvm_ops, f), 0);
	while (kvm_irq_alloc_gsi(&irq, &gsi) == 0)
		n++;
	assert_int_equal(n, KVM_IRQ_MAX_MSI);
	assert_int_equal(kvm_irq_set_msi_route(&irq, 3, ADDR, 1), -EINVAL);
	assert_int_equal(kvm_irq_set_msi_route(&irq, KVM_IRQ_MAX_GSI, ADDR, 1), -EINVAL);
	/* Every MSI route plus the irqchip routes fit in one table. */
	for (gsi = KVM_IRQ_PINS; gsi < KVM_IRQ_MAX_GSI; gsi++)
		assert_int_equal(kvm_irq_set_msi_route(&irq, gsi, ADDR, gsi), 0);
	assert_int_equal(f->nroutes, 40 + KVM_IRQ_MAX_MSI);
	assert_true(f->nroutes <= 1024);
	kvm_irq_fini(&irq);
	free(f);
}

static void test_capability(void **state)
{
	struct rig *r = *state;
	uint16_t cap = r->msix.cap;

	assert_int_equal(r->dev.cfg[cap], PCI_CAP_ID_MSIX);
	assert_int_equal(pci_cfg_get(&r->dev, cap + 2, 2), NVEC - 1);
	assert_int_equal(pci_cfg_get(&r->dev, cap + 4, 4), 0x4000);
	assert_int_equal(pci_cfg_get(&r->dev, cap + 8, 4), 0x5000);
	/* Only enable and function mask are writable. */
	control(r, 0xffff);
	assert_int_equal(pci_cfg_get(&r->dev, cap + 2, 2), 0xc000 | (NVEC - 1));
	assert_true(r->msix.enabled && r->msix.maskall);
	control(r, 0);
	assert_false(r->msix.enabled || r->msix.maskall);
}

static void test_table_fields(void **state)
{
	struct rig *r = *state;

	/* Reset: every vector masked, nothing pending. */
	for (unsigned v = 0; v < NVEC; v++)
		assert_int_equal(table_read32(r, v, 12), 1);
	assert_int_equal(pba(r), 0);
	/* Address bits 1:0 and the reserved control bits are read-only. */
	table_write32(r, 1, 0, 0xffffffffu);
	table_write32(r, 1, 12, 0xffffffffu);
	assert_int_equal(table_read32(r, 1, 0), 0xfffffffcu);
	assert_int_equal(table_read32(r, 1, 12), 1);
	table_write32(r, 1, 4, 0x12345678);
	table_write32(r, 1, 8, 0x9abcdef0);
	assert_int_equal(table_read32(r, 1, 4), 0x12345678);
	assert_int_equal(table_read32(r, 1, 8), 0x9abcdef0);
	/* A qword access covers two fields. */
	uint8_t q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	msix_table_access(&r->msix, 2 * 16, q, 8, true);
	assert_int_equal(table_read32(r, 2, 0), 0x04030200u);
	assert_int_equal(table_read32(r, 2, 4), 0x08070605u);
	/* Past the table: zeros, writes dropped. The PBA ignores writes. */
	assert_int_equal(table_read32(r, NVEC, 0), 0);
	table_write32(r, NVEC, 0, 0xffffffffu);
	assert_int_equal(table_read32(r, NVEC, 0), 0);
	uint8_t ones[8];
	memset(ones, 0xff, 8);
	msix_pba_access(&r->msix, 0, ones, 8, true);
	assert_int_equal(pba(r), 0);
}

static void test_irqfd_follows_mask(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;
	const struct kvm_irq_routing_entry *e;
	uint32_t gsi = r->msix.gsi[1];

	msix_source_set(&r->msix, 0, r->efd[0], 1);
	/* MSI-X off: the source waits in the watch, no irqfd, no route. */
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), -1);
	assert_int_equal(r->msix.src[0].path, MSIX_PATH_WATCH);
	program(r, 1, ADDR, 0x4041);
	control(r, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	assert_null(fake_route(f, gsi, KVM_IRQ_ROUTING_MSI));
	control(r, MSIX_CTRL_ENABLE);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), -1); /* vector still masked */
	set_mask(r, 1, false);
	/* Deliverable: the route is in KVM's table and the eventfd is an irqfd on it. */
	e = fake_route(f, gsi, KVM_IRQ_ROUTING_MSI);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, ADDR);
	assert_int_equal(e->u.msi.address_hi, 0);
	assert_int_equal(e->u.msi.data, 0x4041);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), gsi);
	assert_int_equal(r->msix.src[0].path, MSIX_PATH_IRQFD);
	/* The irqchip routes survive every commit. */
	assert_non_null(fake_route(f, 4, KVM_IRQ_ROUTING_IRQCHIP));
	/* Reprogramming an unmasked vector updates the route, the irqfd stays. */
	table_write32(r, 1, 8, 0x4042);
	assert_int_equal(fake_route(f, gsi, KVM_IRQ_ROUTING_MSI)->u.msi.data, 0x4042);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), gsi);
	/* Masking the vector detaches; a signal then only sets the pending bit. */
	set_mask(r, 1, true);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), -1);
	signal_fd(r->efd[0]);
	run_loop(r);
	assert_int_equal(pba(r), 1u << 1);
	assert_int_equal(f->nmsis, 0);
	assert_false(fd_pending(r->efd[0])); /* the loop consumed it */
	/* Unmasking delivers the pending message once and brings the irqfd back. */
	set_mask(r, 1, false);
	assert_int_equal(pba(r), 0);
	assert_int_equal(f->nmsis, 1);
	assert_int_equal(f->msis[0].addr, ADDR);
	assert_int_equal(f->msis[0].data, 0x4042);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), gsi);
}

static void test_function_mask(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	program(r, 0, ADDR, 0x30);
	program(r, 2, ADDR, 0x32);
	set_mask(r, 0, false);
	set_mask(r, 2, false);
	msix_source_set(&r->msix, 0, r->efd[0], 0);
	msix_source_set(&r->msix, 1, r->efd[1], 2);
	control(r, MSIX_CTRL_ENABLE);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), r->msix.gsi[0]);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[1]), r->msix.gsi[2]);
	/* Function mask: every vector stops, signals pend. */
	control(r, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	assert_int_equal(f->nirqfds, 0);
	signal_fd(r->efd[1]);
	/* Signalled but not yet seen by the loop: unmasking still finds it. */
	control(r, MSIX_CTRL_ENABLE);
	assert_int_equal(f->nmsis, 1);
	assert_int_equal(f->msis[0].data, 0x32);
	assert_int_equal(f->nirqfds, 2);
	assert_int_equal(pba(r), 0);
	/* Disabling MSI-X behaves as a mask. */
	control(r, 0);
	assert_int_equal(f->nirqfds, 0);
	msix_notify(&r->msix, 0);
	assert_int_equal(pba(r), 1);
	control(r, MSIX_CTRL_ENABLE);
	assert_int_equal(f->nmsis, 2);
	assert_int_equal(f->msis[1].data, 0x30);
}

static void test_notify_and_no_vector(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	program(r, 2, ADDR, 0x77);
	control(r, MSIX_CTRL_ENABLE);
	msix_notify(&r->msix, 2); /* masked: pending */
	assert_int_equal(f->nmsis, 0);
	assert_int_equal(pba(r), 4);
	set_mask(r, 2, false);
	assert_int_equal(f->nmsis, 1);
	msix_notify(&r->msix, 2); /* unmasked: now */
	assert_int_equal(f->nmsis, 2);
	msix_notify(&r->msix, MSIX_NO_VECTOR);
	msix_notify(&r->msix, NVEC);
	assert_int_equal(f->nmsis, 2);
	/* A source without a vector goes nowhere; one with a vector past the table neither. */
	msix_source_set(&r->msix, 0, r->efd[0], MSIX_NO_VECTOR);
	msix_source_set(&r->msix, 1, r->efd[1], NVEC + 5);
	assert_int_equal(f->nirqfds, 0);
	assert_int_equal(r->msix.src[0].path, MSIX_PATH_NONE);
	assert_int_equal(r->msix.src[1].path, MSIX_PATH_NONE);
	msix_source_set(&r->msix, 7, r->efd[0], 0); /* no such source: ignored */
}

static void test_rebind_and_detach(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	program(r, 0, ADDR, 0x50);
	program(r, 1, ADDR, 0x51);
	set_mask(r, 0, false);
	set_mask(r, 1, false);
	control(r, MSIX_CTRL_ENABLE);
	msix_source_set(&r->msix, 0, r->efd[0], 0);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), r->msix.gsi[0]);
	msix_source_set(&r->msix, 0, r->efd[0], 1);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[0]), r->msix.gsi[1]);
	/* Two sources may share a vector. */
	msix_source_set(&r->msix, 1, r->efd[1], 1);
	assert_int_equal(fake_irqfd_gsi(f, r->efd[1]), r->msix.gsi[1]);
	msix_source_set(&r->msix, 0, -1, MSIX_NO_VECTOR);
	msix_source_set(&r->msix, 1, -1, MSIX_NO_VECTOR);
	assert_int_equal(f->nirqfds, 0);
	assert_int_equal(f->bad_deassigns, 0);
}

static void test_irqfd_refused_falls_back(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	f->irqfd_error = -ENOSYS;
	program(r, 0, ADDR, 0x60);
	set_mask(r, 0, false);
	control(r, MSIX_CTRL_ENABLE);
	msix_source_set(&r->msix, 0, r->efd[0], 0);
	assert_int_equal(r->msix.src[0].path, MSIX_PATH_WATCH);
	/* The loop injects what the irqfd would have. */
	signal_fd(r->efd[0]);
	run_loop(r);
	assert_int_equal(f->nmsis, 1);
	assert_int_equal(f->msis[0].data, 0x60);
	assert_int_equal(pba(r), 0);
	/* Once KVM takes irqfds again, the next change moves the source back. */
	f->irqfd_error = 0;
	table_write32(r, 0, 8, 0x61);
	assert_int_equal(r->msix.src[0].path, MSIX_PATH_IRQFD);
}

/* A watch callback collected before the source left the watch must not steal its signal. */
static void test_stale_watch_callback(void **state)
{
	struct rig *r = *state;
	struct fake_kvm *f = r->kvm;

	program(r, 0, ADDR, 0x70);
	control(r, MSIX_CTRL_ENABLE);
	msix_source_set(&r->msix, 0, r->efd[0], 0);
	set_mask(r, 0, false); /* irqfd now */
	signal_fd(r->efd[0]);
	r->msix.src[0].watch.fn(&r->msix.src[0].watch); /* late call from the loop */
	assert_true(fd_pending(r->efd[0]));
	assert_int_equal(f->nmsis, 0);
}

static void test_hostile_table(void **state)
{
	struct rig *r = *state;
	uint8_t d[8];

	msix_source_set(&r->msix, 0, r->efd[0], 1);
	control(r, MSIX_CTRL_ENABLE);
	for (uint32_t len = 1; len <= 8; len++)
		for (uint64_t off = 0; off < 0x1010; off++) {
			memset(d, (int)(off * 7 + len), sizeof(d));
			msix_table_access(&r->msix, off, d, len, true);
			msix_table_access(&r->msix, off, d, len, false);
			msix_pba_access(&r->msix, off, d, len, false);
			msix_pba_access(&r->msix, off, d, len, true);
		}
	msix_table_access(&r->msix, UINT64_MAX - 2, d, 8, false);
	msix_table_access(&r->msix, UINT64_MAX - 2, d, 8, true);
	msix_pba_access(&r->msix, UINT64_MAX - 2, d, 8, false);
	/* Whatever the table holds now, each source is where its vector's state says. */
	assert_int_equal(r->msix.src[0].path,
			 table_read32(r, 1, 12) & 1 ? MSIX_PATH_WATCH : MSIX_PATH_IRQFD);
}

struct race {
	struct rig *r;
	bool stop; /* atomic */
};

static void *race_masker(void *arg)
{
	struct race *x = arg;

	for (int i = 0; i < 2000; i++)
		set_mask(x->r, 0, i & 1);
	__atomic_store_n(&x->stop, true, __ATOMIC_RELEASE);
	return NULL;
}

/* A vCPU thread masks and unmasks while the backend signals and the loop runs: no crash, no
 * irqfd detached twice, and the end state matches the last mask. */
static void test_mask_race(void **state)
{
	struct rig *r = *state;
	struct race x = {.r = r};
	pthread_t t;

	program(r, 0, ADDR, 0x80);
	control(r, MSIX_CTRL_ENABLE);
	msix_source_set(&r->msix, 0, r->efd[0], 0);
	assert_int_equal(pthread_create(&t, NULL, race_masker, &x), 0);
	while (!__atomic_load_n(&x.stop, __ATOMIC_ACQUIRE)) {
		signal_fd(r->efd[0]);
		run_loop(r);
	}
	pthread_join(t, NULL);
	set_mask(r, 0, true);
	assert_int_equal(r->kvm->bad_deassigns, 0);
	assert_true(r->kvm->nirqfds == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_base_routing, setup, teardown),
	    cmocka_unit_test(test_gsi_exhaustion),
	    cmocka_unit_test_setup_teardown(test_capability, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irqfd_follows_mask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_function_mask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify_and_no_vector, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rebind_and_detach, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irqfd_refused_falls_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_watch_callback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mask_race, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
