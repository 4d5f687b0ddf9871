/* Platform devices (ACPI PM block, i8042, pvpanic) driven through a real iobus, as the vCPU
 * exit path drives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/platform.h"
#include "devices/pvpanic.h"
#include "kvm/iobus.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define SLP_EN	   (1u << 13)
#define SLP_TYP(t) ((unsigned)(t) << 10)
#define PWRBTN	   (1u << 8)
#define GBL	   (1u << 5)

struct rig {
	struct iobus bus;
	struct acpi_pm *pm;
	struct i8042 *kbd;
	struct pvpanic *panic;
	unsigned events[3]; /* by enum platform_event; atomically incremented */
	int sci;	    /* last level driven, -1 before any call */
	unsigned sci_calls;
};

static void on_event(void *ctx, enum platform_event ev)
{
	struct rig *r = ctx;

	__atomic_add_fetch(&r->events[ev], 1, __ATOMIC_RELAXED);
}

static void on_sci(void *ctx, bool level)
{
	struct rig *r = ctx;

	r->sci = level;
	r->sci_calls++;
}

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->sci = -1;
	/* Wired as the VMM wires them. */
	assert_int_equal(acpi_pm_create(&r->pm, on_event, r), 0);
	acpi_pm_set_sci(r->pm, on_sci);
	assert_int_equal(i8042_create(&r->kbd, on_event, NULL, r), 0);
	assert_int_equal(pvpanic_create(&r->panic, on_event, r), 0);
	assert_int_equal(
	    iobus_register(&r->bus, PORT_ACPI_PM_BASE, ACPI_PM_NPORTS, acpi_pm_io, r->pm), 0);
	assert_int_equal(iobus_register(&r->bus, PORT_I8042_DATA, 1, i8042_data_io, r->kbd), 0);
	assert_int_equal(iobus_register(&r->bus, PORT_I8042_CMD, 1, i8042_cmd_io, r->kbd), 0);
	assert_int_equal(iobus_register(&r->bus, PORT_PVPANIC, 1, pvpanic_io, r->panic), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	pvpanic_destroy(r->panic);
	i8042_destroy(r->kbd);
	acpi_pm_destroy(r->pm);
	free(r);
	return 0;
}

static void out(struct rig *r, uint16_t port, uint64_t value, uint32_t len)
{
	uint8_t data[8];

	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(value >> (8 * i));
	assert_true(iobus_dispatch(&r->bus, port, data, len, true));
}

static uint64_t in(struct rig *r, uint16_t port, uint32_t len)
{
	uint8_t data[8];
	uint64_t v = 0;

	assert_true(iobus_dispatch(&r->bus, port, data, len, false));
	for (uint32_t i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static unsigned total_events(const struct rig *r)
{
	return r->events[0] + r->events[1] + r->events[2];
}

static void test_s5_powers_off(void **state)
{
	struct rig *r = *state;

	/* ACPICA's order: SLP_TYP alone, then SLP_TYP | SLP_EN. */
	out(r, PORT_ACPI_PM1A_CNT, SLP_TYP(ACPI_SLP_TYP_S5), 2);
	assert_int_equal(total_events(r), 0);
	out(r, PORT_ACPI_PM1A_CNT, SLP_TYP(ACPI_SLP_TYP_S5) | SLP_EN, 2);
	assert_int_equal(r->events[PLATFORM_POWEROFF], 1);
	assert_int_equal(total_events(r), 1);
	/* SLP_EN is write-only; SLP_TYP and SCI_EN read back. */
	assert_int_equal(in(r, PORT_ACPI_PM1A_CNT, 2), SLP_TYP(ACPI_SLP_TYP_S5) | 1);
}

static void test_s5_high_byte_only(void **state)
{
	struct rig *r = *state;

	/* SLP_TYP and SLP_EN both live in the high byte: a byte write there is enough. */
	out(r, PORT_ACPI_PM1A_CNT + 1, (SLP_TYP(ACPI_SLP_TYP_S5) | SLP_EN) >> 8, 1);
	assert_int_equal(r->events[PLATFORM_POWEROFF], 1);
	/* A low-byte write keeps the stored SLP_TYP but carries no SLP_EN. */
	out(r, PORT_ACPI_PM1A_CNT, 0x00, 1);
	assert_int_equal(r->events[PLATFORM_POWEROFF], 1);
}

static void test_no_poweroff_otherwise(void **state)
{
	struct rig *r = *state;

	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ != ACPI_SLP_TYP_S5)
			out(r, PORT_ACPI_PM1A_CNT, SLP_TYP(typ) | SLP_EN, 2);
	}
	out(r, PORT_ACPI_PM1A_CNT, SLP_TYP(ACPI_SLP_TYP_S5), 2); /* no SLP_EN */
	out(r, PORT_ACPI_PM1A_CNT, 0xffff & ~SLP_EN, 2);
	assert_int_equal(total_events(r), 0);
}

static void test_sci_en_reads_one(void **state)
{
	struct rig *r = *state;

	assert_int_equal(in(r, PORT_ACPI_PM1A_CNT, 2) & 1, 1);
	out(r, PORT_ACPI_PM1A_CNT, 0, 2);
	assert_int_equal(in(r, PORT_ACPI_PM1A_CNT, 1) & 1, 1);
}

static void test_reset_register(void **state)
{
	struct rig *r = *state;

	out(r, PORT_ACPI_RESET, 0x01, 1);
	out(r, PORT_ACPI_RESET, 0xff, 1);
	assert_int_equal(total_events(r), 0);
	out(r, PORT_ACPI_RESET, ACPI_RESET_VALUE, 1);
	assert_int_equal(r->events[PLATFORM_REBOOT], 1);
	assert_int_equal(in(r, PORT_ACPI_RESET, 1), 0);
	/* A dword write at PM1_CNT spans RESET in its third byte lane. */
	out(r, PORT_ACPI_PM1A_CNT, 0x00000000, 4);
	assert_int_equal(r->events[PLATFORM_REBOOT], 1);
	out(r, PORT_ACPI_PM1A_CNT, (uint32_t)ACPI_RESET_VALUE << 16, 4);
	assert_int_equal(r->events[PLATFORM_REBOOT], 2);
	assert_int_equal(r->events[PLATFORM_POWEROFF], 0);
}

static void test_enable_and_status(void **state)
{
	struct rig *r = *state;

	out(r, PORT_ACPI_PM1A_EVT + 2, 0xffff, 2);
	/* Only the defined enable bits stick (ACPICA reads them back to confirm). */
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT + 2, 2), 0x0721);
	out(r, PORT_ACPI_PM1A_EVT + 2, GBL, 2);
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT + 2, 2), GBL);
	/* One dword access covers status (low half) and enable (high half). */
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT, 4), (uint32_t)GBL << 16);
	out(r, PORT_ACPI_PM1A_EVT + 3, PWRBTN >> 8, 1);
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT + 2, 2), GBL | PWRBTN);
	assert_int_equal(total_events(r), 0);
}

static void test_power_button(void **state)
{
	struct rig *r = *state;

	/* Not enabled: status latches but nobody is interrupted. */
	assert_false(acpi_pm_power_button(r->pm));
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT, 2), PWRBTN);
	assert_int_equal(r->sci_calls, 0);
	/* Enabling with the status pending raises the SCI at once. */
	out(r, PORT_ACPI_PM1A_EVT + 2, PWRBTN, 2);
	assert_int_equal(r->sci, 1);
	/* Writing 0 to status clears nothing; writing the bit back clears it and the SCI. */
	out(r, PORT_ACPI_PM1A_EVT, 0, 2);
	assert_int_equal(r->sci, 1);
	out(r, PORT_ACPI_PM1A_EVT, PWRBTN, 2);
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT, 2), 0);
	assert_int_equal(r->sci, 0);
	assert_int_equal(r->sci_calls, 2);
	/* Enabled: a press interrupts the guest. */
	assert_true(acpi_pm_power_button(r->pm));
	assert_int_equal(r->sci, 1);
	assert_int_equal(r->sci_calls, 3);
	assert_int_equal(total_events(r), 0);
}

static void test_i8042(void **state)
{
	struct rig *r = *state;

	/* Linux's kb_wait() polls for "input buffer empty" before each 0xFE. */
	assert_int_equal(in(r, PORT_I8042_CMD, 1) & 0x03, 0);
	out(r, PORT_I8042_CMD, 0xaa, 1); /* self-test: answered, no reset */
	assert_int_equal(in(r, PORT_I8042_CMD, 1) & 0x01, 1);
	assert_int_equal(in(r, PORT_I8042_DATA, 1), 0x55);
	out(r, PORT_I8042_CMD, 0xd1, 1); /* write output port: only 0xFE pulses the reset */
	out(r, PORT_I8042_DATA, 0x00, 1);
	out(r, PORT_I8042_CMD, 0xff, 1); /* pulse nothing */
	assert_int_equal(total_events(r), 0);
	out(r, PORT_I8042_CMD, 0xfe, 1);
	assert_int_equal(r->events[PLATFORM_REBOOT], 1);
	assert_int_equal(total_events(r), 1);
}

static void test_pvpanic(void **state)
{
	struct rig *r = *state;

	assert_int_equal(in(r, PORT_PVPANIC, 1), PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	out(r, PORT_PVPANIC, 0, 1);
	out(r, PORT_PVPANIC, PVPANIC_CRASH_LOADED, 1); /* kdump continues: log only */
	out(r, PORT_PVPANIC, 0x04, 1);		       /* unsupported event */
	assert_int_equal(total_events(r), 0);
	out(r, PORT_PVPANIC, PVPANIC_PANICKED, 1);
	assert_int_equal(r->events[PLATFORM_PANIC], 1);
	assert_int_equal(total_events(r), 1);
}

/* Every size 1..8 at every offset of every range: reads fill exactly len bytes, writes read
 * exactly len bytes, nothing around the buffer changes. */
static void test_odd_accesses(void **state)
{
	struct rig *r = *state;
	static const struct {
		uint16_t base, len;
	} ranges[] = {{PORT_ACPI_PM_BASE, ACPI_PM_NPORTS},
		      {PORT_I8042_DATA, 1},
		      {PORT_I8042_CMD, 1},
		      {PORT_PVPANIC, 1}};

	for (size_t k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
		for (uint16_t off = 0; off < ranges[k].len; off++) {
			for (uint32_t len = 1; len <= 8; len++) {
				uint8_t buf[8 + 16 + 8];
				memset(buf, 0x5a, sizeof(buf));
				assert_true(iobus_dispatch(&r->bus, ranges[k].base + off, buf + 8,
							   len, false));
				for (size_t i = 0; i < 8; i++) {
					assert_int_equal(buf[i], 0x5a);
					assert_int_equal(buf[8 + len + i], 0x5a);
				}
				/* Writes of zeros trigger nothing anywhere. */
				memset(buf + 8, 0, len);
				assert_true(iobus_dispatch(&r->bus, ranges[k].base + off, buf + 8,
							   len, true));
				assert_int_equal(buf[7], 0x5a);
				assert_int_equal(buf[8 + len], 0x5a);
			}
		}
	}
	/* Bytes of a wide read past the PM block come back as an empty bus. */
	assert_int_equal(in(r, PORT_ACPI_RESET, 4) >> 16, 0xffff);
	assert_int_equal(total_events(r), 0);
}

static void test_create_errors(void **state)
{
	struct acpi_pm *pm;
	struct i8042 *kbd;
	struct pvpanic *pv;

	assert_int_equal(acpi_pm_create(&pm, NULL, NULL), -EINVAL);
	assert_int_equal(i8042_create(&kbd, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(pvpanic_create(&pv, NULL, NULL), -EINVAL);
	acpi_pm_destroy(NULL);
	i8042_destroy(NULL);
	pvpanic_destroy(NULL);
}

/* Offsets past a window (a bus bug, or a wider window later) are still safe: reads give an
 * empty bus, writes do nothing. */
static void test_handlers_beyond_window(void **state)
{
	struct rig *r = *state;
	uint8_t data[8];

	for (uint64_t off = 1; off < 16; off++) {
		memset(data, 0, sizeof(data));
		i8042_cmd_io(r->kbd, off, data, 8, false);
		pvpanic_io(r->panic, off, data, 8, false);
		acpi_pm_io(r->pm, off + ACPI_PM_NPORTS - 1, data + 1, 7, false);
		for (int i = 0; i < 8; i++)
			assert_int_equal(data[i], 0xff);
		memset(data, 0xfe, sizeof(data));
		i8042_cmd_io(r->kbd, off, data, 8, true);
		memset(data, PVPANIC_PANICKED, sizeof(data));
		pvpanic_io(r->panic, off, data, 8, true);
		memset(data, ACPI_RESET_VALUE, sizeof(data));
		acpi_pm_io(r->pm, off + ACPI_PM_NPORTS - 1, data, 8, true);
	}
	acpi_pm_io(r->pm, UINT64_MAX, data, 8, true);
	acpi_pm_io(r->pm, UINT64_MAX, data, 8, false);
	assert_int_equal(total_events(r), 0);
}

struct hammer {
	struct rig *r;
	uint16_t bit;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 20000; i++) {
		out(h->r, PORT_ACPI_PM1A_EVT + 2, in(h->r, PORT_ACPI_PM1A_EVT + 2, 2) | h->bit, 2);
		out(h->r, PORT_ACPI_PM1A_CNT, SLP_TYP(ACPI_SLP_TYP_S5), 2);
	}
	return NULL;
}

/* Several vCPUs at once: the device stays consistent and reports nothing spurious. */
static void test_concurrent(void **state)
{
	struct rig *r = *state;
	struct hammer h[4] = {{r, 1u << 0}, {r, 1u << 5}, {r, 1u << 8}, {r, 1u << 9}};
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(total_events(r), 0);
	assert_int_equal(in(r, PORT_ACPI_PM1A_CNT, 2), SLP_TYP(ACPI_SLP_TYP_S5) | 1);
	/* Read-modify-write from several threads may lose bits, but only defined ones exist. */
	assert_int_equal(in(r, PORT_ACPI_PM1A_EVT + 2, 2) & ~0x0321u, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_s5_powers_off),
	    T(test_s5_high_byte_only),
	    T(test_no_poweroff_otherwise),
	    T(test_sci_en_reads_one),
	    T(test_reset_register),
	    T(test_enable_and_status),
	    T(test_power_button),
	    T(test_i8042),
	    T(test_pvpanic),
	    T(test_odd_accesses),
	    T(test_create_errors),
	    T(test_handlers_beyond_window),
	    T(test_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
