/*
 * fastpod.c: `sandbox run POD.yaml` without the Go runtime.
 *
 * The Go CLI spends about 4 ms of CPU on a one-container pod before and
 * around the container's start (the runtime, package inits, decoding and
 * validation, the record's JSON), on a machine where the whole of
 * `unshare -Urnpiu --fork --mount-proc true` costs 2. For the manifests the
 * C reader accepts (podspec.c: one container on the host's root, network
 * none, restartPolicy Never, nothing else), the constructor of the CLI
 * process runs the pod here, in C, and never returns:
 *
 *   1. the plan, made before anything is created: the manifest (podspec.c),
 *      the id mapping (idmap.ForUser: newuidmap/newgidmap and the
 *      subordinate ranges, or the single mapping with the same warning), no
 *      pod cgroup (we go on only when cgroup.Detect would decide none: the
 *      cgroup we run in is not delegated to us), the state base directory
 *      (state.BaseDir), the container's records and pod files
 *      (fastpodcfg.c, byte for byte the supervisor's);
 *   2. the state directory, as state.Acquire makes a new one, with what
 *      supervisor.run puts in it; a directory that exists already (a pod
 *      running, stale or kept) is the Go code's to handle;
 *   3. the pod, as fastrun.c starts one (the pause our clone, the container
 *      our fork running the C init), with the pod's id maps and the
 *      container's output on pipes: each line goes to the terminal and to
 *      the CRI log, as supervisor/output.go copies them; state.json says
 *      what runs, for ps, inspect, exec, logs and stop;
 *   4. SIGINT, SIGTERM and SIGHUP stop the pod gracefully (SIGTERM, the
 *      grace period or `sandbox stop -t`, SIGKILL) with exit code 128+N; the
 *      pause's death is reported as the supervisor reports it; then the
 *      teardown removes the state and we exit with the pod's code.
 *
 * Anything that fails before the container exists undoes what was made and
 * returns to Go, which runs the pod or explains the failure in its own
 * words. SANDBOX_FASTPATH=0 turns this path off; the e2e tests run the same
 * pods both ways and compare what they see (e2e/fastpod_test.go).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fastexec.h"
#include "fastpod.h"

extern char **environ;

/* nsenter.c */
void write_all(int fd, const char *buf, size_t len);
int sandbox_fast_paths_off(void);
int sandbox_write_file(const char *path, const char *data);
/* cinit.c */
void sandbox_cinit_fast(char *records, size_t len, int ready_fd, const char *prefix, int pidfd, int netready,
			int pause_wait, int err_fd) __attribute__((noreturn));

enum {
	max_manifest = 1 << 20, /* pod.MaxManifestBytes */
	max_line = 64 << 10,    /* supervisor maxLine */
	exit_failed = 125,      /* supervisor.ExitSandboxFailed */
	exit_died = 137,        /* supervisor.ExitSandboxDied */
	max_grace = 86400,      /* pod.MaxGracePeriodSeconds */
};

/* ---- the plan ------------------------------------------------------------ */

struct idrange {
	uint32_t start, count;
};

struct fastpod {
	struct podspec ps;
	int uid, gid;
	/* The id mapping: helpers set means newuidmap/newgidmap with the
	 * subordinate ranges; otherwise the single mapping, and warning says
	 * why (idmap.Decision.Fallback, as the supervisor words it). */
	int helpers;
	char newuidmap[PATH_MAX], newgidmap[PATH_MAX];
	struct idrange subuid, subgid;
	struct buf warning;
	char base[PATH_MAX], dir[PATH_MAX];
	struct buf records;
	struct fastpod_files files;
	int lock_fd, dir_made;
};

/* read_manifest is pod.Load's reading: a regular file (checked before and
 * after opening, without blocking on a FIFO) of at most 1 MiB. A file that
 * changed size meanwhile is Go's to read. */
static char *read_manifest(const char *path, size_t *len)
{
	struct stat st;
	char *data;
	size_t n = 0;
	int fd;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > max_manifest)
		return NULL;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > max_manifest ||
	    (data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r = read(fd, data + n, (size_t)st.st_size + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(data);
			close(fd);
			return NULL;
		}
		if (r == 0 || (n += (size_t)r) > (size_t)st.st_size)
			break;
	}
	close(fd);
	if (n != (size_t)st.st_size) {
		free(data);
		return NULL;
	}
	*len = n;
	return data;
}

/* rootfs_ok is supervisor.prepare's check of an image directory: it
 * exists and is a directory (following symlinks); Go words the refusal. */
static int rootfs_ok(const struct podspec *ps)
{
	struct stat st;

	return ps->rootfs == NULL || (stat(ps->rootfs, &st) == 0 && S_ISDIR(st.st_mode));
}

/* look_path is exec.LookPath for a PATH of clean absolute directories; -1
 * (Go decides) for any other PATH, 0 when not found, 1 when found. */
static int look_path(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH"), *p;

	if (path == NULL || path[0] == '\0')
		return -1;
	for (p = path;;) {
		const char *end = strchrnul(p, ':');
		char dir[PATH_MAX];
		struct stat st;
		size_t n = (size_t)(end - p);

		if (n == 0 || n >= sizeof(dir))
			return -1;
		memcpy(dir, p, n);
		dir[n] = '\0';
		if (!fast_clean_abs(dir))
			return -1;
		if ((size_t)snprintf(out, size, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) >= size)
			return -1;
		if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode) && faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
			return 1;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* parse_u32 is strconv.ParseUint(s, 10, 32). */
static int parse_u32(const char *s, size_t n, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * subordinate is idmap.Subordinate on the file at path: 1 and the first
 * range granted to user or id; 0 and the error's text in why when there is
 * none; -1 when Go must decide (an unreadable file, a line Go's scanner or
 * TrimSpace would read differently).
 */
static int subordinate(const char *path, const char *user, int id, struct idrange *out, struct buf *why)
{
	char idstr[16], *data, *line, *next;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t r;

	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		buf_printf(why, "no subordinate id range: %s does not exist", path);
		return 0;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20) || (data = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	for (len = 0; len < (size_t)st.st_size; len += (size_t)r) {
		r = read(fd, data + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r <= 0)
			break;
	}
	close(fd);
	data[len] = '\0';
	if (strlen(data) != len) {
		free(data);
		return -1;
	}
	snprintf(idstr, sizeof(idstr), "%d", id);
	for (line = data; line != NULL && *line != '\0'; line = next) {
		char *f[4], *end, *s;
		int nf = 0;
		uint32_t start, count;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strlen(line) >= 64 * 1024) {
			free(data); /* bufio.Scanner: token too long */
			return -1;
		}
		for (s = line; *s; s++)
			if ((unsigned char)*s >= 0x80 || *s == '\v' || *s == '\f') {
				free(data); /* Unicode spaces: TrimSpace's business */
				return -1;
			}
		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		for (f[nf++] = line, s = line; *s && nf <= 3; s++)
			if (*s == ':') {
				*s = '\0';
				f[nf++] = s + 1;
			}
		if (nf != 3)
			continue;
		if (strcmp(f[0], idstr) != 0 && (user[0] == '\0' || strcmp(f[0], user) != 0))
			continue;
		if (parse_u32(f[1], strlen(f[1]), &start) < 0 || parse_u32(f[2], strlen(f[2]), &count) < 0 || count == 0 ||
		    (uint64_t)start + count > UINT32_MAX)
			continue;
		out->start = start;
		out->count = count;
		free(data);
		return 1;
	}
	free(data);
	for (line = (char *)user; *line; line++)
		if ((unsigned char)*line < 0x20 || (unsigned char)*line >= 0x7f || *line == '"' || *line == '\\')
			return -1; /* Go's %q would escape it */
	buf_printf(why, "no subordinate id range for \"%s\" (uid %d)", user, id);
	return 0;
}

/* plan_ids is supervisor.prepare's rootless mapping (idmap.ForUser). */
static int plan_ids(struct fastpod *fp)
{
	char name[256] = "", pwbuf[4096];
	struct passwd pw, *res = NULL;
	struct buf why = {0};
	int u, g, r;

	fp->uid = (int)geteuid();
	fp->gid = (int)getegid();
	u = look_path("newuidmap", fp->newuidmap, sizeof(fp->newuidmap));
	g = look_path("newgidmap", fp->newgidmap, sizeof(fp->newgidmap));
	if (u < 0 || g < 0)
		return -1;
	if (u == 0 || g == 0) {
		buf_puts(&fp->warning, "only container uid/gid 0 is mapped (to your own): newuidmap/newgidmap not found (install the "
				       "uidmap package and add a range for the user to /etc/subuid and /etc/subgid)");
		return fp->warning.oom ? -1 : 0;
	}
	/* user.Current: the real uid's name, "" when it has none. */
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL) {
		if (strlen(pw.pw_name) >= sizeof(name))
			return -1;
		strcpy(name, pw.pw_name);
	}
	r = subordinate("/etc/subuid", name, fp->uid, &fp->subuid, &why);
	if (r == 1)
		r = subordinate("/etc/subgid", name, fp->gid, &fp->subgid, &why);
	if (r < 0) {
		free(why.p);
		return -1;
	}
	if (r == 1) {
		fp->helpers = 1;
		return 0;
	}
	buf_printf(&fp->warning, "only container uid/gid 0 is mapped (to your own): %s in %s (add one, e.g. with usermod --add-%s 100000-165535 %s)",
		   why.p, fp->subuid.count == 0 ? "/etc/subuid" : "/etc/subgid", fp->subuid.count == 0 ? "subuids" : "subgids", name);
	free(why.p);
	return fp->warning.oom ? -1 : 0;
}

/*
 * no_pod_cgroup tells whether cgroup.Detect would decide that a rootless
 * pod without limits runs without a cgroup: the cgroup v2 directory we run
 * in, or its cgroup.procs, is not writable to us (not delegated). Anything
 * else (a delegated subtree, where the Go supervisor makes the pod's
 * cgroup; an unusual mount) is the Go code's: 0.
 */
static int no_pod_cgroup(void)
{
	char line[4096], group[PATH_MAX] = "", point[PATH_MAX] = "", dir[PATH_MAX * 2], procs[PATH_MAX * 2 + 16];
	int found = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "0::", 3) == 0 && strlen(line + 3) < sizeof(group)) {
			snprintf(group, sizeof(group), "%s", line + 3);
			group[strcspn(group, "\n")] = '\0';
			found++;
		}
	fclose(f);
	if (found != 1 || !fast_clean_abs(group))
		return 0;
	found = 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTS... - FSTYPE SOURCE SUPER */
		char root[PATH_MAX], mpoint[PATH_MAX], *dash = strstr(line, " - ");
		if (dash == NULL || strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mpoint) != 2)
			return fclose(f), 0;
		if (strcmp(root, "/") != 0 || strchr(mpoint, '\\') != NULL)
			return fclose(f), 0; /* a bind of a subtree, an escaped path */
		snprintf(point, sizeof(point), "%s", mpoint);
		found++;
	}
	fclose(f);
	if (found != 1)
		return 0;
	snprintf(dir, sizeof(dir), "%s%s", point, strcmp(group, "/") == 0 ? "" : group);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	{
		struct stat st;
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			return 0;
	}
	return access(dir, W_OK | X_OK) != 0 || access(procs, W_OK) != 0;
}

/*
 * base_dir is state.BaseDir for an unprivileged caller:
 * $XDG_RUNTIME_DIR/sandbox when that is the caller's own directory,
 * otherwise $TMPDIR (or /tmp)/sandbox-UID; created 0700, checked to be the
 * caller's. -1: Go decides (and words any refusal).
 */
static int base_dir(struct fastpod *fp)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
	struct stat st;

	fp->base[0] = '\0';
	if (xdg != NULL && xdg[0] == '/') {
		if (!fast_clean_abs(xdg))
			return -1;
		if (stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) && (int)st.st_uid == fp->uid)
			snprintf(fp->base, sizeof(fp->base), "%s/sandbox", strcmp(xdg, "/") == 0 ? "" : xdg);
	}
	if (fp->base[0] == '\0') {
		if (tmp == NULL || tmp[0] == '\0')
			tmp = "/tmp";
		if (!fast_clean_abs(tmp) || strcmp(tmp, "/") == 0)
			return -1;
		snprintf(fp->base, sizeof(fp->base), "%s/sandbox-%d", tmp, fp->uid);
	}
	if (strlen(fp->base) + 1 + strlen(fp->ps.name) + 64 >= sizeof(fp->dir))
		return -1;
	if (mkdir(fp->base, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(fp->base, &st) < 0 || !S_ISDIR(st.st_mode) || (int)st.st_uid != fp->uid)
		return -1;
	if ((st.st_mode & 07777) != 0700 && chmod(fp->base, 0700) < 0)
		return -1;
	snprintf(fp->dir, sizeof(fp->dir), "%s/%s", fp->base, fp->ps.name);
	return 0;
}

/* ---- the state directory -------------------------------------------------- */

static void path_in(char *out, size_t size, const struct fastpod *fp, const char *rel)
{
	snprintf(out, size, "%s/%s", fp->dir, rel);
}

/* remove_tree removes name below dirfd and everything in it. It runs in the
 * pod's user namespace with its capabilities, so files a container made as
 * a subordinate id go too (the Go supervisor needs a helper for that). */
static int remove_tree(int dirfd, const char *name, int depth)
{
	DIR *d;
	struct dirent *e;
	int fd, err = 0;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if ((errno != EISDIR && errno != EPERM) || depth > 64)
		return -1;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (remove_tree(fd, e->d_name, depth + 1) < 0)
			err = -1;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		err = -1;
	return err;
}

/* remove_state is state.Pod.Remove: everything but the lock, then the lock,
 * then the directory; the lock is released last. */
static int remove_state(struct fastpod *fp)
{
	DIR *d;
	struct dirent *e;
	int fd, err = 0;

	if (fp->lock_fd < 0 || !fp->dir_made)
		return 0;
	fd = open(fp->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		err = -1;
	else if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		err = -1;
	} else {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "lock") == 0)
				continue;
			if (remove_tree(fd, e->d_name, 0) < 0)
				err = -1;
		}
		closedir(d);
	}
	if (err == 0) {
		char lock[PATH_MAX];
		path_in(lock, sizeof(lock), fp, "lock");
		if (unlink(lock) < 0 || rmdir(fp->dir) < 0)
			err = -1;
	}
	close(fp->lock_fd);
	fp->lock_fd = -1;
	return err;
}

/*
 * acquire is state.Acquire for a pod directory that does not exist yet:
 * made, locked, and still the same file at the path. A directory that
 * exists (a pod running, a supervisor's stale state, a kept pod), or a
 * lock someone else holds, is the Go code's: -1.
 */
static int acquire(struct fastpod *fp)
{
	char lock[PATH_MAX];
	struct stat a, b;

	fp->lock_fd = -1;
	if (mkdir(fp->dir, 0700) < 0)
		return -1;
	fp->dir_made = 1;
	path_in(lock, sizeof(lock), fp, "lock");
	fp->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fp->lock_fd < 0) {
		rmdir(fp->dir); /* ours, empty: nothing locks it */
		fp->dir_made = 0;
		return -1;
	}
	if (flock(fp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		/* Someone found our new directory and locked it first: theirs. */
		close(fp->lock_fd);
		fp->lock_fd = -1;
		fp->dir_made = 0;
		return -1;
	}
	if (fstat(fp->lock_fd, &a) < 0 || lstat(lock, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fp->lock_fd);
		fp->lock_fd = -1;
		fp->dir_made = 0;
		return -1;
	}
	return 0;
}

static int write_file_mode(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t r = write(fd, data + off, len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)r;
	}
	return close(fd);
}

/* populate makes what supervisor.run and writePodFiles put in the state
 * directory before the pause starts. */
static int populate(struct fastpod *fp)
{
	static const char *const dirs[] = {"logs", "containers", "shm"};
	char p[PATH_MAX];
	size_t i;
	const struct {
		const char *name;
		struct buf *data;
	} files[] = {{"podfiles/hosts", &fp->files.hosts}, {"podfiles/hostname", &fp->files.hostname}, {"podfiles/resolv.conf", &fp->files.resolv}};

	for (i = 0; i < 3; i++) {
		path_in(p, sizeof(p), fp, dirs[i]);
		if (mkdir(p, 0700) < 0)
			return -1;
	}
	path_in(p, sizeof(p), fp, "shm");
	if (chmod(p, 01777) < 0)
		return -1;
	/* rootfsSpec's scratch directory, for the host root only. */
	snprintf(p, sizeof(p), "%s/containers/%s", fp->dir, fp->ps.container);
	if (fp->ps.rootfs == NULL && mkdir(p, 0700) < 0)
		return -1;
	path_in(p, sizeof(p), fp, "podfiles");
	if (mkdir(p, 0700) < 0 || chmod(p, 0755) < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		path_in(p, sizeof(p), fp, files[i].name);
		if (write_file_mode(p, files[i].data->p ? files[i].data->p : "", files[i].data->len, 0644) < 0)
			return -1;
	}
	return 0;
}

/* ---- the record (state.Record, as encoding/json writes it) ---------------- */

struct record;
static void save_fastexec(struct fastpod *fp, const struct record *r);

/* put_rfc3339 writes a wall time as Go's time.RFC3339Nano in UTC (trailing
 * zeros of the fraction dropped), as crilog and time.Time's MarshalJSON
 * write it. */
static void put_rfc3339(struct buf *b, const struct timespec *ts)
{
	struct tm tm;
	char frac[16];
	int n;

	gmtime_r(&ts->tv_sec, &tm);
	buf_printf(b, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (ts->tv_nsec != 0) {
		snprintf(frac, sizeof(frac), "%09ld", ts->tv_nsec);
		for (n = 9; frac[n - 1] == '0'; n--)
			;
		frac[n] = '\0';
		buf_printf(b, ".%s", frac);
	}
	buf_puts(b, "Z");
}

static void json_time(struct buf *b, const struct timespec *ts)
{
	buf_put(b, "\"", 1);
	put_rfc3339(b, ts);
	buf_put(b, "\"", 1);
}

/* The namespaces namespaces() reads, in encoding/json's (sorted) key order. */
static const char *const ns_names[] = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
#define NNS 7

static void read_namespaces(pid_t pid, uint64_t ns[NNS])
{
	char p[64];
	struct stat st;
	int i;

	for (i = 0; i < NNS; i++) {
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns_names[i]);
		ns[i] = stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
	}
}

static void json_namespaces(struct buf *b, const uint64_t ns[NNS])
{
	int i, first = 1, any = 0;

	for (i = 0; i < NNS; i++)
		any |= ns[i] != 0;
	if (!any)
		return; /* omitempty */
	buf_puts(b, ",\"namespaces\":{");
	for (i = 0; i < NNS; i++) {
		if (ns[i] == 0)
			continue;
		buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", ns_names[i], (unsigned long long)ns[i]);
		first = 0;
	}
	buf_puts(b, "}");
}

struct proc_id {
	pid_t pid;
	uint64_t start;
};

static struct proc_id identify(pid_t pid)
{
	struct proc_id id = {pid, 0};
	uint64_t flags;
	char st;

	if (sandbox_proc_stat((int)pid, &st, &flags, &id.start) < 0)
		id.start = 0;
	return id;
}

/* What state.Record holds for this pod: it is saved once, when the
 * container runs (phase Running, the container Running); its end is never
 * saved (see run). */
struct record {
	struct timespec created;
	struct proc_id supervisor, pause;
	uint64_t ns[NNS];
	/* the container */
	struct proc_id process;
	uint64_t cns[NNS];
	struct timespec started;
};

/* save_record is state.Pod.Save: the JSON, written to state.json.tmp and
 * renamed over state.json. A failure is warned about, as the supervisor
 * does: the pod runs without it. */
static void save_record(struct fastpod *fp, const struct record *r)
{
	char tmp[PATH_MAX], dst[PATH_MAX], log[PATH_MAX];
	struct buf b = {0};

	snprintf(log, sizeof(log), "%s/logs/%s.log", fp->dir, fp->ps.container);
	buf_puts(&b, "{\"name\":");
	buf_json_str(&b, fp->ps.name, strlen(fp->ps.name));
	buf_puts(&b, ",\"created\":");
	json_time(&b, &r->created);
	buf_puts(&b, ",\"manifest\":");
	buf_put(&b, fp->ps.manifest_json, fp->ps.manifest_json_len);
	buf_printf(&b, ",\"supervisor\":{\"pid\":%d,\"startTime\":%llu}", (int)r->supervisor.pid, (unsigned long long)r->supervisor.start);
	buf_printf(&b, ",\"pause\":{\"pid\":%d,\"startTime\":%llu}", (int)r->pause.pid, (unsigned long long)r->pause.start);
	json_namespaces(&b, r->ns);
	buf_puts(&b, ",\"phase\":\"Running\",\"exitCode\":0,\"containers\":[{\"name\":");
	buf_json_str(&b, fp->ps.container, strlen(fp->ps.container));
	buf_printf(&b, ",\"state\":\"Running\",\"process\":{\"pid\":%d,\"startTime\":%llu}", (int)r->process.pid,
		   (unsigned long long)r->process.start);
	json_namespaces(&b, r->cns);
	buf_puts(&b, ",\"exitCode\":0");
	buf_puts(&b, ",\"restarts\":0");
	buf_puts(&b, ",\"startedAt\":");
	json_time(&b, &r->started);
	buf_puts(&b, ",\"log\":");
	buf_json_str(&b, log, strlen(log));
	buf_puts(&b, "}]");
	if (fp->warning.len > 0) {
		buf_puts(&b, ",\"warnings\":[");
		buf_json_str(&b, fp->warning.p, strlen(fp->warning.p));
		buf_puts(&b, "]");
	}
	buf_puts(&b, "}\n");
	path_in(tmp, sizeof(tmp), fp, "state.json.tmp");
	path_in(dst, sizeof(dst), fp, "state.json");
	if (b.oom || write_file_mode(tmp, b.p, b.len, 0600) < 0 || rename(tmp, dst) < 0)
		dprintf(2, "sandbox: warning: cannot record pod state (sandbox ps/inspect will be stale): %s\n",
			b.oom ? strerror(ENOMEM) : strerror(errno));
	free(b.p);
	save_fastexec(fp, r);
}

/* save_fastexec is supervisor saveFastExec: the fastexec file `sandbox
 * exec` reads from C (format: supervisor/fastexec_linux.go), written next
 * to state.json each time the record is; a failure removes it, and exec
 * takes the Go path. The program an exec'd command gets is
 * execin.SeccompProgram of the container's bounding set, which for the
 * default capabilities is the container's own (fastpodcfg.c). */
static void save_fastexec(struct fastpod *fp, const struct record *r)
{
	static const unsigned char sbfx[8] = {'S', 'B', 'F', 'X', 2 /* version */, 0, 0, 0};
	char tmp[PATH_MAX], dst[PATH_MAX];
	struct buf b = {0};
	const char *dir = fp->ps.working_dir != NULL ? fp->ps.working_dir : "";
	size_t plen = 0;
	const void *prog = sandbox_fastpod_seccomp(&plen);
	uint32_t u32;
	uint64_t u64, bounding = 0;
	uint16_t namelen = (uint16_t)strlen(fp->ps.container);
	unsigned char flags = 0, zero = 0;
	int running = r->process.pid > 0;

	path_in(tmp, sizeof(tmp), fp, "fastexec.tmp");
	path_in(dst, sizeof(dst), fp, "fastexec");
	/* The default capabilities the supervisor's bounding set holds
	 * (fastSecurityOf); the program is the default one only when it holds
	 * them all: otherwise "Go only". */
	if (fastpod_bounding(&bounding) < 0)
		prog = NULL;
	if (running) {
		flags |= 2;
		flags |= prog != NULL ? 4 : 8;
	}
	buf_put(&b, sbfx, sizeof(sbfx));
	u32 = (uint32_t)r->supervisor.pid;
	buf_put(&b, &u32, 4);
	u32 = 1; /* containers */
	buf_put(&b, &u32, 4);
	u64 = r->supervisor.start;
	buf_put(&b, &u64, 8);
	u32 = 0; /* no pod cgroup */
	buf_put(&b, &u32, 4);
	buf_put(&b, &flags, 1);
	buf_put(&b, &zero, 1);
	buf_put(&b, &namelen, 2);
	u32 = (uint32_t)r->process.pid;
	buf_put(&b, &u32, 4);
	buf_put(&b, &r->process.start, 8);
	buf_put(&b, &bounding, 8);
	u32 = (uint32_t)strlen(dir);
	buf_put(&b, &u32, 4);
	u32 = (flags & 4) ? (uint32_t)plen : 0;
	buf_put(&b, &u32, 4);
	buf_puts(&b, fp->ps.container);
	buf_puts(&b, dir);
	if (flags & 4)
		buf_put(&b, prog, plen);
	buf_put(&b, "XFBS", 4);
	if (b.oom || write_file_mode(tmp, b.p, b.len, 0600) < 0 || rename(tmp, dst) < 0) {
		unlink(tmp);
		unlink(dst);
	}
	free(b.p);
}

/* ---- the container's output (supervisor/output.go, package crilog) -------- */

struct stream {
	int fd;        /* the pipe's read end; -1 at EOF */
	int term;      /* where its lines go: 1 or 2 */
	const char *name;
	char buf[max_line];
	size_t len;
};

/* log_line is crilog.Writer.WriteLine: "TIME STREAM F|P CONTENT\n". */
static void log_line(int log, const char *stream, const char *line, size_t n)
{
	struct buf b = {0};
	struct timespec ts;
	int full = n > 0 && line[n - 1] == '\n';

	clock_gettime(CLOCK_REALTIME, &ts);
	put_rfc3339(&b, &ts);
	buf_printf(&b, " %s %s ", stream, full ? "F" : "P");
	buf_put(&b, line, full ? n - 1 : n);
	buf_put(&b, "\n", 1);
	if (!b.oom)
		write_all(log, b.p, b.len);
	free(b.p);
}

/* emit hands one line (or a piece of a too long one) to the log and the
 * terminal; at EOF an unterminated last line gets its newline on the
 * terminal so that what follows starts on a line of its own. */
static void emit(struct stream *s, int log, const char *line, size_t n, int eof)
{
	log_line(log, s->name, line, n);
	write_all(s->term, line, n);
	if (eof && n > 0 && line[n - 1] != '\n')
		write_all(s->term, "\n", 1);
}

/* pump reads what the pipe has and emits the complete lines (or a full
 * buffer, as bufio.Reader.ReadSlice returns one); at EOF it emits the rest
 * and closes the pipe. */
static void pump(struct stream *s, int log)
{
	size_t off = 0;
	ssize_t r;
	char *nl;

	r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		if (s->len > 0)
			emit(s, log, s->buf, s->len, 1);
		s->len = 0;
		close(s->fd);
		s->fd = -1;
		return;
	}
	s->len += (size_t)r;
	while (off < s->len && (nl = memchr(s->buf + off, '\n', s->len - off)) != NULL) {
		size_t n = (size_t)(nl - (s->buf + off)) + 1;
		emit(s, log, s->buf + off, n, 0);
		off += n;
	}
	if (off == 0 && s->len == sizeof(s->buf)) {
		emit(s, log, s->buf, s->len, 0);
		off = s->len;
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
}

/* ---- running it -------------------------------------------------------- */

/* map_ids writes the pause's id maps: newuidmap and newgidmap at once for
 * the subordinate ranges (idmap.Apply), or the single mapping directly.
 * -1 on any failure: Go tries again and explains. */
static int map_ids(struct fastpod *fp, pid_t pause)
{
	char path[64], map[64];

	if (fp->helpers) {
		/* newuidmap PID 0 UID 1 1 START COUNT (idmap.WithSubordinate:
		 * at most 65535 subordinate ids), the same for the gids. */
		char v[2][6][16];
		char *argv[2][9];
		const char *helper[2] = {fp->newuidmap, fp->newgidmap};
		uint32_t own[2] = {(uint32_t)fp->uid, (uint32_t)fp->gid};
		const struct idrange *sub[2] = {&fp->subuid, &fp->subgid};
		posix_spawn_file_actions_t fa;
		pid_t child[2] = {-1, -1};
		int st[2] = {1, 1}, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), i, j;

		if (devnull < 0)
			return -1;
		if (posix_spawn_file_actions_init(&fa) != 0) {
			close(devnull);
			return -1;
		}
		posix_spawn_file_actions_adddup2(&fa, devnull, 1);
		posix_spawn_file_actions_adddup2(&fa, devnull, 2);
		for (i = 0; i < 2; i++) {
			snprintf(v[i][0], 16, "%d", (int)pause);
			snprintf(v[i][1], 16, "%u", own[i]);
			snprintf(v[i][2], 16, "%u", sub[i]->start);
			snprintf(v[i][3], 16, "%u", sub[i]->count < 65535 ? sub[i]->count : 65535);
			j = 0;
			argv[i][j++] = i == 0 ? "newuidmap" : "newgidmap";
			argv[i][j++] = v[i][0];
			argv[i][j++] = "0";
			argv[i][j++] = v[i][1];
			argv[i][j++] = "1";
			argv[i][j++] = "1";
			argv[i][j++] = v[i][2];
			argv[i][j++] = v[i][3];
			argv[i][j] = NULL;
			/* Both at once: each is a setuid exec of about 1 ms. */
			if (posix_spawn(&child[i], helper[i], &fa, NULL, argv[i], environ) != 0)
				child[i] = -1;
		}
		posix_spawn_file_actions_destroy(&fa);
		close(devnull);
		for (i = 0; i < 2; i++)
			while (child[i] > 0 && waitpid(child[i], &st[i], 0) < 0 && errno == EINTR)
				;
		return child[0] > 0 && child[1] > 0 && st[0] == 0 && st[1] == 0 ? 0 : -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pause);
	if (sandbox_write_file(path, "deny") < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pause);
	snprintf(map, sizeof(map), "0 %d 1\n", fp->gid);
	if (sandbox_write_file(path, map) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pause);
	snprintf(map, sizeof(map), "0 %d 1\n", fp->uid);
	return sandbox_write_file(path, map);
}

/* grace_override is `sandbox stop -t`'s stop-grace-seconds file
 * (cmd/sandbox/detach.go stopGraceOverride), read when the stop comes. */
static long long grace_override(struct fastpod *fp)
{
	char p[PATH_MAX], data[32];
	long long n = 0;
	ssize_t r;
	int fd, i;

	path_in(p, sizeof(p), fp, "stop-grace-seconds");
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	data[r] = '\0';
	for (i = 0; data[i] == ' ' || data[i] == '\n' || data[i] == '\t' || data[i] == '\r'; i++)
		;
	if (data[i] < '0' || data[i] > '9')
		return -1;
	for (; data[i] >= '0' && data[i] <= '9'; i++)
		if ((n = n * 10 + (data[i] - '0')) > max_grace)
			return -1;
	for (; data[i] != '\0'; i++)
		if (data[i] != ' ' && data[i] != '\n' && data[i] != '\t' && data[i] != '\r')
			return -1;
	return n;
}

/* stop_signals is what the Go CLI catches (signal.Notify in runPod):
 * SIGINT, SIGTERM and SIGHUP stop the pod; and SIGCHLD. Any other signal
 * keeps its default action, as it has in the Go CLI (SIGQUIT, SIGUSR1 end
 * it, and the pod dies with it). */
static sigset_t stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	return set;
}

/* undo removes what was made before the pod existed, for a return to Go. */
static void undo(struct fastpod *fp)
{
	remove_state(fp);
	fp->dir_made = 0;
}

/*
 * run starts and supervises the pod. It returns (to Go) only when nothing
 * of the pod was started and nothing was printed; otherwise it exits.
 */
static void run(struct fastpod *fp, const sigset_t *orig)
{
	int ready[2] = {-1, -1}, out[2], errp[2], startp[2];
	int status, pause_status = 0, code = -1, stopped_by = 0, sigfd, logfd, devnull, i;
	int pause_killed = 0, pause_died = 0;
	struct fast_pause pz;
	pid_t pause, container;
	char line[4096], prefix[300], failure[8192];
	long long deadline = -1, grace = fp->ps.grace;
	struct record rec;
	struct stream streams[2];
	sigset_t taken;
	size_t flen = 0;

	memset(&rec, 0, sizeof(rec));
	clock_gettime(CLOCK_REALTIME, &rec.created);
	rec.supervisor = identify(getpid());
	snprintf(line, sizeof(line), "%s/logs/%s.log", fp->dir, fp->ps.container);
	logfd = open(line, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || devnull < 0)
		goto undo_files;
	if (fast_pause_clone(&pz, orig) < 0)
		goto undo_files;
	pause = pz.pid;
	rec.pause = identify(pause);
	if (map_ids(fp, pause) < 0)
		goto undo_pause;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		goto undo_pause;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		fast_close_pair(out);
		goto undo_pause;
	}
	if (pipe2(startp, O_CLOEXEC) < 0) {
		fast_close_pair(out);
		fast_close_pair(errp);
		goto undo_pause;
	}
	/* Into the pod, as fastrun.c does: from here on this process is in
	 * the pod's user namespace (with its capabilities: see remove_tree)
	 * and non-dumpable. */
	if (setns(pz.pidfd, FAST_POD_NS) < 0) {
		fast_close_pair(out);
		fast_close_pair(errp);
		fast_close_pair(startp);
		goto undo_pause;
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* No return to Go from here: the Go CLI's warning (log.Warn), which
	 * it prints while it plans, before the container's output. */
	if (fp->warning.len > 0) {
		write_all(2, "sandbox: warning: ", 18);
		write_all(2, fp->warning.p, fp->warning.len);
		write_all(2, "\n", 1);
	}
	container = fork();
	if (container < 0) {
		fast_pause_undo(&pz);
		remove_state(fp);
		fast_fail(exit_failed, "container \"%s\": fork: %s", fp->ps.container, strerror(errno));
	}
	if (container == 0) {
		/* The container: a session of its own (terminal signals reach
		 * only the supervisor), /dev/null in, the pipes out; it dies
		 * with its supervisor. */
		close(pz.psync);
		close(ready[1]);
		close(startp[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			_exit(exit_failed);
		setsid();
		if (dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(errp[1], 2) < 0)
			_exit(exit_failed);
		if (unshare(CLONE_NEWNS) < 0) {
			dprintf(startp[1], "%d\nunshare mount namespace: %s", exit_failed, strerror(errno));
			_exit(exit_failed);
		}
		sigprocmask(SIG_SETMASK, orig, NULL);
		snprintf(prefix, sizeof(prefix), "container \"%s\"", fp->ps.container);
		sandbox_cinit_fast(fp->records.p, fp->records.len, ready[0], prefix, pz.pidfd, pz.netready, pz.pwait, startp[1]);
	}
	close(ready[0]);
	/* The pause goes on (non-dumpable, "ok") once the container, which
	 * has its copies, has joined its network namespace. */
	fast_pause_release(&pz);
	close(out[1]);
	close(errp[1]);
	close(startp[1]);
	close(devnull);

	/* The pause says "ok" once non-dumpable, its capabilities dropped. */
	if (fast_pause_ready(&pz, line, sizeof(line)) < 0) {
		fast_reap(container);
		fast_pause_undo(&pz);
		remove_state(fp);
		fast_fail(exit_failed, "start the pod's pause: %s", strncmp(line, "error ", 6) == 0 ? line + 6 : "it exited");
	}
	read_namespaces(pause, rec.ns);
	rec.process = identify(container);
	clock_gettime(CLOCK_REALTIME, &rec.started);
	close(ready[1]); /* EOF: the container execs the command */

	/* The start pipe closes on exec; anything written is a start failure
	 * ("CODE\nMESSAGE", cinit.c's plain failures). */
	for (;;) {
		ssize_t r = read(startp[0], failure + flen, sizeof(failure) - 1 - flen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		flen += (size_t)r;
		if (flen == sizeof(failure) - 1)
			break;
	}
	close(startp[0]);
	failure[flen] = '\0';

	taken = stop_signals();
	sigfd = signalfd(-1, &taken, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		int e = errno;
		fast_reap(container);
		fast_reap(pause);
		remove_state(fp);
		fast_fail(exit_failed, "signalfd: %s", strerror(e));
	}
	streams[0] = (struct stream){.fd = out[0], .term = 1, .name = "stdout"};
	streams[1] = (struct stream){.fd = errp[0], .term = 2, .name = "stderr"};
	if (flen > 0) {
		/* The workload never ran: the pod is rolled back. */
		char *nl = strchr(failure, '\n');
		int fcode = atoi(failure);
		while (waitpid(container, &status, 0) < 0 && errno == EINTR)
			;
		kill(pause, SIGKILL);
		while (waitpid(pause, &status, 0) < 0 && errno == EINTR)
			;
		for (i = 0; i < 2; i++)
			while (streams[i].fd >= 0)
				pump(&streams[i], logfd);
		remove_state(fp);
		fast_fail(fcode > 0 && fcode < 256 ? fcode : exit_failed, "container \"%s\": %s", fp->ps.container,
			  nl != NULL ? nl + 1 : failure);
	}
	read_namespaces(container, rec.cns);
	save_record(fp, &rec);

	for (;;) {
		struct pollfd pfd[3];
		int n = 0, timeout = -1, si;

		if (code >= 0 && pause > 0) {
			/* The container ended. A pause that is exiting by itself
			 * took it along (supervisor.collect); otherwise the
			 * teardown kills it, and whatever the container left in
			 * the pod dies with it: its output ends. */
			if (!pause_killed && fast_exiting(pause))
				pause_died = 1;
			kill(pause, SIGKILL);
			while (waitpid(pause, &pause_status, 0) < 0 && errno == EINTR)
				;
			pause = -1;
		}
		if (code >= 0 && streams[0].fd < 0 && streams[1].fd < 0)
			break;
		for (i = 0; i < 2; i++)
			if (streams[i].fd >= 0)
				pfd[n++] = (struct pollfd){.fd = streams[i].fd, .events = POLLIN};
		if (code < 0)
			pfd[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		if (deadline >= 0 && code < 0) {
			long long left = deadline - fast_now_ns();
			timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++)
			for (si = 0; si < n; si++)
				if (streams[i].fd >= 0 && pfd[si].fd == streams[i].fd && pfd[si].revents != 0)
					pump(&streams[i], logfd);
		if (code >= 0)
			continue;
		if (deadline >= 0 && fast_now_ns() >= deadline) {
			/* gracefulStop: the grace period is over (killAll). */
			kill(container, SIGKILL);
			if (pause > 0) {
				kill(pause, SIGKILL);
				pause_killed = 1;
			}
			deadline = -1;
		}
		for (;;) {
			struct signalfd_siginfo ssi;
			if (read(sigfd, &ssi, sizeof(ssi)) != (ssize_t)sizeof(ssi))
				break;
			/* A stop signal (the first counts); SIGCHLD is only a
			 * wakeup. Nothing is forwarded, as in the Go CLI. */
			if ((ssi.ssi_signo == SIGINT || ssi.ssi_signo == SIGTERM || ssi.ssi_signo == SIGHUP) && stopped_by == 0) {
				long long o = grace_override(fp);
				stopped_by = (int)ssi.ssi_signo;
				if (o >= 0)
					grace = o;
				kill(container, SIGTERM);
				deadline = fast_now_ns() + grace * 1000000000LL;
			}
		}
		for (;;) {
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == container) {
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			} else if (pid == pause) {
				/* Killed from outside (or by the grace period's end):
				 * the kernel kills the pod's PID namespace with it. */
				pause_status = status;
				pause_died = !pause_killed;
				pause = -1;
				kill(container, SIGKILL);
			}
		}
	}
	/* No record of the end: the state directory goes now. (The Go
	 * supervisor saves the container's end first; only a `ps` in that
	 * half millisecond could see it.) */
	close(logfd);
	if (remove_state(fp) < 0 && !pause_died)
		fast_fail(code == 0 ? exit_failed : code, "remove pod state %s: %s", fp->dir, strerror(errno));
	if (pause_died) {
		/* The supervisor's words (collect, describeExit); the CLI prints
		 * them, stopped or not. syscall.Signal's names are strsignal's,
		 * lower case first. */
		int ecode = stopped_by ? 128 + stopped_by : exit_died;
		if (WIFSIGNALED(pause_status)) {
			char name[64];
			snprintf(name, sizeof(name), "%s", strsignal(WTERMSIG(pause_status)));
			name[0] = (char)tolower((unsigned char)name[0]);
			fast_fail(ecode, "pod sandbox died: pause (pid %d) was killed by signal %d (%s); every container was killed with it",
				  (int)rec.pause.pid, WTERMSIG(pause_status), name);
		}
		fast_fail(ecode, "pod sandbox died: pause (pid %d) exited with status %d; every container was killed with it",
			  (int)rec.pause.pid, WEXITSTATUS(pause_status));
	}
	if (stopped_by)
		_exit(128 + stopped_by);
	_exit(code);

undo_pause:
	fast_pause_undo(&pz);
	if (ready[0] >= 0)
		fast_close_pair(ready);
undo_files:
	if (logfd >= 0)
		close(logfd);
	if (devnull >= 0)
		close(devnull);
	undo(fp);
}

/*
 * sandbox_fastpod is called by the constructor of the sandbox CLI for
 * `sandbox run FILE`. It returns when the pod is not one it runs (or it
 * could not start it without a word); otherwise it exits.
 */
void sandbox_fastpod(int argc, char **argv)
{
	struct fastpod fp;
	sigset_t block, orig;
	char *data;
	size_t len = 0;

	if (argc != 3 || argv == NULL || strcmp(argv[1], "run") != 0 || argv[2] == NULL || argv[2][0] == '-' ||
	    argv[2][0] == '\0')
		return;
	if (sandbox_fast_paths_off() || geteuid() == 0)
		return;
	if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
		return;
	memset(&fp, 0, sizeof(fp));
	fp.lock_fd = -1;
	data = read_manifest(argv[2], &len);
	if (data == NULL)
		return;
	if (!podspec_parse(data, len, &fp.ps)) {
		free(data);
		return;
	}
	free(data);
	/* The cheap refusals first: a delegated cgroup (Go's) is known before
	 * the user database and the subordinate ranges are read. */
	if (!no_pod_cgroup() || !rootfs_ok(&fp.ps) || plan_ids(&fp) < 0 || base_dir(&fp) < 0 || fastpod_files(&fp.ps, &fp.files) < 0 ||
	    fastpod_records(&fp.ps, fp.dir, &fp.records) < 0)
		goto out;
	/* The stop signals and SIGCHLD are taken synchronously from here. */
	block = stop_signals();
	if (sigprocmask(SIG_BLOCK, &block, &orig) < 0)
		goto out;
	if (acquire(&fp) < 0 || populate(&fp) < 0) {
		undo(&fp);
		sigprocmask(SIG_SETMASK, &orig, NULL);
		goto out;
	}
	run(&fp, &orig);
	sigprocmask(SIG_SETMASK, &orig, NULL);
out:
	podspec_free(&fp.ps);
	free(fp.warning.p);
	free(fp.records.p);
	free(fp.files.hosts.p);
	free(fp.files.hostname.p);
	free(fp.files.resolv.p);
}
