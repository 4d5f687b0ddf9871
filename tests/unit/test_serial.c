/* 16550A model: what Linux's 8250 driver probes and relies on, output batching, input flow
 * control, interrupt levels, and hostile accesses. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/serial.h"

/* Register numbers and bits as Linux's serial_reg.h names them. */
#define UART_RX	 0
#define UART_TX	 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI	     0x01
#define UART_IER_THRI	     0x02
#define UART_IER_MSI	     0x08
#define UART_IIR_NO_INT	     0x01
#define UART_IIR_ID	     0x0e
#define UART_IIR_THRI	     0x02
#define UART_IIR_RDI	     0x04
#define UART_IIR_MSI	     0x00
#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR  0x02
#define UART_FCR_CLEAR_XMIT  0x04
#define UART_LCR_DLAB	     0x80
#define UART_LCR_WLEN8	     0x03
#define UART_MCR_DTR	     0x01
#define UART_MCR_RTS	     0x02
#define UART_MCR_OUT2	     0x08
#define UART_MCR_LOOP	     0x10
#define UART_LSR_DR	     0x01
#define UART_LSR_OE	     0x02
#define UART_LSR_THRE	     0x20
#define UART_LSR_TEMT	     0x40
#define UART_MSR_CTS	     0x10
#define UART_MSR_DSR	     0x20
#define UART_MSR_DCD	     0x80

struct fixture {
	struct serial *s;
	int out[2]; /* pipe: guest output */
	int notify; /* eventfd */
	bool levels[64];
	unsigned nlevels;
};

static void record_irq(void *ctx, bool level)
{
	struct fixture *f = ctx;

	if (f->nlevels < 64)
		f->levels[f->nlevels] = level;
	f->nlevels++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(pipe2(f->out, O_NONBLOCK), 0);
	/* The model writes blocking-style; only the test's reading end needs O_NONBLOCK. */
	assert_int_equal(fcntl(f->out[1], F_SETFL, 0), 0);
	f->notify = eventfd(0, EFD_NONBLOCK);
	assert_true(f->notify >= 0);
	assert_int_equal(serial_create(&f->s, f->out[1], f->notify, record_irq, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_destroy(f->s);
	close(f->out[0]);
	if (f->out[1] >= 0)
		close(f->out[1]);
	close(f->notify);
	free(f);
	return 0;
}

static void outb(struct fixture *f, unsigned reg, uint8_t v)
{
	serial_io(f->s, reg, &v, 1, true);
}

static uint8_t inb(struct fixture *f, unsigned reg)
{
	uint8_t v = 0x5a;

	serial_io(f->s, reg, &v, 1, false);
	return v;
}

/* How many times the notify eventfd was written since the last call. */
static uint64_t notifications(struct fixture *f)
{
	uint64_t n = 0;

	if (read(f->notify, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static size_t drain(struct fixture *f, uint8_t *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len < cap && (n = read(f->out[0], buf + len, cap - len)) > 0)
		len += (size_t)n;
	return len;
}

/* Linux autoconfig(): IER readback, loopback MSR test, FIFO detection in IIR. */
static void test_linux_autoconfig(void **state)
{
	struct fixture *f = *state;
	uint8_t save_mcr, save_lcr;

	outb(f, UART_SCR, 0xa5);
	assert_int_equal(inb(f, UART_SCR), 0xa5);
	outb(f, UART_SCR, 0x5a);
	assert_int_equal(inb(f, UART_SCR), 0x5a);

	outb(f, UART_IER, 0);
	assert_int_equal(inb(f, UART_IER) & 0x0f, 0);
	outb(f, UART_IER, 0x0f);
	assert_int_equal(inb(f, UART_IER) & 0x0f, 0x0f);
	outb(f, UART_IER, 0xff);
	assert_int_equal(inb(f, UART_IER), 0x0f); /* upper nibble reads 0: not an XScale UUE */
	outb(f, UART_IER, 0);

	save_mcr = inb(f, UART_MCR);
	save_lcr = inb(f, UART_LCR);
	outb(f, UART_MCR, UART_MCR_LOOP | 0x0a);
	assert_int_equal(inb(f, UART_MSR) & 0xf0, 0x90);
	outb(f, UART_MCR, save_mcr);

	/* The EFR probe writes 0xBF to LCR, 0 to offset 2, then restores LCR. */
	outb(f, UART_LCR, 0xbf);
	outb(f, UART_FCR, 0);
	outb(f, UART_LCR, 0);
	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(inb(f, UART_IIR) >> 6, 3); /* 16550A */
	/* 16550A variants probe: IIR is never 0 with DLAB set and no bit 5 (not a 16750). */
	outb(f, UART_LCR, 0x80);
	assert_int_not_equal(inb(f, UART_IIR), 0);
	outb(f, UART_LCR, 0);
	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO | 0x20);
	assert_int_equal(inb(f, UART_IIR) & 0x20, 0);
	outb(f, UART_LCR, save_lcr);

	/* serial8250_do_startup's LSR safety check and the resting modem lines. */
	assert_int_not_equal(inb(f, UART_LSR), 0xff);
	assert_int_equal(inb(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(inb(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	outb(f, UART_FCR, 0);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_NO_INT);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;

	outb(f, UART_IER, 0x05);
	outb(f, UART_LCR, UART_LCR_DLAB | UART_LCR_WLEN8);
	outb(f, UART_DLL, 0x01);
	outb(f, UART_DLM, 0x00);
	assert_int_equal(inb(f, UART_DLL), 0x01);
	assert_int_equal(inb(f, UART_DLM), 0x00);
	outb(f, UART_DLL, 0x0c);
	outb(f, UART_DLM, 0x34);
	assert_int_equal(inb(f, UART_DLL), 0x0c);
	assert_int_equal(inb(f, UART_DLM), 0x34);
	outb(f, UART_LCR, UART_LCR_WLEN8);
	assert_int_equal(inb(f, UART_LCR), UART_LCR_WLEN8);
	assert_int_equal(inb(f, UART_IER), 0x05); /* untouched by DLM writes */

	/* Divisor writes are not output. */
	serial_flush(f->s);
	uint8_t buf[8];
	assert_int_equal(drain(f, buf, sizeof(buf)), 0);
}

static void test_output_batched(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[3 * SERIAL_OUT_BUF];
	struct serial_stats st;
	size_t i, n = 1000;

	for (i = 0; i < n; i++)
		outb(f, UART_TX, (uint8_t)('a' + i % 26));
	assert_int_equal(notifications(f), 1);
	assert_int_equal(drain(f, buf, sizeof(buf)),
			 0); /* nothing written until the loop flushes */
	serial_flush(f->s);
	assert_int_equal(drain(f, buf, sizeof(buf)), n);
	for (i = 0; i < n; i++)
		assert_int_equal(buf[i], 'a' + i % 26);
	serial_get_stats(f->s, &st);
	assert_int_equal(st.tx_bytes, n);
	assert_int_equal(st.tx_writes, 1);
	assert_int_equal(st.tx_dropped, 0);

	/* An empty flush does no syscall. */
	serial_flush(f->s);
	serial_get_stats(f->s, &st);
	assert_int_equal(st.tx_writes, 1);
}

static void test_output_full_buffer_flushed_by_vcpu(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[3 * SERIAL_OUT_BUF];
	struct serial_stats st;
	size_t i, n = SERIAL_OUT_BUF + 100;

	for (i = 0; i < n; i++)
		outb(f, UART_TX, (uint8_t)i);
	/* The full batch went out from the writing thread; the tail waits for the loop. */
	assert_int_equal(drain(f, buf, sizeof(buf)), SERIAL_OUT_BUF);
	assert_int_equal(notifications(f), 2);
	serial_flush(f->s);
	assert_int_equal(drain(f, buf + SERIAL_OUT_BUF, sizeof(buf) - SERIAL_OUT_BUF), 100);
	for (i = 0; i < n; i++)
		assert_int_equal(buf[i], (uint8_t)i);
	serial_get_stats(f->s, &st);
	assert_int_equal(st.tx_writes, 2);
}

static void test_output_broken_pipe_dropped(void **state)
{
	struct fixture *f = *state;
	struct serial_stats st;

	signal(SIGPIPE, SIG_IGN);
	close(f->out[0]);
	f->out[0] = open("/dev/null", O_RDONLY);
	outb(f, UART_TX, 'x');
	outb(f, UART_TX, 'y');
	serial_flush(f->s);
	outb(f, UART_TX, 'z');
	serial_flush(f->s);
	serial_get_stats(f->s, &st);
	assert_int_equal(st.tx_bytes, 3);
	assert_int_equal(st.tx_dropped, 3);
}

static void test_output_discarded_without_fd(void **state)
{
	struct serial *s;
	struct serial_stats st;
	uint8_t v = 'q';
	int i;

	assert_int_equal(serial_create(&s, -1, -1, NULL, NULL), 0);
	for (i = 0; i < 3 * SERIAL_OUT_BUF; i++)
		serial_io(s, UART_TX, &v, 1, true);
	serial_flush(s);
	serial_get_stats(s, &st);
	assert_int_equal(st.tx_bytes, 3 * SERIAL_OUT_BUF);
	assert_int_equal(st.tx_writes, 0);
	serial_destroy(s);
	serial_destroy(NULL);
}

static void test_receive_data_ready(void **state)
{
	struct fixture *f = *state;
	struct serial_stats st;

	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"hi", 2), 2);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_NO_INT); /* RDI not enabled */
	outb(f, UART_IER, UART_IER_RDI);
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_RDI);
	assert_int_equal(inb(f, UART_RX), 'h');
	assert_int_equal(inb(f, UART_IIR) & UART_IIR_ID, UART_IIR_RDI);
	assert_int_equal(inb(f, UART_RX), 'i');
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	serial_get_stats(f->s, &st);
	assert_int_equal(st.rx_bytes, 2);
}

static void test_receive_fifo_full(void **state)
{
	struct fixture *f = *state;
	uint8_t in[40];
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	/* FIFOs off: one byte of holding register. */
	assert_int_equal(serial_rx_space(f->s), 1);
	assert_int_equal(serial_receive(f->s, in, sizeof(in)), 1);
	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO); /* switching mode resets the FIFO */
	assert_int_equal(serial_rx_space(f->s), SERIAL_RX_FIFO);
	assert_int_equal(serial_receive(f->s, in, sizeof(in)), SERIAL_RX_FIFO);
	assert_int_equal(serial_rx_space(f->s), 0);
	assert_int_equal(serial_receive(f->s, in, sizeof(in)), 0);
	(void)notifications(f);

	/* The guest reading one byte makes room, and the loop is told exactly once. */
	assert_int_equal(inb(f, UART_RX), 0);
	assert_int_equal(notifications(f), 1);
	assert_int_equal(inb(f, UART_RX), 1);
	assert_int_equal(notifications(f), 0);
	assert_int_equal(serial_rx_space(f->s), 2);
	assert_int_equal(serial_receive(f->s, in + 16, 24), 2);
	for (i = 2; i < 18; i++)
		assert_int_equal(inb(f, UART_RX), i);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, 0);

	/* FCR clear empties it. */
	assert_int_equal(serial_receive(f->s, in, 5), 5);
	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
	assert_int_equal(serial_rx_space(f->s), SERIAL_RX_FIFO);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, 0);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4];
	int i;

	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	outb(f, UART_MCR, UART_MCR_LOOP);
	assert_int_equal(serial_rx_space(f->s), 0); /* host input waits while the line is looped */
	outb(f, UART_TX, 0x42);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(inb(f, UART_RX), 0x42);
	for (i = 0; i < SERIAL_RX_FIFO + 1; i++)
		outb(f, UART_TX, (uint8_t)i);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_OE, UART_LSR_OE);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_OE, 0); /* cleared by reading */
	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
	(void)notifications(f);
	outb(f, UART_MCR, UART_MCR_OUT2);
	assert_int_equal(notifications(f), 1); /* room for host input again */
	serial_flush(f->s);
	assert_int_equal(drain(f, buf, sizeof(buf)), 0); /* looped bytes never left */
	assert_int_equal(f->nlevels, 0);
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	outb(f, UART_MCR, UART_MCR_OUT2);
	outb(f, UART_IER, UART_IER_MSI);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_NO_INT);
	outb(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	outb(f, UART_MCR, UART_MCR_OUT2); /* leaving loopback: DSR changed (DTR was 0) */
	assert_int_equal(inb(f, UART_IIR), UART_IIR_MSI);
	assert_int_equal(f->nlevels, 1);
	assert_true(f->levels[0]);
	assert_int_not_equal(inb(f, UART_MSR) & 0x0f, 0);
	assert_int_equal(inb(f, UART_MSR) & 0x0f, 0);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(f->nlevels, 2);
	assert_false(f->levels[1]);
}

static void test_thri(void **state)
{
	struct fixture *f = *state;

	outb(f, UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
	assert_int_equal(f->nlevels, 0);

	/* serial8250_do_startup's TXEN test: enabling THRI with THR empty interrupts. */
	outb(f, UART_IER, UART_IER_THRI);
	assert_int_equal(f->nlevels, 1);
	assert_true(f->levels[0]);
	assert_int_equal(inb(f, UART_LSR) & UART_LSR_TEMT, UART_LSR_TEMT);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_THRI);
	assert_int_equal(f->nlevels, 2); /* the IIR read acknowledged it */
	assert_false(f->levels[1]);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_NO_INT);

	/* Its THRE test: IER 0 then THRI again re-asserts. */
	outb(f, UART_IER, 0);
	outb(f, UART_IER, UART_IER_THRI);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_THRI);
	assert_int_equal(f->nlevels, 4);

	/* A THR write empties at once and re-arms THRI. */
	outb(f, UART_TX, 'a');
	assert_int_equal(f->nlevels, 5);
	assert_true(f->levels[4]);
	outb(f, UART_TX, 'b'); /* level unchanged: no callback */
	assert_int_equal(f->nlevels, 5);
	assert_int_equal(inb(f, UART_IIR), UART_IIR_THRI);
	assert_false(f->levels[5]);

	/* Disabling THRI drops a pending one. */
	outb(f, UART_TX, 'c');
	assert_int_equal(f->nlevels, 7);
	outb(f, UART_IER, 0);
	assert_int_equal(f->nlevels, 8);
	assert_false(f->levels[7]);
}

static void test_irq_priority_and_out2(void **state)
{
	struct fixture *f = *state;

	outb(f, UART_FCR, UART_FCR_ENABLE_FIFO);
	outb(f, UART_IER, UART_IER_RDI | UART_IER_THRI);
	assert_int_equal(f->nlevels, 0); /* OUT2 clear: the line stays low */
	assert_int_equal(serial_receive(f->s, (const uint8_t *)"k", 1), 1);
	assert_int_equal(f->nlevels, 0);
	outb(f, UART_MCR, UART_MCR_OUT2);
	assert_int_equal(f->nlevels, 1);
	assert_true(f->levels[0]);
	/* RDI outranks THRI, and reading IIR does not acknowledge THRI then. */
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_RDI);
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_RDI);
	assert_int_equal(inb(f, UART_RX), 'k');
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_THRI);
	assert_int_equal(inb(f, UART_IIR), 0xc0 | UART_IIR_NO_INT);
	assert_int_equal(f->nlevels, 2);
	assert_false(f->levels[1]);
}

/* Every size at every offset, and beyond the window: nothing may crash or leak. */
static void test_any_access_is_safe(void **state)
{
	struct fixture *f = *state;
	uint64_t off;
	uint32_t len, i;

	for (off = 0; off < 12; off++) {
		for (len = 0; len <= 8; len++) {
			uint8_t data[8];

			memset(data, 0x3c, sizeof(data));
			serial_io(f->s, off, data, len, true);
			memset(data, 0x00, sizeof(data));
			serial_io(f->s, off, data, len, false);
			for (i = 0; i < len; i++)
				if (off + i >= SERIAL_NPORTS)
					assert_int_equal(data[i], 0xff);
			for (i = len; i < sizeof(data); i++)
				assert_int_equal(data[i], 0);
		}
	}
	/* A word write at 0 is THR then IER, as an ISA bus splits it. */
	outb(f, UART_LCR, 0);
	uint8_t w[2] = {'w', UART_IER_RDI};
	serial_io(f->s, UART_TX, w, 2, true);
	assert_int_equal(inb(f, UART_IER), UART_IER_RDI);
	serial_io(f->s, UINT64_MAX, w, 2, false);
	assert_int_equal(w[0], 0xff);
}

struct writer {
	struct serial *s;
	int n;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint8_t v = 'v';

	for (int i = 0; i < w->n; i++)
		serial_io(w->s, UART_TX, &v, 1, true);
	return NULL;
}

/* Two vCPUs writing while the loop flushes: every byte arrives exactly once. */
static void test_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[64 * 1024];
	struct writer w = {.s = f->s, .n = 20000};
	pthread_t t[2];
	size_t total = 0;
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &w), 0);
	for (i = 0; i < 200; i++) {
		serial_flush(f->s);
		total += drain(f, buf, sizeof(buf));
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	serial_flush(f->s);
	total += drain(f, buf, sizeof(buf));
	while (total < 40000) {
		size_t n = drain(f, buf, sizeof(buf));
		if (!n)
			break;
		total += n;
	}
	assert_int_equal(total, 40000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_linux_autoconfig, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_divisor_latch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_batched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_output_full_buffer_flushed_by_vcpu, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_output_broken_pipe_dropped, setup, teardown),
	    cmocka_unit_test(test_output_discarded_without_fd),
	    cmocka_unit_test_setup_teardown(test_receive_data_ready, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_receive_fifo_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modem_status_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thri, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_priority_and_out2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_any_access_is_safe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
