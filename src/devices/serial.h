/* 16550A UART (COM1/ttyS0) wired to the VMM's console: guest output batched to out_fd, host
 * input pushed into a 16-byte RX FIFO.
 *
 * Threads: vCPU threads call serial_io(); the event-loop thread calls serial_receive(),
 * serial_rx_space() and serial_flush(). All state is behind a mutex. The IRQ callback runs with
 * that mutex held (lock order: serial -> whatever irq() takes), so irq() must not call back into
 * the serial and must not block for long (KVM_IRQ_LINE is fine). */
#ifndef AZOTE_DEVICES_SERIAL_H
#define AZOTE_DEVICES_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_NPORTS  8    /* size of the port window to register on the I/O bus */
#define SERIAL_RX_FIFO 16   /* 16550A receive FIFO depth */
#define SERIAL_OUT_BUF 4096 /* guest output batched before a write() */

/* Drive the UART's interrupt line (KVM_IRQ_LINE on IRQ_COM1); called only on level changes. */
typedef void (*serial_irq_fn)(void *ctx, bool level);

struct serial;

/* Counters for metrics; every field only grows. */
struct serial_stats {
	uint64_t tx_bytes;   /* bytes the guest transmitted (THR writes outside loopback) */
	uint64_t tx_writes;  /* write() calls on out_fd */
	uint64_t tx_dropped; /* guest bytes lost because out_fd failed */
	uint64_t rx_bytes;   /* host bytes accepted into the RX FIFO */
};

/* Create a UART in its reset state. out_fd receives guest output (-1 discards it); notify_fd is an
 * eventfd written (once per batch) when serial_flush() has work or serial_rx_space() rose from 0
 * (-1: never notified). Neither fd is owned. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int
serial_create(struct serial **out, int out_fd, int notify_fd, serial_irq_fn irq, void *irq_ctx);
/* Write out pending output, then free the UART. Accepts NULL. */
void serial_destroy(struct serial *s);
/* I/O bus handler for the SERIAL_NPORTS window; any offset and len are safe. Multi-byte accesses
 * act as consecutive byte accesses, as an ISA bus splits them; bytes past the window read 0xff. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Event loop: push console input into the RX FIFO. Returns how many bytes fit (maybe 0). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/* Event loop: free room in the RX FIFO. When it returns 0, the notify eventfd fires once room
 * appears. */
size_t serial_rx_space(struct serial *s);
/* Event loop (or a vCPU whose batch is full): write batched output to out_fd. Blocks if out_fd
 * does; retries EINTR and short writes; other failures drop the batch (counted, warned once). */
void serial_flush(struct serial *s);
/* Snapshot the counters. */
void serial_get_stats(struct serial *s, struct serial_stats *out);

#endif
