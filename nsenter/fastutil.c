/*
 * fastutil.c: what the C fast paths of the CLI share (fastrun.c for
 * `sandbox run -- CMD`, fastpod.c for `sandbox run POD.yaml`): growing
 * buffers and the C init's records, the pod files package podfiles writes,
 * and the supervising loop's small pieces.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fastexec.h"
#include "fastutil.h"

void write_all(int fd, const char *buf, size_t len); /* nsenter.c */
void sandbox_pause_inplace(int psync, int pwait, int netready) __attribute__((noreturn)); /* nsenter.c */

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* ---- growing buffers ---------------------------------------------------- */

void buf_put(struct buf *b, const void *d, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* buf_rec appends one record of the C init's format (cinit.c's header). */
void buf_rec(struct buf *b, char tag, const void *payload, size_t n)
{
	uint32_t len = (uint32_t)n;

	buf_put(b, &tag, 1);
	buf_put(b, &len, 4);
	buf_put(b, payload, n);
}

void buf_rec_str(struct buf *b, char tag, const char *s)
{
	buf_rec(b, tag, s, strlen(s));
}

/* fast_utf8 returns the length of the well-formed UTF-8 sequence at p (shortest
 * form, no surrogate, at most U+10FFFF) and stores its code point; 0 if it is
 * not one. */
size_t fast_utf8(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	size_t n, i;
	uint32_t c, min;

	if (p >= end)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* buf_json_str writes s[0:n] as encoding/json quotes a string with HTML
 * escaping (Marshal's default): \" \\ \b \f \n \r \t, \u00XX for the
 * other controls and < > &, \u2028 and \u2029, and U+FFFD (\ufffd) for
 * each byte that is not part of valid UTF-8, as utf8.DecodeRuneInString
 * reads it. */
void buf_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	buf_put(b, "\"", 1);
	while (p < end) {
		unsigned char c = *p;
		const char *rep = NULL;
		char esc[7] = "\\u00";
		size_t len = 1;
		uint32_t r = 0;

		if (c < 0x80) {
			switch (c) {
			case '"': rep = "\\\""; break;
			case '\\': rep = "\\\\"; break;
			case '\b': rep = "\\b"; break;
			case '\f': rep = "\\f"; break;
			case '\n': rep = "\\n"; break;
			case '\r': rep = "\\r"; break;
			case '\t': rep = "\\t"; break;
			default:
				if (c < 0x20 || c == '<' || c == '>' || c == '&') {
					esc[4] = hex[c >> 4];
					esc[5] = hex[c & 0xf];
					esc[6] = '\0';
					rep = esc;
				}
			}
		} else {
			/* One UTF-8 sequence, or one invalid byte. */
			len = fast_utf8(p, end, &r);
			if (len == 0) {
				rep = "\\ufffd";
				len = 1;
			} else if (r == 0x2028 || r == 0x2029) {
				rep = r == 0x2028 ? "\\u2028" : "\\u2029";
			}
		}
		if (rep != NULL)
			buf_puts(b, rep);
		else
			buf_put(b, p, len);
		p += len;
	}
	buf_put(b, "\"", 1);
}

/* fast_dns_label is pod's RFC 1123 label check of spec.hostname. */
int fast_dns_label(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < n - 1)))
			return 0;
	}
	return 1;
}

/* fast_clean_abs is whether p is an absolute path that filepath.Clean leaves
 * as it is: filepath.Join(p, ...) is then p, "/", the rest. */
int fast_clean_abs(const char *p)
{
	const char *seg;

	if (p == NULL || p[0] != '/')
		return 0;
	if (p[1] == '\0')
		return 1;
	for (seg = p + 1;;) {
		const char *end = strchrnul(seg, '/');
		size_t n = (size_t)(end - seg);

		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0; /* "//", a trailing "/", "." or ".." */
		if (*end == '\0')
			return 1;
		seg = end + 1;
	}
}

/* ---- pod files (package podfiles) --------------------------------------- */

void podfile_hosts(struct buf *b, const char *hostname)
{
	buf_puts(b, "# Kubernetes-managed hosts file (generated by sandbox).\n"
		 "127.0.0.1\tlocalhost\n"
		 "::1\tlocalhost ip6-localhost ip6-loopback\n"
		 "fe00::0\tip6-localnet\n"
		 "fe00::0\tip6-mcastprefix\n"
		 "fe00::1\tip6-allnodes\n"
		 "fe00::2\tip6-allrouters\n");
	buf_printf(b, "127.0.1.1\t%s\n", hostname);
}

/* A growing list of strings, each malloc'd. */
struct strlist {
	char **v;
	size_t n, cap;
	int oom;
};

static int strlist_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static void strlist_add(struct strlist *l, const char *s)
{
	char *d;

	if (l->oom)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	d = strdup(s);
	if (d == NULL) {
		l->oom = 1;
		return;
	}
	l->v[l->n++] = d;
}

/* strlist_add_new is podfiles appendNew: only what is not there yet. */
static void strlist_add_new(struct strlist *l, const char *s)
{
	if (!strlist_has(l, s))
		strlist_add(l, s);
}

static void strlist_clear(struct strlist *l)
{
	while (l->n > 0)
		free(l->v[--l->n]);
}

static void strlist_free(struct strlist *l)
{
	strlist_clear(l);
	free(l->v);
	l->v = NULL;
	l->cap = 0;
}

/* put_words writes "KEY W1 W2 ...\n" (strings.Join), nothing for an empty
 * list. */
static void put_words(struct buf *b, const char *key, const struct strlist *l)
{
	size_t i;

	if (l->n == 0)
		return;
	buf_puts(b, key);
	for (i = 0; i < l->n; i++) {
		buf_puts(b, " ");
		buf_puts(b, l->v[i]);
	}
	buf_puts(b, "\n");
}

/*
 * nameserver is what podfiles.parse keeps of a nameserver's address: 1 and
 * netip.Addr.String in out, or 0 when ParseAddr fails or the address is a
 * loopback one, has a zone or is unspecified. inet_pton takes what
 * ParseAddr takes (dotted quads without leading zeros; IPv6 with at most
 * one "::" and a dotted quad only at the end). The Go rules it follows:
 * an IPv6 text stays IPv6 (::ffff:a.b.c.d is not unmapped), IsLoopback
 * unmaps it (::ffff:127.x.x.x is a loopback) but IsUnspecified does not
 * (::ffff:0.0.0.0 is kept), and String writes an IPv4-mapped address as
 * ::ffff:a.b.c.d and any other IPv6 as RFC 5952 (::1.2.3.4 is ::102:304,
 * where inet_ntop would write the dotted form).
 */
static int nameserver(const char *s, char *out, size_t size)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char a[16];
	unsigned g[8];
	int i, zero_start = -1, zero_len = 0, n = 0;

	if (strchr(s, '%') != NULL)
		return 0; /* a zone: the pod has no host interface; or ParseAddr fails */
	if (inet_pton(AF_INET, s, a) == 1) {
		if (a[0] == 127 || (a[0] | a[1] | a[2] | a[3]) == 0)
			return 0;
		snprintf(out, size, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return 1;
	}
	if (inet_pton(AF_INET6, s, a) != 1)
		return 0;
	if (memcmp(a, v4mapped, 12) == 0) {
		if (a[12] == 127)
			return 0;
		snprintf(out, size, "::ffff:%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
		return 1;
	}
	for (i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	if ((g[0] | g[1] | g[2] | g[3] | g[4] | g[5] | g[6]) == 0 && g[7] <= 1)
		return 0; /* :: (unspecified) or ::1 (loopback) */
	/* Addr.appendTo6: the first longest run of two or more zero groups
	 * is "::". */
	for (i = 0; i < 8; i++) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i >= 2 && j - i > zero_len) {
			zero_start = i;
			zero_len = j - i;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == zero_start) {
			n += snprintf(out + n, size - (size_t)n, "::");
			i += zero_len;
			if (i >= 8)
				break;
		} else if (i > 0) {
			n += snprintf(out + n, size - (size_t)n, ":");
		}
		n += snprintf(out + n, size - (size_t)n, "%x", g[i]);
	}
	return 1;
}

/* Go's bufio.Scanner gives up on a line of 64 KiB (bufio.MaxScanTokenSize)
 * and podfiles.parse then keeps what it read so far: Go decides. */
enum { max_resolv_line = 64 * 1024 - 1 };

/*
 * podfile_resolv_conf_of mirrors podfiles.ResolvConf for a pod without
 * dnsConfig or dnsPolicy None: podfiles.parse of the host's resolv.conf in
 * data[0:len], then its output. It returns -1 (Go decides) for a file with
 * a NUL, a non-ASCII byte (strings.Fields splits on Unicode spaces too) or
 * a line the Scanner would not read.
 */
int podfile_resolv_conf_of(const char *data, size_t len, struct buf *b)
{
	struct strlist servers = {0}, searches = {0}, options = {0}, fields = {0};
	char *copy, *line, *next;
	int ret = -1;

	if (memchr(data, '\0', len) != NULL)
		return -1;
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, data, len);
	copy[len] = '\0';
	for (line = copy; line != NULL; line = next) {
		char *cut, *p;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (strlen(line) >= max_resolv_line)
			goto out;
		/* A comment starts at '#' or ';' anywhere in the line. */
		cut = strpbrk(line, "#;");
		if (cut != NULL)
			*cut = '\0';
		/* strings.Fields: runs of ASCII spaces ('\r' of a CRLF line
		 * among them) separate the fields. */
		strlist_clear(&fields);
		for (p = line; *p != '\0';) {
			char *end;

			if ((unsigned char)*p >= 0x80)
				goto out;
			if (strchr(" \t\r\v\f", *p) != NULL) {
				p++;
				continue;
			}
			for (end = p; *end != '\0' && strchr(" \t\r\v\f", *end) == NULL; end++)
				if ((unsigned char)*end >= 0x80)
					goto out;
			{
				char save = *end;
				*end = '\0';
				strlist_add(&fields, p);
				*end = save;
			}
			p = end;
		}
		if (fields.n < 2)
			continue;
		if (strcmp(fields.v[0], "nameserver") == 0) {
			char addr[64];
			if (nameserver(fields.v[1], addr, sizeof(addr)))
				strlist_add_new(&servers, addr);
		} else if (strcmp(fields.v[0], "search") == 0 || strcmp(fields.v[0], "domain") == 0) {
			size_t i;
			strlist_clear(&searches); /* the last of them wins */
			for (i = 1; i < fields.n; i++)
				strlist_add(&searches, fields.v[i]);
		} else if (strcmp(fields.v[0], "options") == 0) {
			size_t i;
			for (i = 1; i < fields.n; i++)
				strlist_add_new(&options, fields.v[i]);
		}
	}
	if (servers.oom || searches.oom || options.oom || fields.oom)
		goto out;
	{
		size_t i;
		buf_puts(b, "# Generated by sandbox from the host's resolv.conf and the pod's dnsConfig.\n");
		for (i = 0; i < servers.n; i++) {
			buf_puts(b, "nameserver ");
			buf_puts(b, servers.v[i]);
			buf_puts(b, "\n");
		}
		put_words(b, "search", &searches);
		put_words(b, "options", &options);
	}
	ret = b->oom ? -1 : 0;
out:
	strlist_free(&servers);
	strlist_free(&searches);
	strlist_free(&options);
	strlist_free(&fields);
	free(copy);
	return ret;
}

/* A resolv.conf this large is nobody's: Go decides. */
enum { max_resolv_bytes = 1 << 20 };

/* podfile_resolv_conf is writePodFiles' os.ReadFile("/etc/resolv.conf") (a
 * missing file is empty; any other error fails the pod in Go: -1) and
 * podfile_resolv_conf_of it. */
int podfile_resolv_conf(struct buf *b)
{
	struct buf data = {0};
	char chunk[4096];
	int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return errno == ENOENT ? podfile_resolv_conf_of("", 0, b) : -1;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || data.len + (size_t)n > max_resolv_bytes) {
			close(fd); /* EISDIR and the like: Go fails */
			free(data.p);
			return -1;
		}
		if (n == 0)
			break;
		buf_put(&data, chunk, (size_t)n);
	}
	close(fd);
	ret = data.oom ? -1 : podfile_resolv_conf_of(data.len ? data.p : "", data.len, b);
	free(data.p);
	return ret;
}

/* fast_taken_signals is the set taken synchronously: the forwarded signals and
 * SIGCHLD, and SIGTTOU with ttou (giving the terminal to the command and
 * taking it back). */
sigset_t fast_taken_signals(int ttou)
{
	sigset_t set;
	int i;

	sigemptyset(&set);
	for (i = 0; i < SANDBOX_NFORWARDED; i++)
		sigaddset(&set, sandbox_forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	if (ttou)
		sigaddset(&set, SIGTTOU);
	return set;
}

/* fast_fail prints "sandbox: error: ..." as the CLI prints the Go path's errors
 * and exits with code. */
__attribute__((noreturn)) void fast_fail(int code, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	write_all(2, "sandbox: error: ", 16);
	write_all(2, line, (size_t)n);
	_exit(code);
}

/* fast_exiting is state.Exiting: pid is gone, a zombie, or in do_exit. */
int fast_exiting(pid_t pid)
{
	uint64_t flags, start;
	char st;

	if (sandbox_proc_stat((int)pid, &st, &flags, &start) < 0)
		return 1;
	return st == 'Z' || st == 'X' || (flags & 0x4) != 0; /* PF_EXITING */
}

/* fast_reap kills and reaps a child we made before returning to Go. */
void fast_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

void fast_close_pair(int p[2])
{
	close(p[0]);
	close(p[1]);
}

long long fast_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* fast_read_line reads one protocol line ("pid N", "ok", "error ...") from fd;
 * 0 at EOF. */
int fast_read_line(int fd, char *out, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, out + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out[n] == '\n')
			break;
		n++;
	}
	out[n] = '\0';
	return n > 0;
}

/* ---- the pause of a fast path's pod --------------------------------------- */

int fast_pause_clone(struct fast_pause *p, const sigset_t *orig)
{
	int psync[2], pwait[2], netready[2];

	p->pid = -1;
	p->pidfd = p->psync = p->pwait = p->netready = -1;
	if (pipe2(psync, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(pwait, O_CLOEXEC) < 0) {
		fast_close_pair(psync);
		return -1;
	}
	if (pipe2(netready, O_CLOEXEC) < 0) {
		fast_close_pair(psync);
		fast_close_pair(pwait);
		return -1;
	}
	p->pid = (pid_t)syscall(SYS_clone, FAST_POD_NS | CLONE_PIDFD | SIGCHLD, 0, &p->pidfd, 0, 0);
	if (p->pid < 0) {
		fast_close_pair(psync);
		fast_close_pair(pwait);
		fast_close_pair(netready);
		return -1;
	}
	if (p->pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		close(netready[0]);
		sandbox_pause_inplace(psync[1], pwait[0], netready[1]);
	}
	/* The pause's ends go: EOF for the container if the pause fails. */
	close(psync[1]);
	close(pwait[0]);
	close(netready[1]);
	p->psync = psync[0];
	p->pwait = pwait[1];
	p->netready = netready[0];
	return 0;
}

void fast_pause_release(struct fast_pause *p)
{
	close(p->pidfd);
	close(p->pwait);
	close(p->netready);
	p->pidfd = p->pwait = p->netready = -1;
}

int fast_pause_ready(struct fast_pause *p, char *line, size_t size)
{
	int ok = fast_read_line(p->psync, line, size) && strcmp(line, "ok") == 0;

	close(p->psync);
	p->psync = -1;
	return ok ? 0 : -1;
}

void fast_pause_undo(struct fast_pause *p)
{
	fast_reap(p->pid);
	if (p->psync >= 0)
		close(p->psync);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->pwait >= 0)
		close(p->pwait);
	if (p->netready >= 0)
		close(p->netready);
	p->pid = -1;
	p->pidfd = p->psync = p->pwait = p->netready = -1;
}
