/* Shared by the fast paths (fastexec.c: `sandbox exec`; fastrun.c:
 * `sandbox run -- CMD`) and cinit.c. */
#ifndef SANDBOX_FASTEXEC_H
#define SANDBOX_FASTEXEC_H

#include <signal.h>
#include <stdint.h>

/* The signals both fast paths pass on to the command, as the Go CLI's
 * signal.Notify lists them (cmd/sandbox/adhoc.go, exec.go). */
static const int sandbox_forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define SANDBOX_NFORWARDED ((int)(sizeof(sandbox_forwarded_signals) / sizeof(sandbox_forwarded_signals[0])))

/* An exec's config as the CLI built it: what the 'X' records carry. */
struct cexec_direct {
	char **argv; /* NULL-terminated */
	int argc;
	char **env; /* NULL-terminated */
	int nenv;
	const char *workdir;
	uint32_t uid, gid;
	uint64_t bnd, prm, eff, inh, amb;
	int nnp;
	uint32_t *groups;
	int ngroups;
	const void *filter; /* struct sock_filter array */
	int nfilter;
	int err_fd;
};

void sandbox_cexec_direct(const struct cexec_direct *d) __attribute__((noreturn)); /* cinit.c */
void sandbox_fastexec(int argc, char **argv);                                       /* fastexec.c */

/* sandbox_proc_stat reads the state, flags and start time (fields 3, 9 and
 * 22) of /proc/PID/stat; 0 or -1 (fastexec.c). */
int sandbox_proc_stat(int pid, char *st, uint64_t *flags, uint64_t *start);

#endif
