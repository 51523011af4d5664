/*
 * The only C in sandbox. It runs as an ELF constructor, before the Go runtime
 * starts any thread, because a multi-threaded process can neither setns(2)
 * into a user namespace (EINVAL) nor, unprivileged, into the namespaces that
 * user namespace owns (EPERM). Hidden roles are selected by
 * _SANDBOX_ROLE; without it the constructor returns at once and the binary
 * behaves normally.
 *
 *   pause  The pod's PID 1: holds the namespaces open, reaps zombies, exits 0
 *          on SIGTERM/SIGINT. It never returns, so no Go runtime is started
 *          (about 100 kB of private memory instead of 1 MB+). It does nothing
 *          privileged and drops every capability it may hold in the pod's
 *          user namespace: exec'd before its namespace had an id map (the
 *          usual case), execve dropped them already; exec'd as root of the
 *          pod's namespace by the nest role (bridge), it would keep them all.
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
 *          critical path.
 *
 *   netns  Joins the pause's user and network namespaces only, for the
 *          hostPort forwarder's dialler (see run_netns).
 *
 *   nest   Clones a pod's pause inside the rootless network holder's user
 *          namespace (see run_nest).
 *
 *   exec   Joins a running container's namespaces, its mount namespace
 *          included, for `sandbox exec` and lifecycle hooks; the child is
 *          the caller's (CLONE_PARENT) and runs execin's Go code inside.
 *
 * Protocol on the sync fd (a pipe, read by the supervisor until EOF):
 *   "pid <n>\n"   written by the intermediate after a successful clone;
 *   "ok\n"        written by the pause when it is ready, or by the joined
 *                 child when its mount namespace exists;
 *   "error <msg>\n" on any failure, followed by exit status 125.
 * A join that spawns the pause writes "pid <n>\n" of the pause (or
 * "clone-errno <n>\n") on the pause's own sync pipe, where the pause then
 * writes "ok\n".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <grp.h>
#include <linux/capability.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

static int env_int(const char *name, int fallback)
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

static void write_all(int fd, const char *buf, size_t len)
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

/* report writes one protocol line to the sync fd. */
static void report(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(fd, buf, (size_t)n);
}

static void fail(int fd, const char *what)
{
	report(fd, "error %s: %s", what, strerror(errno));
	_exit(125);
}

/* ---- pause ------------------------------------------------------------ */

static void reap(int sig)
{
	int saved = errno;
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static void shutdown_pause(int sig)
{
	(void)sig;
	_exit(0);
}

/* drop_capabilities empties the effective, permitted and inheritable sets:
 * the pause needs none, and with no exec to come they never come back. */
static void drop_capabilities(int sync_fd)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail(sync_fd, "drop capabilities");
}

static void run_pause(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	struct sigaction sa;
	int sig;

	int wait_fd = env_int("_SANDBOX_WAIT_FD", -1);
	char c;

	prctl(PR_SET_NAME, "pause", 0, 0, 0);
	/* Wait until the supervisor has written our id maps (EOF on wait_fd):
	 * once we are non-dumpable, /proc/PID/uid_map belongs to root. */
	if (wait_fd >= 0) {
		while (read(wait_fd, &c, 1) < 0 && errno == EINTR)
			;
		close(wait_fd);
	}
	/* The pause runs the sandbox binary: keep other pod processes from
	 * reading its memory or opening /proc/1/exe (CVE-2019-5736 shape). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync_fd, "set non-dumpable");
	drop_capabilities(sync_fd);

	if (chdir("/") < 0)
		fail(sync_fd, "chdir /");

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	for (sig = 1; sig < 32; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction(sig, &sa, NULL);
	}
	sa.sa_handler = shutdown_pause;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = reap;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);

	report(sync_fd, "ok");
	/* Hold no inherited descriptor: only 0-2 (/dev/null) stay. */
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
		int fd;
		for (fd = 3; fd < 1024; fd++)
			close(fd);
	}
	for (;;)
		pause();
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

/*
 * exec_pause runs in the child spawn_pause cloned: it becomes the pause
 * (role pause, with psync and pwait as its descriptors 3 and 4) holding
 * nothing else of ours: the join's pipes and the container's output are
 * closed, 0-2 are /dev/null, as for the pause the supervisor starts itself.
 */
static void exec_pause(int psync, int pwait)
{
	char *argv[] = {"pause", NULL};
	char *envp[] = {"_SANDBOX_ROLE=pause", "_SANDBOX_SYNC_FD=3", "_SANDBOX_WAIT_FD=4", NULL};
	int hs, hw, devnull;

	/* Our parent is the supervisor's thread that started the join
	 * (CLONE_PARENT), which stays alive as long as the pod: die with it. */
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
	execve("/proc/self/exe", argv, envp);
	fail(3, "exec the pause");
}

/*
 * spawn_pause creates the pod: it clones the pause with the pod's new
 * namespaces (cloneflags) as the supervisor's child (CLONE_PARENT, as the
 * supervisor would have cloned it) and returns a pidfd of it for the join
 * that follows. The pause's pid goes to psync, the pause's own sync pipe,
 * where the supervisor reads it, writes the id maps (only a process
 * outside the new user namespace can) and closes pwait; the pause then
 * reports "ok" there (see run_pause). The join needs no map: setns into the
 * new user namespace works before it has one (see run_join).
 */
static int spawn_pause(int sync_fd, int cloneflags, int psync, int pwait)
{
	int pidfd = -1;
	pid_t child;

	if (psync < 3 || pwait < 3) {
		errno = EINVAL;
		fail(sync_fd, "spawn: missing _SANDBOX_PAUSE_SYNC_FD or _SANDBOX_PAUSE_WAIT_FD");
	}
	/* clone(2)'s third argument is the parent_tid pointer on every
	 * architecture; with CLONE_PIDFD the pidfd is stored there. */
	child = (pid_t)syscall(SYS_clone, (unsigned long)cloneflags | CLONE_PARENT | CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	if (child < 0) {
		/* The supervisor explains the errno (user namespaces disabled). */
		int saved = errno;
		report(psync, "clone-errno %d", saved);
		errno = saved;
		fail(sync_fd, "clone the pause");
	}
	if (child == 0)
		exec_pause(psync, pwait);
	report(psync, "pid %d", (int)child);
	close(psync);
	close(pwait);
	return pidfd;
}

static void run_join(void)
{
	int sync_fd = env_int("_SANDBOX_SYNC_FD", -1);
	int pidfd = env_int("_SANDBOX_PIDFD", -1);
	int nsflags = env_int("_SANDBOX_NSFLAGS", 0);
	int newpid = env_int("_SANDBOX_NEWPID", 0);

	int cloneflags = env_int("_SANDBOX_CLONEFLAGS", 0);

	/* Spawning: the pidfd is the new pause's, and _SANDBOX_PIDFD's
	 * descriptor number is the pause's sync pipe (see spawn_linux.go). */
	if (sync_fd >= 0 && cloneflags != 0)
		pidfd = spawn_pause(sync_fd, cloneflags, env_int("_SANDBOX_PAUSE_SYNC_FD", -1), env_int("_SANDBOX_PAUSE_WAIT_FD", -1));
	if (sync_fd < 0 || pidfd < 0) {
		errno = EINVAL;
		fail(sync_fd, "join: missing _SANDBOX_SYNC_FD or _SANDBOX_PIDFD");
	}
	if (getenv("_SANDBOX_IDMAPPED") != NULL && *getenv("_SANDBOX_IDMAPPED") != '\0')
		attach_idmapped(sync_fd, getenv("_SANDBOX_IDMAPPED"));
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
		char *envp[] = {"_SANDBOX_ROLE=pause", fdenv, NULL};

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

__attribute__((constructor)) static void sandbox_nsenter(void)
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
}
