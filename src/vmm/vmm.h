/* One VM: everything it owns, the boot sequence that builds it, and the loop that runs it. */
#ifndef AZOTE_VMM_VMM_H
#define AZOTE_VMM_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "config/vm_config.h"
#include "kvm/guest_mem.h"
#include "kvm/iobus.h"
#include "kvm/irq.h"
#include "kvm/kvm_sys.h"
#include "kvm/vcpu.h"
#include "util/escape.h"
#include "util/evloop.h"
#include "util/term.h"
#include "vmm/vmm_cards.h"

/* Process exit statuses (documented in --help and the README). */
enum vmm_exit_status {
	VMM_EXIT_OK = 0,        /* guest powered off or rebooted, or SIGTERM */
	VMM_EXIT_RUNTIME = 1,   /* KVM failed while the guest ran */
	VMM_EXIT_BAD_INPUT = 2, /* bad input or set-up failure: nothing ran */
	VMM_EXIT_PANIC = 3,     /* the guest kernel panicked */
};

struct serial;
struct pci_host;
struct acpi_pm;
struct i8042;
struct pvpanic;
struct xen;

struct vmm {
	const struct vm_config *cfg;
	struct kvm_sys kvm;
	int vm_fd;
	struct guest_mem mem;
	struct iobus pio;
	struct iobus mmio;
	struct coalesced coalesced; /* serial THR writes that do not exit */
	struct vcpu_env vcpu_env;
	struct vcpu *vcpus;
	unsigned nvcpus_ready; /* vCPUs created so far: what vmm_destroy must undo */

	struct kvm_irq irq;     /* GSI routing, irqfds, ioeventfds (MSI-X devices) */
	bool irq_ready;
	struct pci_host *pci;   /* only when the VM has PCI devices */
	struct vmm_card cards[VMM_MAX_CARDS]; /* disks first, then network interfaces */
	unsigned ncards_ready; /* cards whose backend was started: what vmm_destroy undoes */

	struct serial *serial;
	struct acpi_pm *acpi_pm;
	struct i8042 *i8042;
	struct pvpanic *pvpanic;
	struct xen *xen; /* --xen: the Xen HVM platform */

	/* Event loop (main thread): console input, signals, stop requests, serial output. */
	struct evloop loop;
	int stop_efd;   /* written by vCPU threads and devices to ask the loop to end the VM */
	int serial_efd; /* written by the serial device when output is waiting */
	int signal_fd;
	int drain_tfd;  /* periodic replay of coalesced writes a halted guest left queued */
	bool booted;    /* vmm_boot succeeded: the vCPUs run */
	bool stdin_watched;
	bool stdin_paused; /* the guest's RX FIFO is full: stdin waits in the kernel */
	struct term term;
	struct escape escape;
	uint8_t console_pending[ESCAPE_OUT_MAX(32)]; /* filtered input the RX FIFO has not taken */
	size_t console_off, console_len;

	/* The first stop request wins; later ones (other vCPUs) are ignored. */
	int stop_claimed;
	int exit_status;
	char stop_msg[160];
};

/* A VMM for cfg with its event loop (signals, stop requests) but no machine yet: what the API
 * serves before InstanceStart. cfg may change until vmm_boot. 0 or -errno (logged). */
__attribute__((warn_unused_result)) int vmm_new(struct vmm **out, const struct vm_config *cfg);

/* Build the machine cfg describes (KVM objects, RAM, devices and their processes, ACPI, kernel,
 * vCPUs) and start the vCPUs. On failure everything built is undone, the VMM is as vmm_new
 * left it, and -errno is returned after logging what went wrong. */
__attribute__((warn_unused_result)) int vmm_boot(struct vmm *vmm);

/* vmm_new + vmm_boot (the command line's path). */
__attribute__((warn_unused_result)) int vmm_create(struct vmm **out, const struct vm_config *cfg);

/* Run the event loop until the guest powers off, reboots, panics, fails or the process is told
 * to stop; then stop the vCPUs. Returns the process exit status. */
int vmm_run(struct vmm *vmm);

/* Stop and free everything, in reverse order of creation. Accepts NULL. */
void vmm_destroy(struct vmm *vmm);

/* Ask the loop to end the VM with status; safe from any thread; the first call wins. */
void vmm_request_stop(struct vmm *vmm, int status, const char *msg);

/* Restore the terminal (async-signal-safe); for fatal paths. */
void vmm_restore_terminal(struct vmm *vmm);

#endif
