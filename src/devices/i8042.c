#include "devices/i8042.h"

#include "devices/ps2_kbd.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * How Linux finds it: the DSDT's PNP0303 device gives the ports and IRQ 1 (the FADT still says
 * "no 8042", which only matters when PNP finds nothing). There is no PNP0F13 mouse, so the
 * driver sets i8042.noaux by itself and never probes the AUX port; the AUX commands below
 * answer "nothing connected" at once for drivers that probe anyway, instead of leaving them to
 * time out (every status poll is a VM exit).
 *
 * Every command completes within the port write: the input buffer is never full (status bit 1
 * stays clear), so each of the driver's "wait for input buffer empty" loops costs one read.
 */

/* Status register (port 0x64, read). */
#define STS_OBF	     0x01 /* output buffer full: port 0x60 has a byte */
#define STS_SYS	     0x04 /* system flag (command byte bit 2) */
#define STS_CMD	     0x08 /* the last write went to port 0x64 */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the key lock (Linux warns otherwise) */

/* Command byte (read with 0x20, written with 0x60). */
#define CTR_KBDINT 0x01 /* IRQ 1 when the output buffer fills */
#define CTR_AUXINT 0x02
#define CTR_SYS	   0x04
#define CTR_KBDDIS 0x10 /* keyboard interface disabled */
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40 /* translate the keyboard's set 2 to set 1 */
/* As firmware hands it over: translation on, interfaces disabled, no interrupts. There is no
 * AUX port, so its disable bit cannot be cleared nor its interrupt set. */
#define CTR_RESET  (CTR_XLATE | CTR_AUXDIS | CTR_KBDDIS | CTR_SYS)
#define CTR_FIXED1 CTR_AUXDIS
#define CTR_FIXED0 (CTR_AUXINT | 0x80)

/* Controller commands (port 0x64, write). */
#define CMD_READ_CTR	   0x20 /* 0x21-0x3F read internal RAM */
#define CMD_WRITE_CTR	   0x60 /* 0x61-0x7F write internal RAM; the byte follows on 0x60 */
#define CMD_AUX_TEST	   0xa9
#define CMD_SELF_TEST	   0xaa
#define CMD_KBD_TEST	   0xab
#define CMD_KBD_DISABLE	   0xad
#define CMD_KBD_ENABLE	   0xae
#define CMD_READ_INPORT	   0xc0
#define CMD_READ_OUTPORT   0xd0
#define CMD_WRITE_OUTPORT  0xd1
#define CMD_WRITE_KBD_OBUF 0xd2 /* the next byte on 0x60 comes back as keyboard data */
#define CMD_WRITE_AUX_OBUF 0xd3 /* ... as mouse data ("AUX loop" test) */
#define CMD_WRITE_AUX	   0xd4 /* the next byte goes to the mouse */
#define CMD_READ_TEST	   0xe0
#define CMD_PULSE_BASE	   0xf0 /* 0xF0-0xFF pulse output lines whose bit is 0 */

#define SELF_TEST_OK	 0x55
#define PORT_TEST_OK	 0x00
#define AUX_TEST_NOCLOCK 0x02 /* "clock line stuck high": nothing connected */
#define INPORT_VALUE	 0x80 /* bit 7: keyboard not inhibited */
#define OUTPORT_RESET	 0x01 /* output line 0 is the CPU reset (active low) */
#define OUTPORT_A20	 0x02
#define OUTPORT_DEFAULT	 (OUTPORT_RESET | OUTPORT_A20)

enum obuf_src {
	OBUF_EMPTY,
	OBUF_CTRL, /* a controller answer, or 0xD2/0xD3 data */
	OBUF_KBD,  /* from the keyboard: given back to it if a controller answer must go first */
};

struct i8042 {
	pthread_mutex_t lock;
	platform_event_fn event;
	i8042_irq_fn irq;
	void *ctx;
	struct ps2_kbd kbd;
	uint8_t ctr;
	uint8_t outport;
	uint8_t pending;   /* command waiting for its byte on port 0x60, or 0 */
	bool last_was_cmd; /* status bit 3 */
	uint8_t obuf;	   /* the byte port 0x60 reads (stale once read, as on hardware) */
	enum obuf_src src;
	uint8_t raw;	  /* OBUF_KBD: the keyboard's byte before translation */
	bool raw_break;	  /* OBUF_KBD: translation folded a 0xF0 prefix into obuf */
	bool xlate_break; /* a 0xF0 was taken and waits for the byte it modifies */
	uint8_t answer;	  /* a controller answer waiting for the output buffer */
	bool has_answer;
	bool irq_level;
};

static void i8042_update_irq(struct i8042 *dev)
{
	bool level = dev->src != OBUF_EMPTY && (dev->ctr & CTR_KBDINT);

	if (level == dev->irq_level)
		return;
	dev->irq_level = level;
	if (dev->irq)
		dev->irq(dev->ctx, level);
}

/* The next keyboard byte as the guest sees it: with translation, set 2's break prefix becomes
 * bit 7 of the byte after it. */
static bool i8042_take_kbd(struct i8042 *dev)
{
	uint8_t b;

	while (ps2_kbd_pop(&dev->kbd, &b)) {
		if (!(dev->ctr & CTR_XLATE)) {
			dev->obuf = b;
		} else if (b == PS2_KBD_BREAK) {
			dev->xlate_break = true;
			continue;
		} else {
			dev->obuf = (uint8_t)(ps2_kbd_translate(b) | (dev->xlate_break ? 0x80 : 0));
		}
		dev->raw = b;
		dev->raw_break = dev->xlate_break && (dev->ctr & CTR_XLATE);
		dev->xlate_break = false;
		dev->src = OBUF_KBD;
		return true;
	}
	return false;
}

/* Fill an empty output buffer: controller answers first, then the keyboard if its interface
 * is enabled. Then drive IRQ 1 to match. */
static void i8042_refill(struct i8042 *dev)
{
	if (dev->src == OBUF_EMPTY) {
		if (dev->has_answer) {
			dev->obuf = dev->answer;
			dev->src = OBUF_CTRL;
			dev->has_answer = false;
		} else if (!(dev->ctr & CTR_KBDDIS)) {
			i8042_take_kbd(dev);
		}
	}
	i8042_update_irq(dev);
}

/* A controller answer goes before any keyboard byte still unread: that one is given back to
 * the keyboard (untranslated), which sends it again later, as it would after an inhibit. */
static void i8042_answer(struct i8042 *dev, uint8_t byte)
{
	if (dev->src == OBUF_KBD) {
		ps2_kbd_unpop(&dev->kbd, dev->raw);
		if (dev->raw_break)
			ps2_kbd_unpop(&dev->kbd, PS2_KBD_BREAK);
		dev->src = OBUF_EMPTY;
	}
	/* A second answer before the first was read replaces it, as the one buffer would. */
	dev->answer = byte;
	dev->has_answer = true;
}

static void i8042_set_ctr(struct i8042 *dev, uint8_t ctr)
{
	dev->ctr = (uint8_t)((ctr | CTR_FIXED1) & ~CTR_FIXED0);
}

/* A byte on port 0x60: the data of a pending controller command, else for the keyboard. */
static void i8042_write_data(struct i8042 *dev, uint8_t byte)
{
	uint8_t cmd = dev->pending;

	dev->pending = 0;
	dev->last_was_cmd = false;
	if (cmd == CMD_WRITE_CTR)
		i8042_set_ctr(dev, byte);
	else if (cmd == CMD_WRITE_OUTPORT)
		dev->outport = byte; /* the reset line only pulses with 0xFE (Linux's only way) */
	else if (cmd == CMD_WRITE_KBD_OBUF || cmd == CMD_WRITE_AUX_OBUF)
		/* No AUX port: 0xD3's byte comes back as keyboard data, so Linux's AUX loop
		 * test fails at once and it checks no further. */
		i8042_answer(dev, byte);
	else if (!cmd)
		ps2_kbd_write(&dev->kbd, byte);
	/* Internal RAM (0x61-0x7F) and bytes for the absent mouse (0xD4) go nowhere. */
}

/* A command on port 0x64. Returns true when it pulses the CPU reset line. */
static bool i8042_command(struct i8042 *dev, uint8_t cmd)
{
	dev->pending = 0;
	dev->last_was_cmd = true;
	if (cmd >= CMD_PULSE_BASE)
		return !(cmd & OUTPORT_RESET);
	if (cmd >= CMD_READ_CTR && cmd < CMD_WRITE_CTR) {
		i8042_answer(dev, cmd == CMD_READ_CTR ? dev->ctr : 0);
		return false;
	}
	if ((cmd >= CMD_WRITE_CTR && cmd < 0x80) ||
	    (cmd >= CMD_WRITE_OUTPORT && cmd <= CMD_WRITE_AUX)) {
		dev->pending = cmd;
		return false;
	}
	switch (cmd) {
	case CMD_AUX_TEST:
		i8042_answer(dev, AUX_TEST_NOCLOCK);
		break;
	case CMD_SELF_TEST:
		i8042_answer(dev, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		i8042_answer(dev, PORT_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		dev->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		dev->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_INPORT:
		i8042_answer(dev, INPORT_VALUE);
		break;
	case CMD_READ_OUTPORT:
		i8042_answer(dev, dev->outport);
		break;
	case CMD_READ_TEST:
		i8042_answer(dev, 0);
		break;
	}
	/* Anything else (AUX enable/disable 0xA7/0xA8 included: there is no AUX port) is
	 * accepted and changes nothing. */
	return false;
}

static uint8_t i8042_status(const struct i8042 *dev)
{
	return (uint8_t)((dev->src != OBUF_EMPTY ? STS_OBF : 0) |
			 (dev->ctr & CTR_SYS ? STS_SYS : 0) | (dev->last_was_cmd ? STS_CMD : 0) |
			 STS_UNLOCKED);
}

/* Only byte lane 0 of the port is the register; the rest of a wide read is an empty bus. */
static void i8042_fill(uint64_t offset, uint8_t *data, uint32_t len, uint8_t value)
{
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset == 0 && i == 0 ? value : 0xff;
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *dev = opaque;

	if (offset != 0 || len == 0) {
		if (!is_write)
			i8042_fill(offset, data, len, 0xff);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	if (is_write) {
		i8042_write_data(dev, data[0]);
	} else {
		i8042_fill(offset, data, len, dev->obuf);
		/* Reading empties the buffer: IRQ 1 falls, and rises again (a new edge) if
		 * another byte moves in. */
		dev->src = OBUF_EMPTY;
		i8042_update_irq(dev);
	}
	i8042_refill(dev);
	pthread_mutex_unlock(&dev->lock);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *dev = opaque;
	bool reset = false;

	if (offset != 0 || len == 0) {
		if (!is_write)
			i8042_fill(offset, data, len, 0xff);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	if (is_write) {
		reset = i8042_command(dev, data[0]);
		i8042_refill(dev);
	} else {
		i8042_fill(offset, data, len, i8042_status(dev));
	}
	pthread_mutex_unlock(&dev->lock);
	if (reset)
		dev->event(dev->ctx, PLATFORM_REBOOT);
}

int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	static const struct ps2_key_stroke cad[] = {
	    {PS2_KEY_LCTRL, false}, {PS2_KEY_LALT, false}, {PS2_KEY_DELETE, false},
	    {PS2_KEY_DELETE, true}, {PS2_KEY_LALT, true},  {PS2_KEY_LCTRL, true},
	};
	int rc = -EAGAIN;

	pthread_mutex_lock(&dev->lock);
	/* Ready means the guest's driver enabled the interface and its interrupt, and told the
	 * keyboard to scan: before that, or once it shut the keyboard down, keys are lost. */
	if ((dev->ctr & CTR_KBDINT) && !(dev->ctr & CTR_KBDDIS))
		rc = ps2_kbd_press(&dev->kbd, cad, sizeof(cad) / sizeof(cad[0]));
	if (!rc)
		i8042_refill(dev);
	pthread_mutex_unlock(&dev->lock);
	return rc;
}

int i8042_create(struct i8042 **out, platform_event_fn event, i8042_irq_fn irq, void *ctx)
{
	struct i8042 *dev;

	if (!event)
		return -EINVAL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	pthread_mutex_init(&dev->lock, NULL);
	dev->event = event;
	dev->irq = irq;
	dev->ctx = ctx;
	dev->ctr = CTR_RESET;
	dev->outport = OUTPORT_DEFAULT;
	ps2_kbd_init(&dev->kbd);
	*out = dev;
	return 0;
}

void i8042_destroy(struct i8042 *dev)
{
	if (!dev)
		return;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}
