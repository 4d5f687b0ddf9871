/* 16550A UART model. Register semantics follow the 16550A datasheet and what Linux's 8250 driver
 * probes for; the transmitter is infinitely fast (THR empties at once), so LSR always reports
 * THRE|TEMT and a THR write immediately re-arms the THR-empty interrupt. */
#include "devices/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

/* Register offsets. With LCR.DLAB set, offsets 0 and 1 are the divisor latch instead. */
enum {
	REG_RBR_THR = 0,
	REG_IER = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI	 0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI	 0x08 /* modem status */
#define IER_MASK 0x0f /* the upper nibble reads 0 on a 16550A (Linux's probe relies on it) */

#define IIR_NO_INT    0x01
#define IIR_MSI	      0x00
#define IIR_THRI      0x02
#define IIR_RDI	      0x04
#define IIR_RLSI      0x06
#define IIR_FIFO_BITS 0xc0 /* both set: "16550A with working FIFOs" */

#define FCR_ENABLE    0x01
#define FCR_CLEAR_RCV 0x02

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08 /* on PCs this gates the UART's interrupt onto the ISA bus */
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_ERRORS 0x1e /* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

struct serial {
	pthread_mutex_t lock;	    /* registers, RX FIFO, output buffer */
	pthread_mutex_t write_lock; /* taken before lock: keeps batches in order on out_fd */
	int out_fd;
	int notify_fd;
	serial_irq_fn irq;
	void *irq_ctx;
	bool irq_level; /* last level given to irq() */

	uint8_t ier, lcr, mcr, msr, scr, dll, dlm;
	uint8_t lsr_errors;
	uint8_t rbr_last; /* what RBR reads when the FIFO is empty */
	bool fifo_on;
	bool thri_pending; /* THR-empty interrupt latched (reported only if IER_THRI) */
	bool rx_waiting;   /* the loop saw a full FIFO: notify it when room appears */

	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;

	uint8_t out[SERIAL_OUT_BUF];
	size_t out_len;

	int drop_errno;		   /* last write failure reported (under write_lock) */
	struct serial_stats stats; /* updated with atomics: flush runs outside lock */
};

/* Side effects decided under the lock and carried out after it is released. */
struct serial_after {
	bool notify;
	bool flush;
};

static void serial_stat_add(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static unsigned serial_rx_capacity(const struct serial *s)
{
	/* Without FIFOs the receiver holds a single byte in RBR. */
	return s->fifo_on ? SERIAL_RX_FIFO : 1;
}

static size_t serial_rx_room(const struct serial *s)
{
	/* In loopback the serial input is disconnected: host input waits. */
	if (s->mcr & MCR_LOOP)
		return 0;
	return serial_rx_capacity(s) - s->rx_count;
}

static bool serial_rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count >= serial_rx_capacity(s))
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = byte;
	s->rx_count++;
	return true;
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* The highest-priority pending and enabled interrupt, as IIR bits 3:0. */
static uint8_t serial_iir_id(const struct serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_errors)
		return IIR_RLSI;
	/* Trigger levels and the character timeout are not modelled: data raises RDI at once. */
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thri_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void serial_update_irq(struct serial *s)
{
	/* OUT2 gates the line on PCs; loopback forces OUT2 inactive on the pin. */
	bool level = serial_iir_id(s) != IIR_NO_INT && (s->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->irq)
		s->irq(s->irq_ctx, level);
}

/* Modem inputs: in loopback they mirror the MCR outputs; otherwise a cable that is always ready
 * (DCD, DSR, CTS) so that getty and the console never wait for carrier or flow control. */
static uint8_t serial_modem_lines(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	return (mcr & MCR_DTR ? MSR_DSR : 0) | (mcr & MCR_RTS ? MSR_CTS : 0) |
	       (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
}

static void serial_set_mcr(struct serial *s, uint8_t val)
{
	uint8_t old = s->msr & ~MSR_DELTAS, now, changed, deltas = 0;

	s->mcr = val & MCR_MASK;
	now = serial_modem_lines(s->mcr);
	changed = old ^ now;
	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI)) /* trailing edge only */
		deltas |= MSR_TERI;
	s->msr = now | (s->msr & MSR_DELTAS) | deltas;
}

static void serial_set_fcr(struct serial *s, uint8_t val)
{
	bool on = val & FCR_ENABLE;

	/* Switching FIFO mode resets the FIFOs; the other bits only act with FIFOs enabled. */
	if (on != s->fifo_on)
		serial_rx_clear(s);
	s->fifo_on = on;
	if (on && (val & FCR_CLEAR_RCV))
		serial_rx_clear(s);
	/* Transmit-FIFO clear, DMA mode and trigger levels have nothing to act on. */
}

static void serial_transmit(struct serial *s, uint8_t byte, struct serial_after *after)
{
	/* The byte leaves at once, so THR is empty again: the interrupt re-arms. */
	s->thri_pending = true;
	if (s->mcr & MCR_LOOP) {
		if (!serial_rx_push(s, byte))
			s->lsr_errors |= LSR_OE;
		return;
	}
	serial_stat_add(&s->stats.tx_bytes, 1);
	if (s->out_fd < 0)
		return;
	if (s->out_len == SERIAL_OUT_BUF) {
		/* serial_io flushes a full buffer before a THR write; never overrun it anyway. */
		serial_stat_add(&s->stats.tx_dropped, 1);
		return;
	}
	if (s->out_len == 0)
		after->notify = true;
	s->out[s->out_len++] = byte;
	if (s->out_len == SERIAL_OUT_BUF)
		after->flush = true;
}

static void serial_write_reg(struct serial *s, unsigned reg, uint8_t val,
			     struct serial_after *after)
{
	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = val;
		else
			serial_transmit(s, val, after);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = val;
			break;
		}
		/* Enabling THRI while THR is empty (always) raises it, as Linux's TXEN/THRE tests
		 * expect. */
		if (!(s->ier & IER_THRI) && (val & IER_THRI))
			s->thri_pending = true;
		s->ier = val & IER_MASK;
		break;
	case REG_IIR_FCR:
		serial_set_fcr(s, val);
		break;
	case REG_LCR:
		s->lcr = val;
		break;
	case REG_MCR:
		serial_set_mcr(s, val);
		break;
	case REG_SCR:
		s->scr = val;
		break;
	default: /* LSR and MSR writes are factory-test only: ignored */
		break;
	}
}

static uint8_t serial_read_rbr(struct serial *s)
{
	if (s->rx_count) {
		s->rbr_last = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
		s->rx_count--;
	}
	return s->rbr_last;
}

static uint8_t serial_read_reg(struct serial *s, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR:
		return s->lcr & LCR_DLAB ? s->dll : serial_read_rbr(s);
	case REG_IER:
		return s->lcr & LCR_DLAB ? s->dlm : s->ier;
	case REG_IIR_FCR:
		v = serial_iir_id(s);
		/* Reading IIR acknowledges THR-empty when it is the source reported. */
		if (v == IIR_THRI)
			s->thri_pending = false;
		return v | (s->fifo_on ? IIR_FIFO_BITS : 0);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		v = (s->rx_count ? LSR_DR : 0) | LSR_THRE | LSR_TEMT | s->lsr_errors;
		s->lsr_errors = 0;
		return v;
	case REG_MSR:
		v = s->msr;
		s->msr &= ~MSR_DELTAS;
		return v;
	default:
		return s->scr;
	}
}

static void serial_notify(struct serial *s)
{
	uint64_t one = 1;
	ssize_t n;

	if (s->notify_fd < 0)
		return;
	/* An eventfd write only fails at a counter near 2^64: the loop is already due to wake. */
	do
		n = write(s->notify_fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

static void serial_after_unlock(struct serial *s, const struct serial_after *after)
{
	if (after->notify)
		serial_notify(s);
	if (after->flush)
		serial_flush(s);
}

/* Called with lock held at the end of every operation that may free RX room. */
static void serial_check_rx_room(struct serial *s, struct serial_after *after)
{
	if (s->rx_waiting && serial_rx_room(s)) {
		s->rx_waiting = false;
		after->notify = true;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	struct serial_after after = {0};
	uint32_t i;

	pthread_mutex_lock(&s->lock);
	/* A THR write must find room: write out a full batch first (without the lock, as it may
	 * block). */
	while (is_write && offset == REG_RBR_THR && len && s->out_len == SERIAL_OUT_BUF) {
		pthread_mutex_unlock(&s->lock);
		serial_flush(s);
		pthread_mutex_lock(&s->lock);
	}
	for (i = 0; i < len; i++) {
		bool inside = offset < SERIAL_NPORTS && i < SERIAL_NPORTS - offset;

		if (is_write && inside)
			serial_write_reg(s, (unsigned)offset + i, data[i], &after);
		else if (!is_write)
			data[i] = inside ? serial_read_reg(s, (unsigned)offset + i) : 0xff;
	}
	serial_update_irq(s);
	serial_check_rx_room(s, &after);
	pthread_mutex_unlock(&s->lock);
	serial_after_unlock(s, &after);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && serial_rx_room(s) && serial_rx_push(s, buf[n]))
		n++;
	if (n < len)
		s->rx_waiting = true;
	serial_stat_add(&s->stats.rx_bytes, n);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_rx_space(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = serial_rx_room(s);
	if (!room)
		s->rx_waiting = true;
	pthread_mutex_unlock(&s->lock);
	return room;
}

static void serial_drop(struct serial *s, size_t len, int err)
{
	serial_stat_add(&s->stats.tx_dropped, len);
	/* Warn once per kind of failure, not per batch: a dead console must not flood stderr. */
	if (err != s->drop_errno) {
		s->drop_errno = err;
		log_warn("serial console: cannot write guest output (%s); dropping it",
			 strerror(err));
	}
}

static void serial_write_all(struct serial *s, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(s->out_fd, buf, len);

		serial_stat_add(&s->stats.tx_writes, 1);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			/* EAGAIN included: retrying a non-blocking fd here would spin a vCPU. */
			serial_drop(s, len, n < 0 ? errno : EIO);
			return;
		}
	}
}

void serial_flush(struct serial *s)
{
	uint8_t buf[SERIAL_OUT_BUF];
	size_t len;

	pthread_mutex_lock(&s->write_lock);
	pthread_mutex_lock(&s->lock);
	len = s->out_len;
	memcpy(buf, s->out, len);
	s->out_len = 0;
	pthread_mutex_unlock(&s->lock);
	if (len)
		serial_write_all(s, buf, len);
	pthread_mutex_unlock(&s->write_lock);
}

void serial_get_stats(struct serial *s, struct serial_stats *out)
{
	out->tx_bytes = __atomic_load_n(&s->stats.tx_bytes, __ATOMIC_RELAXED);
	out->tx_writes = __atomic_load_n(&s->stats.tx_writes, __ATOMIC_RELAXED);
	out->tx_dropped = __atomic_load_n(&s->stats.tx_dropped, __ATOMIC_RELAXED);
	out->rx_bytes = __atomic_load_n(&s->stats.rx_bytes, __ATOMIC_RELAXED);
}

int serial_create(struct serial **out, int out_fd, int notify_fd, serial_irq_fn irq, void *irq_ctx)
{
	struct serial *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		goto err_free;
	err = pthread_mutex_init(&s->write_lock, NULL);
	if (err)
		goto err_lock;
	s->out_fd = out_fd;
	s->notify_fd = notify_fd;
	s->irq = irq;
	s->irq_ctx = irq_ctx;
	s->msr = serial_modem_lines(0);
	*out = s;
	return 0;

err_lock:
	pthread_mutex_destroy(&s->lock);
err_free:
	free(s);
	return -err;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
