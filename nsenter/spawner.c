/*
 * spawner.c: a fork server that starts the pod's C-only processes (the first
 * container's join, which creates the pause, and the C container init)
 * without executing the sandbox binary again.
 *
 * The Go supervisor of `sandbox run` used to start each container's join by
 * executing /proc/self/exe, whose constructor then joined the pod. That exec
 * (the kernel's, the dynamic loader's and Go's fork of a large process: about
 * 1.3 ms here) sat on the pod's critical path.
 * A Go process cannot fork a C child that keeps running C (its other threads
 * do not exist in the child, locks may be held), but the constructor can,
 * before the Go runtime exists: for `sandbox run` of the CLI it forks this
 * server, which waits on a socket for requests. A request carries the
 * environment and descriptors an exec of the join role would have had; the
 * server clones (CLONE_PARENT: the process is the CLI's child, exactly as an
 * exec'd join would be), the clone lays out its descriptors and environment
 * as execve would and runs the role from here (nsenter.c,
 * sandbox_run_role).
 *
 * Only roles that never reach Go may be spawned: a spawned process is a copy
 * of the constructor's, with no Go runtime to start. The Go side
 * (spawner.go) sends only a join whose container init runs in C; should the
 * role return anyway, the process reports it on the init's error pipe and
 * exits 125.
 *
 * Its lifetime: the server dies with the CLI's main thread (parent-death
 * signal) or at EOF on its socket; the supervisor closes it as soon as the
 * pod is ready, so it costs no memory while the pod runs, and the CLI reaps
 * it before it exits. Its socket end in the CLI is close-on-exec, so nothing
 * the Go code executes inherits it.
 *
 * Protocol (SOCK_SEQPACKET, one message per request):
 *   request: a struct spawn_header, then the environment as NUL-terminated
 *            strings; SCM_RIGHTS carries the descriptors that become 0, 1,
 *            2, 3, ... in the spawned process, in order;
 *   reply:   an int32: the spawned process's pid, or minus an errno.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "spawner.h"

int sandbox_spawner_fd = -1;
int sandbox_spawner_pid = -1;

/* nsenter.c */
int env_int(const char *name, int fallback);
void write_all(int fd, const char *buf, size_t len);
int sandbox_fast_paths_off(void);
void sandbox_run_role(void);

extern char **environ;

static char request[SPAWN_MAX_MESSAGE];

static void close_all_from(int lowest)
{
	if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0U) < 0) {
		int fd;
		for (fd = lowest; fd < 1024; fd++)
			close(fd);
	}
}

/*
 * become_spawned turns the clone into what execve of the join role would
 * have made of it: descriptors fds[0..n-1] at 0..n-1 and nothing else, "/"
 * as working directory, a session of its own (SPAWN_SETSID), env as its
 * environment. It then runs the role and never returns.
 */
static void __attribute__((noreturn)) become_spawned(int *fds, int n, uint32_t flags, char *env, size_t envlen)
{
	static char *envp[SPAWN_MAX_ENV + 1];
	int high[SPAWN_MAX_FDS], i, k, err_fd;
	size_t off;

	/* Out of the way of 0..n-1 first, then into place: dup2 clears
	 * close-on-exec, as an exec'd process's inherited descriptors are. */
	for (i = 0; i < n; i++) {
		high[i] = fcntl(fds[i], F_DUPFD, n);
		if (high[i] < 0)
			_exit(125);
	}
	for (i = 0; i < n; i++)
		if (dup2(high[i], i) < 0)
			_exit(125);
	close_all_from(n);
	if ((flags & SPAWN_SETSID) && setsid() < 0)
		_exit(125);
	if ((flags & SPAWN_SETPGID) && setpgid(0, 0) < 0)
		_exit(125);
	if (chdir("/") < 0)
		_exit(125);
	for (off = 0, k = 0; off < envlen && k < SPAWN_MAX_ENV; k++) {
		envp[k] = env + off;
		off += strlen(env + off) + 1;
	}
	envp[k] = NULL;
	environ = envp;
	err_fd = env_int("_SANDBOX_ERROR_FD", -1);
	sandbox_run_role();
	/* The role wanted the Go runtime (a container init sent a Go config
	 * after all): there is none to start in a spawned process. */
	if (err_fd >= 0) {
		static const char msg[] = "internal error: a spawned container init was sent a Go config";
		write_all(err_fd, msg, sizeof(msg) - 1);
	}
	_exit(125);
}

static void reply(int sock, int32_t v)
{
	while (send(sock, &v, sizeof(v), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* serve answers requests until EOF on sock: the CLI closed it or died. */
static void __attribute__((noreturn)) serve(int sock)
{
	for (;;) {
		char control[CMSG_SPACE(sizeof(int) * SPAWN_MAX_FDS)];
		struct iovec iov = {request, sizeof(request)};
		struct msghdr msg;
		struct cmsghdr *c;
		struct spawn_header hdr;
		int fds[SPAWN_MAX_FDS], nfds = 0, i;
		ssize_t len;
		pid_t pid;

		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		len = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			_exit(0);
		for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
			int k, m;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			m = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (k = 0; k < m; k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
				if (nfds < SPAWN_MAX_FDS)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
		pid = -E2BIG;
		if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 && (size_t)len >= sizeof(hdr)) {
			memcpy(&hdr, request, sizeof(hdr));
			pid = -EINVAL;
			if (hdr.version == SPAWN_VERSION && nfds >= 3 && request[len - 1] == '\0') {
				pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
				if (pid == 0) {
					close(sock);
					become_spawned(fds, nfds, hdr.flags, request + sizeof(hdr), (size_t)len - sizeof(hdr));
				}
				if (pid < 0)
					pid = -errno;
			}
		}
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		reply(sock, (int32_t)pid);
	}
}

/*
 * sandbox_start_spawner forks the server for the CLI's `run` (called by the
 * constructor when it returns to Go); on any failure there is no server and
 * the supervisor executes the binary as before.
 */
void sandbox_start_spawner(void)
{
	int sv[2], mine, theirs;
	pid_t parent = getpid(), pid;

	if (sandbox_fast_paths_off())
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	/* Above the standard descriptors even when one is closed: Go opens
	 * /dev/null for those, and must not find our socket there. */
	mine = fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
	theirs = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);
	close(sv[0]);
	close(sv[1]);
	if (mine < 0 || theirs < 0)
		goto undo;
	pid = fork();
	if (pid < 0)
		goto undo;
	if (pid == 0) {
		/* Nothing of the CLI's: whoever waits for EOF on its output
		 * must not wait for us. */
		if (dup2(theirs, 0) < 0)
			_exit(0);
		close_all_from(1);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
			_exit(0);
		prctl(PR_SET_NAME, "sandbox-spawner", 0, 0, 0);
		serve(0);
	}
	close(theirs);
	sandbox_spawner_fd = mine;
	sandbox_spawner_pid = pid;
	return;
undo:
	if (mine >= 0)
		close(mine);
	if (theirs >= 0)
		close(theirs);
}
