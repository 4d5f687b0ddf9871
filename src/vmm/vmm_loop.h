/* The VMM's event loop in phases: opened with the process (signals, stop requests: what the API
 * needs before any VM exists), the machine's fds attached when the guest boots and detached if
 * that boot is undone, closed at the end. */
#ifndef AZOTE_VMM_VMM_LOOP_H
#define AZOTE_VMM_VMM_LOOP_H

struct vmm;

__attribute__((warn_unused_result)) int vmm_loop_open(struct vmm *vmm);
/* Serial output, the coalesced-write drain timer, device processes, MSI-X masks, stdin. */
__attribute__((warn_unused_result)) int vmm_loop_attach(struct vmm *vmm);
void vmm_loop_detach(struct vmm *vmm);
void vmm_loop_close(struct vmm *vmm);

#endif
