#include "devices/acpi_pm.h"

#include "devices/ratelimit.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* Register offsets inside the block (FADT: PM1a_EVT_BLK, PM1a_CNT_BLK, RESET_REG). */
#define PM_STS	 0
#define PM_EN	 2
#define PM_CNT	 4
#define PM_RESET 6

/* PM1 status and enable bits (ACPI 6.5 tables 4.16 and 4.17). */
#define PM1_TMR	    (1u << 0)
#define PM1_GBL	    (1u << 5)
#define PM1_PWRBTN  (1u << 8)
#define PM1_SLPBTN  (1u << 9)
#define PM1_RTC	    (1u << 10)
#define PM1_EN_BITS (PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC)
/* PM1 control bits (table 4.18). */
#define PM1_SCI_EN    (1u << 0)
#define PM1_BM_RLD    (1u << 1)
#define PM1_SLP_TYP   (7u << 10)
#define PM1_SLP_EN    (1u << 13)
#define PM1_CNT_STORE (PM1_BM_RLD | PM1_SLP_TYP)

struct acpi_pm {
	pthread_mutex_t lock; /* several vCPUs may touch the block at once */
	uint16_t sts;
	uint16_t en;
	uint16_t cnt; /* without the write-only SLP_EN and the constant SCI_EN */
	bool sci;     /* level last driven on the SCI line */
	platform_event_fn event;
	acpi_pm_sci_fn set_sci;
	void *ctx;
	struct ratelimit log_limit;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* The SCI is a level interrupt: asserted while any enabled status bit is set. Lock held. */
static void pm_update_sci(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en & PM1_EN_BITS) != 0;

	if (level == pm->sci)
		return;
	pm->sci = level;
	if (pm->set_sci)
		pm->set_sci(pm->ctx, level);
}

static void pm_read(struct acpi_pm *pm, uint64_t offset, uint8_t *data, uint32_t len)
{
	uint8_t regs[ACPI_PM_NPORTS] = {0}; /* RESET and the spare port read as 0 */

	pthread_mutex_lock(&pm->lock);
	put16(regs + PM_STS, pm->sts);
	put16(regs + PM_EN, pm->en);
	/* SCI_EN always reads 1: with SMI_CMD = 0 the platform is permanently in ACPI mode. */
	put16(regs + PM_CNT, (uint16_t)(pm->cnt | PM1_SCI_EN));
	pthread_mutex_unlock(&pm->lock);
	for (uint32_t i = 0; i < len; i++)
		data[i] = offset < ACPI_PM_NPORTS && i < ACPI_PM_NPORTS - offset ? regs[offset + i]
										 : 0xff;
}

/* A PM1_CNT write with SLP_EN: enter the sleep state SLP_TYP names. Returns the event to
 * report, or -1. Lock held. */
static int pm_sleep(struct acpi_pm *pm, uint16_t cnt)
{
	unsigned typ = (cnt & PM1_SLP_TYP) >> 10;

	if (typ == ACPI_SLP_TYP_S5)
		return PLATFORM_POWEROFF;
	/* The DSDT offers only \_S5_, so a well-behaved guest never gets here. */
	if (ratelimit_allow(&pm->log_limit))
		log_warn("guest asked for ACPI sleep type %u; ignored, only S5 (power off) exists",
			 typ);
	return -1;
}

static void pm_write(struct acpi_pm *pm, uint64_t offset, const uint8_t *data, uint32_t len)
{
	uint8_t val[ACPI_PM_NPORTS] = {0}, mask[ACPI_PM_NPORTS] = {0};
	int events[2] = {-1, -1};
	uint16_t m, cnt;

	/* Spread the access over byte lanes; lanes past the block are dropped. */
	for (uint32_t i = 0; i < len && offset < ACPI_PM_NPORTS && i < ACPI_PM_NPORTS - offset;
	     i++) {
		val[offset + i] = data[i];
		mask[offset + i] = 0xff;
	}
	pthread_mutex_lock(&pm->lock);
	pm->sts &= (uint16_t)~get16(val + PM_STS); /* write 1 to clear; unwritten lanes are 0 */
	m = get16(mask + PM_EN);
	pm->en = (uint16_t)(((pm->en & ~m) | (get16(val + PM_EN) & m)) & PM1_EN_BITS);
	m = get16(mask + PM_CNT);
	if (m) {
		cnt = (uint16_t)((pm->cnt & ~m) | (get16(val + PM_CNT) & m));
		pm->cnt = cnt & PM1_CNT_STORE;
		/* ACPICA writes SLP_TYP first, then SLP_TYP | SLP_EN: act on the second. */
		if (cnt & m & PM1_SLP_EN)
			events[0] = pm_sleep(pm, cnt);
	}
	if (mask[PM_RESET] && val[PM_RESET] == ACPI_RESET_VALUE)
		events[1] = PLATFORM_REBOOT;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	for (int i = 0; i < 2; i++)
		if (events[i] >= 0)
			pm->event(pm->ctx, (enum platform_event)events[i]);
}

void acpi_pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	if (is_write)
		pm_write(opaque, offset, data, len);
	else
		pm_read(opaque, offset, data, len);
}

int acpi_pm_create(struct acpi_pm **out, platform_event_fn event, void *ctx)
{
	struct acpi_pm *pm;
	int err;

	if (!event)
		return -EINVAL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	err = pthread_mutex_init(&pm->lock, NULL);
	if (err) {
		free(pm);
		return -err;
	}
	pm->event = event;
	pm->ctx = ctx;
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

void acpi_pm_set_sci(struct acpi_pm *pm, acpi_pm_sci_fn fn)
{
	pthread_mutex_lock(&pm->lock);
	pm->set_sci = fn;
	pthread_mutex_unlock(&pm->lock);
}

bool acpi_pm_power_button(struct acpi_pm *pm)
{
	bool armed;

	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN;
	armed = (pm->en & PM1_PWRBTN) != 0;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return armed;
}
