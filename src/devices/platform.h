/* What platform devices report to the VMM: the guest asked to power off, reboot, or panicked. */
#ifndef AZOTE_DEVICES_PLATFORM_H
#define AZOTE_DEVICES_PLATFORM_H

enum platform_event {
	PLATFORM_POWEROFF, /* ACPI S5 */
	PLATFORM_REBOOT,   /* i8042 reset pulse, ACPI reset register, triple fault */
	PLATFORM_PANIC,    /* pvpanic "guest panicked" */
};

/* Called on a vCPU thread; must only record the event and wake the VMM loop (never block). */
typedef void (*platform_event_fn)(void *ctx, enum platform_event event);

/* Fixed port I/O addresses of the platform devices (also described in the ACPI tables). */
#define PORT_I8042_DATA     0x60
#define PORT_I8042_CMD      0x64
#define PORT_COM1           0x3f8
#define PORT_PCI_CONFIG_ADDR 0xcf8 /* PCI configuration mechanism #1 address latch (4 bytes) */
#define PORT_ACPI_PM_BASE   0x600 /* PM1a_EVT (4 bytes), PM1a_CNT (2 bytes), RESET (1 byte) */
#define PORT_ACPI_PM1A_EVT  0x600
#define PORT_ACPI_PM1A_CNT  0x604
#define PORT_ACPI_RESET     0x606
#define ACPI_RESET_VALUE    0x0e
#define ACPI_SLP_TYP_S5     5
#define PORT_PVPANIC        0x505
#define IRQ_I8042_KBD       1
#define IRQ_COM1            4
#define IRQ_ACPI_SCI        9

#endif
