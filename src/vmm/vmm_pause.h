/* Pause and resume a running VM (Firecracker's PATCH /vm {"state": "Paused" | "Resumed"}).
 *
 * Paused means every vCPU thread is out of KVM_RUN and asleep on a condition variable: no guest
 * instruction runs and no vCPU thread spins. Everything else keeps running: the event loop (the
 * console, signals, the API), and the device processes, which may still complete requests the
 * guest queued before the pause (their interrupts stay pending in KVM until it resumes).
 *
 * Guest time across a pause: the guest's clocks (kvmclock, TSC) are derived from the host's,
 * which keep going, so after a resume the guest's monotonic and wall clocks have jumped forward
 * by the length of the pause: wall-clock time stays right, and timers that expired meanwhile
 * fire at once. Firecracker does nothing more. The one extra step here: each vCPU tells a
 * kvmclock guest that the host stopped it (KVM_KVMCLOCK_CTRL), so that the guest's soft-lockup
 * and RCU-stall detectors do not report the gap as a guest hang.
 *
 * Threads: call both from the VMM's event-loop thread (the one that starts and stops vCPUs). */
#ifndef AZOTE_VMM_VMM_PAUSE_H
#define AZOTE_VMM_VMM_PAUSE_H

#include <stdbool.h>

#include "vmm/vmm.h"

/* How long vmm_pause() waits for every vCPU to park before it gives up. */
#define VMM_PAUSE_TIMEOUT_MS 2000

/* Stop every vCPU and return once all are parked (or their threads ended). 0, also when already
 * paused; -ETIMEDOUT when a vCPU did not park in time (logged): the VM is then resumed, so it is
 * either paused or running, never half of each. */
__attribute__((warn_unused_result)) int vmm_pause(struct vmm *vmm);
/* Let every vCPU run again. 0, also when not paused. */
__attribute__((warn_unused_result)) int vmm_resume(struct vmm *vmm);
/* Whether the VM is paused (vmm_pause() succeeded and no vmm_resume() came since). */
bool vmm_is_paused(struct vmm *vmm);

#endif
