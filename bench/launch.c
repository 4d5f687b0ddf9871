/* bench helper: run one VMM and report when it started and ended and its peak RSS.
 *
 * Usage: launch [-t SECONDS] RESULT_FILE CMD [ARG...]
 *
 * Runs CMD with stdin, stdout and stderr inherited and writes two lines to RESULT_FILE: at once
 *   pid=N
 * so that others can look at the running CMD, and when it has ended
 *   start=S.US end=S.US status=N maxrss_kib=N timed_out=0|1
 * start is CLOCK_REALTIME taken in the child just before execvp, the same instant handed to
 * CMD as AZOTE_T0 (azote reports "exec to first KVM_RUN" against it); end is when the child
 * has been reaped, i.e. fully exited and its memory torn down; maxrss_kib is the child's
 * ru_maxrss (VmHWM). Both VMMs are launched the same way, so neither pays for a wrapper the
 * other does not. With -t the child gets SIGKILL after SECONDS (a hung guest must not hang
 * the benchmark). Exit status: the child's, 128+signal if it was killed, 127 if CMD could not
 * be run, 2 on bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void launch_format_time(const struct timespec *ts, char *buf, size_t len)
{
	snprintf(buf, len, "%lld.%06ld", (long long)ts->tv_sec, ts->tv_nsec / 1000);
}

/* In the child: stamp the start, publish it to the parent and to CMD, then become CMD. */
static void launch_exec(struct timespec *shared_start, char **cmd)
{
	char t0[32];

	clock_gettime(CLOCK_REALTIME, shared_start);
	launch_format_time(shared_start, t0, sizeof(t0));
	setenv("AZOTE_T0", t0, 1);
	execvp(cmd[0], cmd);
	fprintf(stderr, "launch: cannot run %s: %s\n", cmd[0], strerror(errno));
	_exit(127);
}

/* Wait for the child, killing it if it outlives timeout_s (0: no limit). */
static int launch_wait(pid_t pid, int timeout_s, int *status, struct rusage *ru, int *timed_out)
{
	int pidfd = pidfd_open(pid, 0);

	*timed_out = 0;
	if (pidfd >= 0 && timeout_s > 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		int rc;

		do
			rc = poll(&p, 1, timeout_s * 1000);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			*timed_out = 1;
			kill(pid, SIGKILL);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	while (wait4(pid, status, 0, ru) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec *start, end;
	struct rusage ru;
	char s_start[32], s_end[32];
	int timeout_s = 0, argi = 1, status, timed_out, code;
	FILE *out;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		timeout_s = atoi(argv[2]);
		argi = 3;
	}
	if (argc - argi < 2) {
		fprintf(stderr, "usage: launch [-t SECONDS] RESULT_FILE CMD [ARG...]\n");
		return 2;
	}
	out = fopen(argv[argi], "we");
	if (!out) {
		fprintf(stderr, "launch: %s: %s\n", argv[argi], strerror(errno));
		return 2;
	}
	/* The child writes its exec instant here; the parent reads it after the child is gone. */
	start =
	    mmap(NULL, sizeof(*start), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (start == MAP_FAILED) {
		perror("launch: mmap");
		return 2;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("launch: fork");
		return 2;
	}
	if (pid == 0)
		launch_exec(start, argv + argi + 1);
	fprintf(out, "pid=%d\n", (int)pid);
	fflush(out);
	if (launch_wait(pid, timeout_s, &status, &ru, &timed_out)) {
		perror("launch: wait4");
		return 2;
	}
	clock_gettime(CLOCK_REALTIME, &end);
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	launch_format_time(start, s_start, sizeof(s_start));
	launch_format_time(&end, s_end, sizeof(s_end));
	fprintf(out, "start=%s end=%s status=%d maxrss_kib=%ld timed_out=%d\n", s_start, s_end,
		code, ru.ru_maxrss, timed_out);
	if (fclose(out)) {
		perror("launch: result file");
		return 2;
	}
	return code;
}
