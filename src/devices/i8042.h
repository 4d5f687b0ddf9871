/* The least of an i8042 keyboard controller: enough for Linux's reboot fallback (command 0xFE
 * on port 0x64 pulses the CPU reset line) and nothing else. No keyboard, no mouse.
 *
 * Stateless apart from the event callback, so concurrent vCPUs need no locking. */
#ifndef AZOTE_DEVICES_I8042_H
#define AZOTE_DEVICES_I8042_H

#include "devices/platform.h"

#include <stdbool.h>
#include <stdint.h>

struct i8042;

/* Create the controller; event (required) gets PLATFORM_REBOOT. Returns 0, -EINVAL or
 * -ENOMEM. */
__attribute__((warn_unused_result)) int i8042_create(struct i8042 **out, platform_event_fn event,
						     void *ctx);
/* Free the controller (NULL is fine); vCPUs must no longer call its handlers. */
void i8042_destroy(struct i8042 *dev);
/* I/O bus handlers, one per port, each for a 1-port window: i8042_data_io at PORT_I8042_DATA,
 * i8042_cmd_io at PORT_I8042_CMD (the bus passes offset 0 for both, so they cannot share one
 * handler). Any len is safe; bytes past the port read 0xff. */
void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
