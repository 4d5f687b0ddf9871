/* The i8042 controller and its PS/2 keyboard, driven through a real iobus the way Linux's i8042
 * and atkbd drivers drive them, plus Ctrl+Alt+Del injection and hostile guests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/i8042.h"
#include "devices/platform.h"
#include "devices/ps2_kbd.h"
#include "kvm/iobus.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define STS_OBF	   0x01
#define STS_IBF	   0x02
#define STS_AUX	   0x20
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40

struct rig {
	struct iobus bus;
	struct i8042 *dev;
	unsigned reboots;
	int level;	/* last IRQ level driven (0 before any call) */
	unsigned rises; /* 0 -> 1 transitions: interrupts an edge-triggered pin sees */
	unsigned calls;
};

static void on_event(void *ctx, enum platform_event ev)
{
	struct rig *r = ctx;

	if (ev == PLATFORM_REBOOT)
		__atomic_add_fetch(&r->reboots, 1, __ATOMIC_RELAXED);
}

/* Called with the device lock held, so these updates are serialised. */
static void on_irq(void *ctx, bool level)
{
	struct rig *r = ctx;

	/* Only changes are reported. */
	assert_int_not_equal(r->level, level);
	r->level = level;
	r->rises += level;
	r->calls++;
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(i8042_create(&r->dev, on_event, on_irq, r), 0);
	assert_int_equal(iobus_register(&r->bus, PORT_I8042_DATA, 1, i8042_data_io, r->dev), 0);
	assert_int_equal(iobus_register(&r->bus, PORT_I8042_CMD, 1, i8042_cmd_io, r->dev), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	i8042_destroy(r->dev);
	free(r);
	return 0;
}

static void outb(struct rig *r, uint16_t port, uint8_t v)
{
	assert_true(iobus_dispatch(&r->bus, port, &v, 1, true));
}

static uint8_t inb(struct rig *r, uint16_t port)
{
	uint8_t v;

	assert_true(iobus_dispatch(&r->bus, port, &v, 1, false));
	return v;
}

static uint8_t status(struct rig *r)
{
	return inb(r, PORT_I8042_CMD);
}

/* As Linux's i8042_wait_write()/i8042_wait_read(): everything completes at once here. */
static void ctl_write(struct rig *r, uint16_t port, uint8_t v)
{
	assert_int_equal(status(r) & STS_IBF, 0);
	outb(r, port, v);
}

static uint8_t ctl_read(struct rig *r)
{
	assert_int_equal(status(r) & STS_OBF, STS_OBF);
	return inb(r, PORT_I8042_DATA);
}

static void assert_empty(struct rig *r)
{
	assert_int_equal(status(r) & STS_OBF, 0);
}

static uint8_t read_ctr(struct rig *r)
{
	ctl_write(r, PORT_I8042_CMD, 0x20);
	return ctl_read(r);
}

static void write_ctr(struct rig *r, uint8_t ctr)
{
	ctl_write(r, PORT_I8042_CMD, 0x60);
	ctl_write(r, PORT_I8042_DATA, ctr);
}

/* One byte to the keyboard, then its answer bytes, which must be exactly `expect`. */
static void kbd_cmd(struct rig *r, uint8_t byte, const uint8_t *expect, size_t n)
{
	ctl_write(r, PORT_I8042_DATA, byte);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ctl_read(r), expect[i]);
	assert_empty(r);
}

#define KBD(r, byte, ...)                                                                          \
	do {                                                                                       \
		const uint8_t e_[] = {__VA_ARGS__};                                                \
		kbd_cmd((r), (byte), e_, sizeof(e_));                                              \
	} while (0)

/* What Linux 6.1 does at boot: i8042 controller init (A20 through the output port, CTR read
 * twice, interfaces off, translation kept), keyboard port enabled, then atkbd's probe and
 * activation. Leaves the keyboard ready. */
static void linux_probe(struct rig *r)
{
	uint8_t ctr;

	ctl_write(r, PORT_I8042_CMD, 0xd1);
	ctl_write(r, PORT_I8042_DATA, 0xdf);
	ctl_write(r, PORT_I8042_CMD, 0xff);
	assert_empty(r);
	ctr = read_ctr(r);
	assert_int_equal(read_ctr(r), ctr);
	assert_int_equal(ctr & CTR_XLATE, CTR_XLATE); /* else Linux goes "direct" */
	assert_int_not_equal(status(r) & 0x10, 0);    /* key lock off */
	ctr = (uint8_t)((ctr | CTR_KBDDIS) & ~CTR_KBDINT);
	write_ctr(r, ctr);
	assert_empty(r);
	ctr = (uint8_t)((ctr & ~CTR_KBDDIS) | CTR_KBDINT);
	write_ctr(r, ctr);
	assert_int_equal(r->level, 0);

	KBD(r, 0xf5, 0xfa);		/* atkbd_deactivate */
	KBD(r, 0xf2, 0xfa, 0xab, 0x41); /* GET ID; 0x83 arrives translated */
	KBD(r, 0xed, 0xfa);		/* LEDs */
	KBD(r, 0x00, 0xfa);
	KBD(r, 0xf3, 0xfa); /* typematic */
	KBD(r, 0x00, 0xfa);
	KBD(r, 0xf4, 0xfa); /* enable */
}

static void test_probe_sequence(void **state)
{
	struct rig *r = *state;

	assert_int_equal(read_ctr(r) & (CTR_KBDINT | CTR_AUXINT), 0); /* firmware's hand-over */
	ctl_write(r, PORT_I8042_CMD, 0xaa);
	assert_int_equal(ctl_read(r), 0x55);
	ctl_write(r, PORT_I8042_CMD, 0xab);
	assert_int_equal(ctl_read(r), 0x00);
	linux_probe(r);
	/* Each answer byte of atkbd's commands was its own interrupt. */
	assert_int_equal(r->rises, 9);
	assert_int_equal(r->level, 0);
	assert_int_equal(r->reboots, 0);
}

static void test_keyboard_commands(void **state)
{
	struct rig *r = *state;

	write_ctr(r, 0x00); /* no translation, no interrupts, keyboard interface enabled */
	KBD(r, 0xff, 0xfa, 0xaa);
	KBD(r, 0xf2, 0xfa, 0xab, 0x83);
	KBD(r, 0xee, 0xee);
	KBD(r, 0xfe, 0xee); /* resend: the last byte again */
	KBD(r, 0xf0, 0xfa);
	KBD(r, 0x00, 0xfa, 0x02); /* which set: 2 */
	KBD(r, 0xf0, 0xfa);
	KBD(r, 0x03, 0xfe); /* no set 3 */
	KBD(r, 0xf0, 0xfa);
	KBD(r, 0x01, 0xfa);
	KBD(r, 0xf0, 0xfa);
	KBD(r, 0x00, 0xfa, 0x01);
	KBD(r, 0xed, 0xfa);
	KBD(r, 0xf4, 0xfa); /* a command instead of the LED byte: the new command wins */
	KBD(r, 0xf6, 0xfa);
	KBD(r, 0xfb, 0xfa);
	KBD(r, 0x12, 0xfe); /* not a command */
	KBD(r, 0xff, 0xfa, 0xaa);
	KBD(r, 0xf0, 0xfa); /* reset went back to set 2 */
	KBD(r, 0x00, 0xfa, 0x02);
	assert_int_equal(r->rises, 0);
}

static const uint8_t cad_set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
static const uint8_t cad_set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				   0x71, 0xf0, 0x11, 0xf0, 0x14};

/* The guest's interrupt handler: one byte per interrupt, status then data. */
static void read_by_irq(struct rig *r, const uint8_t *expect, size_t n)
{
	unsigned rises = r->rises;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(r->level, 1);
		assert_int_equal(r->rises, rises + i);
		assert_int_equal(status(r) & (STS_OBF | STS_AUX), STS_OBF);
		assert_int_equal(inb(r, PORT_I8042_DATA), expect[i]);
	}
	assert_int_equal(r->level, 0);
	assert_empty(r);
}

static void test_cad_translated(void **state)
{
	struct rig *r = *state;

	linux_probe(r);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
	/* Again, once read. */
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
	assert_int_equal(r->reboots, 0);
}

static void test_cad_untranslated(void **state)
{
	struct rig *r = *state;

	write_ctr(r, CTR_KBDINT);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set2, sizeof(cad_set2));
	/* Set 1 chosen on the keyboard itself, no translation. */
	KBD(r, 0xf0, 0xfa);
	KBD(r, 0x01, 0xfa);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
}

static void test_cad_refused(void **state)
{
	struct rig *r = *state;

	/* No driver yet: interface disabled and no interrupt. */
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -EAGAIN);
	linux_probe(r);
	KBD(r, 0xf5, 0xfa); /* atkbd disabled the keyboard */
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -EAGAIN);
	KBD(r, 0xf4, 0xfa);
	ctl_write(r, PORT_I8042_CMD, 0xad);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -EAGAIN);
	ctl_write(r, PORT_I8042_CMD, 0xae);
	/* Shut down as Linux's i8042_controller_reset() does: interrupts off. */
	write_ctr(r, (uint8_t)(read_ctr(r) & ~CTR_KBDINT));
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -EAGAIN);
	assert_empty(r);
	assert_int_equal(r->level, 0);
}

/* The keyboard buffers 16 bytes: a second Ctrl+Alt+Del before the first is read does not fit
 * and nothing of it is queued; the first still arrives whole. */
static void test_cad_fifo_bounded(void **state)
{
	struct rig *r = *state;

	linux_probe(r);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -ENOBUFS);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), -ENOBUFS);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
}

/* Interrupts follow the command byte: none while KBDINT is clear (a polling guest), raised at
 * once when it is set with a byte waiting. */
static void test_irq_follows_ctr(void **state)
{
	struct rig *r = *state;

	linux_probe(r);
	write_ctr(r, CTR_XLATE);
	KBD(r, 0xee, 0xee);
	assert_int_equal(r->level, 0);
	ctl_write(r, PORT_I8042_DATA, 0xee);
	assert_int_equal(r->level, 0);
	write_ctr(r, CTR_XLATE | CTR_KBDINT);
	assert_int_equal(r->level, 1);
	assert_int_equal(inb(r, PORT_I8042_DATA), 0xee);
	assert_int_equal(r->level, 0);
	/* Reading an empty buffer gives the stale byte and no interrupt. */
	assert_int_equal(inb(r, PORT_I8042_DATA), 0xee);
	assert_int_equal(r->level, 0);
}

/* A controller command while a key byte waits: the answer comes first, the key byte (with its
 * folded break prefix) after it, unchanged. */
static void test_answer_before_key(void **state)
{
	struct rig *r = *state;

	write_ctr(r, CTR_XLATE | CTR_KBDINT);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(inb(r, PORT_I8042_DATA), cad_set1[i]);
	/* 0xD3 is now in the buffer: a break made of two keyboard bytes (0xF0 0x53). */
	ctl_write(r, PORT_I8042_CMD, 0x20);
	assert_int_equal(ctl_read(r), CTR_XLATE | CTR_KBDINT | CTR_AUXDIS);
	read_by_irq(r, cad_set1 + 5, sizeof(cad_set1) - 5);
}

static void test_no_aux(void **state)
{
	struct rig *r = *state;

	/* AUX enable leaves the port disabled; its interrupt bit does not stick. */
	ctl_write(r, PORT_I8042_CMD, 0xa8);
	assert_int_equal(read_ctr(r) & CTR_AUXDIS, CTR_AUXDIS);
	write_ctr(r, CTR_AUXINT | CTR_XLATE);
	assert_int_equal(read_ctr(r) & (CTR_AUXINT | CTR_AUXDIS), CTR_AUXDIS);
	/* AUX loop: the byte comes back at once, but not as mouse data (Linux: no AUX). */
	ctl_write(r, PORT_I8042_CMD, 0xd3);
	ctl_write(r, PORT_I8042_DATA, 0x5a);
	assert_int_equal(status(r) & (STS_OBF | STS_AUX), STS_OBF);
	assert_int_equal(inb(r, PORT_I8042_DATA), 0x5a);
	/* AUX interface test: "clock line stuck", which Linux reads as nothing connected. */
	ctl_write(r, PORT_I8042_CMD, 0xa9);
	assert_int_equal(ctl_read(r), 0x02);
	/* A byte for the mouse: nobody answers. */
	ctl_write(r, PORT_I8042_CMD, 0xd4);
	ctl_write(r, PORT_I8042_DATA, 0xff);
	assert_empty(r);
	/* 0xD2: as if from the keyboard. */
	ctl_write(r, PORT_I8042_CMD, 0xd2);
	ctl_write(r, PORT_I8042_DATA, 0x61);
	assert_int_equal(ctl_read(r), 0x61);
	assert_int_equal(r->reboots, 0);
}

static void test_output_port_and_reset(void **state)
{
	struct rig *r = *state;

	ctl_write(r, PORT_I8042_CMD, 0xd0);
	assert_int_equal(ctl_read(r) & 0x03, 0x03);
	ctl_write(r, PORT_I8042_CMD, 0xd1);
	ctl_write(r, PORT_I8042_DATA, 0xdd);
	ctl_write(r, PORT_I8042_CMD, 0xd0);
	assert_int_equal(ctl_read(r), 0xdd);
	for (unsigned c = 0xf0; c <= 0xff; c++)
		if (c & 1)
			ctl_write(r, PORT_I8042_CMD, (uint8_t)c);
	assert_int_equal(r->reboots, 0);
	ctl_write(r, PORT_I8042_CMD, 0xfe);
	assert_int_equal(r->reboots, 1);
	ctl_write(r, PORT_I8042_CMD, 0xf0);
	assert_int_equal(r->reboots, 2);
}

/* A guest writing and reading at random: nothing crashes or hangs, the IRQ callback only sees
 * changes (on_irq asserts it), and the device still serves a well-behaved driver afterwards. */
static void test_random_ports(void **state)
{
	struct rig *r = *state;
	uint32_t x = 12345;

	for (int i = 0; i < 300000; i++) {
		x = x * 1103515245u + 12345u;
		uint8_t v = (uint8_t)(x >> 16);
		uint16_t port = (x >> 8) & 1 ? PORT_I8042_CMD : PORT_I8042_DATA;

		if ((x >> 9) & 1) {
			/* Reset pulses would only count events: keep them rare. */
			if (port == PORT_I8042_CMD && v >= 0xf0 && !(v & 1))
				v |= 1;
			outb(r, port, v);
		} else {
			(void)inb(r, port);
		}
		if (!(x & 0x3ff)) {
			int rc = i8042_send_ctrl_alt_del(r->dev);
			assert_true(rc == 0 || rc == -EAGAIN || rc == -ENOBUFS);
		}
	}
	assert_int_equal(r->reboots, 0);
	/* Whatever state it was left in, a driver that resets the keyboard gets it back. */
	write_ctr(r, CTR_XLATE); /* a command cancels any pending one; no interrupts */
	ctl_write(r, PORT_I8042_DATA, 0xff);
	uint8_t last[2] = {0, 0};
	for (int i = 0; i < 64 && (status(r) & STS_OBF); i++) {
		last[0] = last[1];
		last[1] = inb(r, PORT_I8042_DATA);
	}
	assert_int_equal(last[0], 0xfa);
	assert_int_equal(last[1], 0xaa);
	assert_empty(r);
	assert_int_equal(r->level, 0);
	linux_probe(r);
	assert_int_equal(i8042_send_ctrl_alt_del(r->dev), 0);
	read_by_irq(r, cad_set1, sizeof(cad_set1));
}

/* The keyboard's own FIFO never grows past its size, whatever the host sends. */
static void test_kbd_fifo_bounded(void **state)
{
	struct ps2_kbd k;
	uint8_t b;
	unsigned n = 0;

	ps2_kbd_init(&k);
	for (int i = 0; i < 1000; i++)
		ps2_kbd_write(&k, 0xf2); /* three answer bytes each */
	assert_int_equal(k.count, PS2_KBD_FIFO);
	assert_true(k.dropped > 0);
	while (ps2_kbd_pop(&k, &b))
		n++;
	assert_int_equal(n, PS2_KBD_FIFO);
	ps2_kbd_unpop(&k, 1);
	assert_true(ps2_kbd_pop(&k, &b));
	assert_int_equal(b, 1);
	assert_false(ps2_kbd_pop(&k, &b));
}

static void test_wide_and_odd_accesses(void **state)
{
	struct rig *r = *state;
	uint8_t data[8];

	memset(data, 0, sizeof(data));
	assert_true(iobus_dispatch(&r->bus, PORT_I8042_CMD, data, 8, false));
	for (int i = 1; i < 8; i++)
		assert_int_equal(data[i], 0xff);
	for (uint64_t off = 1; off < 8; off++) {
		memset(data, 0xfe, sizeof(data));
		i8042_cmd_io(r->dev, off, data, 8, true);
		i8042_data_io(r->dev, off, data, 8, true);
		i8042_data_io(r->dev, off, data, 8, false);
		for (int i = 0; i < 8; i++)
			assert_int_equal(data[i], 0xff);
	}
	i8042_cmd_io(r->dev, 0, data, 0, true);
	i8042_data_io(r->dev, 0, data, 0, false);
	assert_int_equal(r->reboots, 0);
	assert_empty(r);
}

struct hammer {
	struct rig *r;
	int cad_ok;
};

static void *inject_thread(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 20000; i++)
		if (i8042_send_ctrl_alt_del(h->r->dev) == 0)
			h->cad_ok++;
	return NULL;
}

/* The VMM thread injects while a vCPU reads: every byte read belongs to the sequence, in
 * order. */
static void test_concurrent_injection(void **state)
{
	struct rig *r = *state;
	struct hammer h = {r, 0};
	pthread_t t;
	size_t pos = 0;
	unsigned got = 0;

	linux_probe(r);
	assert_int_equal(pthread_create(&t, NULL, inject_thread, &h), 0);
	for (int i = 0; i < 200000; i++) {
		if (!(status(r) & STS_OBF))
			continue;
		assert_int_equal(inb(r, PORT_I8042_DATA), cad_set1[pos]);
		pos = (pos + 1) % sizeof(cad_set1);
		got++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	while (status(r) & STS_OBF) {
		assert_int_equal(inb(r, PORT_I8042_DATA), cad_set1[pos]);
		pos = (pos + 1) % sizeof(cad_set1);
		got++;
	}
	assert_int_equal(pos, 0);
	assert_int_equal(got, (unsigned)h.cad_ok * sizeof(cad_set1));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_probe_sequence),
	    T(test_keyboard_commands),
	    T(test_cad_translated),
	    T(test_cad_untranslated),
	    T(test_cad_refused),
	    T(test_cad_fifo_bounded),
	    T(test_irq_follows_ctr),
	    T(test_answer_before_key),
	    T(test_no_aux),
	    T(test_output_port_and_reset),
	    T(test_random_ports),
	    T(test_wide_and_odd_accesses),
	    T(test_concurrent_injection),
	    cmocka_unit_test(test_kbd_fifo_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
