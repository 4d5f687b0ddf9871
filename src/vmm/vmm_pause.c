#include "vmm/vmm_pause.h"

#include <errno.h>
#include <time.h>

#include "util/log.h"

static void deadline_after_ms(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int vmm_pause(struct vmm *vmm)
{
	struct timespec deadline;
	int rc = 0;

	/* Ask them all first, so that they leave KVM_RUN in parallel. */
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_pause(&vmm->vcpus[i]);
	deadline_after_ms(&deadline, VMM_PAUSE_TIMEOUT_MS);
	for (unsigned i = 0; !rc && i < vmm->nvcpus_ready; i++) {
		rc = vcpu_wait_parked(&vmm->vcpus[i], &deadline);
		if (rc)
			log_error("pause: vCPU %u did not stop within %u ms; the VM keeps running",
				  i, VMM_PAUSE_TIMEOUT_MS);
	}
	if (rc) {
		for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
			vcpu_resume(&vmm->vcpus[i]);
		return rc;
	}
	log_debug("VM paused (%u vCPUs parked)", vmm->nvcpus_ready);
	return 0;
}

int vmm_resume(struct vmm *vmm)
{
	for (unsigned i = 0; i < vmm->nvcpus_ready; i++)
		vcpu_resume(&vmm->vcpus[i]);
	return 0;
}

bool vmm_is_paused(struct vmm *vmm)
{
	return vmm->nvcpus_ready && vcpu_pause_requested(&vmm->vcpus[0]);
}
