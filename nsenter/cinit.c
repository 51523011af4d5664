/*
 * cinit.c: the container init in C, for containers whose config is "simple"
 * (the supervisor decides: supervisor/cinit_linux.go). It does what the Go
 * init (package containerinit, rootfs.Setup) does for the subset it
 * supports, step for step, with the same messages, exit codes and --explain
 * lines, so that such a container starts without a Go runtime: the joined
 * child of run_join calls sandbox_cinit() instead of returning, and execs
 * the workload from here. Starting the Go runtime and the package inits of
 * the sandbox binary costs about 2 ms on the critical path; this path costs
 * none of it.
 *
 * Selected by _SANDBOX_CINIT=1 in the join role's environment. The config
 * then arrives on _SANDBOX_CONFIG_FD as (encoder: containerinit/cinit.go,
 * EncodeC; keep both in step):
 *
 *   one byte   'C': the record stream below follows, this file runs it;
 *              'G': a JSON Config follows for the Go init (a container the
 *              supervisor found, after all, not simple): we return and the
 *              Go runtime starts and reads the rest of the pipe.
 *   records    until 'Z', each: tag (1 byte), length (uint32, native
 *              byte order: both ends run on this machine), payload. The
 *              first record is 'V' with a uint32 version (cinit_version);
 *              an unknown version or tag is a start failure (125), never
 *              guessed at. Repeated tags append in order. 'Z' (empty) ends
 *              the config.
 *   EOF        the pod is ready (the supervisor closes the pipe once the
 *              pause is non-dumpable and the network attached): the
 *              filesystem is built while the pause finishes starting, and
 *              the workload is exec'd only after EOF (see await_pod_ready).
 *
 *     'V' u32 version          'n' container name
 *     'a' argv element         'e' env element (KEY=VALUE)
 *     'w' working directory    'R' become root (no payload)
 *     'H' pod hostname: this container does the pod setup (Config.Pod)
 *     'L' the pod uses the host's network: lo is not ours (no payload)
 *     'r' rootfs.Spec.Root ("" or absent: the host root, read-only)
 *     'o' root read-only       's' Scratch      'm' ShmDir
 *     'b' bind: u8 read-only, source, NUL, destination
 *     'k' masked path          'p' read-only path
 *     'S' security: u32 uid, u32 gid, u64 capability mask, u8 no_new_privs,
 *         u32 number of capability names (for the --explain line)
 *     'c' capability name, in the kernel's order (pod.CapabilityNames:
 *         bit N of the mask is the Nth 'c'), for messages
 *     'g' supplementary groups: u32 each
 *     'F' seccomp: the assembled BPF program (struct sock_filter array),
 *         built by the supervisor with the Go init's own policy
 *     'X' exec into a running container (no payload): `sandbox exec` and
 *         exec hooks (package execin), see sandbox_cexec below. Only 'a',
 *         'e', 'w', 'I', 'g' and 'F' may come with it: no rootfs, no
 *         pivot, no hostname, no become-root (the exec role did it).
 *     'I' identity of the container process (execin.Identity): u32 uid,
 *         u32 gid, u64 bounding, permitted, effective, inheritable and
 *         ambient capability masks, u8 no_new_privs
 *
 * Everything below follows the Go code it mirrors; the comments there say
 * why each step is as it is (package rootfs, package containerinit). Failures
 * are the Go init's Failure JSON on _SANDBOX_ERROR_FD.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>

enum { cinit_version = 3 };

/* The new mount API's constants, spelled out: glibc's <sys/mount.h> and
 * <linux/mount.h> cannot both be included with glibc 2.36. */
#define C_OPEN_TREE_CLONE 1
#define C_OPEN_TREE_CLOEXEC O_CLOEXEC
#define C_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define C_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define C_FSOPEN_CLOEXEC 0x1
#define C_FSMOUNT_CLOEXEC 0x1
#define C_FSCONFIG_SET_FLAG 0
#define C_FSCONFIG_SET_STRING 1
#define C_FSCONFIG_CMD_CREATE 6
#define C_MOUNT_ATTR_RDONLY 0x1
#define C_MOUNT_ATTR_NOSUID 0x2
#define C_MOUNT_ATTR_NODEV 0x4
#define C_MOUNT_ATTR_NOEXEC 0x8
#define C_MOUNT_ATTR_STRICTATIME 0x20
#define C_MS_REC 16384
#define C_MS_PRIVATE (1 << 18)
#define C_MNT_DETACH 2
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#include "fastexec.h"

/* nsenter.c */
int env_int(const char *name, int fallback);
void write_all(int fd, const char *buf, size_t len);
void vwrite_line(int fd, const char *fmt, va_list ap);

struct c_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* rootfs.resolveInRoot */
#define RESOLVE_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
#define MAX_SYMLINKS 40

struct bind {
	int ro;
	char *src, *dst;
	int fd; /* the source already open (O_PATH), or -1: open src */
};

struct list {
	char **v;
	int n;
};

static struct {
	char *name, *workdir, *hostname, *root, *scratch, *shm;
	struct list argv, env, mask, ropaths, capnames;
	struct bind *binds;
	int nbinds;
	/* 'P': pod files (the fast path's /etc/hosts, ...): destination and content. */
	struct list podfile_dst, podfile_data;
	int become_root, pod, hostnet, readonly;
	int security, nnp, ncapnames;
	uint32_t uid, gid;
	uint64_t caps;
	/* 'X' and 'I': exec into a running container. */
	int exec, xrec, identity;
	uint64_t bnd, prm, eff, inh, amb;
	uint32_t *groups;
	int ngroups;
	struct sock_filter *filter;
	int nfilter;
} cfg;

static int err_fd = -1, explain_fd = -1;

/* The fast path's pod network, created by its pause while the container
 * mounts (sandbox_cinit_fast): a pidfd of the pause and a pipe on which
 * the pause writes one byte once its network namespace exists; -1 when
 * the container is in the pod's network namespace already. */
static int net_pidfd = -1, net_ready_fd = -1, pause_wait_fd = -1;

/* plain_failure: failures go to err_fd as "CODE\nMESSAGE" rather than
 * Failure JSON, for the CLI process that reads them (fastexec.c). */
static int plain_failure;

/* Failures without an error pipe go to stderr under this name. */
static const char *who = "sandbox init";

/* fail_prefix is put before the message of a failure while it is set: the
 * context the Go init's caller adds ("container NAME: set up root
 * filesystem" around rootfs.Setup). */
static char fail_prefix[512];

/* ---- messages --------------------------------------------------------- */

/* The message of the failure being built: each layer prepends its context,
 * as the Go code's fmt.Errorf("...: %w") does. */
static char msg[8192];

/* errstr is strerror as Go's syscall.Errno prints it: lower case first. */
static const char *errstr(int e)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s", strerror(e));
	buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

static void setmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
}

/* wrap prepends "<fmt>: " to msg. */
static void wrap(const char *fmt, ...)
{
	char head[4096], old[sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, msg, sizeof(old));
	snprintf(msg, sizeof(msg), "%s: %s", head, old);
}

/* quote is Go's %q for the plain strings used here (paths, names); ring of
 * buffers so one format may use several. */
static const char *quote(const char *s)
{
	static char ring[4][2048];
	static int at;
	char *b = ring[at++ % 4], *p = b, *end = b + sizeof(ring[0]) - 8;

	*p++ = '"';
	for (; *s && p < end; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (c == '\t') {
			*p++ = '\\';
			*p++ = 't';
		} else if (c < 0x20 || c == 0x7f) {
			p += sprintf(p, "\\x%02x", c);
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	*p = '\0';
	return b;
}

/* die reports msg as containerinit.Failure JSON on the error pipe (or on
 * stderr without one) and exits with code, as ExitWithFailure does. */
static __attribute__((noreturn)) void die(int code)
{
	static char out[sizeof(msg) * 6 + 64];
	char *p = out;
	const unsigned char *s;

	if (fail_prefix[0] != '\0')
		wrap("%s", fail_prefix);
	if (err_fd < 0) {
		dprintf(2, "%s: %s\n", who, msg);
		_exit(code);
	}
	if (plain_failure) {
		dprintf(err_fd, "%d\n%s", code, msg);
		_exit(code);
	}
	p += sprintf(p, "{\"code\":%d,\"message\":\"", code);
	for (s = (const unsigned char *)msg; *s; s++) {
		if (*s == '"' || *s == '\\') {
			*p++ = '\\';
			*p++ = (char)*s;
		} else if (*s == '\n') {
			p += sprintf(p, "\\n");
		} else if (*s < 0x20) {
			p += sprintf(p, "\\u%04x", *s);
		} else {
			*p++ = (char)*s;
		}
	}
	p += sprintf(p, "\"}");
	write_all(err_fd, out, (size_t)(p - out));
	_exit(code);
}

/* fail_setup: the init could not start the workload (125, msg set). */
static __attribute__((noreturn)) void fail_setup(void)
{
	die(125);
}

/* explain writes one --explain line (containerinit/explain_linux.go). */
static void explain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_line(explain_fd, fmt, ap);
	va_end(ap);
}

/* env_fd is the inherited descriptor (3 or above) env names, or -1. */
static int env_fd(const char *name)
{
	int fd = env_int(name, -1);

	return fd >= 3 ? fd : -1;
}

/* ---- config ----------------------------------------------------------- */

static void list_add(struct list *l, char *s)
{
	l->v = realloc(l->v, sizeof(char *) * (size_t)(l->n + 2));
	if (l->v == NULL) {
		setmsg("read container config: out of memory");
		fail_setup();
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

static uint32_t get32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* dupstr copies a payload as a C string; a NUL inside is refused, as the
 * Go code refuses it in paths (rootfs.checkAbs) and execve would cut it. */
static char *dupstr(const char *p, uint32_t len, char tag)
{
	char *s;

	if (memchr(p, '\0', len) != NULL) {
		setmsg("decode container config: record '%c' contains NUL", tag);
		fail_setup();
	}
	s = malloc(len + 1);
	if (s == NULL) {
		setmsg("read container config: out of memory");
		fail_setup();
	}
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static void decode(char *buf, size_t len)
{
	size_t at = 0;
	int seen_version = 0;

	while (at < len) {
		char tag;
		uint32_t n;
		char *p;

		if (len - at < 5) {
			setmsg("decode container config: truncated record header");
			fail_setup();
		}
		tag = buf[at];
		n = get32(buf + at + 1);
		at += 5;
		if (n > len - at) {
			setmsg("decode container config: record '%c' of %u bytes is truncated", tag, n);
			fail_setup();
		}
		p = buf + at;
		at += n;
		if (!seen_version && tag != 'V') {
			setmsg("decode container config: no version record");
			fail_setup();
		}
		switch (tag) {
		case 'V':
			if (n != 4 || get32(p) != cinit_version) {
				setmsg("decode container config: C init format version %u, this binary reads %d",
				       n == 4 ? get32(p) : 0, cinit_version);
				fail_setup();
			}
			seen_version = 1;
			break;
		case 'n': cfg.name = dupstr(p, n, tag); break;
		case 'a': list_add(&cfg.argv, dupstr(p, n, tag)); break;
		case 'e': list_add(&cfg.env, dupstr(p, n, tag)); break;
		case 'w': cfg.workdir = dupstr(p, n, tag); break;
		case 'R': cfg.become_root = 1; break;
		case 'H': cfg.pod = 1; cfg.hostname = dupstr(p, n, tag); break;
		case 'L': cfg.hostnet = 1; break;
		case 'r': cfg.root = dupstr(p, n, tag); break;
		case 'o': cfg.readonly = 1; break;
		case 's': cfg.scratch = dupstr(p, n, tag); break;
		case 'm': cfg.shm = dupstr(p, n, tag); break;
		case 'k': list_add(&cfg.mask, dupstr(p, n, tag)); break;
		case 'c': list_add(&cfg.capnames, dupstr(p, n, tag)); break;
		case 'p': list_add(&cfg.ropaths, dupstr(p, n, tag)); break;
		case 'b': {
			const char *nul;
			struct bind *b;

			if (n < 4 || (nul = memchr(p + 1, '\0', n - 1)) == NULL) {
				setmsg("decode container config: malformed bind record");
				fail_setup();
			}
			cfg.binds = realloc(cfg.binds, sizeof(*cfg.binds) * (size_t)(cfg.nbinds + 1));
			if (cfg.binds == NULL) {
				setmsg("read container config: out of memory");
				fail_setup();
			}
			b = &cfg.binds[cfg.nbinds++];
			b->ro = p[0] != 0;
			b->fd = -1;
			b->src = dupstr(p + 1, (uint32_t)(nul - (p + 1)), tag);
			b->dst = dupstr(nul + 1, (uint32_t)(p + n - (nul + 1)), tag);
			break;
		}
		case 'S':
			if (n != 21) {
				setmsg("decode container config: malformed security record");
				fail_setup();
			}
			cfg.security = 1;
			cfg.uid = get32(p);
			cfg.gid = get32(p + 4);
			memcpy(&cfg.caps, p + 8, 8);
			cfg.nnp = p[16] != 0;
			cfg.ncapnames = (int)get32(p + 17);
			break;
		case 'g':
			if (n % 4 != 0) {
				setmsg("decode container config: malformed groups record");
				fail_setup();
			}
			cfg.ngroups = (int)(n / 4);
			cfg.groups = malloc(n + 4);
			memcpy(cfg.groups, p, n);
			break;
		case 'P': {
			const char *nul = n > 0 ? memchr(p, '\0', n) : NULL;

			if (nul == NULL || nul == p) {
				setmsg("decode container config: malformed pod file record");
				fail_setup();
			}
			list_add(&cfg.podfile_dst, dupstr(p, (uint32_t)(nul - p), tag));
			list_add(&cfg.podfile_data, dupstr(nul + 1, (uint32_t)(p + n - (nul + 1)), tag));
			break;
		}
		case 'X': cfg.exec = cfg.xrec = 1; break;
		case 'I':
			if (n != 49) {
				setmsg("decode container config: malformed identity record");
				fail_setup();
			}
			cfg.identity = 1;
			cfg.uid = get32(p);
			cfg.gid = get32(p + 4);
			memcpy(&cfg.bnd, p + 8, 8);
			memcpy(&cfg.prm, p + 16, 8);
			memcpy(&cfg.eff, p + 24, 8);
			memcpy(&cfg.inh, p + 32, 8);
			memcpy(&cfg.amb, p + 40, 8);
			cfg.nnp = p[48] != 0;
			break;
		case 'F':
			if (n == 0 || n % sizeof(struct sock_filter) != 0 || n / sizeof(struct sock_filter) > 0xffff) {
				setmsg("decode container config: malformed seccomp record");
				fail_setup();
			}
			cfg.nfilter = (int)(n / sizeof(struct sock_filter));
			cfg.filter = malloc(n);
			memcpy(cfg.filter, p, n);
			break;
		case 'Z':
			break; /* the end: read_config stopped after it */
		default:
			setmsg("decode container config: unknown record '%c' (C init format version %d)", tag, cinit_version);
			fail_setup();
		}
	}
	if (!seen_version) {
		setmsg("decode container config: no version record");
		fail_setup();
	}
	if (cfg.name == NULL)
		cfg.name = "";
}

/* read_config reads the config pipe to EOF (at most 64 MiB, as the Go init). */
/* read_full reads exactly len bytes, or fails the start. */
static void read_full(int fd, char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			setmsg("read container config: read config: %s", errstr(errno));
			fail_setup();
		}
		if (n == 0) {
			setmsg("read container config: the config ended before its 'Z' record");
			fail_setup();
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* read_config reads the records up to and including 'Z' (the pipe stays
 * open until the pod is ready: await_pod_ready). */
static void read_config(int fd, char **out, size_t *outlen)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);

	for (;;) {
		uint32_t n;

		if (buf == NULL) {
			setmsg("read container config: out of memory");
			fail_setup();
		}
		if (cap - len < 5) {
			cap *= 2;
			buf = realloc(buf, cap);
			continue;
		}
		read_full(fd, buf + len, 5);
		n = get32(buf + len + 1);
		if (n > (64u << 20) || len + 5 + n > (64u << 20)) {
			setmsg("read container config: larger than 64 MiB");
			fail_setup();
		}
		while (cap - len - 5 < n) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				setmsg("read container config: out of memory");
				fail_setup();
			}
		}
		read_full(fd, buf + len + 5, n);
		len += 5 + n;
		if (buf[len - 5 - n] == 'Z')
			break;
	}
	*out = buf;
	*outlen = len;
}

/* await_pod_ready blocks until the supervisor closes the config pipe: the
 * pod is ready, its pause non-dumpable and its network attached, and the
 * workload may run. Anything more on the pipe is a protocol error. */
static void await_pod_ready(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		setmsg("container config: %s while waiting for the pod to be ready", n < 0 ? errstr(errno) : "unexpected data");
		fail_setup();
	}
	close(fd);
}

/* ---- paths ------------------------------------------------------------ */

/* clean_abs is path.Clean("/" + p): an absolute, lexically clean path. */
static void clean_abs(const char *p, char *out, size_t size)
{
	char *o = out;
	size_t n = 0;

	(void)size;
	out[n++] = '/';
	while (*p) {
		const char *e;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchrnul(p, '/');
		len = (size_t)(e - p);
		if (len == 1 && p[0] == '.') {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n > 1) {
				n--; /* the slash before the last element, or the last char */
				while (n > 1 && out[n - 1] != '/')
					n--;
				if (n > 1)
					n--;
				else
					n = 1;
			}
		} else {
			if (n + len + 2 >= size)
				break;
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = e;
	}
	o[n] = '\0';
}

/* rel_in_root is rootfs.relInRoot: the cleaned path relative to the root,
 * "." for the root itself. */
static void rel_in_root(const char *p, char *out, size_t size)
{
	char clean[PATH_MAX * 2];

	clean_abs(p, clean, sizeof(clean));
	if (clean[1] == '\0')
		snprintf(out, size, ".");
	else
		snprintf(out, size, "%s", clean + 1);
}

/* ---- system calls ----------------------------------------------------- */

static int c_openat2(int dirfd, const char *p, int flags, unsigned mode, uint64_t resolve)
{
	struct open_how how;
	int i;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = resolve;
	if (flags & (O_CREAT | __O_TMPFILE))
		how.mode = mode;
	for (i = 0; i < 16; i++) {
		int fd = (int)syscall(SYS_openat2, dirfd, p, &how, sizeof(how));
		if (fd >= 0 || (errno != EAGAIN && errno != EINTR))
			return fd;
	}
	errno = EAGAIN;
	return -1;
}

/* clone_tree is rootfs.cloneTree; on failure msg is "open_tree PATH: err". */
static int clone_tree(int dirfd, const char *p, int recursive)
{
	unsigned flags = C_OPEN_TREE_CLONE | C_OPEN_TREE_CLOEXEC;
	int fd;

	if (recursive)
		flags |= AT_RECURSIVE;
	if (*p == '\0')
		flags |= AT_EMPTY_PATH;
	fd = (int)syscall(SYS_open_tree, dirfd, p, flags);
	if (fd < 0)
		setmsg("open_tree %s: %s", p, errstr(errno));
	return fd;
}

static int set_attrs(int fd, uint64_t attrs, int recursive)
{
	struct c_mount_attr a = {attrs, 0, 0, 0};
	unsigned flags = AT_EMPTY_PATH;

	if (recursive)
		flags |= AT_RECURSIVE;
	return (int)syscall(SYS_mount_setattr, fd, "", flags, &a, sizeof(a));
}

/* attach is rootfs.attach: onto the fd target itself, or its entry name. */
static int attach(int fd, int target, const char *name)
{
	unsigned flags = C_MOVE_MOUNT_F_EMPTY_PATH;

	if (*name == '\0')
		flags |= C_MOVE_MOUNT_T_EMPTY_PATH;
	return (int)syscall(SYS_move_mount, fd, "", target, name, flags);
}

/* kernel_log appends the fs context's kernel messages (rootfs.kernelLog). */
static void kernel_log(int fsfd, char *out, size_t size)
{
	char buf[4096];
	size_t at = 0;
	int i, any = 0;

	out[0] = '\0';
	for (i = 0; i < 8; i++) {
		ssize_t n = read(fsfd, buf, sizeof(buf) - 1);
		char *s;
		if (n <= 0)
			break;
		buf[n] = '\0';
		s = buf;
		while (*s && isspace((unsigned char)*s))
			s++;
		while (n > 0 && isspace((unsigned char)buf[n - 1]))
			buf[--n] = '\0';
		at += (size_t)snprintf(out + at, at < size ? size - at : 0, "%s%s", any ? "; " : " (kernel: ", s);
		any = 1;
	}
	if (any && at < size)
		snprintf(out + at, size - at, ")");
}

struct fsparam {
	const char *key, *value;
};

/* new_fs is rootfs.newFS: a detached mount of a new fstype instance. On
 * failure errno is the failed call's (mount_sys tells EPERM apart). */
static int new_fs(const char *fstype, uint64_t attrs, const struct fsparam *params, int nparams)
{
	char klog[2048];
	int fsfd, mfd, i, e;

	fsfd = (int)syscall(SYS_fsopen, fstype, C_FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		e = errno;
		setmsg("fsopen %s: %s", fstype, errstr(e));
		errno = e;
		return -1;
	}
	for (i = 0; i < nparams; i++) {
		int r;
		if (params[i].value[0] == '\0')
			r = (int)syscall(SYS_fsconfig, fsfd, C_FSCONFIG_SET_FLAG, params[i].key, NULL, 0);
		else
			r = (int)syscall(SYS_fsconfig, fsfd, C_FSCONFIG_SET_STRING, params[i].key, params[i].value, 0);
		if (r < 0) {
			e = errno;
			kernel_log(fsfd, klog, sizeof(klog));
			setmsg("fsconfig %s %s=%s: %s%s", fstype, params[i].key, params[i].value, errstr(e), klog);
			close(fsfd);
			errno = e;
			return -1;
		}
	}
	if (syscall(SYS_fsconfig, fsfd, C_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		e = errno;
		kernel_log(fsfd, klog, sizeof(klog));
		setmsg("create %s: %s%s", fstype, errstr(e), klog);
		close(fsfd);
		errno = e;
		return -1;
	}
	mfd = (int)syscall(SYS_fsmount, fsfd, C_FSMOUNT_CLOEXEC, (unsigned)attrs);
	if (mfd < 0) {
		e = errno;
		kernel_log(fsfd, klog, sizeof(klog));
		setmsg("fsmount %s: %s%s", fstype, errstr(e), klog);
		close(fsfd);
		errno = e;
		return -1;
	}
	close(fsfd);
	return mfd;
}

/* mount_fs is rootfs.mountFS: new_fs attached on target; returns its fd. */
static int mount_fs(int target, const char *fstype, uint64_t attrs, const struct fsparam *params, int nparams)
{
	int fd = new_fs(fstype, attrs, params, nparams);

	if (fd < 0)
		return -1;
	if (attach(fd, target, "") < 0) {
		setmsg("move_mount %s: %s", fstype, errstr(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- in-root resolution (rootfs/inroot_linux.go) ------------------------ */

/* follow_link is rootfs.followLink: the root-relative path reached through
 * the symlink in dir (root-relative, "" for the root) with target, then rest. */
static void follow_link(const char *dir, const char *target, const char *rest, char *out, size_t size)
{
	char joined[PATH_MAX * 3];

	if (target[0] == '/')
		snprintf(joined, sizeof(joined), "/%s/%s", target, rest);
	else
		snprintf(joined, sizeof(joined), "/%s/%s/%s", dir, target, rest);
	rel_in_root(joined, out, size);
}

static int mkdir_all_depth(int root, const char *rel, int depth)
{
	const int dflags = O_PATH | O_DIRECTORY;
	char prefix[PATH_MAX * 2];
	const char *p;
	int fd, cur;

	if (depth > MAX_SYMLINKS) {
		setmsg("create /%s in the root: %s", rel, errstr(ELOOP));
		return -1;
	}
	fd = c_openat2(root, rel, dflags, 0, RESOLVE_ROOT);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT) {
		setmsg("open /%s in the root: %s", rel, errstr(errno));
		return -1;
	}
	cur = c_openat2(root, ".", dflags, 0, RESOLVE_ROOT);
	if (cur < 0) {
		setmsg("open the root: %s", errstr(errno));
		return -1;
	}
	for (p = rel;;) {
		const char *e = strchrnul(p, '/');
		char name[NAME_MAX + 2];
		size_t nlen = (size_t)(e - p);
		int next, err;

		if (nlen > NAME_MAX) {
			close(cur);
			setmsg("mkdir /%.*s in the root: %s", (int)(e - rel), rel, errstr(ENAMETOOLONG));
			return -1;
		}
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(e - rel), rel);
		next = c_openat2(root, prefix, dflags, 0, RESOLVE_ROOT);
		err = next < 0 ? errno : 0;
		if (next < 0 && err == ENOENT) {
			if (mkdirat(cur, name, 0755) == 0) {
				next = c_openat2(cur, name, dflags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
				err = next < 0 ? errno : 0;
			} else if (errno == EEXIST) {
				next = c_openat2(root, prefix, dflags, 0, RESOLVE_ROOT);
				err = next < 0 ? errno : 0;
				if (next < 0 && err == ENOENT) {
					char target[PATH_MAX + 1], dir[PATH_MAX * 2], newrel[PATH_MAX * 2];
					ssize_t n = readlinkat(cur, name, target, PATH_MAX);

					close(cur);
					if (n < 0) {
						setmsg("create /%s in the root: %s", prefix, errstr(err));
						return -1;
					}
					target[n] = '\0';
					snprintf(dir, sizeof(dir), "%.*s", p > rel ? (int)(p - rel - 1) : 0, rel);
					follow_link(dir, target, *e ? e + 1 : "", newrel, sizeof(newrel));
					return mkdir_all_depth(root, newrel, depth + 1);
				}
			} else {
				int me = errno;
				close(cur);
				setmsg("mkdir /%s in the root: %s", prefix, errstr(me));
				return -1;
			}
		}
		close(cur);
		if (next < 0) {
			setmsg("open /%s in the root: %s", prefix, errstr(err));
			return -1;
		}
		cur = next;
		if (*e == '\0')
			break;
		p = e + 1;
	}
	return cur;
}

static int create_file_depth(int root, const char *rel, int depth)
{
	char dir[PATH_MAX * 2], reldir[PATH_MAX * 2];
	const char *base, *slash;
	struct stat st;
	int fd, parent;

	if (depth > MAX_SYMLINKS) {
		setmsg("create /%s in the root: %s", rel, errstr(ELOOP));
		return -1;
	}
	fd = c_openat2(root, rel, O_PATH, 0, RESOLVE_ROOT);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0) {
			setmsg("%s", errstr(errno));
			close(fd);
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			close(fd);
			setmsg("/%s in the root is a directory, a file is needed: %s", rel, errstr(EISDIR));
			return -1;
		}
		return fd;
	}
	if (errno != ENOENT || strcmp(rel, ".") == 0) {
		setmsg("open /%s in the root: %s", rel, errstr(errno));
		return -1;
	}
	slash = strrchr(rel, '/');
	if (slash != NULL) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
		base = slash + 1;
	} else {
		dir[0] = '\0';
		base = rel;
	}
	rel_in_root(dir, reldir, sizeof(reldir));
	parent = mkdir_all_depth(root, reldir, depth);
	if (parent < 0)
		return -1;
	fd = c_openat2(parent, base, O_CREAT | O_EXCL | O_WRONLY, 0644, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0 && errno == EEXIST) {
		char target[PATH_MAX + 1], newrel[PATH_MAX * 2];
		ssize_t n = readlinkat(parent, base, target, PATH_MAX);

		close(parent);
		if (n >= 0) {
			/* A dangling symlink such as /etc/resolv.conf -> ../run/resolv.conf. */
			target[n] = '\0';
			follow_link(dir, target, "", newrel, sizeof(newrel));
			return create_file_depth(root, newrel, depth + 1);
		}
		return create_file_depth(root, rel, depth + 1);
	}
	close(parent);
	if (fd < 0) {
		setmsg("create /%s in the root: %s", rel, errstr(errno));
		return -1;
	}
	return fd;
}

/* top_level_dir is rootfs.topLevelDir: /name directly under the root, a
 * real directory, never a symlink. Failures are ErrUnsafeMountpoint's text. */
static int top_level_dir(int root, const char *name, int create)
{
	char symlink_err[128], notdir_err[128];
	struct stat st;
	int fd;

	snprintf(symlink_err, sizeof(symlink_err), "rootfs: /%s must not be a symlink", name);
	snprintf(notdir_err, sizeof(notdir_err), "rootfs: /%s must be a directory", name);
	if (strcmp(name, "proc") == 0) {
		snprintf(symlink_err, sizeof(symlink_err), "rootfs: /proc must be mounted on an ordinary directory, not a symlink");
		snprintf(notdir_err, sizeof(notdir_err), "rootfs: /proc must be mounted on an ordinary directory");
	}
	if (fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT && create) {
			if (mkdirat(root, name, 0755) < 0 && errno != EEXIST) {
				setmsg("rootfs: create mount point /%s: %s", name, errstr(errno));
				return -1;
			}
		} else {
			setmsg("rootfs: mount point /%s: %s", name, errstr(errno));
			return -1;
		}
	} else if (S_ISLNK(st.st_mode)) {
		setmsg("%s", symlink_err);
		return -1;
	} else if (!S_ISDIR(st.st_mode)) {
		setmsg("%s", notdir_err);
		return -1;
	}
	fd = c_openat2(root, name, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0,
		       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		if (errno == ELOOP)
			setmsg("%s", symlink_err);
		else if (errno == ENOTDIR)
			setmsg("%s", notdir_err);
		else
			setmsg("rootfs: open mount point /%s: %s", name, errstr(errno));
		return -1;
	}
	return fd;
}

/* ---- rootfs.Setup ------------------------------------------------------ */

static int is_prefix_dir(const char *clean, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(clean, dir, n) == 0 && clean[n] == '/';
}

/* validate is rootfs.Spec.validate for the fields this path supports. */
static void validate(void)
{
	char clean[PATH_MAX * 2];
	int i;

	if (cfg.root == NULL || cfg.root[0] == '\0') {
		if (cfg.scratch == NULL || cfg.scratch[0] == '\0') {
			setmsg("rootfs: invalid spec: Scratch is required when Root is the host root (\"\")");
			fail_setup();
		}
		if (cfg.scratch[0] != '/') {
			setmsg("rootfs: invalid spec: Scratch %s must be an absolute path", quote(cfg.scratch));
			fail_setup();
		}
	} else if (cfg.root[0] != '/') {
		setmsg("rootfs: invalid spec: Root %s must be an absolute path", quote(cfg.root));
		fail_setup();
	}
	if (cfg.shm != NULL && cfg.shm[0] != '\0' && cfg.shm[0] != '/') {
		setmsg("rootfs: invalid spec: ShmDir %s must be an absolute path", quote(cfg.shm));
		fail_setup();
	}
	for (i = 0; i < cfg.nbinds; i++) {
		const struct bind *b = &cfg.binds[i];
		if (b->src[0] != '/') {
			setmsg("rootfs: invalid spec: Binds[%d].Source %s must be an absolute path", i, quote(b->src));
			fail_setup();
		}
		if (b->dst[0] != '/') {
			setmsg("rootfs: invalid spec: Binds[%d].Destination %s must be an absolute path", i, quote(b->dst));
			fail_setup();
		}
		clean_abs(b->dst, clean, sizeof(clean));
		if (strcmp(clean, "/") == 0) {
			setmsg("rootfs: invalid spec: Binds[%d].Destination must not be /", i);
			fail_setup();
		}
		if (strcmp(clean, "/proc") == 0 || is_prefix_dir(clean, "/proc") ||
		    strcmp(clean, "/sys") == 0 || is_prefix_dir(clean, "/sys")) {
			setmsg("rootfs: invalid spec: Binds[%d].Destination %s is under %s", i, quote(b->dst),
			       strncmp(clean, "/proc", 5) == 0 ? "/proc" : "/sys");
			fail_setup();
		}
	}
	for (i = 0; i < cfg.podfile_dst.n; i++)
		if (cfg.podfile_dst.v[i][0] != '/') {
			setmsg("rootfs: invalid spec: pod file %s must be an absolute path", quote(cfg.podfile_dst.v[i]));
			fail_setup();
		}
	for (i = 0; i < cfg.mask.n; i++)
		if (cfg.mask.v[i][0] != '/') {
			setmsg("rootfs: invalid spec: MaskPaths[%d] %s must be an absolute path", i, quote(cfg.mask.v[i]));
			fail_setup();
		}
	for (i = 0; i < cfg.ropaths.n; i++)
		if (cfg.ropaths.v[i][0] != '/') {
			setmsg("rootfs: invalid spec: ReadonlyPaths[%d] %s must be an absolute path", i, quote(cfg.ropaths.v[i]));
			fail_setup();
		}
}

/* check_own_mount_namespace is rootfs.checkOwnMountNamespace. */
static void check_own_mount_namespace(void)
{
	static const char *const pids[] = {"1", "2"};
	char me[32] = "";
	struct stat self, other;
	ssize_t n;
	int i;

	if (stat("/proc/self/ns/mnt", &self) < 0) {
		setmsg("rootfs: cannot verify that this is a private mount namespace (is /proc mounted?): %s", errstr(errno));
		fail_setup();
	}
	n = readlink("/proc/self", me, sizeof(me) - 1);
	if (n > 0)
		me[n] = '\0';
	for (i = 0; i < 2; i++) {
		char p[32];
		if (strcmp(pids[i], me) == 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%s/ns/mnt", pids[i]);
		if (stat(p, &other) < 0)
			continue;
		if (self.st_dev == other.st_dev && self.st_ino == other.st_ino) {
			setmsg("rootfs: refusing to mount in the host's mount namespace (call Setup only after unshare(CLONE_NEWNS)) (the same as PID %s's)", pids[i]);
			fail_setup();
		}
	}
}

/* open_bind_source: Source, or the descriptor of a pod file (no SubPath on
 * this path). */
static int open_bind_source(const struct bind *b)
{
	int fd = b->fd >= 0 ? fcntl(b->fd, F_DUPFD_CLOEXEC, 3) : open(b->src, O_PATH | O_CLOEXEC);

	if (fd < 0)
		setmsg("open source: %s", errstr(errno));
	return fd;
}

/* bind_mountpoint is rootfs.bindMountpoint: the destination resolved in
 * the root, created (a directory or an empty file, like the source). */
static int bind_mountpoint(int root, const struct bind *b, int src)
{
	char rel[PATH_MAX * 2];
	struct stat st;

	if (fstat(src, &st) < 0) {
		setmsg("%s", errstr(errno));
		return -1;
	}
	rel_in_root(b->dst, rel, sizeof(rel));
	if (S_ISDIR(st.st_mode))
		return mkdir_all_depth(root, rel, 0);
	return create_file_depth(root, rel, 0);
}

static void create_mountpoints(int root)
{
	static const char *const names[] = {"tmp", "dev", "proc", "sys"};
	char clean[PATH_MAX * 2];
	int i, fd;

	for (i = 0; i < 4; i++) {
		fd = top_level_dir(root, names[i], 1);
		if (fd < 0)
			fail_setup();
		close(fd);
	}
	for (i = 0; i < cfg.nbinds; i++) {
		const struct bind *b = &cfg.binds[i];
		int src;

		clean_abs(b->dst, clean, sizeof(clean));
		if (strncmp(clean, "/tmp/", 5) == 0 || strncmp(clean, "/dev/", 5) == 0)
			continue;
		src = open_bind_source(b);
		if (src < 0) {
			wrap("rootfs: bind %s on %s", b->src, b->dst);
			fail_setup();
		}
		fd = bind_mountpoint(root, b, src);
		close(src);
		if (fd < 0) {
			wrap("rootfs: create mount point %s", b->dst);
			fail_setup();
		}
		close(fd);
	}
}

static int bind_root(void)
{
	int tree, orig, target;

	if (cfg.root == NULL || cfg.root[0] == '\0') {
		tree = clone_tree(AT_FDCWD, "/", 1);
		if (tree < 0) {
			wrap("rootfs: rbind the host root");
			fail_setup();
		}
		if (set_attrs(tree, C_MOUNT_ATTR_RDONLY, 1) < 0) {
			setmsg("rootfs: make the host root read-only (mount_setattr AT_RECURSIVE): %s", errstr(errno));
			fail_setup();
		}
		target = open(cfg.scratch, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (target < 0 || attach(tree, target, "") < 0) {
			setmsg("rootfs: rbind / on %s: %s", cfg.scratch, errstr(errno));
			fail_setup();
		}
		close(target);
		return tree;
	}
	orig = open(cfg.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (orig < 0) {
		setmsg("rootfs: open root %s: %s", cfg.root, errstr(errno));
		fail_setup();
	}
	if (cfg.readonly)
		create_mountpoints(orig);
	tree = clone_tree(orig, "", 1);
	if (tree < 0) {
		wrap("rootfs: bind root %s", cfg.root);
		fail_setup();
	}
	if (cfg.readonly && set_attrs(tree, C_MOUNT_ATTR_RDONLY, 1) < 0) {
		setmsg("rootfs: make root %s read-only: %s", cfg.root, errstr(errno));
		fail_setup();
	}
	if (attach(tree, orig, "") < 0) {
		setmsg("rootfs: bind root %s on itself: %s", cfg.root, errstr(errno));
		fail_setup();
	}
	close(orig);
	return tree;
}

static void mount_tmp(int root, int create)
{
	static const struct fsparam params[] = {{"mode", "1777"}};
	int dir = top_level_dir(root, "tmp", create), fd;

	if (dir < 0)
		fail_setup();
	fd = mount_fs(dir, "tmpfs", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV, params, 1);
	if (fd < 0) {
		wrap("rootfs: mount tmpfs on /tmp");
		fail_setup();
	}
	close(fd);
	close(dir);
}

/* bind_dev_node is rootfs.bindDevNode: the host's node, checked. */
static int bind_dev_node(int dev, const char *name, unsigned major_, unsigned minor_)
{
	char path[64];
	struct stat st;
	int src, fd;

	snprintf(path, sizeof(path), "/dev/%s", name);
	src = clone_tree(AT_FDCWD, path, 0);
	if (src < 0)
		return -1;
	if (fstat(src, &st) < 0) {
		setmsg("%s", errstr(errno));
		close(src);
		return -1;
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != major_ || minor(st.st_rdev) != minor_) {
		setmsg("the host /dev/%s is not the character device %u:%u (mode %#o, rdev %u:%u)", name, major_, minor_,
		       (unsigned)st.st_mode, major(st.st_rdev), minor(st.st_rdev));
		close(src);
		return -1;
	}
	if (set_attrs(src, C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NOEXEC, 0) < 0) {
		setmsg("mount_setattr nosuid,noexec: %s", errstr(errno));
		close(src);
		return -1;
	}
	fd = c_openat2(dev, name, O_CREAT | O_EXCL | O_WRONLY, 0666, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0) {
		setmsg("create the mount point: %s", errstr(errno));
		close(src);
		return -1;
	}
	close(fd);
	if (attach(src, dev, name) < 0) {
		setmsg("move_mount: %s", errstr(errno));
		close(src);
		return -1;
	}
	close(src);
	return 0;
}

static void mount_dev(int root, int create)
{
	static const struct {
		const char *name;
		unsigned major_, minor_;
	} nodes[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	static const struct {
		const char *name, *target;
	} links[] = {{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		     {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}};
	static const struct fsparam devparams[] = {{"mode", "755"}};
	static const struct fsparam ptsparams[] = {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}};
	static const struct fsparam shmparams[] = {{"mode", "1777"}};
	int dir = top_level_dir(root, "dev", create), dev, fd;
	size_t i;

	if (dir < 0)
		fail_setup();
	dev = mount_fs(dir, "tmpfs", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_STRICTATIME, devparams, 1);
	if (dev < 0) {
		wrap("rootfs: mount tmpfs on /dev");
		fail_setup();
	}
	close(dir);
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (bind_dev_node(dev, nodes[i].name, nodes[i].major_, nodes[i].minor_) < 0) {
			wrap("rootfs: bind the host /dev/%s on /dev/%s", nodes[i].name, nodes[i].name);
			fail_setup();
		}
	}
	/* devpts: no gid=5 (see rootfs.mountDevpts). */
	if (mkdirat(dev, "pts", 0755) < 0) {
		setmsg("rootfs: mount devpts on /dev/pts: %s", errstr(errno));
		fail_setup();
	}
	fd = new_fs("devpts", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NOEXEC, ptsparams, 3);
	if (fd < 0) {
		wrap("rootfs: mount devpts on /dev/pts");
		fail_setup();
	}
	if (attach(fd, dev, "pts") < 0) {
		setmsg("rootfs: mount devpts on /dev/pts: %s", errstr(errno));
		fail_setup();
	}
	close(fd);
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (symlinkat(links[i].target, dev, links[i].name) < 0) {
			setmsg("rootfs: symlink /dev/%s -> %s: %s", links[i].name, links[i].target, errstr(errno));
			fail_setup();
		}
	}
	/* /dev/shm: the pod's shared directory, or a private tmpfs. */
	if (mkdirat(dev, "shm", 01777) < 0)
		setmsg("%s", errstr(errno));
	else if (cfg.shm != NULL && cfg.shm[0] != '\0') {
		fd = clone_tree(AT_FDCWD, cfg.shm, 1);
		if (fd >= 0 && set_attrs(fd, C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV, 1) < 0) {
			setmsg("mount_setattr nosuid,nodev: %s", errstr(errno));
			close(fd);
			fd = -1;
		}
		if (fd >= 0 && attach(fd, dev, "shm") < 0) {
			setmsg("%s", errstr(errno));
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			wrap("rootfs: bind %s on /dev/shm", cfg.shm);
			fail_setup();
		}
		close(fd);
		close(dev);
		return;
	} else {
		fd = new_fs("tmpfs", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV, shmparams, 1);
		if (fd >= 0 && attach(fd, dev, "shm") < 0) {
			setmsg("%s", errstr(errno));
			close(fd);
			fd = -1;
		}
		if (fd >= 0) {
			close(fd);
			close(dev);
			return;
		}
	}
	if (cfg.shm != NULL && cfg.shm[0] != '\0')
		wrap("rootfs: bind %s on /dev/shm", cfg.shm);
	else
		wrap("rootfs: mount tmpfs on /dev/shm");
	fail_setup();
}

static void mount_proc(int root, int create)
{
	int dir = top_level_dir(root, "proc", create), fd;

	if (dir < 0)
		fail_setup();
	fd = mount_fs(dir, "proc", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV | C_MOUNT_ATTR_NOEXEC, NULL, 0);
	if (fd < 0) {
		wrap("rootfs: mount proc on /proc");
		fail_setup();
	}
	close(fd);
	close(dir);
}

static void mount_sys(int root, int create)
{
	const uint64_t attrs = C_MOUNT_ATTR_RDONLY | C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV | C_MOUNT_ATTR_NOEXEC;
	int dir = top_level_dir(root, "sys", create), fd, e;

	if (dir < 0)
		fail_setup();
	fd = new_fs("sysfs", attrs, NULL, 0);
	e = errno;
	if (fd < 0 && (e == EPERM || e == EACCES)) {
		/* Not privileged over the network namespace's owner (hostNetwork
		 * in a user namespace): the host's /sys, read-only. */
		char syserr[2048];

		snprintf(syserr, sizeof(syserr), "%s", msg);
		fd = clone_tree(AT_FDCWD, "/sys", 1);
		if (fd >= 0 && set_attrs(fd, attrs, 1) < 0) {
			setmsg("%s", errstr(errno));
			close(fd);
			fd = -1;
		}
		if (fd < 0) {
			wrap("rootfs: mount sysfs on /sys: %s; bind the host /sys read-only instead", syserr);
			fail_setup();
		}
	} else if (fd < 0) {
		wrap("rootfs: mount sysfs on /sys");
		fail_setup();
	}
	if (attach(fd, dir, "") < 0) {
		setmsg("rootfs: mount sysfs on /sys: move_mount: %s", errstr(errno));
		fail_setup();
	}
	close(fd);
	close(dir);
}

static int verified_null(void)
{
	struct stat st;
	int fd = c_openat2(AT_FDCWD, "/dev/null", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);

	if (fd < 0) {
		setmsg("rootfs: open the host's /dev/null for masking: %s", errstr(errno));
		fail_setup();
	}
	if (fstat(fd, &st) < 0) {
		setmsg("rootfs: stat /dev/null: %s", errstr(errno));
		fail_setup();
	}
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3) {
		setmsg("rootfs: the host's /dev/null is not the null device 1:3 (mode %#o, rdev %u:%u): refusing to mask with it",
		       (unsigned)st.st_mode, major(st.st_rdev), minor(st.st_rdev));
		fail_setup();
	}
	return fd;
}

/* clone_onto attaches a clone of the mount src, with attrs set, on
 * target; what names the mount_setattr step in messages. */
static int clone_onto(int src, int target, uint64_t attrs, int recursive, const char *what)
{
	int fd = clone_tree(src, "", recursive);

	if (fd < 0)
		return -1;
	if (set_attrs(fd, attrs, recursive) < 0) {
		setmsg("%s: %s", what, errstr(errno));
		close(fd);
		return -1;
	}
	if (attach(fd, target, "") < 0) {
		setmsg("%s", errstr(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* mask_one covers target with an empty read-only tmpfs (a directory) or
 * the host's /dev/null (null, checked to be 1:3). */
static int mask_one(int target, int null)
{
	static const struct fsparam params[] = {{"size", "4k"}, {"nr_inodes", "1"}, {"mode", "555"}};
	struct stat st;
	int fd;

	if (fstat(target, &st) < 0) {
		setmsg("%s", errstr(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		fd = mount_fs(target, "tmpfs", C_MOUNT_ATTR_RDONLY | C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV | C_MOUNT_ATTR_NOEXEC,
			      params, 3);
		if (fd < 0)
			return -1;
		close(fd);
		return 0;
	}
	return clone_onto(null, target, C_MOUNT_ATTR_RDONLY | C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NOEXEC, 0,
			  "mount_setattr ro,nosuid,noexec");
}

/* readonly_one binds target read-only onto itself, recursively. */
static int readonly_one(int target, int unused)
{
	(void)unused;
	return clone_onto(target, target, C_MOUNT_ATTR_RDONLY | C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV | C_MOUNT_ATTR_NOEXEC,
			  1, "mount_setattr ro");
}

/* each_in_root runs one() on each path of l resolved in the root without
 * following any symlink (the paths lie in the proc and sysfs just
 * mounted); missing paths are skipped. what names the step in messages. */
static void each_in_root(int root, const struct list *l, const char *what, int (*one)(int target, int null), int null)
{
	char rel[PATH_MAX * 2];
	int i, t;

	for (i = 0; i < l->n; i++) {
		rel_in_root(l->v[i], rel, sizeof(rel));
		t = c_openat2(root, rel, O_PATH | O_NOFOLLOW, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (t < 0 && errno == ENOENT)
			continue;
		if (t < 0) {
			setmsg("%s", errstr(errno));
			wrap(what, l->v[i]);
			fail_setup();
		}
		if (one(t, null) < 0) {
			wrap(what, l->v[i]);
			fail_setup();
		}
		close(t);
	}
}

/* mask_and_readonly: rootfs.maskPaths then rootfs.readonlyPaths. */
static void mask_and_readonly(int root)
{
	int null = -1;

	if (cfg.mask.n > 0)
		null = verified_null();
	each_in_root(root, &cfg.mask, "rootfs: mask %s", mask_one, null);
	if (null >= 0)
		close(null);
	each_in_root(root, &cfg.ropaths, "rootfs: make %s read-only", readonly_one, -1);
}

static int mount_bind(int root, const struct bind *b)
{
	int srcfd = open_bind_source(b), src, target;

	if (srcfd < 0)
		return -1;
	src = clone_tree(srcfd, "", 1);
	if (src < 0) {
		close(srcfd);
		return -1;
	}
	target = bind_mountpoint(root, b, srcfd);
	close(srcfd);
	if (target < 0) {
		if (strstr(msg, "read-only file system") != NULL)
			wrap("the root is read-only, so the mount point must already exist in it");
		else
			wrap("mount point");
		close(src);
		return -1;
	}
	if (b->ro && set_attrs(src, C_MOUNT_ATTR_RDONLY, 1) < 0) {
		setmsg("make read-only: %s", errstr(errno));
		return -1;
	}
	if (attach(src, target, "") < 0) {
		setmsg("move_mount: %s", errstr(errno));
		return -1;
	}
	close(src);
	close(target);
	return 0;
}

static int loopback_up(void);

/* join_pod_network joins the fast path's pod network namespace when the
 * pause has made it, and brings lo up there: before sysfs is mounted (a
 * sysfs shows the network namespace of whoever mounts it) and before the
 * workload runs. */
static void join_pod_network(void)
{
	char c;
	ssize_t n;

	if (net_pidfd < 0)
		return;
	do
		n = read(net_ready_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		setmsg("pod network: the pause did not make the pod's network namespace");
		fail_setup();
	}
	if (setns(net_pidfd, CLONE_NEWNET) < 0) {
		setmsg("pod network: join the pod's network namespace: %s", errstr(errno));
		fail_setup();
	}
	close(net_pidfd);
	close(net_ready_fd);
	/* The pause becomes non-dumpable once every holder of its wait pipe
	 * closed it, we last: a non-dumpable process's namespaces can be
	 * joined through its pidfd only with CAP_SYS_PTRACE over its memory's
	 * user namespace, the host's for this pause (setns: EPERM). */
	close(pause_wait_fd);
	net_pidfd = net_ready_fd = pause_wait_fd = -1;
	if (loopback_up() < 0)
		fail_setup();
	explain("netlink RTM_NEWLINK lo IFF_UP: 127.0.0.1 and ::1 work in the pod's network namespace");
}

/*
 * mount_pod_files binds each pod file ('P': /etc/hosts, /etc/hostname,
 * /etc/resolv.conf of `sandbox run -- CMD`'s fast path, which has no state
 * directory to write them in) read-only on its destination, last, as the
 * supervisor's pod files are the last binds. The files are made in a small
 * tmpfs stacked on the new root's /tmp for the time it takes to bind them,
 * then detached: each bind keeps its file, and /tmp is the container's own
 * again. (A detached fsmount cannot be the source of open_tree on kernels
 * before 6.15, hence the stacking.)
 */
static void mount_pod_files(int root)
{
	static const struct fsparam params[] = {{"mode", "755"}, {"size", "1m"}};
	int tmp, mnt, i;

	if (cfg.podfile_dst.n == 0)
		return;
	tmp = top_level_dir(root, "tmp", 0);
	if (tmp < 0)
		fail_setup();
	mnt = mount_fs(tmp, "tmpfs", C_MOUNT_ATTR_NOSUID | C_MOUNT_ATTR_NODEV | C_MOUNT_ATTR_NOEXEC, params, 2);
	if (mnt < 0) {
		wrap("rootfs: mount the pod files' tmpfs");
		fail_setup();
	}
	close(tmp);
	for (i = 0; i < cfg.podfile_dst.n; i++) {
		const char *data = cfg.podfile_data.v[i];
		struct bind b = {1, "(pod file)", cfg.podfile_dst.v[i], -1};
		char name[16];
		int fd;

		snprintf(name, sizeof(name), "f%d", i);
		fd = openat(mnt, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			setmsg("rootfs: pod file %s: create: %s", b.dst, errstr(errno));
			fail_setup();
		}
		write_all(fd, data, strlen(data));
		close(fd);
		b.fd = openat(mnt, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (b.fd < 0 || mount_bind(root, &b) < 0) {
			if (b.fd < 0)
				setmsg("open: %s", errstr(errno));
			wrap("rootfs: bind the pod file %s", b.dst);
			fail_setup();
		}
		close(b.fd);
	}
	/* umount2 needs a path: the tmpfs's own root, as cwd. */
	if (fchdir(mnt) < 0 || syscall(SYS_umount2, ".", C_MNT_DETACH) < 0) {
		setmsg("rootfs: detach the pod files' tmpfs: %s", errstr(errno));
		fail_setup();
	}
	close(mnt);
}

static void setup_rootfs(void)
{
	int host = cfg.root == NULL || cfg.root[0] == '\0';
	int root, i;

	validate();
	check_own_mount_namespace();
	if (syscall(SYS_mount, "", "/", NULL, C_MS_REC | C_MS_PRIVATE, NULL) < 0) {
		setmsg("rootfs: make / recursively private: %s", errstr(errno));
		fail_setup();
	}
	explain("mount(\"\", \"/\", MS_REC|MS_PRIVATE): nothing mounted from now on propagates out of this mount namespace");
	/* Every bind source is opened before the new root is attached on
	 * Scratch, which may hide a source's host path (the fast path's
	 * Scratch is /tmp). One that fails now is opened again, and its error
	 * reported, when its turn comes. */
	for (i = 0; i < cfg.nbinds; i++)
		if (cfg.binds[i].fd < 0)
			cfg.binds[i].fd = open(cfg.binds[i].src, O_PATH | O_CLOEXEC);
	root = bind_root();
	if (host)
		explain("open_tree(\"/\", OPEN_TREE_CLONE|AT_RECURSIVE), mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE), move_mount to %s: the host root, read-only, is the new root", cfg.scratch);
	else
		explain("open_tree(%s, OPEN_TREE_CLONE|AT_RECURSIVE), move_mount onto itself (read-only: %s): the new root", quote(cfg.root), cfg.readonly ? "true" : "false");
	mount_tmp(root, !host);
	explain("fsopen(\"tmpfs\"), fsmount, move_mount on /tmp (mode 1777, nosuid, nodev)");
	mount_dev(root, !host);
	if (cfg.shm != NULL && cfg.shm[0] != '\0')
		explain("tmpfs on /dev; bind the host's null zero full random urandom tty; devpts (newinstance) on /dev/pts; /dev/shm: bind %s (shared by the pod's containers)", cfg.shm);
	else
		explain("tmpfs on /dev; bind the host's null zero full random urandom tty; devpts (newinstance) on /dev/pts; /dev/shm: a private tmpfs");
	mount_proc(root, !host);
	explain("fsopen(\"proc\"), fsmount, move_mount on /proc: a proc of the pod's PID namespace");
	join_pod_network();
	mount_sys(root, !host);
	explain("sysfs on /sys, read-only");
	mask_and_readonly(root);
	if (cfg.mask.n + cfg.ropaths.n > 0)
		explain("masked %d paths (/dev/null or an empty tmpfs on top), %d paths bound read-only onto themselves (/proc/sys, ...)", cfg.mask.n, cfg.ropaths.n);
	for (i = 0; i < cfg.nbinds; i++) {
		const struct bind *b = &cfg.binds[i];
		if (mount_bind(root, b) < 0) {
			wrap("rootfs: bind %s on %s", b->src, b->dst);
			fail_setup();
		}
		explain("open_tree(%s, OPEN_TREE_CLONE), move_mount on %s%s", b->src, b->dst, b->ro ? ", read-only" : "");
	}
	mount_pod_files(root);
	/* pivot_root(".", "."): see rootfs.pivot. */
	if (fchdir(root) < 0) {
		setmsg("rootfs: chdir to the new root: %s", errstr(errno));
		fail_setup();
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		setmsg("rootfs: pivot_root: %s", errstr(errno));
		fail_setup();
	}
	if (syscall(SYS_umount2, ".", C_MNT_DETACH) < 0) {
		setmsg("rootfs: detach the old root: %s", errstr(errno));
		fail_setup();
	}
	if (chdir("/") < 0) {
		setmsg("rootfs: chdir /: %s", errstr(errno));
		fail_setup();
	}
	close(root);
	explain("pivot_root(\".\", \".\"), umount2(\".\", MNT_DETACH), chdir(\"/\"): the new root is /, the old one is detached");
}

/* ---- pod setup ---------------------------------------------------------- */

/* loopback_up sets IFF_UP on lo with one RTM_NEWLINK, as netsetup does. */
static int loopback_up(void)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	struct {
		struct nlmsghdr nh;
		struct nlmsgerr err;
		char pad[256];
	} resp;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	unsigned idx = if_nametoindex("lo");
	int s;
	ssize_t n;

	if (idx == 0) {
		setmsg("pod network: find loopback: %s", errstr(errno));
		return -1;
	}
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0) {
		setmsg("pod network: bring up loopback: %s", errstr(errno));
		return -1;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_NEWLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)idx;
	req.ifi.ifi_flags = IFF_UP;
	req.ifi.ifi_change = IFF_UP;
	if (sendto(s, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		setmsg("pod network: bring up loopback: %s", errstr(errno));
		close(s);
		return -1;
	}
	n = recv(s, &resp, sizeof(resp), 0);
	close(s);
	if (n < 0) {
		setmsg("pod network: bring up loopback: %s", errstr(errno));
		return -1;
	}
	if ((size_t)n >= sizeof(struct nlmsghdr) + sizeof(struct nlmsgerr) && resp.nh.nlmsg_type == NLMSG_ERROR &&
	    resp.err.error != 0) {
		setmsg("pod network: bring up loopback: %s", errstr(-resp.err.error));
		return -1;
	}
	return 0;
}

/* ---- exec ----------------------------------------------------------------- */

static const char *env_value(const char *key, const char *fallback)
{
	size_t klen = strlen(key);
	int i;

	for (i = cfg.env.n - 1; i >= 0; i--)
		if (strncmp(cfg.env.v[i], key, klen) == 0 && cfg.env.v[i][klen] == '=')
			return cfg.env.v[i] + klen + 1;
	return fallback;
}

/* check_executable is containerinit.checkExecutable: 0, or 126/127 with msg. */
static int check_executable(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0) {
		if (errno == ENOENT) {
			setmsg("exec %s: no such file or directory", quote(p));
			return 127;
		}
		setmsg("exec %s: stat %s: %s", quote(p), p, errstr(errno));
		return 126;
	}
	if (S_ISDIR(st.st_mode)) {
		setmsg("exec %s: is a directory", quote(p));
		return 126;
	}
	if (access(p, X_OK) < 0) {
		setmsg("exec %s: permission denied", quote(p));
		return 126;
	}
	return 0;
}

/* look_path is containerinit.LookPath; exits on failure. */
static char *look_path(const char *name)
{
	static char found[PATH_MAX * 2];
	char first[sizeof(msg)] = "";
	const char *path = env_value("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	int code;

	if (strchr(name, '/') != NULL) {
		code = check_executable(name);
		if (code != 0)
			die(code);
		return (char *)name;
	}
	for (;;) {
		const char *e = strchrnul(path, ':');
		char dir[PATH_MAX];
		size_t n = (size_t)(e - path);

		if (n == 0 || (n == 1 && path[0] == '.')) {
			snprintf(found, sizeof(found), "%s", name); /* filepath.Join(".", name) */
		} else {
			if (n >= sizeof(dir))
				n = sizeof(dir) - 1;
			memcpy(dir, path, n);
			dir[n] = '\0';
			while (n > 1 && dir[n - 1] == '/')
				dir[--n] = '\0';
			snprintf(found, sizeof(found), "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", name);
		}
		code = check_executable(found);
		if (code == 0)
			return found;
		if (code == 126 && first[0] == '\0')
			memcpy(first, msg, sizeof(first));
		if (*e == '\0')
			break;
		path = e + 1;
	}
	if (first[0] != '\0') {
		memcpy(msg, first, sizeof(msg));
		die(126);
	}
	setmsg("exec %s: executable file not found in $PATH", quote(name));
	die(127);
}

/* enter_working_dir is containerinit.enterWorkingDir; getcwd is the raw
 * system call, which says "(unreachable)" for a directory outside the root. */
static void enter_working_dir(void)
{
	const char *dir = cfg.workdir != NULL && cfg.workdir[0] != '\0' ? cfg.workdir : "/";
	char cwd[PATH_MAX + 1];

	if (chdir(dir) < 0) {
		setmsg("container %s: workingDir %s: %s", cfg.name, dir, errstr(errno));
		fail_setup();
	}
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) < 0) {
		setmsg("container %s: workingDir %s: getcwd: %s", cfg.name, dir, errstr(errno));
		fail_setup();
	}
	if (cwd[0] != '/') {
		setmsg("container %s: workingDir %s: resolves outside the container root (%s)", cfg.name, dir, quote(cwd));
		fail_setup();
	}
}

static const char *cap_name(int c, char *buf, size_t size)
{
	if (c < cfg.capnames.n)
		snprintf(buf, size, "CAP_%s", cfg.capnames.v[c]);
	else
		snprintf(buf, size, "capability %d", c);
	return buf;
}

static void groups_string(char *out, size_t size)
{
	size_t at = 0;
	int i;

	at += (size_t)snprintf(out, size, "[");
	for (i = 0; i < cfg.ngroups && at < size; i++)
		at += (size_t)snprintf(out + at, size - at, "%s%u", i ? " " : "", cfg.groups[i]);
	if (at < size)
		snprintf(out + at, size - at, "]");
}

/*
 * struct creds is what apply_security makes of the process: for a
 * container ('S') the Go init's security (one mask for the bounding,
 * permitted, effective and inheritable sets, no ambient ones); for an exec
 * ('I') the container process's own sets, as execin.applyIdentity. The
 * steps and their order are the same; the messages are each Go caller's.
 */
struct creds {
	uint32_t uid, gid;
	uint64_t bnd, prm, eff, inh, amb;
	int nnp;
};

/* apply_security is containerinit.applySecurity, in the same order, and
 * (cfg.exec) execin.applyIdentity, which differs in its messages, keeps
 * capabilities across the id change for uid 0 too, always tolerates a
 * denied setgroups, and raises the ambient set. */
static void apply_security(const struct creds *k)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	uint64_t prm = k->prm, eff = k->eff, inh = k->inh;
	char gs[1024], cn[64];
	int c, x = cfg.exec;

	for (c = 0; c < 64; c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0)
			break;
		if (in == 0) {
			if (!x) {
				prm &= ~(1ULL << c);
				eff &= ~(1ULL << c);
				inh &= ~(1ULL << c);
			}
			continue;
		}
		if (k->bnd & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (x)
				setmsg("exec: drop capability %d from the bounding set: %s", c, errstr(errno));
			else
				setmsg("container %s: capabilities: drop %s from the bounding set: %s", cfg.name, cap_name(c, cn, sizeof(cn)), errstr(errno));
			fail_setup();
		}
	}
	if (cfg.nfilter > 0) {
		struct sock_fprog prog = {(unsigned short)cfg.nfilter, cfg.filter};
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
			int e = errno;
			if (x)
				setmsg("exec: seccomp: load the filter: %s%s", e == ENOSYS ? "not supported by the kernel: " : "", errstr(e));
			else
				setmsg("container %s: seccomp: load the filter: %s%s", cfg.name,
				       e == ENOSYS ? "not supported by the kernel: " : "", errstr(e));
			fail_setup();
		}
	}
	if ((x || k->uid != 0) && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
		if (x)
			setmsg("exec: keep capabilities: %s", errstr(errno));
		else
			setmsg("container %s: prctl PR_SET_KEEPCAPS: %s", cfg.name, errstr(errno));
		fail_setup();
	}
	groups_string(gs, sizeof(gs));
	if (syscall(SYS_setgroups, cfg.ngroups, cfg.groups) < 0 && (x ? errno != EPERM : (cfg.ngroups > 0 || errno != EPERM))) {
		if (x)
			setmsg("exec: setgroups: %s", errstr(errno));
		else
			setmsg("container %s: setgroups %s: %s (supplementalGroups need a user namespace with setgroups allowed: add a range to /etc/subgid)",
			       cfg.name, gs, errstr(errno));
		fail_setup();
	}
	if (syscall(SYS_setresgid, k->gid, k->gid, k->gid) < 0) {
		if (x)
			setmsg("exec: setresgid %u: %s", k->gid, errstr(errno));
		else
			setmsg("container %s: setresgid %u: %s (is gid %u mapped in the pod's user namespace? see /etc/subgid)",
			       cfg.name, k->gid, errstr(errno), k->gid);
		fail_setup();
	}
	if (syscall(SYS_setresuid, k->uid, k->uid, k->uid) < 0) {
		if (x)
			setmsg("exec: setresuid %u: %s", k->uid, errstr(errno));
		else
			setmsg("container %s: setresuid %u: %s (is uid %u mapped in the pod's user namespace? see /etc/subuid)",
			       cfg.name, k->uid, errstr(errno), k->uid);
		fail_setup();
	}
	memset(data, 0, sizeof(data));
	data[0].effective = (uint32_t)eff;
	data[0].permitted = (uint32_t)prm;
	data[0].inheritable = (uint32_t)inh;
	data[1].effective = (uint32_t)(eff >> 32);
	data[1].permitted = (uint32_t)(prm >> 32);
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0) {
		if (x)
			setmsg("exec: set capabilities: %s", errstr(errno));
		else
			setmsg("container %s: capset: %s", cfg.name, errstr(errno));
		fail_setup();
	}
	if (x) {
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
			setmsg("exec: keep capabilities: %s", errstr(errno));
			fail_setup();
		}
		for (c = 0; c < 64; c++) {
			if (!(k->amb & (1ULL << c)))
				continue;
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) {
				setmsg("exec: raise ambient capability %d: %s", c, errstr(errno));
				fail_setup();
			}
		}
	}
	if (k->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		if (x)
			setmsg("exec: set no_new_privs: %s", errstr(errno));
		else
			setmsg("container %s: prctl PR_SET_NO_NEW_PRIVS: %s", cfg.name, errstr(errno));
		fail_setup();
	}
	explain("setgroups(%s), setresgid(%u), setresuid(%u); capabilities kept: %d; no_new_privs: %s; seccomp filter: %s",
		gs, k->gid, k->uid, x ? __builtin_popcountll(eff) : cfg.ncapnames, k->nnp ? "true" : "false", cfg.nfilter > 0 ? "true" : "false");
}

/* short_argv is containerinit.shortArgv: quoted, each cut at 32 runes. */
static void short_argv(char *out, size_t size)
{
	size_t at = 0;
	int i;

	at += (size_t)snprintf(out, size, "[");
	for (i = 0; i < cfg.argv.n && at < size; i++) {
		char cut[160];
		const unsigned char *s = (const unsigned char *)cfg.argv.v[i];
		size_t n = 0, runes = 0;

		while (s[n] && runes < 32) {
			n++;
			while ((s[n] & 0xc0) == 0x80)
				n++;
			runes++;
		}
		snprintf(cut, sizeof(cut), "%.*s%s", (int)n, (const char *)s, s[n] ? "..." : "");
		at += (size_t)snprintf(out + at, size - at, "%s%s", i ? " " : "", quote(cut));
	}
	if (at < size)
		snprintf(out + at, size - at, "]");
}

/* exec_workload is the last step of both: only 0, 1 and 2 reach the
 * workload (CVE-2024-21626), then execve, whose failure is
 * containerinit.ExecFailure. */
static __attribute__((noreturn)) void exec_workload(const char *path)
{
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		setmsg("%smark descriptors close-on-exec: %s", cfg.exec ? "exec: " : "", errstr(errno));
		fail_setup();
	}
	if (explain_fd >= 0) {
		char av[4096];
		short_argv(av, sizeof(av));
		explain("execve(%s, %s): descriptors above 2 closed, the %s becomes the %s", quote(path), av,
			cfg.exec ? "exec helper" : "init", cfg.exec ? "command" : "workload");
	}
	execve(path, cfg.argv.v, cfg.env.v != NULL ? cfg.env.v : (char *[]){NULL});
	{
		int e = errno;
		const char *name = quote(cfg.argv.v[0]);
		setmsg("exec %s: %s", name, errstr(e));
		if (e == ENOENT)
			die(127);
		if (e == EACCES || e == ENOEXEC || e == EPERM || e == EISDIR)
			die(126);
		die(125);
	}
}

/* read_records reads the mode byte on the config descriptor env names
 * and, for 'C', the records; it returns 0 for 'G' (the Go code reads the
 * rest of the pipe), 1 once cfg is decoded. */
static int config_fd = -1; /* the container init waits for its EOF: await_pod_ready */

static int read_records(const char *env)
{
	int cfg_fd = config_fd = env_fd(env);
	char mode = 0, *buf;
	size_t len;
	ssize_t n;

	if (cfg_fd < 0) {
		setmsg("%s: %s not set", cfg.exec ? "exec" : "container init", env);
		fail_setup();
	}
	do
		n = read(cfg_fd, &mode, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		setmsg("read container config: %s", errstr(errno));
		fail_setup();
	}
	if (n == 1 && mode == 'G')
		return 0;
	if (n != 1 || mode != 'C') {
		setmsg("decode container config: want 'C' or 'G' first, got %s", n == 1 ? "another byte" : "end of file");
		fail_setup();
	}
	read_config(cfg_fd, &buf, &len);
	decode(buf, len);
	return 1;
}

/*
 * sandbox_cexec is called by run_exec in the child it cloned inside a
 * running container (its namespaces joined, root of its user namespace,
 * cwd /) when _SANDBOX_CINIT=1: it is execin.ChildMain for a command
 * without a terminal, in the same order with the same messages: working
 * directory, a session of its own, the container process's identity
 * ('I', 'g', 'F'), PATH lookup as that user, exec. The records come on
 * _SANDBOX_EXEC_CONFIG_FD, failures go to _SANDBOX_EXEC_ERROR_FD, and
 * --explain lines to _SANDBOX_EXEC_EXPLAIN_FD. It returns only when the
 * caller sent a Go config after all ('G').
 */
static __attribute__((noreturn)) void cexec_run(void);

void sandbox_cexec(void)
{
	who = "sandbox exec";
	cfg.exec = 1; /* messages before the records say "exec" */
	err_fd = env_fd("_SANDBOX_EXEC_ERROR_FD");
	if (!read_records("_SANDBOX_EXEC_CONFIG_FD"))
		return;
	explain_fd = env_fd("_SANDBOX_EXEC_EXPLAIN_FD");
	explain("exec in C (nsenter/cinit.c): no Go runtime starts in the container");
	/* The records must say exec, and nothing that belongs to a
	 * container's start: this process is already inside one. */
	if (!cfg.xrec || cfg.become_root || cfg.pod || cfg.hostnet || cfg.root != NULL || cfg.readonly ||
	    cfg.scratch != NULL || cfg.shm != NULL || cfg.nbinds > 0 || cfg.mask.n > 0 || cfg.ropaths.n > 0 || cfg.security) {
		setmsg("decode container config: not an exec config");
		fail_setup();
	}
	cexec_run();
}

/* cexec_run is sandbox_cexec once cfg holds the exec's config. */
static __attribute__((noreturn)) void cexec_run(void)
{
	const char *dir, *path;

	if (cfg.argv.n == 0) {
		setmsg("exec: empty command");
		fail_setup();
	}
	dir = cfg.workdir != NULL && cfg.workdir[0] != '\0' ? cfg.workdir : "/";
	if (chdir(dir) < 0) {
		setmsg("exec: working directory %s: %s", dir, errstr(errno));
		fail_setup();
	}
	/* A session of its own: terminal signals of the caller's terminal do
	 * not reach inside; the caller forwards the ones it gets. */
	if (setsid() < 0) {
		setmsg("exec: setsid: %s", errstr(errno));
		fail_setup();
	}
	if (cfg.identity) {
		struct creds k = {cfg.uid, cfg.gid, cfg.bnd, cfg.prm, cfg.eff, cfg.inh, cfg.amb, cfg.nnp};
		apply_security(&k);
	} else if (cfg.nfilter > 0 || cfg.ngroups > 0) {
		setmsg("decode container config: seccomp or groups without an identity");
		fail_setup();
	}
	path = look_path(cfg.argv.v[0]);
	exec_workload(path);
}

/*
 * sandbox_cexec_direct is sandbox_cexec for `sandbox exec` run from the
 * CLI's constructor (fastexec.c): the caller built the config itself, from
 * the same sources as the Go code that encodes the records (execin.Start,
 * cmd/sandbox/exec.go), and reads failures as "CODE\nMESSAGE" on err. It
 * never returns.
 */
void sandbox_cexec_direct(const struct cexec_direct *d)
{
	who = "sandbox exec";
	cfg.exec = cfg.xrec = 1;
	plain_failure = 1;
	err_fd = d->err_fd;
	cfg.name = "";
	cfg.argv.v = d->argv;
	cfg.argv.n = d->argc;
	cfg.env.v = d->env;
	cfg.env.n = d->nenv;
	cfg.workdir = (char *)d->workdir;
	cfg.identity = 1;
	cfg.uid = d->uid;
	cfg.gid = d->gid;
	cfg.bnd = d->bnd;
	cfg.prm = d->prm;
	cfg.eff = d->eff;
	cfg.inh = d->inh;
	cfg.amb = d->amb;
	cfg.nnp = d->nnp;
	cfg.groups = d->groups;
	cfg.ngroups = d->ngroups;
	cfg.filter = (struct sock_filter *)d->filter;
	cfg.nfilter = d->nfilter;
	cexec_run();
}

/*
 * sandbox_cinit is called by run_join in the joined child (in the pod's
 * namespaces and a mount namespace of its own) when _SANDBOX_CINIT=1. It
 * returns only when the supervisor sent a Go config after all ('G').
 */
static __attribute__((noreturn)) void run_init(void);

void sandbox_cinit(void)
{
	/* As containerinit.Main: this process runs the sandbox binary inside
	 * the pod; non-dumpable, its /proc/PID/exe and memory stay out of the
	 * pod's reach (CVE-2019-5736). execve resets it for the workload. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	err_fd = env_fd("_SANDBOX_ERROR_FD");
	if (!read_records("_SANDBOX_CONFIG_FD"))
		return; /* the Go init reads the JSON that follows */
	explain_fd = env_fd("_SANDBOX_EXPLAIN_FD");
	run_init();
}

/*
 * sandbox_cinit_fast is the container init of `sandbox run -- CMD`'s fast
 * path (fastrun.c): the records (from 'V' on, no mode byte) come in memory,
 * the workload is exec'd once ready_fd reads EOF, and a failure is printed
 * on stderr as the CLI prints the Go path's: "sandbox: error: <who>: msg".
 * It is also the init of `sandbox run POD.yaml`'s fast path (fastpod.c),
 * whose stderr is the container's log pipe: its failure goes to start_fd
 * as "CODE\nMESSAGE" (-1: on stderr). start_fd closes on the exec.
 */
void sandbox_cinit_fast(char *records, size_t len, int ready_fd, const char *prefix, int pidfd, int netready,
			int pause_wait, int start_fd)
{
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	who = prefix;
	if (start_fd >= 0) {
		/* The manifest fast path (fastpod.c) reads the failure and
		 * words it as the supervisor does. */
		plain_failure = 1;
		err_fd = start_fd;
	}
	config_fd = ready_fd;
	net_pidfd = pidfd;
	net_ready_fd = netready;
	pause_wait_fd = pause_wait;
	decode(records, len);
	run_init();
}

static void run_init(void)
{
	char *path;

	if (cfg.xrec || cfg.identity) {
		setmsg("decode container config: an exec config for a container init");
		fail_setup();
	}

	if (cfg.become_root) {
		/* containerinit.becomeRoot */
		if (syscall(SYS_setresgid, 0, 0, 0) < 0) {
			setmsg("setresgid 0 in the pod's user namespace: %s", errstr(errno));
			fail_setup();
		}
		if (syscall(SYS_setgroups, 0, NULL) < 0 && errno != EPERM) {
			setmsg("setgroups in the pod's user namespace: %s", errstr(errno));
			fail_setup();
		}
		if (syscall(SYS_setresuid, 0, 0, 0) < 0) {
			setmsg("setresuid 0 in the pod's user namespace: %s", errstr(errno));
			fail_setup();
		}
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (cfg.argv.n == 0) {
		setmsg("container config: empty argv");
		fail_setup();
	}
	if (cfg.pod) {
		if (sethostname(cfg.hostname, strlen(cfg.hostname)) < 0) {
			setmsg("set pod hostname %s: %s", quote(cfg.hostname), errstr(errno));
			fail_setup();
		}
		explain("sethostname(%s): the pod's UTS namespace, shared by every container", quote(cfg.hostname));
		if (!cfg.hostnet && net_pidfd < 0) {
			if (loopback_up() < 0)
				fail_setup();
			explain("netlink RTM_NEWLINK lo IFF_UP: 127.0.0.1 and ::1 work in the pod's network namespace");
		}
	}
	snprintf(fail_prefix, sizeof(fail_prefix), "container %s: set up root filesystem", cfg.name);
	setup_rootfs();
	fail_prefix[0] = '\0';
	enter_working_dir();
	path = look_path(cfg.argv.v[0]);
	if (cfg.security) {
		struct creds k = {cfg.uid, cfg.gid, cfg.caps, cfg.caps, cfg.caps, cfg.caps, 0, cfg.nnp};
		apply_security(&k);
	}
	await_pod_ready(config_fd);
	exec_workload(path);
}
