/* An i8042 keyboard controller with a PS/2 keyboard and no mouse: what Linux's i8042 and atkbd
 * drivers probe and use (command byte, self-tests, keyboard commands, set-1 translation, IRQ 1),
 * the CPU reset line (command 0xFE: Linux's reboot fallback), and a way for the VMM to press
 * Ctrl+Alt+Del.
 *
 * Threads: vCPU threads call the port handlers, the VMM's thread i8042_send_ctrl_alt_del(); all
 * state is behind a mutex. The IRQ callback runs with that mutex held (so levels arrive in
 * order): it must not call back into the device and must not block for long (KVM_IRQ_LINE is
 * fine). Platform events are reported after the mutex is dropped. */
#ifndef AZOTE_DEVICES_I8042_H
#define AZOTE_DEVICES_I8042_H

#include "devices/platform.h"

#include <stdbool.h>
#include <stdint.h>

/* Drive IRQ 1 (ISA, edge-triggered: each byte the guest may read is a 0 -> 1 transition).
 * Called only on level changes. */
typedef void (*i8042_irq_fn)(void *ctx, bool level);

struct i8042;

/* Create the controller, its keyboard powered on, the guest's driver not loaded yet. event
 * (required) gets PLATFORM_REBOOT; irq (optional: without it the guest can only poll) drives
 * IRQ 1; both get ctx. Returns 0, -EINVAL or -ENOMEM. */
__attribute__((warn_unused_result)) int i8042_create(struct i8042 **out, platform_event_fn event,
						     i8042_irq_fn irq, void *ctx);
/* Free the controller (NULL is fine); vCPUs must no longer call its handlers. */
void i8042_destroy(struct i8042 *dev);
/* I/O bus handlers, one per port, each for a 1-port window: i8042_data_io at PORT_I8042_DATA,
 * i8042_cmd_io at PORT_I8042_CMD (the bus passes offset 0 for both, so they cannot share one
 * handler). Any len is safe: byte lane 0 is the register, bytes past it read 0xff. */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Press and release Ctrl+Alt+Del on the keyboard (what Firecracker's SendCtrlAltDel does): the
 * scancodes of the set in use, translated when the guest asked for it, and IRQ 1. Returns 0;
 * -EAGAIN when the guest has not enabled the keyboard (no driver yet, or it is shutting down:
 * the keys would be lost); -ENOBUFS when earlier keys are still unread. From any thread. */
__attribute__((warn_unused_result)) int i8042_send_ctrl_alt_del(struct i8042 *dev);

#endif
