/* Shared by fastexec.c (the `sandbox exec` fast path) and cinit.c. */
#ifndef SANDBOX_FASTEXEC_H
#define SANDBOX_FASTEXEC_H

#include <stdint.h>

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

#endif
