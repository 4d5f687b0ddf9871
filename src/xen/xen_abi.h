/* The Xen guest ABI azote presents with --xen: hypercall and sub-operation numbers, and the
 * byte layouts of the structures guests pass, written from Xen's public headers
 * (xen/include/public: xen.h, version.h, features.h, memory.h, hvm/params.h, hvm/hvm_op.h,
 * event_channel.h, grant_table.h, sched.h, vcpu.h, io/xs_wire.h, io/console.h). 64-bit guests
 * only: offsets are those of the x86_64 ABI. Guests' structures are read and written as bytes
 * at these offsets, never by casting guest memory. */
#ifndef AZOTE_XEN_XEN_ABI_H
#define AZOTE_XEN_XEN_ABI_H

#include <stdint.h>

#define XEN_PAGE_SIZE  4096u
#define XEN_PAGE_SHIFT 12
#define XEN_DOMID_SELF 0x7ff0u
#define XEN_HCALL_MSR  0x40000000u /* where the guest asks for the hypercall page */

/* Hypercall numbers (xen.h). */
enum {
	XEN_HC_memory_op = 12,
	XEN_HC_multicall = 13,
	XEN_HC_set_timer_op = 15,
	XEN_HC_xen_version = 17,
	XEN_HC_console_io = 18,
	XEN_HC_grant_table_op = 20,
	XEN_HC_vm_assist = 21,
	XEN_HC_vcpu_op = 24,
	XEN_HC_xsm_op = 27,
	XEN_HC_nmi_op = 28,
	XEN_HC_sched_op = 29,
	XEN_HC_callback_op = 30,
	XEN_HC_event_channel_op = 32,
	XEN_HC_physdev_op = 33,
	XEN_HC_hvm_op = 34,
};

/* VIRQs (xen.h). */
#define XEN_VIRQ_TIMER 0
#define XEN_NR_VIRQS   24

/* shared_info: 32 vcpu_info of 64 bytes, then the 2-level pending and mask bitmaps. */
#define XEN_LEGACY_MAX_VCPUS	 32
#define XEN_VCPU_INFO_SIZE	 64
#define XEN_SHINFO_EVTCHN_PENDING 2048
#define XEN_SHINFO_EVTCHN_MASK	 2560

/* xen_version (version.h). */
enum {
	XENVER_version = 0,
	XENVER_extraversion = 1, /* char[16] */
	XENVER_compile_info = 2, /* char[64] + char[16] + char[32] + char[32] */
	XENVER_capabilities = 3, /* char[1024] */
	XENVER_changeset = 4,	 /* char[64] */
	XENVER_platform_parameters = 5, /* xen_ulong_t virt_start */
	XENVER_get_features = 6, /* uint32 submap_idx, uint32 submap */
	XENVER_pagesize = 7,
	XENVER_guest_handle = 8, /* uint8[16] */
	XENVER_commandline = 9,	 /* char[1024] */
};
#define XEN_COMPILE_INFO_SIZE 144

/* Feature bits of submap 0 (features.h). */
#define XENFEAT_writable_page_tables	0
#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_supervisor_mode_kernel	3
#define XENFEAT_hvm_callback_vector	8
#define XENFEAT_hvm_safe_pvclock	9

/* memory_op (memory.h): the sub-command is in the low 6 bits. */
#define XENMEM_CMD_MASK 0x3f
enum {
	XENMEM_increase_reservation = 0,
	XENMEM_decrease_reservation = 1,
	XENMEM_maximum_ram_page = 2,
	XENMEM_current_reservation = 3,
	XENMEM_maximum_reservation = 4,
	XENMEM_populate_physmap = 6,
	XENMEM_add_to_physmap = 7,
	XENMEM_memory_map = 9,
	XENMEM_maximum_gpfn = 14,
	XENMEM_remove_from_physmap = 15,
};
/* struct xen_add_to_physmap: domid u16 @0, size u16 @2, space u32 @4, idx u64 @8, gpfn u64 @16 */
#define XEN_ATP_SIZE 24
#define XENMAPSPACE_shared_info	     0
#define XENMAPSPACE_grant_table	     1
#define XENMAPIDX_grant_table_status 0x80000000u
/* struct xen_memory_map: nr_entries u32 @0, buffer handle u64 @8; entries are e820 (20 bytes). */
#define XEN_MEMMAP_SIZE	     16
#define XEN_E820_ENTRY_SIZE  20
/* struct xen_remove_from_physmap: domid u16 @0, gpfn u64 @8 */
#define XEN_RFP_SIZE 16

/* hvm_op (hvm/hvm_op.h) and its parameters (hvm/params.h). */
enum {
	HVMOP_set_param = 0,
	HVMOP_get_param = 1,
	HVMOP_pagetable_dying = 9,
	HVMOP_set_evtchn_upcall_vector = 23,
};
/* struct xen_hvm_param: domid u16 @0, index u32 @4, value u64 @8 */
#define XEN_HVM_PARAM_SIZE 16
/* struct xen_hvm_evtchn_upcall_vector: vcpu u32 @0, vector u8 @4 */
#define XEN_UPCALL_VECTOR_SIZE 8
enum {
	HVM_PARAM_CALLBACK_IRQ = 0,
	HVM_PARAM_STORE_PFN = 1,
	HVM_PARAM_STORE_EVTCHN = 2,
	HVM_PARAM_PAE_ENABLED = 4,
	HVM_PARAM_TIMER_MODE = 10,
	HVM_PARAM_CONSOLE_PFN = 17,
	HVM_PARAM_CONSOLE_EVTCHN = 18,
	HVM_NR_PARAMS = 39,
};
#define HVM_PARAM_CALLBACK_TYPE_SHIFT  56
#define HVM_PARAM_CALLBACK_TYPE_VECTOR 2

/* event_channel_op (event_channel.h). */
enum {
	EVTCHNOP_bind_interdomain = 0, /* remote_dom u16 @0, remote_port u32 @4, local_port @8 */
	EVTCHNOP_bind_virq = 1,	       /* virq u32 @0, vcpu u32 @4, port @8 */
	EVTCHNOP_bind_pirq = 2,
	EVTCHNOP_close = 3,	  /* port @0 */
	EVTCHNOP_send = 4,	  /* port @0 */
	EVTCHNOP_status = 5,	  /* dom u16 @0, port @4, status @8, vcpu @12, u @16 (dom, port) */
	EVTCHNOP_alloc_unbound = 6, /* dom u16 @0, remote_dom u16 @2, port @4 */
	EVTCHNOP_bind_ipi = 7,	  /* vcpu @0, port @4 */
	EVTCHNOP_bind_vcpu = 8,	  /* port @0, vcpu @4 */
	EVTCHNOP_unmask = 9,	  /* port @0 */
	EVTCHNOP_reset = 10,	  /* dom u16 @0 */
	EVTCHNOP_init_control = 11,
	EVTCHNOP_expand_array = 12,
	EVTCHNOP_set_priority = 13,
};
/* Port states, as EVTCHNOP_status reports them. */
enum {
	EVTCHNSTAT_closed = 0,
	EVTCHNSTAT_unbound = 1,
	EVTCHNSTAT_interdomain = 2,
	EVTCHNSTAT_pirq = 3,
	EVTCHNSTAT_virq = 4,
	EVTCHNSTAT_ipi = 5,
};

/* grant_table_op (grant_table.h). */
enum {
	GNTTABOP_setup_table = 2, /* dom u16 @0, nr_frames u32 @4, status i16 @8, frame_list @16 */
	GNTTABOP_query_size = 6,  /* dom u16 @0, nr_frames @4, max_nr_frames @8, status i16 @12 */
	GNTTABOP_set_version = 8, /* version u32 @0 */
	GNTTABOP_get_version = 10, /* dom u16 @0, pad, version u32 @4 */
};
#define GNTST_okay	       0
#define GNTST_general_error    (-1)
#define GNTST_bad_domain       (-2)
#define GNTST_bad_gntref       (-3)
#define GNTST_permission_denied (-8)
/* grant_entry_v1: flags u16 @0, domid u16 @2, frame u32 @4 */
#define XEN_GNT_V1_SIZE	   8
#define XEN_GNT_PER_FRAME  (XEN_PAGE_SIZE / XEN_GNT_V1_SIZE)
#define GTF_type_mask	   3u
#define GTF_permit_access  1u
#define GTF_readonly	   (1u << 2)
#define GTF_reading	   (1u << 3)
#define GTF_writing	   (1u << 4)

/* sched_op (sched.h). */
enum {
	SCHEDOP_yield = 0,
	SCHEDOP_block = 1,
	SCHEDOP_shutdown = 2, /* reason u32 @0 */
	SCHEDOP_poll = 3,
	SCHEDOP_shutdown_code = 5,
};
enum {
	SHUTDOWN_poweroff = 0,
	SHUTDOWN_reboot = 1,
	SHUTDOWN_suspend = 2,
	SHUTDOWN_crash = 3,
	SHUTDOWN_watchdog = 4,
};

/* vcpu_op (vcpu.h). */
enum {
	VCPUOP_is_up = 3,
	VCPUOP_register_runstate_memory_area = 5, /* guest virtual address u64 @0 */
	VCPUOP_set_periodic_timer = 6,
	VCPUOP_stop_periodic_timer = 7,
	VCPUOP_set_singleshot_timer = 8, /* timeout_abs_ns u64 @0, flags u32 @8 */
	VCPUOP_stop_singleshot_timer = 9,
	VCPUOP_register_vcpu_info = 10, /* mfn u64 @0, offset u32 @8, rsvd u32 @12 */
	VCPUOP_register_vcpu_time_memory_area = 13, /* guest virtual address u64 @0 */
};

/* CPUID leaves (arch-x86/cpuid.h): leaf 4 is HVM-specific. */
#define XEN_CPUID_BASE		     0x40000000u
#define XEN_HVM_CPUID_VCPU_ID_PRESENT (1u << 3)
#define XEN_HVM_CPUID_DOMID_PRESENT  (1u << 4)

/* The xenstore ring page (io/xs_wire.h). */
#define XENSTORE_RING_SIZE   1024u
#define XS_RING_REQ	     0
#define XS_RING_RSP	     1024
#define XS_RING_REQ_CONS     2048
#define XS_RING_REQ_PROD     2052
#define XS_RING_RSP_CONS     2056
#define XS_RING_RSP_PROD     2060
#define XS_RING_SERVER_FEATURES 2064
#define XS_RING_CONNECTION   2068
#define XENSTORE_PAYLOAD_MAX 4096u
#define XENSTORE_ABS_PATH_MAX 3072u
#define XS_HEADER_SIZE	     16 /* type, req_id, tx_id, len: u32 each */

enum xs_msg_type {
	XS_CONTROL = 0,
	XS_DIRECTORY = 1,
	XS_READ = 2,
	XS_GET_PERMS = 3,
	XS_WATCH = 4,
	XS_UNWATCH = 5,
	XS_TRANSACTION_START = 6,
	XS_TRANSACTION_END = 7,
	XS_INTRODUCE = 8,
	XS_RELEASE = 9,
	XS_GET_DOMAIN_PATH = 10,
	XS_WRITE = 11,
	XS_MKDIR = 12,
	XS_RM = 13,
	XS_SET_PERMS = 14,
	XS_WATCH_EVENT = 15,
	XS_ERROR = 16,
	XS_IS_DOMAIN_INTRODUCED = 17,
	XS_RESUME = 18,
	XS_SET_TARGET = 19,
	XS_RESET_WATCHES = 21,
};

/* The console ring page (io/console.h). */
#define XENCONS_IN	 0
#define XENCONS_IN_SIZE	 1024u
#define XENCONS_OUT	 1024
#define XENCONS_OUT_SIZE 2048u
#define XENCONS_IN_CONS	 3072
#define XENCONS_IN_PROD	 3076
#define XENCONS_OUT_CONS 3080
#define XENCONS_OUT_PROD 3084

/* The platform PCI device and its unplug ports (docs/misc/hvm-emulated-unplug). */
#define XEN_PLATFORM_VENDOR  0x5853
#define XEN_PLATFORM_DEVICE  0x0001
#define XEN_PLATFORM_CLASS   0xff8000
#define XEN_IOPORT_BASE	     0x10
#define XEN_IOPORT_MAGIC_VAL 0x49d2
#define XEN_IOPORT_PROTOVER  1

#endif
