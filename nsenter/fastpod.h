/*
 * fastpod.h: the manifest fast path (`sandbox run POD.yaml` without the Go
 * runtime): fastpod.c runs the pod, fastpodcfg.c builds what the Go
 * supervisor would give its container.
 */
#ifndef SANDBOX_FASTPOD_H
#define SANDBOX_FASTPOD_H

#include <stdint.h>

#include "fastutil.h"
#include "podspec.h"

/* The pod files of a pod's state directory (supervisor: package podfiles),
 * below STATE/podfiles. */
struct fastpod_files {
	struct buf hosts, hostname, resolv;
};

/*
 * fastpod_files builds the contents of the pod files the supervisor writes
 * for ps. It returns -1 when Go must decide.
 */
int fastpod_files(const struct podspec *ps, struct fastpod_files *out);

/*
 * fastpod_records appends to out the C init's records for the container of
 * ps, from 'V' to 'Z', byte for byte what the Go supervisor sends after the
 * mode byte (containerinit.EncodeC of supervisor containerConfig), for a
 * rootless pod whose state directory is state_dir. It returns -1 when Go
 * must decide.
 */
int fastpod_records(const struct podspec *ps, const char *state_dir, struct buf *out);

/* sandbox_fastpod_seccomp is the default seccomp program (seccomp_default.h),
 * NULL on an architecture without one. */
const void *sandbox_fastpod_seccomp(size_t *len);

/* fastpod_bounding sets *mask to the default capabilities' mask and the
 * caller's bounding set, as fastSecurityOf computes a container's: 0 when
 * the bounding set holds them all, -1 otherwise (or unknown). */
int fastpod_bounding(uint64_t *mask);

#endif
