#include "devices/ps2_kbd.h"

#include <errno.h>
#include <string.h>

/* Host -> keyboard commands (IBM PS/2 keyboard technical reference). */
#define KBD_CMD_SET_LEDS  0xed
#define KBD_CMD_ECHO	  0xee
#define KBD_CMD_SCANSET	  0xf0
#define KBD_CMD_GET_ID	  0xf2
#define KBD_CMD_TYPEMATIC 0xf3
#define KBD_CMD_ENABLE	  0xf4
#define KBD_CMD_DISABLE	  0xf5 /* stop scanning and restore defaults */
#define KBD_CMD_DEFAULTS  0xf6
#define KBD_CMD_SET3_LAST 0xfd /* 0xF7..0xFD: set-3 key types, acknowledged and ignored */
#define KBD_CMD_RESEND	  0xfe
#define KBD_CMD_RESET	  0xff

#define KBD_ID_0	  0xab /* "MF2 keyboard": what atkbd expects from GET ID */
#define KBD_ID_1	  0x83
#define KBD_ID_1_XLATED	  0x41 /* the 8042 translates the ID's second byte as well */
#define KBD_OVERRUN_SET2  0x00
#define KBD_OVERRUN_SET1  0xff
#define KBD_TYPEMATIC_DEF 0x2b /* 10.9 characters/s after 500 ms */

/* Make codes; a release is set 2's 0xF0 prefix or set 1's bit 7. Extended keys add 0xE0. */
static const struct {
	uint8_t set1, set2;
	bool extended;
} ps2_keys[] = {
    [PS2_KEY_LCTRL] = {0x1d, 0x14, false},
    [PS2_KEY_LALT] = {0x38, 0x11, false},
    [PS2_KEY_DELETE] = {0x53, 0x71, true},
};

#define NKEYS (sizeof(ps2_keys) / sizeof(ps2_keys[0]))

uint8_t ps2_kbd_translate(uint8_t set2)
{
	if (set2 == KBD_ID_1)
		return KBD_ID_1_XLATED;
	if (set2 == KBD_OVERRUN_SET2)
		return KBD_OVERRUN_SET1;
	/* Answers (ACK, BAT, echo, resend) and prefixes are above 0x7F and pass unchanged. */
	for (unsigned i = 0; i < NKEYS && set2 < 0x80; i++)
		if (ps2_keys[i].set2 == set2)
			return ps2_keys[i].set1;
	return set2;
}

static void kbd_push(struct ps2_kbd *k, uint8_t byte)
{
	if (k->count == PS2_KBD_FIFO) {
		k->dropped++;
		return;
	}
	k->fifo[(k->head + k->count++) % PS2_KBD_FIFO] = byte;
}

static void kbd_clear(struct ps2_kbd *k)
{
	k->head = k->count = 0;
}

static void kbd_defaults(struct ps2_kbd *k)
{
	k->typematic = KBD_TYPEMATIC_DEF;
	k->expect = 0;
}

void ps2_kbd_init(struct ps2_kbd *k)
{
	memset(k, 0, sizeof(*k));
	kbd_defaults(k);
	k->set = 2;
	k->scanning = true;
}

bool ps2_kbd_pop(struct ps2_kbd *k, uint8_t *byte)
{
	if (!k->count)
		return false;
	*byte = k->fifo[k->head];
	k->head = (k->head + 1) % PS2_KBD_FIFO;
	k->count--;
	k->last = *byte;
	return true;
}

void ps2_kbd_unpop(struct ps2_kbd *k, uint8_t byte)
{
	if (k->count == PS2_KBD_FIFO) {
		k->dropped++;
		return;
	}
	k->head = (k->head + PS2_KBD_FIFO - 1) % PS2_KBD_FIFO;
	k->fifo[k->head] = byte;
	k->count++;
}

/* The parameter of a two-byte command. */
static void kbd_param(struct ps2_kbd *k, uint8_t cmd, uint8_t byte)
{
	switch (cmd) {
	case KBD_CMD_SET_LEDS:
		k->leds = byte & 0x07;
		break;
	case KBD_CMD_TYPEMATIC:
		k->typematic = byte & 0x7f;
		break;
	case KBD_CMD_SCANSET:
		if (byte > 2) {
			/* No set 3: the driver falls back to set 2. */
			kbd_push(k, PS2_KBD_RESEND);
			return;
		}
		kbd_push(k, PS2_KBD_ACK);
		if (byte == 0)
			kbd_push(k, k->set); /* query: answer the set in use */
		else
			k->set = byte;
		return;
	}
	kbd_push(k, PS2_KBD_ACK);
}

static void kbd_command(struct ps2_kbd *k, uint8_t cmd)
{
	switch (cmd) {
	case KBD_CMD_SET_LEDS:
	case KBD_CMD_SCANSET:
	case KBD_CMD_TYPEMATIC:
		k->expect = cmd;
		kbd_push(k, PS2_KBD_ACK);
		return;
	case KBD_CMD_ECHO:
		kbd_push(k, PS2_KBD_ECHO);
		return;
	case KBD_CMD_GET_ID:
		kbd_push(k, PS2_KBD_ACK);
		kbd_push(k, KBD_ID_0);
		kbd_push(k, KBD_ID_1);
		return;
	case KBD_CMD_ENABLE:
	case KBD_CMD_DISABLE:
		/* Both clear the keyboard's buffer before they answer. */
		kbd_clear(k);
		if (cmd == KBD_CMD_DISABLE)
			kbd_defaults(k);
		k->scanning = cmd == KBD_CMD_ENABLE;
		kbd_push(k, PS2_KBD_ACK);
		return;
	case KBD_CMD_DEFAULTS:
		kbd_defaults(k);
		kbd_push(k, PS2_KBD_ACK);
		return;
	case KBD_CMD_RESEND:
		kbd_push(k, k->last);
		return;
	case KBD_CMD_RESET:
		kbd_clear(k);
		kbd_defaults(k);
		k->set = 2;
		k->leds = 0;
		k->scanning = true;
		kbd_push(k, PS2_KBD_ACK);
		kbd_push(k, PS2_KBD_BAT_OK);
		return;
	default:
		if (cmd > KBD_CMD_TYPEMATIC && cmd <= KBD_CMD_SET3_LAST) {
			kbd_push(k, PS2_KBD_ACK);
			return;
		}
		kbd_push(k, PS2_KBD_RESEND); /* not a command this keyboard knows */
	}
}

void ps2_kbd_write(struct ps2_kbd *k, uint8_t byte)
{
	uint8_t cmd = k->expect;

	k->expect = 0;
	/* Parameters are below 0x80: a command byte instead abandons the pending command. */
	if (cmd && !(byte & 0x80))
		kbd_param(k, cmd, byte);
	else
		kbd_command(k, byte);
}

/* Encode one stroke in the current set; returns the byte count (at most 3). */
static unsigned kbd_encode(const struct ps2_kbd *k, const struct ps2_key_stroke *s, uint8_t *out)
{
	unsigned n = 0;

	if (ps2_keys[s->key].extended)
		out[n++] = PS2_KBD_EXT;
	if (k->set == 1) {
		out[n++] = (uint8_t)(ps2_keys[s->key].set1 | (s->release ? 0x80 : 0));
		return n;
	}
	if (s->release)
		out[n++] = PS2_KBD_BREAK;
	out[n++] = ps2_keys[s->key].set2;
	return n;
}

int ps2_kbd_press(struct ps2_kbd *k, const struct ps2_key_stroke *s, unsigned n)
{
	uint8_t bytes[PS2_KBD_FIFO];
	unsigned len = 0;

	if (!k->scanning)
		return -EAGAIN;
	for (unsigned i = 0; i < n; i++) {
		uint8_t code[3];
		unsigned c;

		if ((unsigned)s[i].key >= NKEYS)
			return -EINVAL;
		c = kbd_encode(k, &s[i], code);
		if (len + c > PS2_KBD_FIFO - k->count)
			return -ENOBUFS;
		memcpy(bytes + len, code, c);
		len += c;
	}
	for (unsigned i = 0; i < len; i++)
		kbd_push(k, bytes[i]);
	return 0;
}
