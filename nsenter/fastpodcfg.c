/*
 * fastpodcfg.c: what the Go supervisor gives the container of a fast
 * manifest pod (`sandbox run POD.yaml`, fastpod.c runs it): the pod files
 * of its state directory and the C init's records, byte for byte.
 *
 * The pod is podspec.h's subset: one container on the host's root
 * filesystem, network "none", no volumes, no securityContext, no dnsConfig
 * or hostAliases; the caller is not root (the pod gets a user namespace and
 * the container becomes its root: no --keep-id). For that pod:
 *
 *   fastpod_files    is supervisor writePodFiles: podfiles.HostsWithIP (no
 *                    pod IP), podfiles.Hostname and podfiles.ResolvConf of
 *                    the host's /etc/resolv.conf;
 *   fastpod_records  is containerinit.EncodeC of supervisor containerConfig
 *                    (containerEnv, rootfsSpec, volumeBinds, initSecurity)
 *                    with SeccompProgram(pod.DefaultCapabilities), which
 *                    seccomp_default.h holds (containerinit/mkseccompc.go
 *                    writes it).
 *
 * Neither writes anything: the supervisor's side effects are the caller's
 * (fastpod.c): STATE/podfiles (mode 0755) with hosts, hostname and
 * resolv.conf (0644), and the scratch directory STATE/containers/NAME
 * (0700, rootfsSpec's MkdirAll). Anything these functions cannot
 * reproduce exactly returns -1: Go decides. supervisor/fastpod_linux_test.go
 * compares both with the Go code on a table of pods.
 */
/* The -D_GNU_SOURCE of a syntax check, or ours. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastpod.h"
#include "seccomp_default.h"

/* fastrun.c: pod.CapabilityNames in the kernel's order, NULL past the end
 * (TestFastRunCapabilityNames keeps it equal to Go's). */
const char *sandbox_fastrun_cap_name(int i);

/* The C init's record format version (containerinit.CFormatVersion). */
enum { cformat_version = 3 };

/* pod.DefaultCapabilities: EffectiveSecurity's set for a container without
 * a securityContext. */
static const char *const default_caps[] = {
	"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE",
	"SYS_CHROOT", "SETFCAP",
};

/* rootfs.DefaultMaskPaths and rootfs.DefaultReadonlyPaths: the container is
 * not privileged, so Security.MaskPaths is set. */
static const char *const mask_paths[] = {
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/dev/block",
	"/sys/devices/virtual/powercap", "/sys/firmware", "/sys/fs/selinux",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* The pod files: where volumeBinds mounts them, and their names in
 * STATE/podfiles (writePodFiles: filepath.Base). */
static const struct {
	const char *dst, *base;
} pod_files[] = {{"/etc/hosts", "hosts"}, {"/etc/hostname", "hostname"}, {"/etc/resolv.conf", "resolv.conf"}};

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small pieces ------------------------------------------------------ */

/* put_state_path appends filepath.Join(state_dir, a, b) for a clean
 * absolute state_dir and clean relative a and b (b may be NULL). */
static void put_state_path(struct buf *b, const char *state_dir, const char *a, const char *c)
{
	if (strcmp(state_dir, "/") != 0)
		buf_puts(b, state_dir);
	buf_puts(b, "/");
	buf_puts(b, a);
	if (c != NULL) {
		buf_puts(b, "/");
		buf_puts(b, c);
	}
}

/* rec_path is buf_rec_str of filepath.Join(state_dir, a, c). */
static void rec_path(struct buf *out, char tag, const char *state_dir, const char *a, const char *c)
{
	struct buf p = {0};

	put_state_path(&p, state_dir, a, c);
	if (p.oom)
		out->oom = 1;
	else
		buf_rec(out, tag, p.p, p.len);
	free(p.p);
}

/* rec_env appends an 'e' record "NAME=VALUE". */
static void rec_env(struct buf *out, const char *name, const char *value)
{
	uint32_t n = (uint32_t)(strlen(name) + 1 + strlen(value));
	char tag = 'e';

	buf_put(out, &tag, 1);
	buf_put(out, &n, 4);
	buf_puts(out, name);
	buf_puts(out, "=");
	buf_puts(out, value);
}

/* env_set is whether the manifest's env names name. */
static int env_set(const struct podspec *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->nenv; i++)
		if (strcmp(ps->env[i].name, name) == 0)
			return 1;
	return 0;
}

/*
 * put_env mirrors supervisor containerEnv for uid 0: PATH
 * (containerinit.DefaultPath), HOSTNAME and HOME=/root unless the manifest
 * sets them, then the manifest's variables in order, a later duplicate
 * replacing the first one's value in place. So each name goes out once, at
 * its first place (after the defaults), with its last value.
 */
static void put_env(struct buf *out, const struct podspec *ps)
{
	const char *defaults[3][2] = {
		{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		{"HOSTNAME", ps->hostname},
		{"HOME", "/root"},
	};
	size_t i, j;

	for (i = 0; i < 3; i++)
		if (!env_set(ps, defaults[i][0]))
			rec_env(out, defaults[i][0], defaults[i][1]);
	for (i = 0; i < ps->nenv; i++) {
		const char *name = ps->env[i].name, *value = ps->env[i].value;
		int first = 1;

		for (j = 0; j < i && first; j++)
			first = strcmp(ps->env[j].name, name) != 0;
		if (!first)
			continue;
		for (j = i + 1; j < ps->nenv; j++)
			if (strcmp(ps->env[j].name, name) == 0)
				value = ps->env[j].value;
		rec_env(out, name, value != NULL ? value : "");
	}
}

/* ---- the pod files ------------------------------------------------------ */

/*
 * fastpod_files mirrors supervisor writePodFiles for ps: /etc/hosts as
 * podfiles.HostsWithIP without a pod IP and without hostAliases (fastutil.c's
 * podfile_hosts writes the same bytes), /etc/hostname, and /etc/resolv.conf
 * from the host's.
 */
int fastpod_files(const struct podspec *ps, struct fastpod_files *out)
{
	memset(out, 0, sizeof(*out));
	if (ps->hostname == NULL || ps->hostname[0] == '\0')
		return -1;
	podfile_hosts(&out->hosts, ps->hostname);
	buf_puts(&out->hostname, ps->hostname);
	buf_puts(&out->hostname, "\n");
	if (podfile_resolv_conf(&out->resolv) < 0 || out->hosts.oom || out->hostname.oom || out->resolv.oom) {
		free(out->hosts.p);
		free(out->hostname.p);
		free(out->resolv.p);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

/* ---- the records -------------------------------------------------------- */

/* default_mask is the mask of pod.DefaultCapabilities (bit N is
 * pod.CapabilityNames[N]) and the number of names; -1 if one is unknown. */
static int default_mask(uint64_t *mask, uint32_t *ncaps)
{
	size_t i;
	int c;

	*mask = 0;
	*ncaps = 0;
	while (sandbox_fastrun_cap_name((int)*ncaps) != NULL)
		(*ncaps)++;
	for (i = 0; i < LEN(default_caps); i++) {
		for (c = 0; c < (int)*ncaps && strcmp(sandbox_fastrun_cap_name(c), default_caps[i]) != 0; c++)
			;
		if (c == (int)*ncaps || c >= 64)
			return -1;
		*mask |= 1ULL << c;
	}
	return 0;
}

int fastpod_bounding(uint64_t *mask)
{
	uint64_t own = 0;
	uint32_t n;
	int c;

	if (default_mask(mask, &n) < 0)
		return -1;
	/* supervisor ownBounding: PR_CAPBSET_READ until it fails. */
	for (c = 0; c < 64; c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			break;
		if (in == 1)
			own |= 1ULL << c;
	}
	if ((*mask & own) != *mask) {
		*mask &= own;
		return -1;
	}
	return 0;
}

/*
 * fastpod_records mirrors containerinit.EncodeC (after the mode byte) of
 * supervisor containerConfig for the container of ps, the pod's first and
 * only one (it does the pod setup: 'H'), in a rootless pod (BecomeRoot)
 * with network "none" (no 'L') on the host root (no 'r'; read-only
 * whatever 'o' says, which readOnlyRootFilesystem alone sets).
 */
int fastpod_records(const struct podspec *ps, const char *state_dir, struct buf *out)
{
	uint32_t version = cformat_version, uid = 0, gid = 0, ncaps = 0;
	uint64_t mask = 0;
	unsigned char sec[21];
	size_t i;
	int c;

#ifndef SECCOMP_DEFAULT_PROGRAM
	return -1; /* no default profile compiled in for this architecture */
#endif
	if (ps->name == NULL || ps->container == NULL || ps->hostname == NULL || ps->argv == NULL ||
	    ps->argc == 0 || (ps->nenv > 0 && ps->env == NULL) || !fast_clean_abs(state_dir))
		return -1;
	/* Validate took the container's name as a DNS label: it is one
	 * element of the scratch directory's path. */
	if (!fast_dns_label(ps->container))
		return -1;
	/* initSecurity of EffectiveSecurity without a securityContext: uid
	 * and gid 0, the default capabilities, no_new_privs, seccomp. */
	if (default_mask(&mask, &ncaps) < 0)
		return -1;

	buf_rec(out, 'V', &version, 4);
	buf_rec_str(out, 'n', ps->container);
	for (i = 0; i < ps->argc; i++)
		buf_rec_str(out, 'a', ps->argv[i]);
	put_env(out, ps);
	if (ps->working_dir != NULL && ps->working_dir[0] != '\0')
		buf_rec_str(out, 'w', ps->working_dir);
	buf_rec(out, 'R', NULL, 0); /* a user namespace, no --keep-id */
	buf_rec_str(out, 'H', ps->hostname);
	/* rootfsSpec: an image directory is the root; the host root gets a
	 * scratch directory; then the pod's shm. */
	if (ps->rootfs != NULL)
		buf_rec_str(out, 'r', ps->rootfs);
	else
		rec_path(out, 's', state_dir, "containers", ps->container);
	rec_path(out, 'm', state_dir, "shm", NULL);
	/* volumeBinds: no volumes, then the pod files read-only; on the host
	 * root, each only where the read-only host root has a regular file to
	 * mount on (os.Stat follows a symlink: resolv.conf -> ../run/...). */
	for (i = 0; i < LEN(pod_files); i++) {
		struct buf b = {0};
		struct stat st;

		if (ps->rootfs == NULL && (stat(pod_files[i].dst, &st) < 0 || !S_ISREG(st.st_mode)))
			continue;
		buf_put(&b, "\1", 1);
		put_state_path(&b, state_dir, "podfiles", pod_files[i].base);
		buf_put(&b, "", 1);
		buf_puts(&b, pod_files[i].dst);
		if (b.oom)
			out->oom = 1;
		else
			buf_rec(out, 'b', b.p, b.len);
		free(b.p);
	}
	for (i = 0; i < LEN(mask_paths); i++)
		buf_rec_str(out, 'k', mask_paths[i]);
	for (i = 0; i < LEN(readonly_paths); i++)
		buf_rec_str(out, 'p', readonly_paths[i]);
	memcpy(sec, &uid, 4);
	memcpy(sec + 4, &gid, 4);
	memcpy(sec + 8, &mask, 8);
	sec[16] = 1; /* no_new_privs */
	{
		uint32_t n = LEN(default_caps);
		memcpy(sec + 17, &n, 4);
	}
	buf_rec(out, 'S', sec, sizeof(sec));
	for (c = 0; c < (int)ncaps; c++)
		buf_rec_str(out, 'c', sandbox_fastrun_cap_name(c));
#ifdef SECCOMP_DEFAULT_PROGRAM
	buf_rec(out, 'F', seccomp_default, sizeof(seccomp_default));
#endif
	buf_rec(out, 'Z', NULL, 0);
	return out->oom ? -1 : 0;
}

/* ---- for the Go tests (fastpodcfg.go) ----------------------------------- */

/* sandbox_fastpod_seccomp is seccomp_default.h's program, NULL without
 * one: TestFastPodSeccompHeaderMatchesProgram compares it with Go's. */
const void *sandbox_fastpod_seccomp(size_t *len)
{
#ifdef SECCOMP_DEFAULT_PROGRAM
	*len = sizeof(seccomp_default);
	return seccomp_default;
#else
	*len = 0;
	return NULL;
#endif
}
