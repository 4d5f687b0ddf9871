/* azote: command line -> configuration -> VM -> exit status. */
#include <signal.h>
#include <stdio.h>

#include "config/vm_config.h"
#include "util/log.h"
#include "vmm/vmm.h"

#define AZOTE_VERSION "0.1.0"

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct config_error err;
	struct vmm *vmm;
	int status;

	switch (cli_parse(argc, argv, &cfg, &err)) {
	case CLI_HELP:
		cli_usage();
		return 0;
	case CLI_VERSION:
		printf("azote %s\n", AZOTE_VERSION);
		return 0;
	case CLI_ERROR:
		log_error("%s", err.msg);
		return VMM_EXIT_BAD_INPUT;
	case CLI_OK:
		break;
	}
	/* A closed stdout must count as dropped console output, not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);
	if (cfg.quiet)
		log_set_level(LOG_ERROR);
	if (vmm_create(&vmm, &cfg))
		return VMM_EXIT_BAD_INPUT;
	status = vmm_run(vmm);
	vmm_destroy(vmm);
	return status;
}
