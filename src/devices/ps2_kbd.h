/* A PS/2 keyboard as its controller sees it: it takes command bytes from the host, answers them
 * (ACK 0xFA, ID, echo...) and reports keys as scancodes, all through one bounded byte FIFO the
 * controller empties. Scancode sets 1 and 2; the controller's set-2 -> set-1 translation lives
 * here too (ps2_kbd_translate) because it is the same key table.
 *
 * No locking: the i8042 that embeds the keyboard serialises every call. */
#ifndef AZOTE_DEVICES_PS2_KBD_H
#define AZOTE_DEVICES_PS2_KBD_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_KBD_FIFO 16 /* bytes a real keyboard buffers before it reports an overrun */

/* Keyboard -> host bytes that are not scancodes. */
#define PS2_KBD_ACK    0xfa
#define PS2_KBD_RESEND 0xfe
#define PS2_KBD_BAT_OK 0xaa /* self-test passed, after a reset */
#define PS2_KBD_ECHO   0xee
#define PS2_KBD_BREAK  0xf0 /* set 2: the next byte is a key release */
#define PS2_KBD_EXT    0xe0 /* the next code is an extended key */

/* The keys the VMM can press. */
enum ps2_key {
	PS2_KEY_LCTRL,
	PS2_KEY_LALT,
	PS2_KEY_DELETE,
};

struct ps2_key_stroke {
	enum ps2_key key;
	bool release;
};

struct ps2_kbd {
	uint8_t fifo[PS2_KBD_FIFO];
	unsigned head, count;
	uint8_t expect;	   /* command waiting for its parameter byte (0xED, 0xF0, 0xF3), or 0 */
	uint8_t set;	   /* scancode set in use: 1 or 2 */
	uint8_t leds;	   /* scroll, num, caps lock (bits 0-2) */
	uint8_t typematic; /* rate and delay byte of 0xF3 */
	uint8_t last;	   /* last byte handed to the controller, for the resend command */
	bool scanning;	   /* reports keys (0xF4 enables, 0xF5 disables) */
	uint64_t dropped;  /* bytes lost to a full FIFO (statistics) */
};

/* Power-on state: set 2, scanning, empty FIFO. */
void ps2_kbd_init(struct ps2_kbd *k);
/* A byte the host sent to the keyboard (a command or a command's parameter); the answer, if
 * any, is queued. */
void ps2_kbd_write(struct ps2_kbd *k, uint8_t byte);
/* Take the next byte for the controller. false when the FIFO is empty. */
bool ps2_kbd_pop(struct ps2_kbd *k, uint8_t *byte);
/* Give back a byte the controller took but could not deliver; it comes out next. */
void ps2_kbd_unpop(struct ps2_kbd *k, uint8_t byte);
/* Queue the scancodes of n strokes in the current set, all or none: 0, -EAGAIN (not scanning)
 * or -ENOBUFS (the FIFO lacks room; the guest has not read what came before). */
__attribute__((warn_unused_result)) int ps2_kbd_press(struct ps2_kbd *k,
						      const struct ps2_key_stroke *s, unsigned n);
/* The 8042's translation of one set-2 byte to set 1 (without the break prefix, which the
 * controller folds into bit 7 of the next byte). Bytes no key uses pass unchanged. */
uint8_t ps2_kbd_translate(uint8_t set2);

#endif
