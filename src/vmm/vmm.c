/* The boot sequence, top to bottom: vmm_create() builds a VM from its configuration. */
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86/acpi.h"
#include "arch/x86/boot_cpu.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/layout.h"
#include "boot/linux_boot.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/platform.h"
#include "devices/pvpanic.h"
#include "devices/serial.h"
#include "pci/pci_host.h"
#include "sandbox/seccomp.h"
#include "util/log.h"
#include "vmm/vmm_loop.h"
#include "xen/xen.h"

#define KVM_DEVICE "/dev/kvm"

static uint64_t host_ram_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si) < 0)
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

static int vmm_check_host(struct vmm *vmm)
{
	struct config_error err;

	if (vm_config_check_host(vmm->cfg, vmm->kvm.max_vcpus, host_ram_bytes(), &err)) {
		log_error("%s", err.msg);
		return -EINVAL;
	}
	return 0;
}

/* The KVM VM with the in-kernel PIC/IOAPIC/LAPIC and PIT that a PC guest expects. */
static int vmm_create_vm(struct vmm *vmm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t identity = LAYOUT_IDENTITY_MAP;

	vmm->vm_fd = ioctl(vmm->kvm.fd, KVM_CREATE_VM, 0);
	if (vmm->vm_fd < 0) {
		log_error("KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	/* Intel needs these two ranges for real-mode emulation; they sit in the PCI hole. */
	if (ioctl(vmm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_TSS) < 0 ||
	    ioctl(vmm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		log_error("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vmm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vmm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* MSI-X routing needs the in-kernel irqchip; the PCI host bridge exists when devices do. */
static int vmm_create_pci(struct vmm *vmm)
{
	struct pci_host_params p = {.ecam_base = LAYOUT_PCI_ECAM,
				    .ecam_size = LAYOUT_PCI_ECAM_SIZE,
				    .mmio_base = LAYOUT_PCI_MMIO,
				    .mmio_size = LAYOUT_PCI_MMIO_SIZE};
	int rc;

	if (!vmm->cfg->ndisks && !vmm->cfg->nnets && !vmm->cfg->xen)
		return 0;
	rc = kvm_irq_init(&vmm->irq, &kvm_irq_vm_ops, &vmm->vm_fd);
	/* Set even on failure: kvm_irq_fini undoes a half-done init. */
	vmm->irq_ready = true;
	if (rc) {
		log_error("interrupt routing: %s", strerror(-rc));
		return rc;
	}
	return pci_host_create(&vmm->pci, &p, &vmm->pio, &vmm->mmio);
}

static int vmm_create_memory(struct vmm *vmm)
{
	int rc = guest_mem_init(&vmm->mem, vmm->cfg->mem_bytes, LAYOUT_LOWMEM_TOP);

	if (rc) {
		log_error("guest RAM (%llu MiB): %s", (unsigned long long)(vmm->cfg->mem_bytes >> 20),
			  strerror(-rc));
		return rc;
	}
	rc = guest_mem_register(&vmm->mem, vmm->vm_fd);
	if (rc)
		log_error("KVM_SET_USER_MEMORY_REGION: %s", strerror(-rc));
	return rc;
}

/* Drive an interrupt line of the in-kernel PIC/IOAPIC. */
static void vmm_irq_line(struct vmm *vmm, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	if (ioctl(vmm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static void vmm_serial_irq(void *ctx, bool level)
{
	vmm_irq_line(ctx, IRQ_COM1, level);
}

static void vmm_sci_irq(void *ctx, bool level)
{
	vmm_irq_line(ctx, IRQ_ACPI_SCI, level);
}

static void vmm_kbd_irq(void *ctx, bool level)
{
	vmm_irq_line(ctx, IRQ_I8042_KBD, level);
}

/* A forbidden syscall kills the process: leave the user's terminal usable. */
static void vmm_on_seccomp_kill(void *ctx)
{
	vmm_restore_terminal(ctx);
}

static void vmm_platform_event(void *ctx, enum platform_event event)
{
	struct vmm *vmm = ctx;

	switch (event) {
	case PLATFORM_POWEROFF:
		vmm_request_stop(vmm, VMM_EXIT_OK, "guest powered off");
		break;
	case PLATFORM_REBOOT:
		vmm_request_stop(vmm, VMM_EXIT_OK, "guest rebooted");
		break;
	case PLATFORM_PANIC:
		vmm_request_stop(vmm, VMM_EXIT_PANIC, "guest kernel panicked");
		break;
	}
}

static int vmm_register(struct vmm *vmm, uint64_t port, uint64_t len, iobus_handler_fn fn,
			void *dev, const char *name)
{
	int rc = iobus_register(&vmm->pio, port, len, fn, dev);

	iobus_set_name(&vmm->pio, port, name);
	if (rc)
		log_error("%s: cannot claim ports %#llx+%llu: %s", name, (unsigned long long)port,
			  (unsigned long long)len, strerror(-rc));
	return rc;
}

/* The platform devices that stay in the VMM next to the vCPUs. */
static int vmm_create_devices(struct vmm *vmm)
{
	int rc;

	vmm->serial_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->serial_efd < 0)
		return -errno;
	rc = serial_create(&vmm->serial, STDOUT_FILENO, vmm->serial_efd, vmm_serial_irq, vmm);
	if (!rc)
		rc = vmm_register(vmm, PORT_COM1, SERIAL_NPORTS, serial_io, vmm->serial, "serial");
	/* Writes that need no immediate answer are queued by KVM without an exit and replayed
	 * before the next exit: bytes sent to the UART, and the PCI config address latch, which
	 * Linux writes before each of the thousands of config reads of its early bus scans. */
	if (!rc && (coalesced_add_pio(&vmm->coalesced, vmm->vm_fd, PORT_COM1, 1) ||
		    coalesced_add_pio(&vmm->coalesced, vmm->vm_fd, PORT_PCI_CONFIG_ADDR, 4)))
		log_debug("no coalesced port I/O: every such write exits");
	if (!rc)
		rc = acpi_pm_create(&vmm->acpi_pm, vmm_platform_event, vmm);
	if (!rc)
		acpi_pm_set_sci(vmm->acpi_pm, vmm_sci_irq);
	if (!rc)
		rc = vmm_register(vmm, PORT_ACPI_PM_BASE, ACPI_PM_NPORTS, acpi_pm_io, vmm->acpi_pm,
				  "ACPI PM");
	if (!rc)
		rc = i8042_create(&vmm->i8042, vmm_platform_event, vmm_kbd_irq, vmm);
	if (!rc)
		rc = vmm_register(vmm, PORT_I8042_DATA, 1, i8042_data_io, vmm->i8042, "i8042-data");
	if (!rc)
		rc = vmm_register(vmm, PORT_I8042_CMD, 1, i8042_cmd_io, vmm->i8042, "i8042-cmd");
	if (!rc)
		rc = pvpanic_create(&vmm->pvpanic, vmm_platform_event, vmm);
	if (!rc)
		rc = vmm_register(vmm, PORT_PVPANIC, 1, pvpanic_io, vmm->pvpanic, "pvpanic");
	if (rc && rc != -EEXIST && rc != -ENOSPC)
		log_error("platform devices: %s", strerror(-rc));
	return rc;
}

static int vmm_load_guest(struct vmm *vmm, struct linux_boot_entry *entry)
{
	struct acpi_params acpi = {
		.ncpus = vmm->cfg->cpus,
		.lapic_addr = LAYOUT_LAPIC,
		.ioapic_addr = LAYOUT_IOAPIC,
		.legacy_vga = vmm->cfg->xen,
	};

	if (vmm->pci) {
		acpi.pci_ecam_base = LAYOUT_PCI_ECAM;
		acpi.pci_ecam_size = LAYOUT_PCI_ECAM_SIZE;
		acpi.pci_mmio_base = LAYOUT_PCI_MMIO;
		acpi.pci_mmio_size = LAYOUT_PCI_MMIO_SIZE;
	}
	struct linux_boot_request req = {
		.kernel_path = vmm->cfg->kernel_path,
		.initrd_path = vmm->cfg->initrd_path,
		.cmdline = vmm->cfg->cmdline,
	};
	uint8_t *acpi_mem = guest_mem_ptr(&vmm->mem, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
	int rc;

	if (!acpi_mem)
		return -EFAULT;
	rc = acpi_build(acpi_mem, LAYOUT_ACPI_END - LAYOUT_ACPI, LAYOUT_ACPI, &acpi, &req.rsdp_gpa);
	if (rc) {
		log_error("ACPI tables: %s", strerror(-rc));
		return rc;
	}
	rc = boot_cpu_write_tables(&vmm->mem);
	if (rc) {
		log_error("boot page tables: %s", strerror(-rc));
		return rc;
	}
	return linux_boot_load(&vmm->mem, &req, entry);
}

static int vmm_setup_vcpu(struct vmm *vmm, struct vcpu *vcpu, struct kvm_cpuid2 *supported,
			  const struct linux_boot_entry *entry)
{
	size_t bytes = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
	struct kvm_cpuid2 *cpuid = malloc(bytes);
	int rc;

	if (!cpuid)
		return -ENOMEM;
	memcpy(cpuid, supported, bytes);
	cpuid_shape(cpuid->entries, cpuid->nent, vcpu->index, vmm->cfg->cpus, &vmm->kvm.cpuid);
	rc = vmm->xen ? xen_cpuid(vmm->xen, &cpuid, vcpu->index) : 0;
	if (!rc)
		rc = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	if (!rc)
		rc = boot_cpu_setup_common(vcpu->fd);
	/* Only the bootstrap processor starts at the kernel; the others wait for INIT/SIPI. */
	if (!rc && vcpu->index == 0)
		rc = boot_cpu_setup_bsp(vcpu->fd, entry->rip, entry->zero_page);
	if (rc)
		log_error("vCPU %u set-up: %s", vcpu->index, strerror(-rc));
	return rc;
}

static void vmm_vcpu_stop(void *ctx, enum vcpu_stop_reason reason, const char *why)
{
	struct vmm *vmm = ctx;
	static const int status[] = {
		[VCPU_STOP_POWEROFF] = VMM_EXIT_OK,
		[VCPU_STOP_REBOOT] = VMM_EXIT_OK,
		[VCPU_STOP_PANIC] = VMM_EXIT_PANIC,
		[VCPU_STOP_FATAL] = VMM_EXIT_RUNTIME,
	};

	vmm_request_stop(vmm, status[reason], why);
}

/* --xen: KVM's Xen emulation and azote's Xen platform (hypercalls, xenstore, PV console). */
static int vmm_create_xen(struct vmm *vmm)
{
	struct xen_config c = {.vm_fd = vmm->vm_fd,
			       .ncpus = vmm->cfg->cpus,
			       .major = vmm->cfg->xen_major,
			       .minor = vmm->cfg->xen_minor,
			       .mem = &vmm->mem,
			       .console_fd = STDOUT_FILENO,
			       .stop = vmm_vcpu_stop,
			       .stop_ctx = vmm,
			       .stats = vmm->cfg->exit_stats};

	return xen_create(&vmm->xen, &c);
}

static int vmm_create_vcpus(struct vmm *vmm, const struct linux_boot_entry *entry)
{
	struct kvm_cpuid2 *supported = NULL;
	int rc = cpuid_supported(vmm->kvm.fd, &supported);

	if (rc) {
		log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(-rc));
		return rc;
	}
	vmm->vcpu_env = (struct vcpu_env){.pio = &vmm->pio,
					  .mmio = &vmm->mmio,
					  .coalesced = &vmm->coalesced,
					  .stop = vmm_vcpu_stop,
					  .stop_ctx = vmm,
					  .run_size = vmm->kvm.run_size,
					  .seccomp_level = vmm->cfg->seccomp_level,
					  .xen_exit = vmm->xen ? xen_vcpu_exit : NULL,
					  .pre_run = vmm->xen ? xen_vcpu_pre_run : NULL,
					  .xen_ctx = vmm->xen};
	vmm->vcpus = calloc(vmm->cfg->cpus, sizeof(*vmm->vcpus));
	if (!vmm->vcpus)
		rc = -ENOMEM;
	for (unsigned i = 0; !rc && i < vmm->cfg->cpus; i++) {
		rc = vcpu_init(&vmm->vcpus[i], vmm->vm_fd, i, &vmm->vcpu_env);
		if (rc) {
			log_error("vCPU %u: KVM_CREATE_VCPU: %s", i, strerror(-rc));
			break;
		}
		vmm->nvcpus_ready = i + 1;
		rc = vmm_setup_vcpu(vmm, &vmm->vcpus[i], supported, entry);
	}
	if (vmm->xen)
		xen_set_vcpus(vmm->xen, vmm->vcpus, vmm->nvcpus_ready);
	free(supported);
	return rc;
}

/* The fields a machine owns, as they are before it is built (and after it is undone). */
static void vmm_machine_clear(struct vmm *vmm)
{
	vmm->kvm.fd = vmm->vm_fd = vmm->serial_efd = vmm->drain_tfd = -1;
	vmm->mem = (struct guest_mem){.memfd = -1};
	vmm->pio = (struct iobus){0};
	vmm->mmio = (struct iobus){0};
	vmm->coalesced = (struct coalesced){0};
	vmm->vcpus = NULL;
	vmm->nvcpus_ready = 0;
	vmm->irq_ready = false;
	vmm->pci = NULL;
	vmm->serial = NULL;
	vmm->acpi_pm = NULL;
	vmm->i8042 = NULL;
	vmm->pvpanic = NULL;
	vmm->xen = NULL;
}

/* Undo a machine, built or half-built: vCPU threads first, nothing may touch devices or
 * memory once they are gone. */
static void vmm_machine_destroy(struct vmm *vmm)
{
	vmm_loop_detach(vmm);
	if (vmm->xen)
		xen_detach_loop(vmm->xen, &vmm->loop);
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_kick(&vmm->vcpus[i]);
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_fini(&vmm->vcpus[i]);
	free(vmm->vcpus);
	vmm_cards_destroy(vmm);
	pci_host_destroy(vmm->pci);
	xen_destroy(vmm->xen);
	if (vmm->irq_ready)
		kvm_irq_fini(&vmm->irq);
	if (vmm->coalesced.ring)
		coalesced_fini(&vmm->coalesced);
	pvpanic_destroy(vmm->pvpanic);
	i8042_destroy(vmm->i8042);
	acpi_pm_destroy(vmm->acpi_pm);
	serial_destroy(vmm->serial);
	if (vmm->serial_efd >= 0)
		close(vmm->serial_efd);
	guest_mem_fini(&vmm->mem);
	if (vmm->vm_fd >= 0)
		close(vmm->vm_fd);
	kvm_sys_close(&vmm->kvm);
	vmm_machine_clear(vmm);
	vmm->booted = false;
}

int vmm_new(struct vmm **out, const struct vm_config *cfg)
{
	struct vmm *vmm = calloc(1, sizeof(*vmm));
	int rc;

	if (!vmm)
		return -ENOMEM;
	vmm->cfg = cfg;
	vmm->stop_efd = vmm->signal_fd = -1;
	vmm->loop.epfd = -1;
	vmm_machine_clear(vmm);
	rc = vmm_loop_open(vmm);
	if (rc) {
		log_error("event loop: %s", strerror(-rc));
		vmm_destroy(vmm);
		return rc;
	}
	*out = vmm;
	return 0;
}

int vmm_boot(struct vmm *vmm)
{
	struct linux_boot_entry entry;
	struct config_error err;
	int rc;

	if (vmm->booted)
		return -EALREADY;
	rc = vm_config_validate(vmm->cfg, &err);
	if (rc)
		log_error("%s", err.msg);
	if (!rc)
		rc = kvm_sys_open(&vmm->kvm, KVM_DEVICE);
	if (!rc)
		rc = vmm_check_host(vmm);
	if (!rc && vmm->cfg->xen)
		rc = xen_check(vmm->kvm.fd);
	if (!rc)
		coalesced_init(&vmm->coalesced, vmm->kvm.fd, vmm->kvm.run_size);
	if (!rc)
		rc = vmm_create_vm(vmm);
	if (!rc)
		rc = vmm_create_memory(vmm);
	if (!rc && vmm->cfg->xen)
		rc = vmm_create_xen(vmm);
	if (!rc)
		rc = vmm_create_devices(vmm);
	if (!rc)
		rc = vmm_create_pci(vmm);
	if (!rc && vmm->xen)
		rc = xen_add_devices(vmm->xen, vmm->pci, &vmm->pio);
	if (!rc)
		rc = vmm_cards_create(vmm);
	if (!rc)
		rc = vmm_load_guest(vmm, &entry);
	if (!rc)
		rc = vmm_create_vcpus(vmm, &entry);
	if (!rc)
		rc = vmm_loop_attach(vmm);
	if (!rc && vmm->xen) {
		rc = xen_attach_loop(vmm->xen, &vmm->loop);
		xen_set_running(vmm->xen);
	}
	/* Said once the VM is built, so that bad input gets its one-line error alone. */
	if (!rc && !vmm->kvm.hw_virt)
		log_warn("this host's KVM has no hardware virtualization (no vmx/svm: PVM or "
			 "emulation only); the guest will run very slowly");
	if (!rc)
		seccomp_set_fatal_hook(vmm_on_seccomp_kill, vmm);
	for (unsigned i = 0; !rc && i < vmm->nvcpus_ready; i++)
		rc = vcpu_start(&vmm->vcpus[i]);
	/* Everything is open, mapped and started (device processes included): from here this
	 * thread only serves the loop, the API and the console, under the vmm filter. */
	if (!rc)
		rc = seccomp_install(SECCOMP_ROLE_VMM, vmm->cfg->seccomp_level);
	if (rc) {
		vmm_machine_destroy(vmm);
		return rc;
	}
	vmm->booted = true;
	return 0;
}

int vmm_create(struct vmm **out, const struct vm_config *cfg)
{
	int rc = vmm_new(out, cfg);

	if (!rc) {
		rc = vmm_boot(*out);
		if (rc) {
			vmm_destroy(*out);
			*out = NULL;
		}
	}
	return rc;
}

void vmm_destroy(struct vmm *vmm)
{
	if (!vmm)
		return;
	seccomp_set_fatal_hook(NULL, NULL);
	vmm_machine_destroy(vmm);
	vmm_loop_close(vmm);
	term_restore(&vmm->term);
	free(vmm);
}
