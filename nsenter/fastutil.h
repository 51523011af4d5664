/*
 * fastutil.h: what the C fast paths of the CLI share (fastutil.c).
 */
#ifndef SANDBOX_FASTUTIL_H
#define SANDBOX_FASTUTIL_H

#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A growing buffer, always NUL-terminated; oom is set (and sticks) when an
 * allocation failed, so callers check once at the end. */
struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

void buf_put(struct buf *b, const void *d, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_rec appends one record of the C init's format (cinit.c's header). */
void buf_rec(struct buf *b, char tag, const void *payload, size_t n);
void buf_rec_str(struct buf *b, char tag, const char *s);

/* fast_utf8 is the length of the well-formed UTF-8 sequence at p (before
 * end), 0 if there is none; *cp is its code point. */
size_t fast_utf8(const unsigned char *p, const unsigned char *end, uint32_t *cp);

/* buf_json_str writes s[0:n] as encoding/json's Marshal quotes a string. */
void buf_json_str(struct buf *b, const char *s, size_t n);

/* fast_clean_abs is whether p is an absolute path filepath.Clean leaves
 * as it is (we refuse what Go would rewrite rather than rewrite it). */
int fast_clean_abs(const char *p);

/* fast_dns_label is pod's RFC 1123 label check. */
int fast_dns_label(const char *s);

/* The pod files package podfiles writes: /etc/hosts, and /etc/resolv.conf
 * (without a dnsConfig) from the host's (podfile_resolv_conf) or from the
 * bytes of one (podfile_resolv_conf_of, for the tests). Both return -1
 * when Go must decide. */
void podfile_hosts(struct buf *b, const char *hostname);
int podfile_resolv_conf(struct buf *b);
int podfile_resolv_conf_of(const char *data, size_t len, struct buf *b);

/* fast_taken_signals is the set taken synchronously: the forwarded signals
 * and SIGCHLD, and SIGTTOU with ttou. */
sigset_t fast_taken_signals(int ttou);
/* fast_fail prints "sandbox: error: ..." as the CLI prints the Go path's
 * errors and exits with code. */
void fast_fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* fast_exiting is state.Exiting: pid is gone, a zombie, or in do_exit. */
int fast_exiting(pid_t pid);
/* fast_reap kills and reaps a child. */
void fast_reap(pid_t pid);
void fast_close_pair(int p[2]);
long long fast_now_ns(void);
/* fast_read_line reads one protocol line ("pid N", "ok", "error ...") from
 * fd; 0 at EOF. */
int fast_read_line(int fd, char *out, size_t size);

/*
 * The pause of a fast path's pod (fastrun.c, fastpod.c): the CLI's clone
 * into new user, IPC, PID and UTS namespaces, which makes the pod's network
 * namespace itself (the costly one, while the container mounts) and then is
 * the same PID 1 as any pause (nsenter.c, sandbox_pause_inplace). Its id
 * maps are the caller's to write; the container joins FAST_POD_NS through
 * pidfd and the network namespace once netready says it exists, and holds
 * pwait until it has: the pause goes on (non-dumpable, "ok" on psync) then.
 */
#define FAST_POD_NS (CLONE_NEWUSER | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWUTS)

struct fast_pause {
	pid_t pid;
	int pidfd;    /* the container's: setns */
	int psync;    /* ours: the pause's "ok" or "error ..." */
	int pwait;    /* the container's: the pause waits for its EOF */
	int netready; /* the container's: a byte once the network namespace exists */
};

/* fast_pause_clone starts the pause; the child restores orig and never
 * returns. -1 with nothing left behind. */
int fast_pause_clone(struct fast_pause *p, const sigset_t *orig);
/* fast_pause_release closes the container's ends once it has forked. */
void fast_pause_release(struct fast_pause *p);
/* fast_pause_ready reads the pause's report: 0 for "ok", else -1 with the
 * line ("error ..." or empty) in line. */
int fast_pause_ready(struct fast_pause *p, char *line, size_t size);
/* fast_pause_undo kills and reaps the pause and closes what is open. */
void fast_pause_undo(struct fast_pause *p);

#endif
