/*
 * The only C in sandbox, with cinit.c, fastrun.c and fastexec.c. It runs as
 * an ELF constructor, before the Go runtime starts any thread, because a
 * multi-threaded process can neither setns(2) into a user namespace
 * (EINVAL) nor, unprivileged, into the namespaces that user namespace owns
 * (EPERM). Hidden roles are selected by _SANDBOX_ROLE. Without it, in the
 * sandbox CLI only, the fast paths of `sandbox run -- CMD` (fastrun.c) and
 * `sandbox exec` (fastexec.c) run the commands they can without starting
 * Go; for anything else the constructor returns and the binary behaves
 * normally.
 *
 *   pause  The pod's PID 1: holds the namespaces open, reaps zombies (its
 *          SIGCHLD is ignored, so the kernel does), exits 0 on SIGTERM/SIGINT,
 *          ignores the other standard signals. It never returns, so no Go runtime is
 *          started, and once set up it executes the pause image
 *          (pauseimage.c): one page of program, 8 kB of private memory with
 *          the top of its stack; see pause_with. chdir("/"), no inherited
 *          descriptor. It does nothing privileged and holds no capability in
 *          the pod's user namespace: it drops them all, sets no_new_privs
 *          and empties its bounding set before that exec (exec'd as root of
 *          the pod's namespace by the nest role, bridge, it would otherwise
 *          keep them all).
 *          The first container init sets the pod's hostname and brings up lo
 *          instead.
 *
 *   join   Joins the pause's namespaces (user first, in one setns call on a
 *          pidfd), optionally unshares a PID namespace of its own, then
 *          clone(CLONE_PARENT)s: the child is a direct child of the
 *          supervisor (so the supervisor reaps it and gets its exit status,
 *          like runc exec) and is inside the PID namespace, which applies to
 *          children only. The intermediate process reports the child's PID on
 *          the sync fd and exits. The child unshares a mount namespace (the
 *          pause's is the host's and is never joined) and returns: the Go
 *          runtime then starts inside the pod and runs the container init.
 *          With _SANDBOX_CLONEFLAGS set, the pod's first container creates
 *          the pause itself before it joins it (see spawn_pause): one
 *          execution of the binary instead of two in a row on the start's
 *          critical path. A join may also be a clone of the CLI's fork
 *          server (spawner.c) rather than an execution: the same code runs
 *          from sandbox_run_role.
 *          With _SANDBOX_CINIT=1 (a simple container) the child runs the
 *          container init in C instead (cinit.c) and never returns.
 *
 *   netns  Joins the pause's user and network namespaces only, for the
 *          hostPort forwarder's dialler (see run_netns).
 *
 *   nest   Clones a pod's pause inside the rootless network holder's user
 *          namespace (see run_nest).
 *
 *   exec   Joins a running container's namespaces, its mount namespace
 *          included, for `sandbox exec` and lifecycle hooks; the child is
 *          the caller's (CLONE_PARENT) and runs execin's Go code inside,
 *          or, with _SANDBOX_CINIT=1 (no terminal), runs the command from
 *          C (cinit.c, sandbox_cexec) and never returns.
 *
 * Without _SANDBOX_ROLE, `sandbox exec` (argv[1] "exec") may run whole from
 * here, the Go runtime never started: see fastexec.c. It returns for
 * everything it leaves to the Go code.
 *
 * Protocol on the sync fd (a pipe, read by the supervisor until EOF):
 *   "pid <n>\n"   written by the intermediate after a successful clone;
 *   "ok\n"        written by the pause when it is ready, or by the joined
 *                 child when its mount namespace exists;
 *   "error <msg>\n" on any failure, followed by exit status 125.
 * A join that spawns the pause writes "pid <n>\n" of the pause (or
 * "clone-errno <n>\n"), "net\n" once the pod's namespaces all exist, then
 * "maps\n" if it wrote the id maps (itself or with newuidmap/newgidmap), on
 * the pause's own sync pipe, where the pause then writes "ok\n".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <linux/capability.h>
#include <unistd.h>

#include "spawner.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* sandbox_fast_paths_off tells whether SANDBOX_FASTPATH=0 turns off the C
 * fast paths: fastrun.c, fastexec.c, the fork server (spawner.c) and the
 * pause image (the pause then keeps the binary; the supervisor passes the
 * variable on to every pause it starts). */
int sandbox_fast_paths_off(void)
{
	const char *off = getenv("SANDBOX_FASTPATH");

	return off != NULL && strcmp(off, "0") == 0;
}

/* env_int and write_all are shared with cinit.c (same cgo package). */
int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return fallback;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > 0x7fffffff)
		return fallback;
	return (int)n;
}

void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* vwrite_line writes one line, truncated to 4 KiB, to fd (nothing if fd <
 * 0): the sync protocol's lines here, --explain lines in cinit.c. */
void vwrite_line(int fd, const char *fmt, va_list ap)
{
	char buf[4096];
	int n;

	if (fd < 0)
		return;
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(fd, buf, (size_t)n);
}

/* report writes one protocol line to the sync fd. */
static void report(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwrite_line(fd, fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn)) fail(int fd, const char *what)
{
	report(fd, "error %s: %s", what, strerror(errno));
	_exit(125);
}

/* ---- pause ------------------------------------------------------------ */

/*
 * The pause needs no signal handler: SIGCHLD is ignored, so the kernel reaps
 * every child the pause inherits (an orphan reparented to PID 1, or one that
 * was a zombie already); SIGTERM and SIGINT are blocked and taken with
 * rt_sigtimedwait; the other standard signals (1-31) are ignored, the
 * real-time ones keep their default. All of that survives an exec, so once
 * set up in C the pause executes the pause image (pauseimage.c): a program of
 * one page that makes itself non-dumpable, reports "ok" and waits, with no
 * libc, no stack and nothing of the sandbox binary mapped. Where the image
 * cannot be executed (another architecture, vm.memfd_noexec = 2), the pause
 * reports "ok" itself and waits in sigwaitinfo, everything kept mapped.
 */

/* drop_capabilities empties the effective, permitted and inheritable sets
 * (the ambient set goes with them): the pause needs none, and under
 * no_new_privs (pause_harden) the pause image's exec gives none back. */
static void drop_capabilities(int sync_fd)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(sync_fd, "drop capabilities");
}

/* has_uid_map reports whether our user namespace has an id map yet. */
static int has_uid_map(void)
{
	char c;
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 1; /* no /proc: cannot tell; the maps' writer reports */
	n = read(fd, &c, 1);
	close(fd);
	return n == 1;
}

/* pause_await_maps waits until the pause's id maps are written: EOF on
 * wait_fd, whose writers (the supervisor, or the join that spawned the
 * pause) close it then. Until then the pause stays dumpable: once it is not,
 * /proc/PID/uid_map belongs to root. */
static void pause_await_maps(int wait_fd)
{
	char c;

	if (wait_fd < 0)
		return;
	while (read(wait_fd, &c, 1) < 0 && errno == EINTR)
		;
	/* EOF also comes when the writer died first (before our parent-death
	 * signal was set, say): without a map, there is no pod to hold. */
	if (!has_uid_map())
		_exit(125);
}

/* pause_setup makes the calling process the pause but for its
 * dumpability, its report and its loop: without capabilities, in /, SIGTERM
 * and SIGINT blocked for the loop, the other standard signals ignored. */
static void pause_setup(int sync_fd)
{
	struct sigaction sa;
	sigset_t wait;
	int sig;

	drop_capabilities(sync_fd);

	if (chdir("/") < 0)
		fail(sync_fd, "chdir /");

	/* SIGTERM and SIGINT are blocked first (one that comes now stays
	 * pending for the loop) and keep their default action: blocked, they
	 * are queued even for a PID 1. SIGCHLD ignored: the kernel reaps. */
	sigemptyset(&wait);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, SIGINT);
	if (sigprocmask(SIG_BLOCK, &wait, NULL) < 0)
		fail(sync_fd, "block SIGTERM and SIGINT");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	for (sig = 1; sig < 32; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sig == SIGTERM || sig == SIGINT)
			continue;
		sa.sa_flags = sig == SIGCHLD ? SA_NOCLDWAIT | SA_NOCLDSTOP : 0;
		sigaction(sig, &sa, NULL);
	}
}

int sandbox_exec_pause_image(const char *title); /* pauseimage.c */

/* pause_harden sets no_new_privs and empties the bounding set: the pause
 * image executes as uid 0 of its user namespace, which would give it every
 * capability back; with no_new_privs an exec grants none the process has not
 * got (pause_setup drops them all). The bounding set goes too where we may
 * (CAP_SETPCAP; not in the network holder's namespace, for one): no_new_privs
 * alone already keeps the exec from granting anything. */
static void pause_harden(int sync_fd)
{
	int c;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(sync_fd, "set no_new_privs");
	for (c = 0; c <= 63; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			break; /* EINVAL past the kernel's last capability, or EPERM */
}

/* pause_exec_image executes the pause image (pauseimage.c) with the sync
 * pipe as descriptor 3, where it reports "ok", and no other descriptor above
 * 2; argv[0] is title, what /proc/PID/cmdline shows. It returns the sync
 * pipe's descriptor when the image could not be executed, or was not to be:
 * SANDBOX_FASTPATH=0 (the supervisor passes it on to a spawned pause) makes
 * every pause take its fallback. */
static int pause_exec_image(int sync_fd, const char *title)
{
	if (sync_fd != 3) {
		if (dup2(sync_fd, 3) < 0)
			fail(sync_fd, "move the pause's sync pipe");
		close(sync_fd);
		sync_fd = 3;
	}
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0) {
		int fd;
		for (fd = 4; fd < 1024; fd++)
			close(fd);
	}
	if (!sandbox_fast_paths_off())
		sandbox_exec_pause_image(title);
	return sync_fd;
}

static void pause_with(int sync_fd, int wait_fd)
{
	sigset_t wait;

	prctl(PR_SET_NAME, "pause", 0, 0, 0);
	pause_await_maps(wait_fd);
	if (wait_fd >= 0)
		close(wait_fd);
	/* Our memory is the sandbox binary's (or, in place, the CLI's): keep
	 * other pod processes from reading it or opening /proc/1/exe
	 * (CVE-2019-5736 shape). The image does the same after its exec. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	pause_harden(sync_fd);
	pause_setup(sync_fd);
	sync_fd = pause_exec_image(sync_fd, program_invocation_name);

	/* No image: this process is the pause. */
	report(sync_fd, "ok");
	/* Hold no inherited descriptor: only 0-2 (/dev/null) stay. */
	close(sync_fd);
	sigemptyset(&wait);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, SIGINT);
	for (;;) {
		int sig = sigwaitinfo(&wait, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			_exit(0);
	}
}

static void run_pause(void)
{
	pause_with(env_int("_SANDBOX_SYNC_FD", -1), env_int("_SANDBOX_WAIT_FD", -1));
}

/* ---- shared steps ----------------------------------------------------- */

/* become_root takes uid and gid 0 of the user namespace just joined (where
 * the caller's own ids are unmapped, or to be the namespace's root). */
static void become_root(int sync_fd, const char *where)
{
	char what[128];

	snprintf(what, sizeof(what), "setresgid 0 in %s", where);
	if (setresgid(0, 0, 0) < 0)
		fail(sync_fd, what);
	/* Denied (EPERM) in a namespace whose gid map was written without
	 * newgidmap: the groups then stay the caller's. */
	snprintf(what, sizeof(what), "setgroups in %s", where);
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(sync_fd, what);
	snprintf(what, sizeof(what), "setresuid 0 in %s", where);
	if (setresuid(0, 0, 0) < 0)
		fail(sync_fd, what);
}

/* clone_for_caller clones a child that is our caller's (CLONE_PARENT), so
 * the caller reaps it and gets its exit status; we report "pid N" and exit,
 * the child returns. The namespaces we joined (the PID namespace applies to
 * children only) are the child's. */
static void clone_for_caller(int sync_fd)
{
	pid_t child = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);

	if (child < 0)
		fail(sync_fd, "clone");
	if (child > 0) {
		report(sync_fd, "pid %d", (int)child);
		_exit(0);
	}
}

/* ---- join ------------------------------------------------------------- */

void sandbox_cinit(void); /* cinit.c */
void sandbox_fastexec(int argc, char **argv); /* fastexec.c */
void sandbox_cexec(void); /* cinit.c */

/*
 * attach_idmapped attaches idmapped image layers (a pod of root with
 * hostUsers: false): the supervisor made each one with open_tree +
 * mount_setattr(MOUNT_ATTR_IDMAP, the pod's user namespace) and passes
 * "FD:PATH" lines in _SANDBOX_IDMAPPED. overlayfs inside the pod refuses a
 * detached mount as a lower layer (EPERM), and root of the pod's user
 * namespace can neither attach nor clone it; so this process, still host
 * root, makes a mount namespace of its own (private: nothing propagates to
 * the host) and attaches them there, on empty directories in the
 * container's state. The container's mount namespace, unshared after the
 * setns into the pod's user namespace, is a copy of this one.
 */
static void attach_idmapped(int sync_fd, char *spec)
{
	char *line, *save = NULL;

	if (unshare(CLONE_NEWNS) < 0)
		fail(sync_fd, "unshare mount namespace for the idmapped layers");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(sync_fd, "make the idmapped layers' mount namespace private");
	for (line = strtok_r(spec, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *path = strchr(line, ':'), *end;
		long fd;

		if (path == NULL) {
			errno = EINVAL;
			fail(sync_fd, "_SANDBOX_IDMAPPED");
		}
		*path++ = '\0';
		errno = 0;
		fd = strtol(line, &end, 10);
		if (errno != 0 || *end != '\0' || fd < 3 || fd > 0x7fffffff) {
			errno = EINVAL;
			fail(sync_fd, "_SANDBOX_IDMAPPED");
		}
		if (syscall(SYS_move_mount, (int)fd, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			fail(sync_fd, "move_mount an idmapped image layer");
		close((int)fd);
	}
}

static int write_file(const char *path, const char *data);

/*
 * write_maps writes the id maps of the pause's new user namespace when the
 * supervisor may write them without newuidmap/newgidmap (root, or only its
 * own ids: _SANDBOX_UIDMAP, _SANDBOX_GIDMAP, and _SANDBOX_SETGROUPS=deny,
 * which an unprivileged writer of gid_map needs first): we are in the parent
 * user namespace with the supervisor's ids, so we may too, one round trip to
 * the supervisor sooner. The pause waits on its wait pipe until they exist.
 */
static void write_maps(int sync_fd, int psync, pid_t child)
{
	const char *uidmap = getenv("_SANDBOX_UIDMAP"), *gidmap = getenv("_SANDBOX_GIDMAP");
	const char *setgroups = getenv("_SANDBOX_SETGROUPS");
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)child);
	if (setgroups != NULL && write_file(path, setgroups) < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)child);
	if (gidmap == NULL || write_file(path, gidmap) < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)child);
	if (write_file(path, uidmap) < 0)
		goto fail;
	return;
fail:
	{
		int saved = errno;
		kill(child, SIGKILL);
		report(psync, "error write %s: %s", path, strerror(saved));
		errno = saved;
		fail(sync_fd, "write the pod's id maps");
	}
}

/*
 * The setuid helpers newuidmap and newgidmap, for a mapping of subordinate
 * ids (_SANDBOX_MAP_HELPERS: their two paths, one per line, with the maps in
 * _SANDBOX_UIDMAP and _SANDBOX_GIDMAP): a join that cloned the pause starts
 * both at once as soon as it has the pause's pid, and waits for them before
 * it clones the container (finish_maps), so the container only ever
 * starts in a mapped namespace. From here they start without a round trip
 * to the supervisor, whose goroutines wake up late on a busy machine.
 */
static struct {
	int psync; /* the pause's sync pipe, where "maps" is reported */
	pid_t pause;
	int none; /* no user namespace: nothing to report */
	pid_t pids[2]; /* the helpers, if started */
	int out; /* read end of their shared stdout and stderr */
	char cmd[2][512]; /* their command lines, for an error */
	int wake; /* the pause's wait pipe, write end: closed once the maps are written */
} idmaps = {-1, -1, 0, {-1, -1}, -1, {"", ""}, -1};

/* helper_argv splits "PATH" and the map's "inside outside count" lines into
 * argv: PATH PID inside outside count ...; the command line goes to cmd. */
static int helper_argv(char *path, const char *pid, char *map, char **argv, int max, char *cmd, size_t cmdlen)
{
	char *tok, *save = NULL;
	int n = 0;
	size_t used = 0;

	argv[n++] = path;
	argv[n++] = (char *)pid;
	for (tok = strtok_r(map, " \t\n", &save); tok != NULL && n < max - 1; tok = strtok_r(NULL, " \t\n", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	cmd[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *a = i == 0 ? (strrchr(path, '/') ? strrchr(path, '/') + 1 : path) : argv[i];
		int w = snprintf(cmd + used, cmdlen - used, "%s%s", i ? " " : "", a);
		if (w < 0 || (size_t)w >= cmdlen - used)
			break;
		used += (size_t)w;
	}
	return tok == NULL ? 0 : -1;
}

static void start_map_helpers(int sync_fd, const char *spec)
{
	static char paths[1024], uidmap[4096], gidmap[4096];
	const char *maps[2] = {getenv("_SANDBOX_UIDMAP"), getenv("_SANDBOX_GIDMAP")};
	char *path[2], *nl, pid[16], *argv[2][128];
	char *envp[] = {NULL};
	int out[2], i;

	if (maps[0] == NULL || maps[1] == NULL || strlen(spec) >= sizeof(paths) ||
	    strlen(maps[0]) >= sizeof(uidmap) || strlen(maps[1]) >= sizeof(gidmap)) {
		errno = EINVAL;
		goto fail;
	}
	strcpy(paths, spec);
	strcpy(uidmap, maps[0]);
	strcpy(gidmap, maps[1]);
	nl = strchr(paths, '\n');
	if (nl == NULL) {
		errno = EINVAL;
		goto fail;
	}
	*nl = '\0';
	path[0] = paths;
	path[1] = nl + 1;
	snprintf(pid, sizeof(pid), "%d", (int)idmaps.pause);
	if (helper_argv(path[0], pid, uidmap, argv[0], 128, idmaps.cmd[0], sizeof(idmaps.cmd[0])) < 0 ||
	    helper_argv(path[1], pid, gidmap, argv[1], 128, idmaps.cmd[1], sizeof(idmaps.cmd[1])) < 0) {
		errno = E2BIG;
		goto fail;
	}
	if (pipe2(out, O_CLOEXEC) < 0)
		goto fail;
	idmaps.out = out[0];
	for (i = 0; i < 2; i++) {
		/* vfork: the parent sleeps only until the exec. */
		pid_t p = vfork();

		if (p == 0) {
			/* Nothing of ours but the output pipe: our descriptors
			 * are the container's pipes. */
			if (dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
				_exit(126);
			syscall(SYS_close_range, 3U, ~0U, 0U);
			execve(path[i], argv[i], envp);
			_exit(127);
		}
		if (p < 0)
			goto fail;
		idmaps.pids[i] = p;
	}
	close(out[1]);
	return;
fail:
	{
		int saved = errno;
		kill(idmaps.pause, SIGKILL);
		report(idmaps.psync, "error start newuidmap and newgidmap: %s", strerror(saved));
		errno = saved;
		fail(sync_fd, "start newuidmap and newgidmap");
	}
}

/* finish_maps, once the pod's network namespace exists, waits for the
 * helpers start_map_helpers started, if any, and reports "maps" on the
 * pause's sync pipe; a failed helper kills the pause and is reported in the
 * words of the supervisor's own runs of them: the command line, its exit
 * status, its output. */
static void finish_maps(int sync_fd)
{
	char output[2048], why[1024] = "";
	size_t have = 0;
	int i;

	if (idmaps.psync < 0)
		return;
	if (idmaps.pids[0] < 0)
		goto done;
	for (;;) {
		ssize_t n = read(idmaps.out, output + have, sizeof(output) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == sizeof(output) - 1) {
			char sink[512];
			while (read(idmaps.out, sink, sizeof(sink)) > 0 || errno == EINTR)
				;
			break;
		}
	}
	output[have] = '\0';
	while (have > 0 && (output[have - 1] == '\n' || output[have - 1] == ' '))
		output[--have] = '\0';
	for (size_t k = 0; k < have; k++)
		if (output[k] == '\n')
			output[k] = ' ';
	close(idmaps.out);
	for (i = 0; i < 2; i++) {
		int st;

		while (waitpid(idmaps.pids[i], &st, 0) < 0) {
			if (errno != EINTR) {
				st = -1;
				break;
			}
		}
		if (st == 0 || why[0] != '\0')
			continue;
		if (st == -1)
			snprintf(why, sizeof(why), "%s: wait: %s", idmaps.cmd[i], strerror(errno));
		else if (WIFSIGNALED(st))
			snprintf(why, sizeof(why), "%s: signal: %s", idmaps.cmd[i], strsignal(WTERMSIG(st)));
		else
			snprintf(why, sizeof(why), "%s: exit status %d", idmaps.cmd[i], WEXITSTATUS(st));
	}
	if (why[0] != '\0') {
		kill(idmaps.pause, SIGKILL);
		report(idmaps.psync, "error %s: %s", why, output);
		errno = EPERM;
		fail(sync_fd, "write the pod's id maps with newuidmap and newgidmap");
	}
done:
	if (!idmaps.none)
		report(idmaps.psync, "maps");
	close(idmaps.psync);
	idmaps.psync = -1;
	/* The maps are written: the pause may go on (spawned_pause). */
	if (idmaps.wake >= 0) {
		close(idmaps.wake);
		idmaps.wake = -1;
	}
}

/*
 * pause_descriptors gives the pause psync and pwait as its descriptors 3
 * and 4 and nothing else of ours: the supervisor's or the join's pipes and
 * the container's output are closed, 0-2 are /dev/null. It also makes it
 * die with its parent, in a session of its own.
 */
static void pause_descriptors(int psync, int pwait)
{
	int hs, hw, devnull;

	/* Our parent (the supervisor's thread that started the join, with
	 * CLONE_PARENT, or the fast path's supervisor) stays alive as long
	 * as the pod: die with it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(psync, "set the pause's parent death signal");
	/* A session of its own: a Ctrl-C on the terminal is for the
	 * supervisor to handle, never the pod's PID 1. */
	if (setsid() < 0)
		fail(psync, "setsid for the pause");
	hs = fcntl(psync, F_DUPFD, 10);
	hw = fcntl(pwait, F_DUPFD, 10);
	if (hs < 0 || hw < 0 || dup2(hs, 3) < 0 || dup2(hw, 4) < 0)
		fail(psync, "move the pause's descriptors");
	if (syscall(SYS_close_range, 5U, ~0U, 0U) < 0) {
		int fd;
		for (fd = 5; fd < 1024; fd++)
			close(fd);
	}
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		fail(3, "open /dev/null for the pause");
	close(devnull);
}

/*
 * spawned_pause runs in the child spawn_pause cloned and makes it the pause,
 * holding nothing of ours: psync and pwait become its descriptors 3 and 4,
 * everything else is closed (the join's pipes, the container's output, the
 * join's end of pwait), 0-2 are /dev/null, as for the pause the supervisor
 * starts itself. It waits for the id maps, which the join writes or has
 * written, sets itself up as pause_with does and executes the pause image,
 * which reports "ok" and waits. If that cannot be executed it executes the
 * sandbox binary instead, as the role pause (run_pause, pause_with): a pause
 * that never executed would have memory of the host's user namespace, which
 * its owner could not inspect once it is non-dumpable. That pause does not
 * try the image again (SANDBOX_FASTPATH=0 in its environment).
 */
static void __attribute__((noreturn)) spawned_pause(int psync, int pwait)
{
	char *argv[] = {"pause", NULL};
	char *envp[] = {"_SANDBOX_ROLE=pause", "_SANDBOX_SYNC_FD=3", "SANDBOX_FASTPATH=0", NULL};

	pause_descriptors(psync, pwait);
	pause_await_maps(4);
	pause_harden(3);
	/* Still dumpable, unlike pause_with: our memory belongs to the host's
	 * user namespace until the exec, and a non-dumpable process of it
	 * refuses a later join's setns (its ptrace check) to everyone but host
	 * root. Nothing of the pod runs before the image's "ok", which comes
	 * once the image has made itself non-dumpable. */
	pause_setup(3);
	pause_exec_image(3, "pause");
	execve("/proc/self/exe", argv, envp);
	fail(3, "exec the pause");
}

/*
 * retitle makes /proc/PID/cmdline read "pause", as for an exec'd pause,
 * without an exec: the argument and environment strings (the kernel's
 * arg_start..env_end, fields 48-51 of /proc/self/stat) are zeroed, "pause"
 * written at the start, and the last byte of the argument area made
 * non-NUL, which tells the kernel to read the title up to its first NUL
 * (setproctitle's convention, fs/proc/base.c get_mm_proctitle). The
 * caller's environment is gone from the process's memory with it.
 */
static void retitle(void)
{
	static const char title[] = "pause";
	char buf[2048], *p;
	unsigned long as = 0, ae = 0, es = 0, ee = 0;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), field;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL)
		return;
	/* p + 2 is field 3; fields 48-51 follow 45 more. */
	for (p += 2, field = 3; field < 48 && p != NULL; field++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	if (p == NULL || sscanf(p, "%lu %lu %lu %lu", &as, &ae, &es, &ee) != 4)
		return;
	if (as == 0 || ae < as + sizeof(title) + 1 || es < ae || ee < es || ee - as > (1UL << 24))
		return;
	memset((void *)as, 0, ee - as);
	memcpy((void *)as, title, sizeof(title));
	((char *)ae)[-1] = ' ';
}

/* make_pod_network unshares the pod's network namespace in a pause cloned
 * without it (the costliest of the five: made beside the id maps and the
 * container's mounts) and writes a byte on netready, which the process
 * joining the pod waits for. */
static void make_pod_network(int psync, int netready)
{
	/* Root of the new user namespace, map or not: we may. */
	if (unshare(CLONE_NEWNET) < 0)
		fail(psync, "unshare the pod's network namespace");
	if (write(netready, "n", 1) != 1)
		fail(psync, "report the pod's network namespace");
	close(netready);
}

/*
 * sandbox_pause_inplace makes the calling process, cloned into the pod's
 * new namespaces by `sandbox run -- CMD`'s fast path (fastrun.c), the pause
 * without executing the sandbox binary: one exec of 16 MB less on the
 * start's critical path. It makes the pod's network namespace first (see
 * below) and reports it on netready.
 * It is the same pause (pause_with: the same waits, reports, signals,
 * capabilities, and the same pause image) as an exec'd one. Until that
 * exec its memory, the fast path's copy (its arguments and environment
 * zeroed by retitle, which also makes a pause that cannot execute the image
 * read "pause" in ps), was made in the host's user namespace:
 * non-dumpable, nothing in the pod may read it.
 */
void sandbox_pause_inplace(int psync, int pwait, int netready)
{
	/* The container joins it once we write the byte. */
	make_pod_network(psync, netready);
	pause_descriptors(psync, pwait);
	retitle();
	pause_with(3, 4);
	_exit(125);
}

/*
 * spawn_pause creates the pod: it clones the pause with the pod's new
 * namespaces (cloneflags) as the supervisor's child (CLONE_PARENT, as the
 * supervisor would have cloned it) and returns a pidfd of it for the join
 * that follows. The pause's pid goes to psync, the pause's own sync pipe,
 * where the supervisor reads it. We write the id maps (only a process
 * outside the new user namespace can), ourselves or with newuidmap and
 * newgidmap, and then close our end of pwait (finish_maps, idmaps.wake; the
 * supervisor closed its own): the pause then sets itself up and executes the
 * pause image, which reports "ok" on psync (spawned_pause). The join needs
 * no map: setns into the new user namespace works before it has one (see
 * run_join).
 *
 * The network namespace, the costly one (about 0.4 ms here, as much as the
 * other four together), is not cloned: the pause unshares it first, while we
 * write the id maps or start their helpers, and tells us on a pipe; we join
 * the pod only then (await_pod_network).
 */
static int pod_network = -1; /* read end: a byte once the pause made it */

static int spawn_pause(int sync_fd, int cloneflags, int psync, int pwait)
{
	int pidfd = -1, net[2] = {-1, -1};
	pid_t child;

	if (psync < 3 || pwait < 3) {
		errno = EINVAL;
		fail(sync_fd, "spawn: missing _SANDBOX_PAUSE_SYNC_FD or _SANDBOX_PAUSE_WAIT_FD");
	}
	/* Only in a new user namespace: a later join's setns into a pause
	 * still in the host's network namespace is then refused (EPERM), never
	 * done; and the "maps" report, which later joins wait for, comes after
	 * the network namespace exists (finish_maps). */
	if ((cloneflags & CLONE_NEWNET) && (cloneflags & CLONE_NEWUSER) && pipe2(net, O_CLOEXEC) < 0)
		fail(sync_fd, "pipe for the pod's network namespace");
	/* clone(2)'s third argument is the parent_tid pointer on every
	 * architecture; with CLONE_PIDFD the pidfd is stored there. */
	if (net[0] >= 0)
		cloneflags &= ~CLONE_NEWNET;
	child = (pid_t)syscall(SYS_clone, (unsigned long)cloneflags | CLONE_PARENT | CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	if (child < 0) {
		/* The supervisor explains the errno (user namespaces disabled). */
		int saved = errno;
		report(psync, "clone-errno %d", saved);
		errno = saved;
		fail(sync_fd, "clone the pause");
	}
	if (child == 0) {
		if (net[1] >= 0)
			make_pod_network(psync, net[1]);
		spawned_pause(psync, pwait);
	}
	if (net[1] >= 0)
		close(net[1]);
	pod_network = net[0];
	/* The pid first: should the maps fail, the supervisor still reaps
	 * the pause it then finds killed. */
	report(psync, "pid %d", (int)child);
	close(pwait);
	/* Reported by finish_maps, which closes psync. */
	idmaps.psync = psync;
	idmaps.pause = child;
	if (getenv("_SANDBOX_MAP_HELPERS") != NULL)
		start_map_helpers(sync_fd, getenv("_SANDBOX_MAP_HELPERS"));
	else if (getenv("_SANDBOX_UIDMAP") != NULL)
		write_maps(sync_fd, psync, child);
	else
		idmaps.none = 1;
	return pidfd;
}

/* await_pod_network waits until the pause spawn_pause cloned has made the
 * pod's network namespace (nothing to wait for otherwise). */
static void await_pod_network(int sync_fd)
{
	char c;
	ssize_t n;

	if (pod_network < 0)
		return;
	while ((n = read(pod_network, &c, 1)) < 0 && errno == EINTR)
		;
	close(pod_network);
	pod_network = -1;
	if (n != 1) {
		/* It said why on its sync pipe, which the supervisor reads. */
		errno = ECHILD;
		fail(sync_fd, "the pause exited before it made the pod's network namespace");
	}
}

static void run_join(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	int pidfd = env_int("_SANDBOX_PIDFD", -1);
	int nsflags = env_int("_SANDBOX_NSFLAGS", 0);
	int newpid = env_int("_SANDBOX_NEWPID", 0);

	int cloneflags = env_int("_SANDBOX_CLONEFLAGS", 0);

	/* Spawning: there is no pause yet; the pidfd is the new one's. */
	if (sync_fd >= 0 && cloneflags != 0) {
		if (pidfd >= 0) {
			errno = EINVAL;
			fail(sync_fd, "join: both _SANDBOX_PIDFD and _SANDBOX_CLONEFLAGS");
		}
		/* With the wait pipe's write end the pause's wake-up is ours:
		 * the supervisor closed its own. */
		idmaps.wake = env_int("_SANDBOX_PAUSE_WAKE_FD", -1);
		pidfd = spawn_pause(sync_fd, cloneflags, env_int("_SANDBOX_PAUSE_SYNC_FD", -1), env_int("_SANDBOX_PAUSE_WAIT_FD", -1));
	}
	if (sync_fd < 0 || pidfd < 0) {
		errno = EINVAL;
		fail(sync_fd, "join: missing _SANDBOX_SYNC_FD or _SANDBOX_PIDFD");
	}
	if (getenv("_SANDBOX_IDMAPPED") != NULL && *getenv("_SANDBOX_IDMAPPED") != '\0')
		attach_idmapped(sync_fd, getenv("_SANDBOX_IDMAPPED"));
	await_pod_network(sync_fd);
	/* The pod's namespaces all exist: later joins may start. */
	if (idmaps.psync >= 0)
		report(idmaps.psync, "net");
	/* Non-dumpable before we join (a pause we cloned had to be dumpable,
	 * for its id maps to be written): until the container init execs the
	 * workload, nothing in the pod may read our memory, a copy of the
	 * sandbox CLI's, or open /proc/PID/exe, the sandbox binary on the host
	 * (CVE-2019-5736). The clone below inherits it. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	/* One call: the kernel joins the user namespace first, which is what
	 * gives us the capabilities to join the others. */
	if (nsflags != 0 && setns(pidfd, nsflags) < 0)
		fail(sync_fd, "setns");
	close(pidfd);
	/* setns(2) into a user namespace keeps our ids. We do not become the
	 * namespace's root here: the supervisor starts this re-execution while
	 * newuidmap/newgidmap are still writing the pod's id maps, so that the
	 * exec and the Go runtime start of the container init overlap them.
	 * setns needs no map (it gives every capability in the namespace),
	 * setresuid(0) does. The init takes uid/gid 0 once its config arrives,
	 * which the supervisor sends only after the maps exist
	 * (containerinit.Config.BecomeRoot). */
	/* A container with a PID namespace of its own (shareProcessNamespace:
	 * false) does not join the pause's: unshare(CLONE_NEWPID) after
	 * setns into another PID namespace is EINVAL. Its PID namespace is then
	 * a sibling of the pod's, as in Kubernetes. */
	if (newpid && unshare(CLONE_NEWPID) < 0)
		fail(sync_fd, "unshare pid namespace");
	/* The container starts in a mapped user namespace: it may find its
	 * config waiting and mount at once. */
	finish_maps(sync_fd);

	/* CLONE_PARENT: the container is the supervisor's child, not ours. */
	clone_for_caller(sync_fd);

	/* Die with the supervisor thread that started us (it stays locked to
	 * its OS thread for the container's lifetime). In a shared PID
	 * namespace the pause's death would kill us anyway; with a PID
	 * namespace of our own this is what ends the container. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(sync_fd, "set parent death signal");
	if (unshare(CLONE_NEWNS) < 0)
		fail(sync_fd, "unshare mount namespace");
	report(sync_fd, "ok");
	close(sync_fd);
	unsetenv("_SANDBOX_SYNC_FD");
	unsetenv("_SANDBOX_PIDFD");
	unsetenv("_SANDBOX_NSFLAGS");
	unsetenv("_SANDBOX_NEWPID");
	unsetenv("_SANDBOX_IDMAPPED");
	unsetenv("_SANDBOX_CLONEFLAGS");
	unsetenv("_SANDBOX_PAUSE_SYNC_FD");
	unsetenv("_SANDBOX_PAUSE_WAIT_FD");
	unsetenv("_SANDBOX_PAUSE_WAKE_FD");
	unsetenv("SANDBOX_FASTPATH"); /* only for the pause: spawned_pause */
	unsetenv("_SANDBOX_UIDMAP");
	unsetenv("_SANDBOX_GIDMAP");
	unsetenv("_SANDBOX_SETGROUPS");
	unsetenv("_SANDBOX_MAP_HELPERS");
	/* A simple container's init runs in C (cinit.c) and execs from there:
	 * no Go runtime start on the way to the workload. It returns only if
	 * the supervisor sends a Go config after all. */
	if (getenv("_SANDBOX_CINIT") != NULL && strcmp(getenv("_SANDBOX_CINIT"), "1") == 0) {
		unsetenv("_SANDBOX_CINIT");
		sandbox_cinit();
	}
	/* Return: the Go runtime starts here, inside the pod. */
}

/* ---- exec ------------------------------------------------------------- */

/*
 * run_exec joins a running *container's* namespaces, its mount namespace
 * included (`sandbox exec`, postStart/preStop hooks). Unlike join, the
 * target is the container process (its pidfd), not the pause, and nothing is
 * unshared: the child lands in the container's root and PID namespace. The
 * caller chooses the flags (only the namespaces that differ from its own:
 * setns into one's own user namespace is EINVAL).
 *
 * The process makes itself non-dumpable before it joins: until it execs the
 * command, processes of the container (same uid once joined) must not
 * ptrace it or open its /proc/PID/exe, the sandbox binary on the host
 * (CVE-2016-9962, CVE-2019-5736). execve resets dumpability for the command.
 */
static void run_exec(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	int pidfd = env_int("_SANDBOX_PIDFD", -1);
	int nsflags = env_int("_SANDBOX_NSFLAGS", 0);

	if (sync_fd < 0 || pidfd < 0) {
		errno = EINVAL;
		fail(sync_fd, "exec: missing _SANDBOX_SYNC_FD or _SANDBOX_PIDFD");
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	/* One call, user namespace first (see run_join); CLONE_NEWNS here is
	 * the container's own mount namespace, which the pod's user namespace
	 * owns. The kernel sets our root and cwd to the namespace's root, the
	 * container's pivoted root. */
	if (nsflags != 0 && setns(pidfd, nsflags) < 0)
		fail(sync_fd, "setns into the container");
	close(pidfd);
	if (nsflags & CLONE_NEWUSER) {
		become_root(sync_fd, "the pod's user namespace");
		/* A uid change may have made us dumpable again. */
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	clone_for_caller(sync_fd);
	if (chdir("/") < 0)
		fail(sync_fd, "chdir / in the container");
	report(sync_fd, "ok");
	close(sync_fd);
	unsetenv("_SANDBOX_SYNC_FD");
	unsetenv("_SANDBOX_PIDFD");
	unsetenv("_SANDBOX_NSFLAGS");
	/* A command without a terminal runs from C (cinit.c, sandbox_cexec):
	 * no Go runtime start inside the container. It returns only if the
	 * caller sends a Go config after all. */
	if (getenv("_SANDBOX_CINIT") != NULL && strcmp(getenv("_SANDBOX_CINIT"), "1") == 0) {
		unsetenv("_SANDBOX_CINIT");
		sandbox_cexec();
	}
	/* Return: the Go runtime starts inside the container (execin). */
}

/* ---- netns ------------------------------------------------------------ */

/*
 * run_netns joins only the pod's user and network namespaces (no mount, PID,
 * IPC or UTS namespace, no clone: the process stays the supervisor's child)
 * for the hostPort forwarder (package portfwd): the Go runtime then starts
 * with every socket it opens inside the pod's network namespace. It keeps
 * the caller's ids (it only dials) and is non-dumpable before it joins, like
 * exec. Errors go to the sync fd, the forwarder's control socket.
 */
static void run_netns(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	int pidfd = env_int("_SANDBOX_PIDFD", -1);
	int nsflags = env_int("_SANDBOX_NSFLAGS", 0);

	if (sync_fd < 0 || pidfd < 0 || (nsflags & ~(CLONE_NEWUSER | CLONE_NEWNET)) != 0) {
		errno = EINVAL;
		fail(sync_fd, "netns: missing _SANDBOX_SYNC_FD or _SANDBOX_PIDFD, or flags other than user and net");
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fail(sync_fd, "set parent death signal");
	if (setns(pidfd, nsflags) < 0)
		fail(sync_fd, "setns into the pod's network namespace");
	close(pidfd);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	unsetenv("_SANDBOX_PIDFD");
	unsetenv("_SANDBOX_NSFLAGS");
	/* Return: the Go runtime starts in the pod's network namespace. */
}

/* ---- environ ---------------------------------------------------------- */

/*
 * run_environ prints the environment of the process its pidfd
 * (_SANDBOX_PIDFD) refers to, from inside that process's user namespace,
 * and exits. A container process that switched to a subordinate uid has a
 * /proc/PID/environ of mode 0400 owned by that uid: the pod's owner may
 * read the memory (it has CAP_SYS_PTRACE in the pod's user namespace) but
 * not open the file from the host's, where it has no CAP_DAC_READ_SEARCH.
 * Joined, it has that capability over the uid too. The Go runtime never
 * starts; `sandbox exec` and lifecycle hooks run this only then (execin).
 */
static void run_environ(void)
{
	int pidfd = env_int("_SANDBOX_PIDFD", -1), pid = -1;
	char path[64], line[256], buf[65536];
	FILE *info;
	ssize_t n;
	int fd;

	/* Non-dumpable: we hold a container's environment. */
	if (pidfd < 0) {
		errno = EBADF;
		goto fail;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		goto fail;
	/* The pidfd's process, by its pid in our PID namespace. */
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	info = fopen(path, "re");
	if (info == NULL)
		goto fail;
	while (fgets(line, sizeof(line), info) != NULL)
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	fclose(info);
	if (pid <= 0) {
		errno = ESRCH;
		goto fail;
	}
	/* Only /proc/PID/environ is refused: /proc stays the host's. */
	if (setns(pidfd, CLONE_NEWUSER) < 0)
		goto fail;
	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		write_all(1, buf, (size_t)n);
	}
	/* Still the same process: its pid was not recycled meanwhile. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		goto fail;
	_exit(0);
fail:
	dprintf(2, "read the environment from the container's user namespace: %s\n", strerror(errno));
	_exit(1);
}

/* ---- nest ------------------------------------------------------------- */

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(data);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * run_nest creates a pod's pause inside the rootless network holder: it joins
 * the holder's user and network namespaces (_SANDBOX_PIDFD, _SANDBOX_NSFLAGS),
 * becomes the holder's root, and clones the pause with _SANDBOX_CLONEFLAGS
 * (new user, net, ipc, pid, uts namespaces) and CLONE_PARENT, so the pod's
 * user namespace is a child of the holder's (which is what lets a veth be
 * moved from the holder into the pod) and the pause is the supervisor's
 * child. Only a process in the parent user namespace can write the child's
 * id maps: this one writes _SANDBOX_UIDMAP/_SANDBOX_GIDMAP (holder ids, the
 * identity of the holder's mapped ranges), then lets the child exec the pause
 * role. Reports "pid N"; the pause reports "ok" on the same sync fd.
 */
static void run_nest(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	int pidfd = env_int("_SANDBOX_PIDFD", -1);
	int nsflags = env_int("_SANDBOX_NSFLAGS", 0);
	int cloneflags = env_int("_SANDBOX_CLONEFLAGS", 0);
	const char *uidmap = getenv("_SANDBOX_UIDMAP");
	const char *gidmap = getenv("_SANDBOX_GIDMAP");
	char path[64], fdenv[32], c;
	int ready[2];
	pid_t child;

	if (sync_fd < 0 || pidfd < 0 || uidmap == NULL || gidmap == NULL) {
		errno = EINVAL;
		fail(sync_fd, "nest: missing _SANDBOX_SYNC_FD, _SANDBOX_PIDFD or id maps");
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	if (setns(pidfd, nsflags) < 0)
		fail(sync_fd, "setns into the network holder");
	close(pidfd);
	if (nsflags & CLONE_NEWUSER)
		become_root(sync_fd, "the network holder");
	/* The child's /proc/PID/{uid,gid}_map belong to root (unwritable for
	 * us) while it is non-dumpable, and it inherits our dumpability: be
	 * dumpable for the clone. Nothing of the pod can reach us (we are not
	 * in its namespaces), and the pause makes itself non-dumpable. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail(sync_fd, "set dumpable");
	if (pipe2(ready, O_CLOEXEC) < 0)
		fail(sync_fd, "pipe");
	child = (pid_t)syscall(SYS_clone, (unsigned long)cloneflags | CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		fail(sync_fd, "clone the pause in the network holder");
	if (child == 0) {
		char *argv[] = {"pause", NULL};
		char *envp[] = {"_SANDBOX_ROLE=pause", fdenv, NULL, NULL};

		close(ready[1]);
		while (read(ready[0], &c, 1) < 0 && errno == EINTR)
			;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
			fail(sync_fd, "set parent death signal");
		if (setsid() < 0)
			fail(sync_fd, "setsid");
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			fail(sync_fd, "become root of the pod's user namespace");
		snprintf(fdenv, sizeof(fdenv), "_SANDBOX_SYNC_FD=%d", sync_fd);
		if (sandbox_fast_paths_off())
			envp[2] = "SANDBOX_FASTPATH=0"; /* from the supervisor */
		execve("/proc/self/exe", argv, envp);
		fail(sync_fd, "exec the pause");
	}
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)child);
	if (write_file(path, uidmap) < 0) {
		kill(child, SIGKILL);
		fail(sync_fd, "write the pod's uid_map in the network holder");
	}
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)child);
	if (write_file(path, gidmap) < 0) {
		kill(child, SIGKILL);
		fail(sync_fd, "write the pod's gid_map in the network holder");
	}
	report(sync_fd, "pid %d", (int)child);
	close(ready[1]);
	_exit(0);
}

/* fastrun.c and its use of the pieces here. */
void sandbox_fastrun(int argc, char **argv);
void sandbox_fastpod(int argc, char **argv); /* fastpod.c */

int sandbox_write_file(const char *path, const char *data)
{
	return write_file(path, data);
}


/* Defined (to 1) by the sandbox CLI only (cmd/sandbox/fastpaths.c). */
extern const int sandbox_cli_fast_paths __attribute__((weak));

/* sandbox_run_role runs the role _SANDBOX_ROLE names; it returns for the
 * roles that go on in Go (and for none). Also called by a process the
 * spawner cloned (spawner.c), with the environment of the request. */
void sandbox_run_role(void)
{
	const char *role = getenv("_SANDBOX_ROLE");

	if (role == NULL)
		return;
	if (strcmp(role, "pause") == 0)
		run_pause();
	else if (strcmp(role, "join") == 0)
		run_join();
	else if (strcmp(role, "exec") == 0)
		run_exec();
	else if (strcmp(role, "netns") == 0)
		run_netns();
	else if (strcmp(role, "nest") == 0)
		run_nest();
	else if (strcmp(role, "environ") == 0)
		run_environ();
}

/* glibc passes a constructor main's argc and argv. */
__attribute__((constructor)) static void sandbox_nsenter(int argc, char **argv)
{
	if (getenv("_SANDBOX_ROLE") != NULL) {
		sandbox_run_role();
		return;
	}
	/* The fast paths take over the sandbox CLI's own command lines,
	 * never those of another program linking this package. */
	if (&sandbox_cli_fast_paths == NULL || !sandbox_cli_fast_paths)
		return;
	if (argc < 2 || argv == NULL || argv[1] == NULL)
		return;
	if (strcmp(argv[1], "run") == 0) {
		sandbox_fastrun(argc, argv); /* run -- CMD */
		sandbox_fastpod(argc, argv); /* run POD.yaml */
		/* Left to the Go supervisor: it starts the pod's C-only
		 * processes through a fork server made now (spawner.c). */
		sandbox_start_spawner();
	} else if (strcmp(argv[1], "exec") == 0) {
		/* `sandbox exec` without the Go runtime (fastexec.c); returns
		 * for everything it leaves to the Go code. */
		sandbox_fastexec(argc, argv);
	}
}
