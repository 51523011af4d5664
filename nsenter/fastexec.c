/*
 * fastexec.c: `sandbox exec [-c CONTAINER] [-i] POD [--] CMD [ARG...]`
 * without starting the Go runtime. The sandbox binary's ELF constructor
 * (nsenter.c) calls sandbox_fastexec when no hidden role is set and
 * argv[1] is "exec", before Go starts: the runtime start alone (about
 * 2.5 ms) costs more than the whole exec. It does what cmd/sandbox/exec.go
 * (runExec) and execin.Start do for the common case, from the same
 * sources, and the command is run by the C exec child of cinit.c
 * (sandbox_cexec_direct), the one the Go path runs too:
 *
 *   - the pod's fast exec file (supervisor/fastexec_linux.go writes it
 *     next to state.json each time the record is saved): the supervisor's
 *     identity, each container's state, PID and start time, working
 *     directory, and the seccomp program for the bounding set its init
 *     applied;
 *   - the supervisor must be running (PID and start time, not exiting),
 *     the container's process must still have the recorded start time once
 *     its pidfd is open;
 *   - the namespaces that differ from ours, the environment and the
 *     identity of the container process now (/proc/PID/{ns,environ,status,
 *     uid_map,gid_map}, read as execin.EnvironOf and IdentityOf read them);
 *   - a helper joins through the pidfd (non-dumpable first, as run_exec),
 *     becomes root of the pod's user namespace and clones the child
 *     (CLONE_PARENT: ours), which runs the command with the container
 *     process's identity; we forward SIGINT, SIGTERM, SIGHUP, SIGQUIT,
 *     SIGUSR1 and SIGUSR2 to it and exit with its code (128+N for signal
 *     N), or print its start failure as the Go code does.
 *
 * Everything else returns to the Go code, which then does the whole exec
 * and prints its own messages: SANDBOX_FASTPATH=0, -t, --explain, any other
 * flag or form of the arguments, a missing or malformed file, a pod or
 * container that is not running, any /proc read or parse failure, a
 * bounding set other than the one the program was built for, a helper
 * that cannot join, and a start failure whose message is not ASCII (the Go
 * code's JSON decoding would change invalid UTF-8). Until the command is
 * exec'd nothing is visible to it, so falling back is always safe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastexec.h"

int sandbox_fast_paths_off(void); /* nsenter.c */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* supervisor/fastexec_linux.go: FastExecFile, FastExecVersion, flags. */
#define FAST_FILE "fastexec"
enum { fast_version = 2 };
enum { pod_ended = 1 };
enum { c_init = 1, c_running = 2, c_seccomp = 4, c_goonly = 8 };

enum {
	max_fast_file = 8 << 20,
	max_containers = 4096,
	max_cgroups = 32, /* the pod's cgroup directories: one per v1 hierarchy */
	max_name = 253,
	max_dir = 4096,
	max_filter = 4096, /* BPF_MAXINSNS */
	max_proc_file = 64 << 20,
};

/* ---- reading ------------------------------------------------------------ */

/* read_fd reads fd to EOF (at most limit bytes) into a NUL-terminated
 * buffer; NULL on error or when larger. */
static char *read_fd(int fd, size_t limit, size_t *len)
{
	size_t cap = 4096, have = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return NULL;
	for (;;) {
		ssize_t n;

		if (have == cap) {
			char *nb;
			if (cap >= limit) {
				free(buf);
				return NULL;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + have, cap - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	if (have > limit) {
		free(buf);
		return NULL;
	}
	buf[have] = '\0';
	*len = have;
	return buf;
}

static char *read_path(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	if (fd < 0)
		return NULL;
	buf = read_fd(fd, max_proc_file, len);
	close(fd);
	return buf;
}

static char *read_proc(int pid, const char *file, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return read_path(path, len);
}

/* ---- numbers and fields, as Go's strconv and strings.Fields ------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* parse_uint is strconv.ParseUint(s[:n], base, bits) for base 10 or 16. */
static int parse_uint(const char *s, size_t n, int base, int bits, uint64_t *out)
{
	uint64_t v = 0, max = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -1;
		if (v > (max - d) / (uint64_t)base)
			return -1;
		v = v * (uint64_t)base + d;
	}
	*out = v;
	return 0;
}

struct field {
	const char *s;
	size_t n;
};

/* fields splits [s, end) at whitespace into at most max fields and
 * returns how many there are (all of them, even past max). */
static int fields(const char *s, const char *end, struct field *f, int max)
{
	int n = 0;

	while (s < end) {
		const char *start;

		while (s < end && is_space(*s))
			s++;
		if (s == end)
			break;
		start = s;
		while (s < end && !is_space(*s))
			s++;
		if (n < max) {
			f[n].s = start;
			f[n].n = (size_t)(s - start);
		}
		n++;
	}
	return n;
}

/* ---- processes ---------------------------------------------------------- */

/* sandbox_proc_stat reads the state, flags and start time (fields 3, 9 and 22) of
 * /proc/PID/stat, as state.StartTime and state.Exiting parse it: after the
 * last ')'. */
int sandbox_proc_stat(int pid, char *st, uint64_t *flags, uint64_t *start)
{
	struct field f[20];
	size_t len;
	char *buf = read_proc(pid, "stat", &len);
	char *paren;
	int n, ok = -1;

	if (buf == NULL)
		return -1;
	paren = strrchr(buf, ')');
	if (paren != NULL) {
		n = fields(paren + 1, buf + len, f, 20);
		if (n >= 20 && parse_uint(f[19].s, f[19].n, 10, 64, start) == 0 &&
		    parse_uint(f[6].s, f[6].n, 10, 64, flags) == 0) {
			*st = f[0].n == 1 ? f[0].s[0] : '?';
			ok = 0;
		}
	}
	free(buf);
	return ok;
}

/* map_to_inside is execin's mapToInside over a uid_map or gid_map. */
static int map_to_inside(const char *map, size_t len, uint32_t outside, uint32_t *inside)
{
	const char *line = map, *end = map + len;

	while (line <= end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl != NULL ? nl : end;
		struct field f[3];
		uint64_t in, out, n;

		if (fields(line, le, f, 3) == 3 && parse_uint(f[0].s, f[0].n, 10, 32, &in) == 0 &&
		    parse_uint(f[1].s, f[1].n, 10, 32, &out) == 0 && parse_uint(f[2].s, f[2].n, 10, 64, &n) == 0 &&
		    (uint64_t)outside >= out && (uint64_t)outside < out + n) {
			*inside = (uint32_t)(in + ((uint64_t)outside - out));
			return 0;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return -1;
}

struct identity {
	uint32_t uid, gid;
	uint32_t *groups;
	int ngroups;
	uint64_t bnd, prm, eff, inh, amb;
	int nnp, seccomp;
};

/* identity_of is execin.IdentityOf: /proc/PID/status with its ids mapped
 * into the process's user namespace. */
static int identity_of(int pid, struct identity *id)
{
	size_t slen, ulen, glen;
	char *status = read_proc(pid, "status", &slen);
	char *umap = read_proc(pid, "uid_map", &ulen);
	char *gmap = read_proc(pid, "gid_map", &glen);
	/* The last line of each key counts, as in Go's map. */
	const char *uid = NULL, *gid = NULL, *groups = NULL, *cap[5] = {NULL}, *nnp = NULL, *sec = NULL;
	const char *uidend = NULL, *gidend = NULL, *groupsend = NULL, *capend[5] = {NULL}, *nnpend = NULL, *secend = NULL;
	static const char *capkeys[5] = {"CapBnd", "CapPrm", "CapEff", "CapInh", "CapAmb"};
	uint64_t *capdst[5] = {&id->bnd, &id->prm, &id->eff, &id->inh, &id->amb};
	const char *line, *end;
	struct field f[2];
	uint64_t v;
	int ok = -1, i;

	memset(id, 0, sizeof(*id));
	if (status == NULL || umap == NULL || gmap == NULL)
		goto out;
	end = status + slen;
	for (line = status; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl != NULL ? nl : end;
		const char *colon = memchr(line, ':', (size_t)(le - line));

		if (colon != NULL) {
			size_t k = (size_t)(colon - line);
#define KEY(name, var, varend) \
	if (k == sizeof(name) - 1 && memcmp(line, name, k) == 0) { \
		var = colon + 1; \
		varend = le; \
	}
			KEY("Uid", uid, uidend)
			KEY("Gid", gid, gidend)
			KEY("Groups", groups, groupsend)
			KEY("NoNewPrivs", nnp, nnpend)
			KEY("Seccomp", sec, secend)
#undef KEY
			for (i = 0; i < 5; i++)
				if (k == strlen(capkeys[i]) && memcmp(line, capkeys[i], k) == 0) {
					cap[i] = colon + 1;
					capend[i] = le;
				}
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	/* firstID: the effective id, the second field. */
	if (uid == NULL || fields(uid, uidend, f, 2) < 2 || parse_uint(f[1].s, f[1].n, 10, 32, &v) != 0 ||
	    map_to_inside(umap, ulen, (uint32_t)v, &id->uid) != 0)
		goto out;
	if (gid == NULL || fields(gid, gidend, f, 2) < 2 || parse_uint(f[1].s, f[1].n, 10, 32, &v) != 0 ||
	    map_to_inside(gmap, glen, (uint32_t)v, &id->gid) != 0)
		goto out;
	if (groups != NULL) {
		int n = fields(groups, groupsend, NULL, 0);
		struct field *g = calloc((size_t)n + 1, sizeof(*g));

		if (g == NULL)
			goto out;
		id->groups = calloc((size_t)n + 1, sizeof(uint32_t));
		if (id->groups == NULL) {
			free(g);
			goto out;
		}
		fields(groups, groupsend, g, n);
		for (i = 0; i < n; i++) {
			uint32_t in;
			if (parse_uint(g[i].s, g[i].n, 10, 32, &v) != 0) {
				free(g);
				goto out;
			}
			if (map_to_inside(gmap, glen, (uint32_t)v, &in) == 0)
				id->groups[id->ngroups++] = in;
		}
		free(g);
	}
	for (i = 0; i < 5; i++) {
		if (cap[i] == NULL || fields(cap[i], capend[i], f, 2) != 1) {
			if (i == 4)
				continue; /* CapAmb: kernels before 4.3 */
			goto out;
		}
		if (parse_uint(f[0].s, f[0].n, 16, 64, capdst[i]) != 0)
			goto out;
	}
	if (nnp != NULL && fields(nnp, nnpend, f, 2) == 1)
		id->nnp = f[0].n == 1 && f[0].s[0] == '1';
	if (sec != NULL && fields(sec, secend, f, 2) == 1)
		id->seccomp = f[0].n == 1 && f[0].s[0] == '2';
	ok = 0;
out:
	free(status);
	free(umap);
	free(gmap);
	return ok;
}

/* environ_of is execin.EnvironOf: the elements that contain '='. */
static char **environ_of(int pid, int *count)
{
	size_t len, i;
	char *buf = read_proc(pid, "environ", &len), **env, *p;
	int n = 0;

	if (buf == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		n += buf[i] == '\0';
	env = calloc((size_t)n + 2, sizeof(char *));
	if (env == NULL)
		return NULL;
	n = 0;
	for (p = buf; p <= buf + len; p += strlen(p) + 1)
		if (strchr(p, '=') != NULL)
			env[n++] = p;
	env[n] = NULL;
	*count = n;
	return env;
}

/* differing_namespaces is execin's differingNamespaces. */
static int differing_namespaces(int pid, int *flags)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = {{"user", CLONE_NEWUSER}, {"mnt", CLONE_NEWNS},   {"net", CLONE_NEWNET},       {"ipc", CLONE_NEWIPC},
		  {"uts", CLONE_NEWUTS},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP}};
	size_t i;

	*flags = 0;
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char path[64];
		struct stat mine, theirs;

		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i].name);
		if (stat(path, &mine) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, ns[i].name);
		if (stat(path, &theirs) < 0)
			return -1;
		if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev)
			*flags |= ns[i].flag;
	}
	return 0;
}

/* ---- the pod's fast exec file -------------------------------------------- */

struct container {
	uint8_t flags;
	const char *name;
	size_t namelen;
	uint32_t pid;
	uint64_t start, bnd;
	char *dir;
	const unsigned char *prog;
	uint32_t proglen;
};

struct pod {
	uint8_t flags;
	uint32_t sup_pid;
	uint64_t sup_start;
	/* The pod's cgroup directories, in the file's buffer (not
	 * NUL-terminated): the command joins its container's leaf below each
	 * (join_cgroup). */
	const unsigned char *cgroups[max_cgroups];
	uint32_t cglen[max_cgroups], ncgroups;
	struct container ctr; /* the one asked for */
};

struct cursor {
	const unsigned char *p;
	size_t left;
};

static const unsigned char *take(struct cursor *c, size_t n)
{
	const unsigned char *p = c->p;

	if (c->left < n)
		return NULL;
	c->p += n;
	c->left -= n;
	return p;
}

/* find_container parses the file strictly and picks the container: the
 * named one, or (name NULL or "") the first that is not an init container,
 * as cmd/sandbox/exec.go's target does. */
static int find_container(const unsigned char *buf, size_t len, const char *name, struct pod *pod)
{
	struct cursor c = {buf, len};
	const unsigned char *h = take(&c, 24), *t;
	uint32_t n, i;
	int found = 0;

	if (h == NULL || memcmp(h, "SBFX", 4) != 0 || h[4] != fast_version || (h[5] & ~pod_ended) != 0 || h[6] != 0 || h[7] != 0)
		return -1;
	pod->flags = h[5];
	memcpy(&pod->sup_pid, h + 8, 4);
	memcpy(&n, h + 12, 4);
	memcpy(&pod->sup_start, h + 16, 8);
	if (n > max_containers)
		return -1;
	t = take(&c, 4);
	if (t == NULL)
		return -1;
	memcpy(&pod->ncgroups, t, 4);
	if (pod->ncgroups > max_cgroups)
		return -1;
	for (i = 0; i < pod->ncgroups; i++) {
		uint32_t l;
		const unsigned char *lp = take(&c, 4), *cp;

		if (lp == NULL)
			return -1;
		memcpy(&l, lp, 4);
		cp = take(&c, l);
		if (l == 0 || l > max_dir || cp == NULL || cp[0] != '/' || memchr(cp, '\0', l) != NULL)
			return -1;
		pod->cgroups[i] = cp;
		pod->cglen[i] = l;
	}
	for (i = 0; i < n; i++) {
		struct container k;
		uint16_t nl;
		uint32_t dl;
		const unsigned char *ch = take(&c, 32), *np, *dp;

		if (ch == NULL || (ch[0] & ~(c_init | c_running | c_seccomp | c_goonly)) != 0 || ch[1] != 0)
			return -1;
		k.flags = ch[0];
		memcpy(&nl, ch + 2, 2);
		memcpy(&k.pid, ch + 4, 4);
		memcpy(&k.start, ch + 8, 8);
		memcpy(&k.bnd, ch + 16, 8);
		memcpy(&dl, ch + 24, 4);
		memcpy(&k.proglen, ch + 28, 4);
		if (nl == 0 || nl > max_name || dl > max_dir || k.proglen % 8 != 0 || k.proglen / 8 > max_filter ||
		    (k.proglen != 0) != ((k.flags & c_seccomp) != 0))
			return -1;
		np = take(&c, nl);
		dp = take(&c, dl);
		k.prog = take(&c, k.proglen);
		if (np == NULL || dp == NULL || (k.proglen != 0 && k.prog == NULL) || memchr(np, '\0', nl) != NULL ||
		    memchr(dp, '\0', dl) != NULL)
			return -1;
		k.name = (const char *)np;
		k.namelen = nl;
		if (found)
			continue;
		if (name == NULL || name[0] == '\0' ? !(k.flags & c_init) : (strlen(name) == nl && memcmp(name, np, nl) == 0)) {
			k.dir = malloc(dl + 1);
			if (k.dir == NULL)
				return -1;
			memcpy(k.dir, dp, dl);
			k.dir[dl] = '\0';
			pod->ctr = k;
			found = 1;
		}
	}
	t = take(&c, 4);
	if (t == NULL || memcmp(t, "XFBS", 4) != 0 || c.left != 0)
		return -1;
	return found ? 0 : -1;
}

/* base_dir is state.BaseDir for an existing directory: /run/sandbox for
 * root, $XDG_RUNTIME_DIR/sandbox when that directory is ours, else
 * $TMPDIR (or /tmp)/sandbox-UID; it must be ours with the mode the Go
 * code gives it (which would otherwise create or chmod it). */
static int base_dir(char *out, size_t size)
{
	uid_t uid = geteuid();
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
	struct stat st;
	mode_t want = 0700;
	int n;

	if (uid == 0) {
		n = snprintf(out, size, "/run/sandbox");
		want = 0711;
	} else if (xdg != NULL && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid) {
		n = snprintf(out, size, "%s/sandbox", xdg);
	} else {
		n = snprintf(out, size, "%s/sandbox-%u", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", (unsigned)uid);
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	if (lstat(out, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 07777) != want)
		return -1;
	return 0;
}

static int read_pod(const char *podname, const char *container, struct pod *pod)
{
	char base[4096], path[4096 + 512];
	unsigned char *buf;
	struct stat st;
	size_t len;
	int fd, ok;

	if (base_dir(base, sizeof(base)) < 0)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/" FAST_FILE, base, podname) >= sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_size > max_fast_file) {
		close(fd);
		return -1;
	}
	buf = (unsigned char *)read_fd(fd, max_fast_file, &len);
	close(fd);
	if (buf == NULL)
		return -1;
	ok = find_container(buf, len, container, pod);
	if (ok < 0)
		free(buf);
	return ok; /* on success pod points into buf, kept */
}

/* ---- arguments ------------------------------------------------------------ */

struct args {
	const char *pod, *container;
	int stdin_;
	char **argv;
	int argc;
};

/* parse_args takes only the forms it knows; anything else is the Go
 * code's (cobra's), -t and --explain included. Flags stop at POD; a "--"
 * right after it is dropped (cmd/sandbox/exec.go). */
static int parse_args(int argc, char **argv, struct args *a)
{
	int i = 2;

	memset(a, 0, sizeof(*a));
	while (i < argc && argv[i][0] == '-') {
		const char *s = argv[i];

		if (strcmp(s, "-i") == 0 || strcmp(s, "--stdin") == 0) {
			a->stdin_ = 1;
			i++;
		} else if ((strcmp(s, "-c") == 0 || strcmp(s, "--container") == 0) && i + 1 < argc) {
			a->container = argv[i + 1];
			i += 2;
		} else if (strncmp(s, "--container=", 12) == 0) {
			a->container = s + 12;
			i++;
		} else {
			return -1;
		}
	}
	if (i >= argc)
		return -1;
	a->pod = argv[i++];
	if (a->pod[0] == '\0' || strchr(a->pod, '/') != NULL || strcmp(a->pod, ".") == 0 || strcmp(a->pod, "..") == 0 ||
	    strlen(a->pod) > max_name)
		return -1;
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return -1;
	a->argv = argv + i;
	a->argc = argc - i;
	return 0;
}

/* ---- running ---------------------------------------------------------------- */

static void close_from(int fd)
{
	if (syscall(SYS_close_range, (unsigned)fd, ~0U, 0U) < 0) {
		int i;
		for (i = fd; i < 1024; i++)
			close(i);
	}
}

/* helper_fail reports a failure of the join (the helper or the child
 * before it runs anything) on the status pipe: the CLI falls back to Go. */
static __attribute__((noreturn)) void helper_fail(int st)
{
	char c = 'E';

	write(st, &c, 1);
	_exit(125);
}

/*
 * join_cgroup moves the calling process, the helper still in the host's
 * namespaces, into its container's cgroup leaf below each of the pod's
 * cgroup directories that has it, as cgroup.JoinLeaf does for the Go path:
 * the command it clones inherits it, so the container's limits apply to
 * the command. Writing 0 to cgroup.procs moves the writer.
 */
static int join_cgroup(const struct pod *pod)
{
	uint32_t i;
	int placed = 0;

	for (i = 0; i < pod->ncgroups; i++) {
		char path[max_dir + max_name + 64];
		struct stat st;
		int fd, n;
		ssize_t w;

		n = snprintf(path, sizeof(path), "%.*s/%.*s", (int)pod->cglen[i], (const char *)pod->cgroups[i],
			     (int)pod->ctr.namelen, pod->ctr.name);
		if (n < 0 || (size_t)n >= sizeof(path) - sizeof("/cgroup.procs"))
			return -1;
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT)
				continue; /* a v1 hierarchy without the leaf */
			return -1;
		}
		strcat(path, "/cgroup.procs");
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		w = write(fd, "0", 1);
		close(fd);
		if (w != 1)
			return -1;
		placed = 1;
	}
	return pod->ncgroups == 0 || placed ? 0 : -1;
}

/*
 * The forked helper: run_exec's steps (nsenter.c) with the descriptors in
 * place of its environment. It joins the container's cgroup first. Non-dumpable before it joins (CVE-2016-9962,
 * CVE-2019-5736); only 0-2, the pidfd and the two pipes kept. The child it
 * clones is ours (CLONE_PARENT) and inside the PID namespace.
 */
static __attribute__((noreturn)) void helper(int pidfd, int nsflags, int devnull, int st, int ep, struct cexec_direct *d,
					     const sigset_t *mask, const struct pod *pod)
{
	pid_t child;
	int sig, joined = d->env == NULL ? CLONE_NEWUSER : 0;

	if (devnull >= 0 && dup2(devnull, 0) < 0)
		helper_fail(st);
	/* 3 pidfd, 4 status, 5 errors: nothing else of ours goes inside. */
	{
		int hp = fcntl(pidfd, F_DUPFD_CLOEXEC, 10), hs = fcntl(st, F_DUPFD_CLOEXEC, 10), he = fcntl(ep, F_DUPFD_CLOEXEC, 10);

		if (hp < 0 || hs < 0 || he < 0)
			helper_fail(st);
		if (dup3(hp, 3, O_CLOEXEC) < 0 || dup3(hs, 4, O_CLOEXEC) < 0 || dup3(he, 5, O_CLOEXEC) < 0)
			helper_fail(hs);
	}
	close_from(6);
	pidfd = 3;
	st = 4;
	ep = 5;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		helper_fail(st);
	if (join_cgroup(pod) < 0)
		helper_fail(st);
	if (d->env == NULL) {
		/* The user namespace first, then the environment from the
		 * host's /proc, still ours: see sandbox_fastexec. */
		if (setns(pidfd, CLONE_NEWUSER) < 0)
			helper_fail(st);
		d->env = environ_of((int)pod->ctr.pid, &d->nenv);
		if (d->env == NULL)
			helper_fail(st);
	}
	if ((nsflags & ~joined) != 0 && setns(pidfd, nsflags & ~joined) < 0)
		helper_fail(st);
	close(pidfd);
	if (nsflags & CLONE_NEWUSER) {
		if (setresgid(0, 0, 0) < 0 || (setgroups(0, NULL) < 0 && errno != EPERM) || setresuid(0, 0, 0) < 0)
			helper_fail(st);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	child = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		helper_fail(st);
	if (child > 0) {
		char buf[5] = {'P'};
		memcpy(buf + 1, &child, 4);
		write(st, buf, 5);
		_exit(0);
	}
	if (chdir("/") < 0)
		helper_fail(st);
	close(st);
	/* What the Go path's command gets: the signal mask we started with,
	 * and the default action for every signal the Go runtime catches (all
	 * but SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU and glibc's 32-34; it catches
	 * SIGHUP and SIGINT too, as exec.go asks for them). */
	for (sig = 1; sig < 65; sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGCONT || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU ||
		    (sig >= 32 && sig <= 34))
			continue;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sigaction(sig, &sa, NULL);
		}
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	{
		struct cexec_direct dd = *d;
		dd.err_fd = ep;
		sandbox_cexec_direct(&dd);
	}
}

/* read_to_eof reads a pipe to EOF into buf (at most size-1 bytes kept,
 * NUL-terminated) and returns the length kept. */
static size_t read_to_eof(int fd, char *buf, size_t size)
{
	size_t have = 0;
	char sink[256];

	for (;;) {
		ssize_t n;

		if (have < size - 1)
			n = read(fd, buf + have, size - 1 - have);
		else
			n = read(fd, sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (have < size - 1)
			have += (size_t)n;
	}
	buf[have] = '\0';
	return have;
}

static int wait_code(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return 125;
	if (WIFSIGNALED(ws))
		return 128 + WTERMSIG(ws);
	return WEXITSTATUS(ws);
}


void sandbox_fastexec(int argc, char **argv)
{
	static char failure[16384];
	struct cexec_direct d;
	struct identity id;
	struct args a;
	struct pod pod;
	struct sigaction dfl, oldchld;
	sigset_t set, orig;
	char stbuf[16], state;
	uint64_t flags, start;
	int pidfd = -1, devnull = -1, st[2] = {-1, -1}, ep[2] = {-1, -1};
	int nsflags, nenv, code;
	size_t n, i;
	pid_t helper_pid, child = -1;
	char **env;

	if (sandbox_fast_paths_off())
		return;
	if (argc < 3 || parse_args(argc, argv, &a) < 0 || read_pod(a.pod, a.container, &pod) < 0)
		return;
	/* effective() and target() in cmd/sandbox: a pod whose supervisor is
	 * gone or ended, a container that is not running, is the Go code's
	 * to report. */
	if ((pod.flags & pod_ended) || pod.sup_pid == 0 || (pod.ctr.flags & (c_running | c_goonly)) != c_running ||
	    pod.ctr.pid == 0 || pod.ctr.pid > 0x7fffffff)
		return;
	if (sandbox_proc_stat((int)pod.sup_pid, &state, &flags, &start) < 0 || start != pod.sup_start || state == 'Z' ||
	    state == 'X' || (flags & 0x4) /* PF_EXITING */)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pod.ctr.pid, 0);
	if (pidfd < 0)
		return;
	if (sandbox_proc_stat((int)pod.ctr.pid, &state, &flags, &start) < 0 || start != pod.ctr.start)
		goto fallback;
	/* A process that switched to a subordinate uid has an environ file
	 * only that uid may open: the helper reads it from inside the pod's
	 * user namespace (as execin.EnvironOf's environ role does). */
	env = environ_of((int)pod.ctr.pid, &nenv);
	if (env == NULL && (errno != EACCES || geteuid() == 0))
		goto fallback;
	if (identity_of((int)pod.ctr.pid, &id) < 0 || differing_namespaces((int)pod.ctr.pid, &nsflags) < 0)
		goto fallback;
	if (env == NULL && !(nsflags & CLONE_NEWUSER))
		goto fallback;
	memset(&d, 0, sizeof(d));
	if (id.seccomp) {
		/* execin.SeccompProgram(bounding): the supervisor built it for
		 * the bounding set the container's init applied. */
		if (!(pod.ctr.flags & c_seccomp) || pod.ctr.bnd != id.bnd)
			goto fallback;
		d.filter = pod.ctr.prog;
		d.nfilter = (int)(pod.ctr.proglen / 8);
	}
	d.argv = a.argv;
	d.argc = a.argc;
	d.env = env;
	d.nenv = nenv;
	d.workdir = pod.ctr.dir;
	d.uid = id.uid;
	d.gid = id.gid;
	d.bnd = id.bnd;
	d.prm = id.prm;
	d.eff = id.eff;
	d.inh = id.inh;
	d.amb = id.amb;
	d.nnp = id.nnp;
	d.groups = id.groups;
	d.ngroups = id.ngroups;

	/* Without -i the command's stdin is the host's /dev/null, as os/exec
	 * gives it. */
	if (!a.stdin_ && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		goto fallback;
	if (pipe2(st, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		goto fallback;
	/* Descriptors 0-2 are the command's: none of ours may be one. */
	if (pidfd < 3 || (devnull >= 0 && devnull < 3) || st[0] < 3 || st[1] < 3 || ep[0] < 3 || ep[1] < 3)
		goto fallback;
	/* Signals wait (blocked) until the command runs, then go to it, as
	 * exec.go's signal.Notify channel. SIGCHLD must not be ignored. */
	sigemptyset(&set);
	for (i = 0; i < SANDBOX_NFORWARDED; i++)
		sigaddset(&set, sandbox_forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &orig);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &dfl, &oldchld);

	helper_pid = fork();
	if (helper_pid < 0)
		goto restore;
	if (helper_pid == 0)
		helper(pidfd, nsflags, devnull, st[1], ep[1], &d, &orig, &pod);
	close(st[1]);
	close(ep[1]);
	st[1] = ep[1] = -1;
	/* 'P' and the child's pid from the helper; EOF once the child runs
	 * the exec (or died); 'E' for a failure of either before. */
	n = read_to_eof(st[0], stbuf, sizeof(stbuf));
	if (n >= 5 && stbuf[0] == 'P')
		memcpy(&child, stbuf + 1, 4);
	code = wait_code(helper_pid);
	if (child > 0 && (n != 5 || code != 0)) {
		wait_code(child);
		child = -1;
	}
	if (child <= 0)
		goto restore;
	/* The error pipe closes on exec: anything before EOF is the start
	 * failure ("CODE\nMESSAGE"), the command did not run. */
	n = read_to_eof(ep[0], failure, sizeof(failure));
	if (n > 0) {
		char *nl = memchr(failure, '\n', n);
		long fcode = strtol(failure, NULL, 10);

		code = wait_code(child);
		for (i = 0; i < n; i++)
			if ((unsigned char)failure[i] >= 0x80)
				goto restore; /* the Go code's JSON decoding may change it */
		if (nl == NULL || fcode <= 0 || fcode > 255) {
			/* execin's readFailure for what is not a Failure */
			dprintf(2, "sandbox: error: exec: %s\n", failure);
			_exit(125);
		}
		dprintf(2, "sandbox: error: %s\n", nl + 1);
		_exit((int)fcode);
	}
	for (;;) {
		int ws, sig;
		pid_t r = waitpid(child, &ws, WNOHANG);

		if (r == child)
			_exit(WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws));
		if (r < 0 && errno != EINTR)
			_exit(125);
		sig = sigwaitinfo(&set, NULL);
		if (sig > 0 && sig != SIGCHLD)
			kill(child, sig); /* ours until reaped: never a recycled PID */
	}

restore:
	sigaction(SIGCHLD, &oldchld, NULL);
	sigprocmask(SIG_SETMASK, &orig, NULL);
fallback:
	if (pidfd >= 0)
		close(pidfd);
	if (devnull >= 0)
		close(devnull);
	for (i = 0; i < 2; i++) {
		if (st[i] >= 0)
			close(st[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
}
