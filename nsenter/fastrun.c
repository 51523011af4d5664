/*
 * fastrun.c: `sandbox run [FLAGS] -- CMD [ARG...]` without the Go runtime.
 *
 * The Go CLI costs about 2.6 ms before its main runs (the runtime, package
 * inits, cgo), more than bubblewrap's whole run. An ad-hoc sandbox asked for
 * without a name (the `go test -exec 'sandbox run --'` case) needs nothing
 * the Go code alone has: no manifest, no state directory (nobody can name
 * it for `ps`, `exec` or `stop`), no cgroup (no limit asked for; the pod's
 * PID namespace ends every process in it). So the constructor of the CLI
 * process runs it here, in C, and never returns:
 *
 *   1. the command line is parsed; anything this path does not do (a flag
 *      other than --bind, --ro-bind, --env, --env-host, --keep-id,
 *      --hostname, --network none, --timeout, --grace; root; a value the Go
 *      code would refuse or that needs a closer look) returns to Go, which
 *      runs or refuses it as always: the messages stay the Go code's;
 *   2. the pod is the Go path's: the pause is our clone with new user,
 *      ipc, pid and uts namespaces, not an exec of the binary: it makes the
 *      pod's network namespace itself (the costly one, made while the
 *      container mounts), then is the same PID 1 as any pause, the pause
 *      image (nsenter.c,
 *      sandbox_pause_inplace); we write its one-id map, join it and fork
 *      the container, which unshares a mount namespace and runs the C
 *      container init (cinit.c) with the records the supervisor's Go code
 *      would send for this pod (containerinit.EncodeC: the host root
 *      read-only, the working directory read-write, the binds, /etc/hosts,
 *      /etc/hostname and /etc/resolv.conf, every capability of the pod's
 *      user namespace), joining the pause's network namespace on the way;
 *   3. the container execs once the pause is ready; we forward signals,
 *      apply --timeout (SIGTERM, --grace, SIGKILL, exit 124), give the
 *      terminal back, kill the pause, and exit with the command's code.
 *
 * A failure before the container exists (say, user namespaces disabled)
 * undoes what was made and returns to Go, which explains it. SANDBOX_FASTPATH=0
 * in the environment turns this path off. The e2e tests run the same cases
 * both ways and compare what the command sees.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "fastexec.h"
#include "fastutil.h"


/* nsenter.c */
void write_all(int fd, const char *buf, size_t len);
int sandbox_fast_paths_off(void); /* nsenter.c */
int sandbox_write_file(const char *path, const char *data);
/* cinit.c */
void sandbox_cinit_fast(char *records, size_t len, int ready_fd, const char *prefix, int pidfd, int netready,
			int pause_wait, int start_fd) __attribute__((noreturn));

/* The C init's record format version (containerinit.CFormatVersion). */
enum { fast_format_version = 3 };

/* Limits of package pod the Go path validates against: beyond them (or
 * near), Go decides and words the refusal. */
enum {
	max_args = 4096,          /* pod.MaxArgs */
	max_arg_bytes = 128 << 10, /* pod.MaxArgBytes + 1 */
	max_env = 1024,           /* pod.MaxEnv */
	max_path = 4095,          /* pod.MaxPathBytes */
	max_mounts = 64,          /* well below pod.MaxVolumes */
};

/* pod.CapabilityNames, in the kernel's order (bit N of a mask is the Nth).
 * TestFastRunCapabilityNames keeps the two lists equal. */
static const char *const cap_names[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

/* sandbox_fastrun_cap_name is cap_names for the Go test (nsenter/fastrun.go). */
const char *sandbox_fastrun_cap_name(int i)
{
	return i >= 0 && i < NCAPS ? cap_names[i] : NULL;
}

/* ---- Go durations --------------------------------------------------------- */

/*
 * parse_duration is time.ParseDuration for what a flag value can be: a
 * sequence of decimal numbers with an optional fraction and a unit (ns, us,
 * µs, μs, ms, s, m, h), or "0". It returns -1 for anything else (a sign, an
 * overflow: Go decides those) and the nanoseconds otherwise.
 */
static long long parse_duration(const char *s)
{
	static const struct {
		const char *name;
		long long ns;
	} units[] = {{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000}, {"ms", 1000000},
		     {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL}};
	long double total = 0;

	if (strcmp(s, "0") == 0)
		return 0;
	if (*s == '\0')
		return -1;
	while (*s) {
		long double v = 0, frac = 0, scale = 1;
		int digits = 0;
		size_t ulen = 0, i;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				frac = frac * 10 + (*s++ - '0');
				scale *= 10;
				digits++;
			}
		}
		if (digits == 0)
			return -1;
		while (s[ulen] != '\0' && s[ulen] != '.' && (s[ulen] < '0' || s[ulen] > '9'))
			ulen++;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen && strncmp(s, units[i].name, ulen) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		total += v * units[i].ns + frac / scale * units[i].ns;
		s += ulen;
	}
	/* Go's own limit is 2^63-1 ns (292 years); keep well away from its
	 * rounding at the edge. */
	if (total > 9.0e18L)
		return -1;
	return (long long)total;
}

/* frac_digits writes v's last prec decimal digits as Go's fmtFrac: "." and
 * the digits without trailing zeros, or nothing when they are all zero. */
static void frac_digits(struct buf *b, unsigned long long v, int prec)
{
	char d[24];
	int n = 0, i, printed = 0;

	for (i = 0; i < prec; i++) {
		int digit = (int)(v % 10);
		v /= 10;
		if (digit != 0 || printed) {
			d[n++] = (char)('0' + digit);
			printed = 1;
		}
	}
	if (n == 0)
		return;
	buf_put(b, ".", 1);
	while (n > 0)
		buf_put(b, &d[--n], 1);
}

/* format_duration is time.Duration.String for d >= 0. */
static void format_duration(struct buf *b, unsigned long long d)
{
	unsigned long long u = d;

	if (u == 0) {
		buf_puts(b, "0s");
		return;
	}
	if (u < 1000000000ULL) {
		int prec = 0;
		const char *unit = "ns";
		unsigned long long div = 1;

		if (u >= 1000000ULL) {
			prec = 6, unit = "ms", div = 1000000ULL;
		} else if (u >= 1000ULL) {
			prec = 3, unit = "\xc2\xb5s", div = 1000ULL;
		}
		buf_printf(b, "%llu", u / div);
		frac_digits(b, u, prec);
		buf_puts(b, unit);
		return;
	}
	{
		unsigned long long secs = u / 1000000000ULL, mins = secs / 60, hours = mins / 60;
		if (hours > 0)
			buf_printf(b, "%lluh", hours);
		if (mins > 0)
			buf_printf(b, "%llum", mins % 60);
		buf_printf(b, "%llu", secs % 60);
		frac_digits(b, u, 9);
		buf_puts(b, "s");
	}
}

/* ---- the command line ----------------------------------------------------- */

struct bindspec {
	const char *src, *dst;
	int ro;
};

struct opts {
	struct bindspec binds[max_mounts];
	int nbinds;
	const char *env[max_env];
	int nenv;
	int env_host, keep_id;
	const char *hostname;
	long long timeout_ns, grace_ns;
	const char *timeout_text;
	char **cmd;
	int ncmd;
};

/* parse_bool is strconv.ParseBool's accepted spellings; -1 otherwise. */
static int parse_bool(const char *v)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	size_t i;

	for (i = 0; i < 6; i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* add_bind records "SRC[:DST]" (adhoc.go's splitBind). */
static int add_bind(struct opts *o, char *spec, int ro)
{
	char *colon = strchr(spec, ':');

	if (o->nbinds >= max_mounts - 2)
		return -1;
	o->binds[o->nbinds].src = spec;
	o->binds[o->nbinds].dst = spec;
	if (colon != NULL) {
		*colon = '\0'; /* our own copy of argv: see parse */
		o->binds[o->nbinds].dst = colon + 1;
	}
	o->binds[o->nbinds++].ro = ro;
	return 0;
}

/*
 * parse reads `run FLAGS -- CMD...` as cobra and pflag would for the flags
 * this path handles, and returns -1 (Go's turn) for anything else: another
 * flag, a short flag, a positional argument (a manifest), no command.
 */
static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->grace_ns = 10000000000LL; /* --grace's default */
	for (i = 2; i < argc; i++) {
		char *a = argv[i], *name, *value, *eq;
		int has_value;

		if (strcmp(a, "--") == 0) {
			o->cmd = argv + i + 1;
			o->ncmd = argc - i - 1;
			break;
		}
		if (strncmp(a, "--", 2) != 0)
			return -1;
		name = a + 2;
		eq = strchr(name, '=');
		has_value = eq != NULL;
		value = has_value ? eq + 1 : NULL;
		if (has_value) {
			/* Our own copy: argv strings are the process's, and
			 * /proc/PID/cmdline shows them; Go must see them intact
			 * should we return. */
			name = strndup(name, (size_t)(eq - name));
			if (name == NULL)
				return -1;
		}
		if (strcmp(name, "env-host") == 0 || strcmp(name, "keep-id") == 0) {
			int v = has_value ? parse_bool(value) : 1;
			if (v < 0)
				return -1;
			if (strcmp(name, "env-host") == 0)
				o->env_host = v;
			else
				o->keep_id = v;
			continue;
		}
		if (!has_value) {
			if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0)
				return -1;
			value = argv[++i];
		}
		value = strdup(value);
		if (value == NULL)
			return -1;
		if (strcmp(name, "bind") == 0 || strcmp(name, "ro-bind") == 0) {
			if (add_bind(o, value, name[0] == 'r') < 0)
				return -1;
		} else if (strcmp(name, "env") == 0) {
			if (o->nenv >= max_env)
				return -1;
			o->env[o->nenv++] = value;
		} else if (strcmp(name, "hostname") == 0) {
			o->hostname = value;
		} else if (strcmp(name, "network") == 0) {
			if (strcmp(value, "none") != 0)
				return -1; /* bridge and host: the Go supervisor */
		} else if (strcmp(name, "timeout") == 0) {
			if ((o->timeout_ns = parse_duration(value)) < 0)
				return -1;
			o->timeout_text = value;
		} else if (strcmp(name, "grace") == 0) {
			if ((o->grace_ns = parse_duration(value)) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return o->ncmd > 0 && o->ncmd <= max_args ? 0 : -1;
}

/* ---- checks the Go code makes: a case it would refuse is its own ------------- */

/* clean_abs_path: absolute and path.Clean'd ("/a/b", not "/a//b/", "/a/./b"). */
static int clean_abs_path(const char *p)
{
	size_t n = strlen(p);
	const char *s;

	if (p[0] != '/' || n > max_path || (n > 1 && p[n - 1] == '/'))
		return 0;
	for (s = p; *s; s++) {
		if (*s == '/' && (s[1] == '/' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0')) ||
				  (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
			return 0;
	}
	return 1;
}

static int under(const char *p, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* good_dst is pod.checkMountPath's acceptance for a clean path. */
static int good_dst(const char *p)
{
	return clean_abs_path(p) && strcmp(p, "/") != 0 && !under(p, "/proc") && !under(p, "/sys") && !under(p, "/dev");
}

/* env_ok is pod's checkEnv for a name (and the NAME=value length). */
static int env_ok(const char *name, size_t nlen, const char *value)
{
	return nlen > 0 && nlen <= 4096 && nlen + 1 + strlen(value) < (size_t)max_arg_bytes;
}

/* ---- the container's environment (adhoc.go adhocEnv, containerEnv) ----- */

struct envlist {
	char *v[max_env + 8];
	int n;
};

/* env_set is containerEnv's "a later duplicate wins, in place". */
static int env_set(struct envlist *l, const char *name, size_t nlen, const char *value)
{
	char *kv;
	int i;

	if (!env_ok(name, nlen, value))
		return -1;
	if (asprintf(&kv, "%.*s=%s", (int)nlen, name, value) < 0)
		return -1;
	for (i = 0; i < l->n; i++)
		if (strncmp(l->v[i], name, nlen) == 0 && l->v[i][nlen] == '=') {
			l->v[i] = kv;
			return 0;
		}
	if (l->n >= max_env)
		return -1;
	l->v[l->n++] = kv;
	return 0;
}

static int is_terminal(int fd)
{
	struct termios t;
	return ioctl(fd, TCGETS, &t) == 0;
}

/*
 * build_env is adhocEnv (the variables the caller passes) followed by
 * containerEnv (the defaults for the names not passed, first).
 */
static int build_env(const struct opts *o, char **environ_, const char *hostname, int uid, struct envlist *out)
{
	struct envlist given = {{0}, 0};
	static const char *const defaults[] = {"PATH", "HOSTNAME", "HOME"};
	char **e;
	int i;

	if (o->env_host) {
		for (e = environ_; *e != NULL; e++) {
			char *eq = strchr(*e, '=');
			size_t nlen = eq != NULL ? (size_t)(eq - *e) : strlen(*e);
			if (nlen == 0 || strncmp(*e, "_SANDBOX_", 9) == 0)
				continue;
			if (given.n >= max_env)
				return -1;
			given.v[given.n++] = *e;
		}
	} else {
		const char *v;
		if ((v = getenv("PATH")) != NULL)
			asprintf(&given.v[given.n++], "PATH=%s", v);
		if ((v = getenv("TERM")) != NULL && is_terminal(0))
			asprintf(&given.v[given.n++], "TERM=%s", v);
		if ((v = getenv("HOME")) != NULL && o->keep_id)
			asprintf(&given.v[given.n++], "HOME=%s", v);
		for (i = 0; i < given.n; i++)
			if (given.v[i] == NULL)
				return -1;
	}
	for (i = 0; i < o->nenv; i++) {
		if (given.n >= max_env)
			return -1;
		given.v[given.n++] = (char *)o->env[i];
	}
	out->n = 0;
	for (i = 0; i < 3; i++) {
		size_t nlen = strlen(defaults[i]);
		int j, set = 0;
		for (j = 0; j < given.n; j++)
			if (strncmp(given.v[j], defaults[i], nlen) == 0 && (given.v[j][nlen] == '=' || given.v[j][nlen] == '\0'))
				set = 1;
		if (set)
			continue;
		if (i == 0 && env_set(out, "PATH", 4, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0)
			return -1;
		if (i == 1 && env_set(out, "HOSTNAME", 8, hostname) < 0)
			return -1;
		if (i == 2 && env_set(out, "HOME", 4, uid == 0 ? "/root" : "/") < 0)
			return -1;
	}
	for (i = 0; i < given.n; i++) {
		char *eq = strchr(given.v[i], '=');
		size_t nlen = eq != NULL ? (size_t)(eq - given.v[i]) : strlen(given.v[i]);
		if (env_set(out, given.v[i], nlen, eq != NULL ? eq + 1 : "") < 0)
			return -1;
	}
	return 0;
}

/* ---- the working directory and the command's own directory -------------- */

/* working_dir is os.Getwd: $PWD when it names the current directory. */
static char *working_dir(void)
{
	const char *pwd = getenv("PWD");
	struct stat a, b;

	if (pwd != NULL && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return strdup(pwd);
	return getcwd(NULL, 0);
}

/* executable_file is os/exec's findExecutable: not a directory, and
 * eaccess(X_OK), or the mode bits where eaccess is refused. */
static int executable_file(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0 || S_ISDIR(st.st_mode))
		return 0;
	if (faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) == 0)
		return 1;
	return (errno == ENOSYS || errno == EPERM) && (st.st_mode & 0111) != 0;
}

/* clean_join is filepath.Abs for p (relative to cwd) and filepath.Clean. */
static char *clean_join(const char *cwd, const char *p)
{
	char *joined, *out, *w;
	const char *s;

	if (asprintf(&joined, "%s/%s", p[0] == '/' ? "" : cwd, p) < 0)
		return NULL;
	out = malloc(strlen(joined) + 2);
	if (out == NULL)
		return NULL;
	w = out;
	for (s = joined; *s;) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		e = strchrnul(s, '/');
		n = (size_t)(e - s);
		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (w > out && *--w != '/')
				;
		} else {
			*w++ = '/';
			memcpy(w, s, n);
			w += n;
		}
		s = e;
	}
	if (w == out)
		*w++ = '/';
	*w = '\0';
	free(joined);
	return out;
}

/*
 * command_dir is adhoc.go's rule for the command's own directory: found as
 * exec.LookPath finds it (a relative PATH entry's result is an error
 * there, so no bind), made absolute; bound read-only when a mount of the
 * sandbox hides it (a `go test -exec` binary in /tmp). NULL: no bind.
 */
static char *command_dir(const char *cmd, const char *cwd)
{
	char *found = NULL, *abs, *slash;

	if (strchr(cmd, '/') != NULL) {
		if (executable_file(cmd))
			found = strdup(cmd);
	} else {
		const char *path = getenv("PATH");
		while (path != NULL) {
			const char *e = strchrnul(path, ':');
			size_t n = (size_t)(e - path);
			if (n > 0 && path[0] == '/') {
				char *cand;
				if (asprintf(&cand, "%.*s/%s", (int)n, path, cmd) >= 0) {
					if (executable_file(cand)) {
						found = cand;
						break;
					}
					free(cand);
				}
			} else if (n == 0 || path[0] != '/') {
				/* "." or a relative entry: Go's LookPath returns
				 * ErrDot for a match there: no bind. */
				char *cand;
				if (asprintf(&cand, "%.*s/%s", n == 0 ? 1 : (int)n, n == 0 ? "." : path, cmd) >= 0) {
					int hit = executable_file(cand);
					free(cand);
					if (hit)
						return NULL;
				}
			}
			path = *e ? e + 1 : NULL;
		}
	}
	if (found == NULL)
		return NULL;
	abs = clean_join(cwd, found);
	free(found);
	if (abs == NULL)
		return NULL;
	if (!(under(abs, "/tmp") || under(abs, "/dev") || under(abs, "/proc") || under(abs, "/sys"))) {
		free(abs);
		return NULL;
	}
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else
		*slash = '\0';
	return abs;
}

/* ---- the plan: the records the Go supervisor would send ---------------- */

struct plan {
	struct buf records;
	int uid, gid;    /* the caller's */
	int keep_id;
	int terminal;
	char hostname[64];
	const char *argv0;
	long long timeout_ns, grace_s;
	struct buf timeout_text;
};

/*
 * make_plan builds adhocPod + the supervisor's containerConfig for this
 * command line as records for the C init. It returns -1 when the Go code
 * would refuse the case, word it differently or needs a closer look.
 */
static int make_plan(const struct opts *o, char **environ_, struct plan *pl)
{
	struct bindspec mounts[max_mounts];
	struct envlist env;
	struct buf hosts = {0}, hostname = {0}, resolv = {0};
	char *cwd, *cmddir;
	int nmounts = 0, i, j;
	size_t total = 0;
	struct stat st;

	memset(pl, 0, sizeof(*pl));
	pl->uid = (int)geteuid();
	pl->gid = (int)getegid();
	pl->keep_id = o->keep_id;
	pl->terminal = is_terminal(0);
	pl->argv0 = o->cmd[0];
	pl->timeout_ns = o->timeout_ns;
	pl->grace_s = o->grace_ns / 1000000000LL; /* terminationGracePeriodSeconds */
	if (o->timeout_text != NULL)
		format_duration(&pl->timeout_text, (unsigned long long)o->timeout_ns);

	for (i = 0; i < o->ncmd; i++) {
		size_t n = strlen(o->cmd[i]);
		if (n >= (size_t)max_arg_bytes)
			return -1;
		total += n + 1;
	}
	if (o->cmd[0][0] == '\0')
		return -1;
	if (o->hostname != NULL && o->hostname[0] != '\0') {
		if (!fast_dns_label(o->hostname))
			return -1;
		snprintf(pl->hostname, sizeof(pl->hostname), "%s", o->hostname);
	} else {
		unsigned char r[4];
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			return -1;
		snprintf(pl->hostname, sizeof(pl->hostname), "run-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
	}

	/* The mounts in adhocPod's order: the working directory, --bind,
	 * --ro-bind, the command's own directory. */
	cwd = working_dir();
	if (cwd == NULL || cwd[0] != '/')
		return -1;
	if (strcmp(cwd, "/") != 0)
		mounts[nmounts++] = (struct bindspec){cwd, cwd, 0};
	for (i = 0; i < o->nbinds; i++)
		if (!o->binds[i].ro)
			mounts[nmounts++] = o->binds[i];
	for (i = 0; i < o->nbinds; i++)
		if (o->binds[i].ro)
			mounts[nmounts++] = o->binds[i];
	cmddir = command_dir(o->cmd[0], cwd);
	if (cmddir != NULL)
		mounts[nmounts++] = (struct bindspec){cmddir, cmddir, 1};
	for (i = 0; i < nmounts; i++) {
		/* Go validates hostPath and mountPath, refuses a duplicate
		 * destination and a missing source: its messages. */
		if (!clean_abs_path(mounts[i].src) || !good_dst(mounts[i].dst) || stat(mounts[i].src, &st) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(mounts[i].dst, mounts[j].dst) == 0)
				return -1;
	}

	if (build_env(o, environ_, pl->hostname, o->keep_id ? pl->uid : 0, &env) < 0)
		return -1;
	for (i = 0; i < env.n; i++)
		total += strlen(env.v[i]) + 1;
	/* pod.MaxArgvEnvBytes counts the command and the variables passed;
	 * ours also counts the defaults, so it is never below Go's: Go
	 * decides and words anything near the limit. */
	if (total > 1024 * 1024)
		return -1;

	podfile_hosts(&hosts, pl->hostname);
	buf_printf(&hostname, "%s\n", pl->hostname);
	if (podfile_resolv_conf(&resolv) < 0)
		return -1;

	{
		struct buf *r = &pl->records;
		uint32_t version = fast_format_version;
		unsigned char sec[21];
		uint32_t uid = o->keep_id ? (uint32_t)pl->uid : 0, gid = o->keep_id ? (uint32_t)pl->gid : 0;
		uint64_t mask = (NCAPS >= 64) ? ~0ULL : ((1ULL << NCAPS) - 1);
		uint32_t ncaps = NCAPS;

		buf_rec(r, 'V', &version, 4);
		buf_rec_str(r, 'n', "main");
		for (i = 0; i < o->ncmd; i++)
			buf_rec_str(r, 'a', o->cmd[i]);
		for (i = 0; i < env.n; i++)
			buf_rec_str(r, 'e', env.v[i]);
		buf_rec_str(r, 'w', cwd);
		if (!o->keep_id)
			buf_rec(r, 'R', NULL, 0);
		buf_rec_str(r, 'H', pl->hostname);
		/* The host root's mount point, in the container's own mount
		 * namespace only (the Go path uses a directory of its state). */
		buf_rec_str(r, 's', "/tmp");
		for (i = 0; i < nmounts; i++) {
			struct buf b = {0};
			char ro = (char)mounts[i].ro;
			buf_put(&b, &ro, 1);
			buf_puts(&b, mounts[i].src);
			buf_put(&b, "", 1);
			buf_puts(&b, mounts[i].dst);
			if (b.oom)
				return -1;
			buf_rec(r, 'b', b.p, b.len);
			free(b.p);
		}
		{
			const struct {
				const char *dst;
				struct buf *data;
			} files[] = {{"/etc/hosts", &hosts}, {"/etc/hostname", &hostname}, {"/etc/resolv.conf", &resolv}};
			for (i = 0; i < 3; i++) {
				struct buf b = {0};
				buf_puts(&b, files[i].dst);
				buf_put(&b, "", 1);
				if (files[i].data->len > 0)
					buf_put(&b, files[i].data->p, files[i].data->len);
				if (b.oom || files[i].data->oom)
					return -1;
				buf_rec(r, 'P', b.p, b.len);
				free(b.p);
			}
		}
		memcpy(sec, &uid, 4);
		memcpy(sec + 4, &gid, 4);
		memcpy(sec + 8, &mask, 8);
		sec[16] = 0; /* no_new_privs: privileged, as adhocPod asks */
		memcpy(sec + 17, &ncaps, 4);
		buf_rec(r, 'S', sec, sizeof(sec));
		for (i = 0; i < NCAPS; i++)
			buf_rec_str(r, 'c', cap_names[i]);
		buf_rec(r, 'Z', NULL, 0);
		if (r->oom || pl->timeout_text.oom)
			return -1;
	}
	return 0;
}

/* ---- running it -------------------------------------------------------- */

/*
 * run starts and supervises the pod. It returns (to Go) only when nothing
 * of the pod was left running and nothing was printed.
 */
static void run(struct plan *pl, const sigset_t *orig)
{
	int ready[2] = {-1, -1};
	int status, pause_status = 0, code = -1, timed_out = 0, stopping = 0;
	/* The network namespace, the costly one, is the pause's to make
	 * once cloned (fast_pause_clone): its making overlaps the container's
	 * mounts, and the container joins it before it mounts sysfs and
	 * brings lo up (cinit.c, join_pod_network). */
	struct fast_pause pz;
	pid_t pause, pause_pid, pause_died = 0, container = -1;
	char line[4096], map[64];
	long long deadline = -1;
	sigset_t waitset;

	/* The pause, as spawn_pause makes it for the Go supervisor. */
	if (fast_pause_clone(&pz, orig) < 0)
		return; /* Go explains (user namespaces disabled, ...) */
	pause = pause_pid = pz.pid;
	/* One id, like unshare -r: the caller is root inside, or itself
	 * (--keep-id). Only a process outside the new namespace may write them. */
	snprintf(line, sizeof(line), "/proc/%d/setgroups", (int)pause);
	if (sandbox_write_file(line, "deny") < 0)
		goto undo_pause;
	snprintf(line, sizeof(line), "/proc/%d/gid_map", (int)pause);
	snprintf(map, sizeof(map), "%d %d 1", pl->keep_id ? pl->gid : 0, pl->gid);
	if (sandbox_write_file(line, map) < 0)
		goto undo_pause;
	snprintf(line, sizeof(line), "/proc/%d/uid_map", (int)pause);
	snprintf(map, sizeof(map), "%d %d 1", pl->keep_id ? pl->uid : 0, pl->uid);
	if (sandbox_write_file(line, map) < 0)
		goto undo_pause;

	/* Into the pod: its user namespace first (one call), whose
	 * capabilities let us join the others. From here on this process is
	 * in the pod's namespaces and never returns to Go. It stays in the
	 * host's PID namespace (setns into a PID namespace applies to
	 * children), network and mount namespaces, and is non-dumpable:
	 * nothing in the pod can reach it. */
	if (pipe2(ready, O_CLOEXEC) < 0 || setns(pz.pidfd, FAST_POD_NS) < 0)
		goto undo_pause; /* nothing ran: Go tries and explains */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	container = fork();
	if (container < 0) {
		fast_pause_undo(&pz);
		fast_fail(125, "container \"main\": fork: %s", strerror(errno));
	}
	if (container == 0) {
		/* The container: dies with us, its supervisor. */
		close(pz.psync);
		close(ready[1]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			_exit(125);
		/* A process group of its own, the terminal's foreground one when
		 * there is a terminal: Ctrl-C reaches the command directly
		 * (SIGTTOU is blocked here, inherited from us). */
		setpgid(0, 0);
		if (pl->terminal)
			tcsetpgrp(0, getpid());
		if (unshare(CLONE_NEWNS) < 0)
			fast_fail(125, "container \"main\": unshare mount namespace: %s", strerror(errno));
		sigprocmask(SIG_SETMASK, orig, NULL);
		sandbox_cinit_fast(pl->records.p, pl->records.len, ready[0], "sandbox: error: container \"main\"", pz.pidfd,
				   pz.netready, pz.pwait, -1);
	}
	close(ready[0]);
	/* The pause goes on (non-dumpable, "ok") once the container, which
	 * has its copies, has joined its network namespace. */
	fast_pause_release(&pz);

	/* The pause says "ok" once non-dumpable, its capabilities dropped. */
	if (fast_pause_ready(&pz, line, sizeof(line)) < 0) {
		fast_reap(container);
		fast_pause_undo(&pz);
		fast_fail(125, "start the pod's pause: %s", strncmp(line, "error ", 6) == 0 ? line + 6 : "it exited");
	}
	close(ready[1]); /* EOF: the container execs the command */

	if (pl->timeout_ns > 0)
		deadline = fast_now_ns() + pl->timeout_ns;
	/* What sandbox_fastrun blocked, less SIGTTOU. */
	waitset = fast_taken_signals(0);
	while (code < 0) {
		struct timespec ts, *tsp = NULL;
		siginfo_t si;
		int sig;

		if (deadline >= 0) {
			long long left = deadline - fast_now_ns();
			if (left < 0)
				left = 0;
			ts.tv_sec = (time_t)(left / 1000000000LL);
			ts.tv_nsec = (long)(left % 1000000000LL);
			tsp = &ts;
		}
		sig = sigtimedwait(&waitset, &si, tsp);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0 && errno == EAGAIN) {
			/* The timeout, then the grace period, ran out. */
			if (!stopping) {
				timed_out = stopping = 1;
				kill(container, SIGTERM);
				deadline = fast_now_ns() + pl->grace_s * 1000000000LL;
			} else {
				kill(container, SIGKILL); /* the pause goes once it is reaped */
				deadline = -1;
			}
			continue;
		}
		if (sig != SIGCHLD) {
			kill(container, sig);
			continue;
		}
		for (;;) {
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == container) {
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			} else if (pid == pause) {
				pause_status = status;
				pause = -1;
			}
		}
		/* A pause killed from outside takes the command with it (the
		 * kernel kills its PID namespace); either exit may come first. */
		if (pause < 0 && code < 0)
			kill(container, SIGKILL);
	}
	if (pause > 0 && code == 128 + SIGKILL && fast_exiting(pause)) {
		while (waitpid(pause, &pause_status, 0) < 0 && errno == EINTR)
			;
		pause_died = pause;
		pause = -1;
	} else if (pause < 0) {
		pause_died = pause_pid;
	}
	if (pause_died > 0) {
		if (pl->terminal)
			tcsetpgrp(0, getpgrp());
		/* The Go supervisor's words (describeExit): syscall.Signal's
		 * names are strsignal's, lower case first. */
		if (WIFSIGNALED(pause_status)) {
			char name[64];
			snprintf(name, sizeof(name), "%s", strsignal(WTERMSIG(pause_status)));
			name[0] = (char)tolower((unsigned char)name[0]);
			fast_fail(137, "pod sandbox died: pause (pid %d) was killed by signal %d (%s); every container was killed with it",
			     (int)pause_died, WTERMSIG(pause_status), name);
		}
		fast_fail(137, "pod sandbox died: pause (pid %d) exited with status %d; every container was killed with it", (int)pause_died,
		     WEXITSTATUS(pause_status));
	}
	if (pause > 0)
		fast_reap(pause);
	if (pl->terminal)
		tcsetpgrp(0, getpgrp()); /* SIGTTOU still blocked */
	if (timed_out) {
		write_all(2, "sandbox: error: ", 16);
		write_all(2, pl->argv0, strlen(pl->argv0));
		write_all(2, " timed out after ", 17);
		write_all(2, pl->timeout_text.p, pl->timeout_text.len);
		write_all(2, "\n", 1);
		_exit(124);
	}
	_exit(code);

undo_pause:
	fast_pause_undo(&pz);
	if (ready[0] >= 0)
		fast_close_pair(ready);
}

/*
 * sandbox_fastrun is called by the constructor of the sandbox CLI (a
 * process without a role). It returns when the command line is not one it
 * runs; otherwise it exits.
 */
void sandbox_fastrun(int argc, char **argv)
{
	struct opts o;
	struct plan pl;
	sigset_t block, orig;

	if (argc < 4 || argv == NULL || strcmp(argv[1], "run") != 0)
		return;
	if (sandbox_fast_paths_off())
		return;
	/* Root gets no user namespace by default: the Go supervisor's case. */
	if (geteuid() == 0)
		return;
	/* A closed standard descriptor would be taken by our pipes (and
	 * passed to the command): Go opens /dev/null for it. */
	if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
		return;
	if (parse(argc, argv, &o) < 0 || make_plan(&o, environ, &pl) < 0)
		return;
	/* Signals to forward, SIGCHLD, and SIGTTOU (giving the terminal to
	 * the command and taking it back) are taken synchronously. */
	block = fast_taken_signals(1);
	if (sigprocmask(SIG_BLOCK, &block, &orig) < 0)
		return;
	run(&pl, &orig);
	sigprocmask(SIG_SETMASK, &orig, NULL);
}
