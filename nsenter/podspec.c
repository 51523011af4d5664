/*
 * podspec.c: the C reader of a pod manifest (podspec.h), for the manifest
 * fast path. It runs in the CLI's constructor, before the Go runtime, on a
 * file the user wrote: plain libc, no global state, every read bounds-checked.
 *
 * The manifest is read into one small tree, by a strict JSON parser when its
 * first non-blank byte is '{' (as pod.Decode decides), else by a line-based
 * reader of a YAML subset:
 *
 *   - block mappings and block sequences (also `- key: value` items, and a
 *     sequence at its key's indentation), indented with spaces;
 *   - one-line flow sequences of scalars: [sleep, "2"];
 *   - one-line flow mappings, as a value or an item: {name: a, value: "1"},
 *     whose keys are simple keys followed by ": ", and whose values are
 *     scalars, flow sequences of scalars or flow mappings; no "? ", no
 *     key without a value, no trailing ',';
 *   - scalars on one line: plain, 'single-' and "double-quoted" (escapes
 *     \" \\ \n \t \uXXXX only);
 *   - comments, blank lines, a leading "---".
 *
 * Anything else (anchors, tags, block or multi-line scalars, tabs, CR, a
 * second document, flow collections on more than one line, a flow mapping in
 * a flow sequence, ...) is "not mine". So is a plain scalar that
 * YAML 1.1 (go.yaml.in/yaml/v2, resolve.go) might read as anything but a
 * string: y, no, on, ~, 2, 1e3, .5, 0x1f, 2024-01-01... are refused where a
 * string is expected, and only "true" and canonical decimal integers are
 * read as such. One function then checks the tree's shape and fills the
 * struct, and an encoder writes what encoding/json's Marshal writes for the
 * pod after SetDefaults. The shape, with values well inside package pod's
 * limits (and no null, which Go reads as absent):
 *
 *   apiVersion: v1, kind: Pod
 *   metadata: name, annotations: {sandbox.podsandbox.dev/network: none}
 *   spec: restartPolicy: Never, hostname, terminationGracePeriodSeconds,
 *         shareProcessNamespace: true, and containers: one container of
 *         name, image ("", host, dir:PATH or PATH), command and args
 *         (strings, not both empty), env ({name, value}), workingDir
 *         (absolute, not under /proc)
 *
 * Returning 0 is always safe: the Go code decodes, validates and words the
 * error. Returning 1 for a manifest Go refuses, warns about or reads
 * differently is a bug; podspec_test.go checks against package pod, on a
 * corpus and by fuzzing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastutil.h"
#include "podspec.h"

/* Bounds. Package pod's limits are in its types.go; near them, Go decides. */
enum {
	max_input = 1 << 20,        /* pod.MaxManifestBytes */
	max_depth = 12,             /* a Pod of the subset nests 6 deep */
	max_nodes = 8192,           /* a 1 MiB "[1,1,1,..." builds no big tree */
	max_members = 16,           /* keys of one mapping; a Container has 7 here */
	max_key = 256,              /* a YAML simple key is at most 1024 characters */
	max_args = 1024,            /* pod.MaxArgs is 4096 */
	max_arg_bytes = 64 << 10,   /* pod.MaxArgBytes is 128 KiB - 1 */
	max_env = 256,              /* pod.MaxEnv is 1024 */
	max_env_name = 1024,        /* pod.MaxEnvNameBytes is 4096 */
	max_exec_bytes = 256 << 10, /* pod.MaxArgvEnvBytes is 1 MiB */
	max_path = 4095,
	max_name = 63,              /* pod.MaxNameLength: the rule itself */
	max_grace = 86400,          /* pod.MaxGracePeriodSeconds */
};

/* ---- the tree ------------------------------------------------------------ */

enum { T_MAP, T_SEQ, T_STR, T_INT, T_TRUE, T_OTHER };

struct node {
	int type;
	char *key; /* a mapping member's key */
	size_t keylen;
	char *str; /* T_STR: the string, never with a NUL; T_INT: the digits */
	size_t len;
	struct node *kids, *last, *next; /* T_MAP members, T_SEQ items */
	size_t nkids;
};

struct tree {
	size_t nodes;
};

static struct node *node_new(struct tree *t, int type)
{
	struct node *n;

	if (++t->nodes > max_nodes)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (n)
		n->type = type;
	return n;
}

static void node_free(struct node *n)
{
	while (n) { /* recursion is bounded by max_depth */
		struct node *next = n->next;

		node_free(n->kids);
		free(n->key);
		free(n->str);
		free(n);
		n = next;
	}
}

/* add appends kid to parent, or frees it and returns 0: a mapping refuses a
 * duplicate key (so do both of Go's decoders) and too many members. */
static int add(struct node *parent, struct node *kid)
{
	if (!kid)
		return 0;
	if (parent->type == T_MAP) {
		struct node *m;

		if (parent->nkids >= max_members)
			goto fail;
		for (m = parent->kids; m; m = m->next)
			if (m->keylen == kid->keylen && memcmp(m->key, kid->key, kid->keylen) == 0)
				goto fail;
	}
	if (parent->last)
		parent->last->next = kid;
	else
		parent->kids = kid;
	parent->last = kid;
	parent->nkids++;
	return 1;
fail:
	node_free(kid);
	return 0;
}

/* str_node makes a T_STR node of s (which it takes), refusing a NUL: every
 * string field of the subset refuses one (Validate, or the exact values). */
static struct node *str_node(struct tree *t, char *s, size_t len)
{
	struct node *n;

	if (!s)
		return NULL;
	if (memchr(s, '\0', len) || !(n = node_new(t, T_STR))) {
		free(s);
		return NULL;
	}
	n->str = s;
	n->len = len;
	return n;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

static size_t put_utf8(char *dst, uint32_t c)
{
	if (c < 0x80) {
		dst[0] = (char)c;
		return 1;
	} else if (c < 0x800) {
		dst[0] = (char)(0xc0 | c >> 6);
		dst[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	} else if (c < 0x10000) {
		dst[0] = (char)(0xe0 | c >> 12);
		dst[1] = (char)(0x80 | (c >> 6 & 0x3f));
		dst[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | c >> 18);
	dst[1] = (char)(0x80 | (c >> 12 & 0x3f));
	dst[2] = (char)(0x80 | (c >> 6 & 0x3f));
	dst[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* hex4 reads 4 hex digits at p into *v. */
static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *v)
{
	int i;

	if (end - p < 4)
		return 0;
	*v = 0;
	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v = *v << 4 | (uint32_t)(c - 'A' + 10);
		else
			return 0;
	}
	return 1;
}

/* ---- JSON (RFC 8259) ------------------------------------------------------- */

struct jp {
	const unsigned char *p, *end;
	struct tree *t;
};

static void j_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* j_string reads the string at j->p (a '"') as encoding/json decodes it,
 * except that what Go would replace by U+FFFD (invalid UTF-8, a lone
 * surrogate) is refused. The decoded string is never longer than its JSON. */
static char *j_string(struct jp *j, size_t *len)
{
	const unsigned char *s = j->p + 1, *q = s;
	char *out;
	size_t n = 0;

	while (q < j->end && *q != '"') {
		if (*q == '\\' && j->end - q < 2)
			return NULL;
		q += *q == '\\' ? 2 : 1;
	}
	if (q >= j->end)
		return NULL;
	if (!(out = malloc((size_t)(q - s) + 1)))
		return NULL;
	while (s < q) {
		uint32_t c, c2;
		size_t k;

		if (*s < 0x20) {
			goto fail;
		} else if (*s == '\\') {
			switch (s[1]) {
			case '"': case '\\': case '/':
				out[n++] = (char)s[1];
				break;
			case 'b': out[n++] = '\b'; break;
			case 'f': out[n++] = '\f'; break;
			case 'n': out[n++] = '\n'; break;
			case 'r': out[n++] = '\r'; break;
			case 't': out[n++] = '\t'; break;
			case 'u':
				if (!hex4(s + 2, q, &c) || (c >= 0xdc00 && c <= 0xdfff))
					goto fail;
				if (c >= 0xd800 && c <= 0xdbff) {
					if (q - s < 12 || s[6] != '\\' || s[7] != 'u' || !hex4(s + 8, q, &c2) ||
					    c2 < 0xdc00 || c2 > 0xdfff)
						goto fail;
					c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
					s += 6;
				}
				n += put_utf8(out + n, c);
				s += 4;
				break;
			default:
				goto fail;
			}
			s += 2;
		} else if (!(k = fast_utf8(s, q, &c))) {
			goto fail;
		} else {
			memcpy(out + n, s, k);
			n += k;
			s += k;
		}
	}
	out[n] = '\0';
	*len = n;
	j->p = q + 1;
	return out;
fail:
	free(out);
	return NULL;
}

static int j_lit(struct jp *j, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return 0;
	j->p += n;
	return 1;
}

static int j_digits(struct jp *j)
{
	const unsigned char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

/* j_number reads a number: T_INT when it is digits only, T_OTHER else. */
static struct node *j_number(struct jp *j)
{
	const unsigned char *s = j->p;
	int plain = 1;
	struct node *n;

	if (*j->p == '-') {
		j->p++;
		plain = 0;
	}
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!j_digits(j))
		return NULL;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		plain = 0;
		if (!j_digits(j))
			return NULL;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		plain = 0;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!j_digits(j))
			return NULL;
	}
	if (!plain || j->p - s > 9)
		return node_new(j->t, T_OTHER);
	if (!(n = node_new(j->t, T_INT)))
		return NULL;
	n->len = (size_t)(j->p - s);
	if (!(n->str = malloc(n->len + 1))) {
		free(n);
		return NULL;
	}
	memcpy(n->str, s, n->len);
	n->str[n->len] = '\0';
	return n;
}

static struct node *j_value(struct jp *j, int depth)
{
	struct node *n, *kid;
	char *s;
	size_t len;

	if (depth > max_depth || j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '{':
	case '[':
		if (!(n = node_new(j->t, *j->p == '{' ? T_MAP : T_SEQ)))
			return NULL;
		j->p++;
		j_ws(j);
		if (j->p < j->end && *j->p == (n->type == T_MAP ? '}' : ']')) {
			j->p++;
			return n;
		}
		for (;;) {
			char *key = NULL;
			size_t keylen = 0;

			if (n->type == T_MAP) {
				if (j->p >= j->end || *j->p != '"' || !(key = j_string(j, &keylen)))
					goto fail;
				j_ws(j);
				if (j->p >= j->end || *j->p != ':') {
					free(key);
					goto fail;
				}
				j->p++;
				j_ws(j);
			}
			if (!(kid = j_value(j, depth + 1))) {
				free(key);
				goto fail;
			}
			kid->key = key;
			kid->keylen = keylen;
			if (!add(n, kid))
				goto fail;
			j_ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				j_ws(j);
				continue;
			}
			if (j->p < j->end && *j->p == (n->type == T_MAP ? '}' : ']')) {
				j->p++;
				return n;
			}
			goto fail;
		}
	fail:
		node_free(n);
		return NULL;
	case '"':
		if (!(s = j_string(j, &len)))
			return NULL;
		return str_node(j->t, s, len);
	case 't':
		return j_lit(j, "true") ? node_new(j->t, T_TRUE) : NULL;
	case 'f':
		return j_lit(j, "false") ? node_new(j->t, T_OTHER) : NULL;
	case 'n':
		return j_lit(j, "null") ? node_new(j->t, T_OTHER) : NULL;
	}
	if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))
		return j_number(j);
	return NULL;
}

static struct node *json_parse(const unsigned char *d, size_t len, struct tree *t)
{
	struct jp j = {d, d + len, t};
	struct node *root;

	j_ws(&j);
	if (!(root = j_value(&j, 1)))
		return NULL;
	j_ws(&j);
	if (j.p != j.end) { /* data after the object */
		node_free(root);
		return NULL;
	}
	return root;
}

/* ---- YAML (the subset in the header comment) ------------------------------- */

/* y_text checks the whole input: well-formed UTF-8 of what yaml.v2 reads as
 * printable, with no tab, CR, NEL, U+2028, U+2029 or BOM (line breaks,
 * blanks and markers that this reader does not handle). */
static int y_text(const unsigned char *p, const unsigned char *end)
{
	while (p < end) {
		uint32_t c;
		size_t k = fast_utf8(p, end, &c);

		if (!k)
			return 0;
		if (c != '\n' && (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029 ||
				  c == 0xfeff || c == 0xfffe || c == 0xffff))
			return 0;
		p += k;
	}
	return 1;
}

/* The resolver's special words (yaml.v2 resolve.go): bool, null, float. */
static const char *const y_words[] = {
	"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
	"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
	"~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
	"+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
};

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* plain_type is what yaml.v2 resolves the plain scalar s to, as far as this
 * reader is sure: T_STR, T_TRUE for "true", T_INT for a decimal integer
 * without sign or leading zero, T_OTHER for anything else (another
 * integer, float, timestamp, bool, null, or a string it does not vouch for). */
static int plain_type(const unsigned char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return T_OTHER; /* null */
	for (i = 0; i < sizeof(y_words) / sizeof(y_words[0]); i++)
		if (strlen(y_words[i]) == n && memcmp(y_words[i], s, n) == 0)
			return n == 4 && memcmp(s, "true", 4) == 0 ? T_TRUE : T_OTHER;
	if (is_digit(s[0])) {
		for (i = 0; i < n && is_digit(s[i]); i++)
			;
		return i == n && n <= 9 && (s[0] != '0' || n == 1) ? T_INT : T_OTHER;
	}
	switch (s[0]) {
	case '+':
	case '-':
		/* A sign then a letter or '-' is no number (strconv.ParseInt
		 * with base 0, the float pattern, "-0b..."): "-c", "--help". */
		return n >= 2 && (is_alpha(s[1]) || s[1] == '-') ? T_STR : T_OTHER;
	case '.':
		/* strconv.ParseFloat needs a digit after a leading '.' */
		return n >= 2 && (is_alpha(s[1]) || s[1] == '/' || s[1] == '.') ? T_STR : T_OTHER;
	}
	return T_STR;
}

struct yp {
	const unsigned char *d;
	size_t n;
	size_t pos;    /* the read position */
	size_t line;   /* start of the current line */
	size_t eol;    /* its end: a '\n' or n */
	size_t indent; /* its indentation */
	int eof;
	struct tree *t;
};

/* y_next moves from pos, the start of a line, to the first character of the
 * next line that is neither blank nor a comment. */
static void y_next(struct yp *y)
{
	size_t p = y->pos;

	while (p < y->n) {
		size_t e = p, i = p;

		while (e < y->n && y->d[e] != '\n')
			e++;
		while (i < e && y->d[i] == ' ')
			i++;
		if (i < e && y->d[i] != '#') {
			y->line = p;
			y->eol = e;
			y->indent = i - p;
			y->pos = i;
			return;
		}
		p = e < y->n ? e + 1 : e;
	}
	y->eof = 1;
	y->pos = y->n;
}

/* y_endline checks that only blanks and a comment follow pos on the line,
 * and moves to the next line. A comment needs a space before its '#'. */
static int y_endline(struct yp *y)
{
	size_t start = y->pos;

	while (y->pos < y->eol && y->d[y->pos] == ' ')
		y->pos++;
	if (y->pos < y->eol && (y->d[y->pos] != '#' || y->pos == start))
		return 0;
	y->pos = y->eol < y->n ? y->eol + 1 : y->n;
	y_next(y);
	return 1;
}

static void y_spaces(struct yp *y)
{
	while (y->pos < y->eol && y->d[y->pos] == ' ')
		y->pos++;
}

/* y_is_item says whether pos is at a block sequence item: "-" then a space
 * or the line's end. */
static int y_is_item(const struct yp *y)
{
	return y->pos < y->eol && y->d[y->pos] == '-' && (y->pos + 1 == y->eol || y->d[y->pos + 1] == ' ');
}

/* y_quoted reads the single- or double-quoted scalar at pos, which must end
 * on its line. */
static char *y_quoted(struct yp *y, size_t *len)
{
	unsigned char q = y->d[y->pos];
	size_t s = y->pos + 1, e = s, n = 0;
	char *out;

	/* find the closing quote: '' is a quote in single quotes, \x an escape
	 * in double quotes */
	for (;;) {
		if (e >= y->eol)
			return NULL; /* a multi-line scalar */
		if (q == '"' && y->d[e] == '\\')
			e += 2;
		else if (q == '\'' && y->d[e] == '\'' && e + 1 < y->eol && y->d[e + 1] == '\'')
			e += 2;
		else if (y->d[e] == q)
			break;
		else
			e++;
	}
	if (!(out = malloc(e - s + 1)))
		return NULL;
	while (s < e) {
		uint32_t c;

		if (q == '\'' && y->d[s] == '\'') {
			out[n++] = '\'';
			s += 2;
		} else if (q == '"' && y->d[s] == '\\') {
			switch (y->d[s + 1]) { /* s + 1 < e: e is past the escape */
			case '"': case '\\':
				out[n++] = (char)y->d[s + 1];
				s += 2;
				break;
			case 'n': out[n++] = '\n'; s += 2; break;
			case 't': out[n++] = '\t'; s += 2; break;
			case 'u':
				/* yaml.v2 refuses surrogates; no pairs */
				if (!hex4(y->d + s + 2, y->d + e, &c) || (c >= 0xd800 && c <= 0xdfff))
					goto fail;
				n += put_utf8(out + n, c);
				s += 6;
				break;
			default: /* \/ too: yaml.v2 does not know it */
				goto fail;
			}
		} else {
			out[n++] = (char)y->d[s++]; /* y_text checked the UTF-8 */
		}
	}
	out[n] = '\0';
	*len = n;
	y->pos = e + 1;
	return out;
fail:
	free(out);
	return NULL;
}

/* y_plain reads the plain scalar at pos: to the line's end or a comment in a
 * block, to ',', ']' or '}' in a flow collection (the caller checks which
 * one may follow). Its first character is no indicator, and it holds nothing
 * that would end it early or start something else. In a flow collection,
 * yaml.v2's scanner (yaml_parser_scan_plain_scalar) ends a plain scalar at
 * ": " and at any of ",?[]{}", and keeps a ':' followed by anything else
 * ("dir:/x"); this reader also refuses '#' and quotes in it, and a ':'
 * before a blank, the line's end or a flow indicator. */
static struct node *y_plain(struct yp *y, int flow)
{
	const unsigned char *d = y->d;
	size_t s = y->pos, e = s;
	struct node *n;
	int type;

	/* no indicator first, except '-' in "-c" or "--help" */
	if (!d[s] || (strchr("-?:,[]{}#&*!|>'\"%@`", d[s]) &&
		      !(d[s] == '-' && s + 1 < y->eol && (is_alpha(d[s + 1]) || d[s + 1] == '-'))))
		return NULL;
	for (; e < y->eol; e++) {
		unsigned char c = d[e];

		if (flow && (c == ',' || c == ']' || c == '}'))
			break;
		if (flow && (!c || strchr("[{#?'\"", c)))
			return NULL;
		if (flow && c == ':' && (e + 1 == y->eol || !d[e + 1] || strchr(" ,[]{}", d[e + 1])))
			return NULL;
		if (c == '#' && d[e - 1] == ' ')
			break;
		if (c == ':' && (e + 1 == y->eol || d[e + 1] == ' '))
			return NULL; /* a mapping in a scalar's place */
	}
	if (flow && e == y->eol)
		return NULL; /* a flow sequence on more than one line */
	while (e > s && d[e - 1] == ' ')
		e--;
	y->pos = e; /* y_endline wants the space before a comment */
	type = plain_type(d + s, e - s);
	if (type == T_OTHER)
		return node_new(y->t, T_OTHER);
	if (!(n = node_new(y->t, type)))
		return NULL;
	if (!(n->str = malloc(e - s + 1))) {
		free(n);
		return NULL;
	}
	memcpy(n->str, d + s, e - s);
	n->str[e - s] = '\0';
	n->len = e - s;
	return n;
}

/* y_scalar reads a quoted or plain scalar at pos. */
static struct node *y_scalar(struct yp *y, int flow)
{
	char *s;
	size_t len;

	if (y->d[y->pos] != '"' && y->d[y->pos] != '\'')
		return y_plain(y, flow);
	if (!(s = y_quoted(y, &len)))
		return NULL;
	return str_node(y->t, s, len);
}

/* y_flow reads a one-line flow sequence of scalars at pos, a '['. */
static struct node *y_flow(struct yp *y)
{
	struct node *seq = node_new(y->t, T_SEQ);

	if (!seq)
		return NULL;
	y->pos++;
	y_spaces(y);
	if (y->pos < y->eol && y->d[y->pos] == ']') {
		y->pos++;
		return seq;
	}
	for (;;) {
		if (y->pos >= y->eol || !add(seq, y_scalar(y, 1)))
			break;
		y_spaces(y);
		if (y->pos < y->eol && y->d[y->pos] == ']') {
			y->pos++;
			return seq;
		}
		if (y->pos >= y->eol || y->d[y->pos] != ',')
			break;
		y->pos++;
		y_spaces(y);
	}
	node_free(seq);
	return NULL;
}

static char *y_key(struct yp *y, size_t *len);

/* y_flowmap reads a one-line flow mapping at pos, a '{': keys as y_key
 * reads them, each followed by ": "; values scalars, flow sequences of
 * scalars or flow mappings; members separated by ',' and blanks, with no
 * trailing ','. A duplicate key is refused (add), as yaml.v2 does. */
static struct node *y_flowmap(struct yp *y, int depth)
{
	struct node *map;

	if (depth > max_depth || !(map = node_new(y->t, T_MAP)))
		return NULL;
	y->pos++;
	y_spaces(y);
	if (y->pos < y->eol && y->d[y->pos] == '}') {
		y->pos++;
		return map;
	}
	for (;;) {
		struct node *val;
		size_t len;
		char *key;

		if (y->pos >= y->eol || !(key = y_key(y, &len)))
			break;
		/* ": " then the value on this line: no "{a:b}", no null */
		if (y->pos >= y->eol || y->d[y->pos] != ' ') {
			free(key);
			break;
		}
		y_spaces(y);
		val = NULL;
		if (y->pos < y->eol) {
			if (y->d[y->pos] == '{')
				val = y_flowmap(y, depth + 1);
			else if (y->d[y->pos] == '[')
				val = y_flow(y);
			else
				val = y_scalar(y, 1);
		}
		if (!val) {
			free(key);
			break;
		}
		val->key = key;
		val->keylen = len;
		if (!add(map, val))
			break;
		y_spaces(y);
		if (y->pos < y->eol && y->d[y->pos] == '}') {
			y->pos++;
			return map;
		}
		if (y->pos >= y->eol || y->d[y->pos] != ',')
			break;
		y->pos++;
		y_spaces(y);
	}
	node_free(map);
	return NULL;
}

/* y_inline reads the value that ends a line: a scalar, a flow sequence or
 * a flow mapping. */
static struct node *y_inline(struct yp *y, int depth)
{
	struct node *n = y->d[y->pos] == '[' ? y_flow(y) : y->d[y->pos] == '{' ? y_flowmap(y, depth) : y_scalar(y, 0);

	if (n && !y_endline(y)) {
		node_free(n);
		return NULL;
	}
	return n;
}

/* y_key reads a simple key at pos: plain ([A-Za-z][A-Za-z0-9._/-]*, as a
 * string) or quoted, then ':' and a space or the line's end. It moves past
 * the ':', or returns NULL and leaves pos. */
static char *y_key(struct yp *y, size_t *len)
{
	size_t s = y->pos, e = s;
	char *key;

	if (y->d[s] == '"' || y->d[s] == '\'') {
		if (!(key = y_quoted(y, len)))
			return NULL;
		e = y->pos;
	} else {
		while (e < y->eol && (is_alpha(y->d[e]) || is_digit(y->d[e]) || (y->d[e] && strchr("._/-", y->d[e]))))
			e++;
		if (e == s || !is_alpha(y->d[s]) || plain_type(y->d + s, e - s) != T_STR || !(key = malloc(e - s + 1)))
			return NULL;
		memcpy(key, y->d + s, e - s);
		key[e - s] = '\0';
		*len = e - s;
	}
	if (*len > max_key || e >= y->eol || y->d[e] != ':' || (e + 1 < y->eol && y->d[e + 1] != ' ')) {
		free(key);
		y->pos = s;
		return NULL;
	}
	y->pos = e + 1;
	return key;
}

static struct node *y_map(struct yp *y, size_t col, int depth);

/* y_seq reads the block sequence whose items start at column col. */
static struct node *y_seq(struct yp *y, size_t col, int depth)
{
	struct node *seq;

	if (depth > max_depth || !(seq = node_new(y->t, T_SEQ)))
		return NULL;
	for (;;) {
		struct node *item;
		size_t at, len;
		char *key;

		y->pos++; /* the '-' */
		y_spaces(y);
		/* an empty item, a value on the next lines or "- - x": not mine */
		if (y->pos >= y->eol || y->d[y->pos] == '#' || y_is_item(y))
			goto fail;
		at = y->pos;
		if ((key = y_key(y, &len))) { /* "- key: value ..." */
			free(key);
			y->pos = at;
			item = y_map(y, at - y->line, depth + 1);
		} else {
			item = y_inline(y, depth + 1);
		}
		if (!add(seq, item))
			goto fail;
		if (y->eof || y->indent < col)
			return seq;
		if (y->indent > col)
			goto fail;
		if (!y_is_item(y))
			return seq; /* the next key of a mapping at this column */
	}
fail:
	node_free(seq);
	return NULL;
}

/* y_block reads the block sequence or mapping at pos. */
static struct node *y_block(struct yp *y, int depth)
{
	size_t col = y->pos - y->line;

	return y_is_item(y) ? y_seq(y, col, depth) : y_map(y, col, depth);
}

/* y_map reads the block mapping whose keys start at column col. */
static struct node *y_map(struct yp *y, size_t col, int depth)
{
	struct node *map;

	if (depth > max_depth || !(map = node_new(y->t, T_MAP)))
		return NULL;
	for (;;) {
		struct node *val;
		size_t len, at;
		char *key = y_key(y, &len);

		if (!key)
			goto fail;
		at = y->pos;
		y_spaces(y);
		if (y->pos == y->eol || (y->d[y->pos] == '#' && y->pos > at)) {
			/* the value is on the next lines: a more indented
			 * block, or a sequence at the key's column */
			y->pos = y->eol < y->n ? y->eol + 1 : y->n;
			y_next(y);
			if (y->eof || y->indent < col || (y->indent == col && !y_is_item(y)))
				val = NULL; /* null */
			else if (y->indent == col)
				val = y_seq(y, col, depth + 1);
			else
				val = y_block(y, depth + 1);
		} else {
			val = y_inline(y, depth + 1);
		}
		if (!val) {
			free(key);
			goto fail;
		}
		val->key = key;
		val->keylen = len;
		if (!add(map, val))
			goto fail;
		if (y->eof || y->indent < col)
			return map;
		if (y->indent > col)
			goto fail;
	}
fail:
	node_free(map);
	return NULL;
}

static struct node *yaml_parse(const unsigned char *d, size_t len, struct tree *t)
{
	struct yp y = {d, len, 0, 0, 0, 0, 0, t};
	struct node *root;

	if (!y_text(d, d + len))
		return NULL;
	y_next(&y);
	if (!y.eof && y.indent == 0 && y.eol - y.pos >= 3 && memcmp(d + y.pos, "---", 3) == 0) {
		y.pos += 3;
		if (y.pos < y.eol && d[y.pos] != ' ')
			return NULL;
		if (!y_endline(&y))
			return NULL;
	}
	if (y.eof || y.indent != 0)
		return NULL;
	root = y_map(&y, 0, 1);
	if (root && !y.eof) {
		node_free(root);
		return NULL;
	}
	return root;
}

/* ---- the pod --------------------------------------------------------------- */

static int key_is(const struct node *m, const char *k)
{
	return m->keylen == strlen(k) && memcmp(m->key, k, m->keylen) == 0;
}

static int str_is(const struct node *n, const char *s)
{
	return n->type == T_STR && n->len == strlen(s) && memcmp(n->str, s, n->len) == 0;
}

static int lower_digit(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* name_ok is pod's podNameRE (dots allowed) or dnsLabelRE, with the length. */
static int name_ok(const struct node *n, int dots)
{
	size_t i;

	if (n->type != T_STR || n->len == 0 || n->len > max_name)
		return 0;
	if (!lower_digit(n->str[0]) || !lower_digit(n->str[n->len - 1]))
		return 0;
	for (i = 1; i + 1 < n->len; i++)
		if (!lower_digit(n->str[i]) && n->str[i] != '-' && !(dots && n->str[i] == '.'))
			return 0;
	return 1;
}

/* strings_ok checks a list of strings for command or args. */
static int strings_ok(const struct node *seq, size_t *count, size_t *bytes)
{
	const struct node *n;

	if (seq->type != T_SEQ)
		return 0;
	for (n = seq->kids; n; n = n->next) {
		if (n->type != T_STR || n->len > max_arg_bytes)
			return 0;
		*bytes += n->len + 1;
	}
	*count += seq->nkids;
	return 1;
}

/* env_ok checks the env list: {name, value} with a valid name. */
static int env_ok(const struct node *seq, size_t *bytes)
{
	const struct node *e, *m;

	if (seq->type != T_SEQ || seq->nkids > max_env)
		return 0;
	for (e = seq->kids; e; e = e->next) {
		const struct node *name = NULL, *value = NULL;

		if (e->type != T_MAP)
			return 0;
		for (m = e->kids; m; m = m->next) {
			if (key_is(m, "name"))
				name = m;
			else if (key_is(m, "value"))
				value = m;
			else
				return 0;
		}
		if (!name || name->type != T_STR || name->len == 0 || name->len > max_env_name ||
		    memchr(name->str, '=', name->len))
			return 0;
		if (value && (value->type != T_STR || name->len + 1 + value->len > max_arg_bytes))
			return 0;
		*bytes += name->len + 1 + (value ? value->len : 0) + 1;
	}
	return 1;
}

/* clean_abs is path.Clean of an absolute path. */
static char *clean_abs(const char *p, size_t len)
{
	char *out = malloc(len + 2);
	size_t n = 0, i = 0;

	if (!out)
		return NULL;
	while (i < len) {
		size_t s;

		while (i < len && p[i] == '/')
			i++;
		s = i;
		while (i < len && p[i] != '/')
			i++;
		if (i - s == 0 || (i - s == 1 && p[s] == '.'))
			continue;
		if (i - s == 2 && p[s] == '.' && p[s + 1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--; /* the '/' before it */
			continue;
		}
		out[n++] = '/';
		memcpy(out + n, p + s, i - s);
		n += i - s;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

/* image_ok accepts the host root ("" or "host") and a directory ("dir:PATH"
 * or "PATH": absolute, clean and not "/", as pod.ParseImage wants), whose
 * path it stores in *rootfs. */
static int image_ok(const struct node *n, const char **rootfs)
{
	const char *dir = n->str;
	char *clean;
	int ok;

	*rootfs = NULL;
	if (n->type != T_STR)
		return 0;
	if (str_is(n, "") || str_is(n, "host"))
		return 1;
	if (strncmp(dir, "dir:", 4) == 0)
		dir += 4;
	if (dir[0] != '/' || strlen(dir) > max_path || !(clean = clean_abs(dir, strlen(dir))))
		return 0;
	ok = strcmp(clean, dir) == 0 && strcmp(dir, "/") != 0;
	free(clean);
	if (ok)
		*rootfs = dir;
	return ok;
}

/* ---- encoding/json's Marshal ------------------------------------------------ */

static void put_json_strs(struct buf *b, const char *field, const struct node *seq)
{
	const struct node *n;

	if (!seq || !seq->kids)
		return; /* omitempty */
	buf_puts(b, field);
	buf_put(b, "[", 1);
	for (n = seq->kids; n; n = n->next) {
		if (n != seq->kids)
			buf_put(b, ",", 1);
		buf_json_str(b, n->str, n->len);
	}
	buf_put(b, "],", 2);
}

/* ---- shape, limits and output ---------------------------------------------- */

static const struct node *member(const struct node *map, const char *key)
{
	const struct node *m;

	for (m = map->kids; m; m = m->next)
		if (key_is(m, key))
			return m;
	return NULL;
}

/* The parts of a Pod of the subset that fill found. */
struct pod {
	const struct node *name, *host, *cname, *image, *cmd, *args, *env;
	long long grace;
	const char *dir; /* the cleaned working directory, or NULL */
	const char *rootfs; /* a directory image's path in image->str, or NULL */
};

/* encode writes json.Marshal(p) after SetDefaults: the fields in
 * pod/types.go's order, omitempty ones left out, resources an empty struct,
 * the one annotation. */
static void encode(const struct pod *p, struct buf *b)
{
	const struct node *e, *v;
	char num[24];
	size_t k = sizeof(num);
	long long g = p->grace;

	buf_puts(b, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":");
	buf_json_str(b, p->name->str, p->name->len);
	buf_puts(b, ",\"annotations\":{\"sandbox.podsandbox.dev/network\":\"none\"}},\"spec\":{\"containers\":[{\"name\":");
	buf_json_str(b, p->cname->str, p->cname->len);
	buf_put(b, ",", 1);
	if (p->image && p->image->len > 0) {
		buf_puts(b, "\"image\":");
		buf_json_str(b, p->image->str, p->image->len);
		buf_put(b, ",", 1);
	}
	put_json_strs(b, "\"command\":", p->cmd);
	put_json_strs(b, "\"args\":", p->args);
	if (p->env && p->env->kids) {
		buf_puts(b, "\"env\":[");
		for (e = p->env->kids; e; e = e->next) {
			buf_puts(b, e == p->env->kids ? "{\"name\":" : ",{\"name\":");
			v = member(e, "name");
			buf_json_str(b, v->str, v->len);
			if ((v = member(e, "value")) && v->len > 0) {
				buf_puts(b, ",\"value\":");
				buf_json_str(b, v->str, v->len);
			}
			buf_put(b, "}", 1);
		}
		buf_puts(b, "],");
	}
	if (p->dir) {
		buf_puts(b, "\"workingDir\":");
		buf_json_str(b, p->dir, strlen(p->dir));
		buf_put(b, ",", 1);
	}
	buf_puts(b, "\"resources\":{}}],\"hostname\":");
	v = p->host ? p->host : p->name;
	buf_json_str(b, v->str, v->len);
	buf_puts(b, ",\"restartPolicy\":\"Never\",\"terminationGracePeriodSeconds\":");
	num[--k] = '\0';
	do
		num[--k] = (char)('0' + g % 10);
	while ((g /= 10) > 0);
	buf_puts(b, num + k);
	buf_puts(b, ",\"shareProcessNamespace\":true}}");
}

static char *str_dup(const char *s, size_t n, int *oom)
{
	char *p = malloc(n + 1);

	if (!p) {
		*oom = 1;
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* fill checks that the tree is a Pod of the subset, which package pod
 * decodes without warning and validates after SetDefaults, and fills o. */
static int fill(const struct node *root, struct podspec *o)
{
	const struct node *meta = NULL, *spec = NULL, *annot = NULL, *policy = NULL, *grace = NULL, *ctrs = NULL;
	const struct node *wd = NULL, *m, *e;
	struct pod p = {0};
	struct buf b = {0};
	int api = 0, kind = 0, oom = 0;
	size_t argc = 0, bytes = 0, i = 0;
	char *dir = NULL;

	if (root->type != T_MAP)
		return 0;
	for (m = root->kids; m; m = m->next) {
		if (key_is(m, "apiVersion") && str_is(m, "v1"))
			api = 1;
		else if (key_is(m, "kind") && str_is(m, "Pod"))
			kind = 1;
		else if (key_is(m, "metadata") && m->type == T_MAP)
			meta = m;
		else if (key_is(m, "spec") && m->type == T_MAP)
			spec = m;
		else
			return 0;
	}
	if (!api || !kind || !meta || !spec)
		return 0;
	for (m = meta->kids; m; m = m->next) {
		if (key_is(m, "name") && name_ok(m, 1))
			p.name = m;
		else if (key_is(m, "annotations") && m->type == T_MAP && m->nkids == 1)
			annot = m;
		else
			return 0;
	}
	/* The network annotation "none": the default network is a bridge. */
	if (!p.name || !annot || !key_is(annot->kids, "sandbox.podsandbox.dev/network") || !str_is(annot->kids, "none"))
		return 0;
	for (m = spec->kids; m; m = m->next) {
		if (key_is(m, "containers") && m->type == T_SEQ && m->nkids == 1 && m->kids->type == T_MAP)
			ctrs = m;
		else if (key_is(m, "restartPolicy") && str_is(m, "Never"))
			policy = m;
		else if (key_is(m, "hostname") && m->type == T_STR)
			p.host = m->len > 0 ? m : NULL; /* "": the name */
		else if (key_is(m, "terminationGracePeriodSeconds") && m->type == T_INT)
			grace = m;
		else if (!key_is(m, "shareProcessNamespace") || m->type != T_TRUE) /* true: the default */
			return 0;
	}
	if (!ctrs || !policy)
		return 0;
	/* spec.hostname equal to the name is exempt from the label rule */
	if (p.host && !str_is(p.host, p.name->str) && !name_ok(p.host, 0))
		return 0;
	p.grace = grace ? strtoll(grace->str, NULL, 10) : 30; /* at most 9 digits */
	if (p.grace > max_grace)
		return 0;
	for (m = ctrs->kids->kids; m; m = m->next) {
		if (key_is(m, "name") && name_ok(m, 0))
			p.cname = m;
		else if (key_is(m, "image") && image_ok(m, &p.rootfs))
			p.image = m;
		else if (key_is(m, "command") && strings_ok(m, &argc, &bytes))
			p.cmd = m;
		else if (key_is(m, "args") && strings_ok(m, &argc, &bytes))
			p.args = m;
		else if (key_is(m, "env") && env_ok(m, &bytes))
			p.env = m;
		else if (key_is(m, "workingDir") && m->type == T_STR)
			wd = m;
		else
			return 0;
	}
	if (!p.cname || argc == 0 || argc > max_args || bytes > max_exec_bytes)
		return 0;
	/* argv[0] is the program: Validate refuses an empty one */
	if ((p.cmd && p.cmd->kids ? p.cmd : p.args)->kids->len == 0)
		return 0;
	if (wd && wd->len > 0) {
		/* absolute, cleaned as SetDefaults does, not under /proc */
		if (wd->str[0] != '/' || wd->len > max_path || !(dir = clean_abs(wd->str, wd->len)))
			return 0;
		if (strcmp(dir, "/proc") == 0 || strncmp(dir, "/proc/", 6) == 0) {
			free(dir);
			return 0;
		}
	}
	p.dir = dir;

	encode(&p, &b);
	o->manifest_json = b.p;
	o->manifest_json_len = b.len;
	o->working_dir = dir;
	o->rootfs = p.rootfs ? str_dup(p.rootfs, strlen(p.rootfs), &oom) : NULL;
	o->name = str_dup(p.name->str, p.name->len, &oom);
	m = p.host ? p.host : p.name;
	o->hostname = str_dup(m->str, m->len, &oom);
	o->grace = p.grace;
	o->container = str_dup(p.cname->str, p.cname->len, &oom);
	if (!(o->argv = calloc(argc + 1, sizeof(char *))))
		oom = 1;
	else
		o->argc = argc;
	for (m = p.cmd ? p.cmd->kids : NULL; o->argv && m; m = m->next)
		o->argv[i++] = str_dup(m->str, m->len, &oom);
	for (m = p.args ? p.args->kids : NULL; o->argv && m; m = m->next)
		o->argv[i++] = str_dup(m->str, m->len, &oom);
	if (p.env && p.env->kids && !(o->env = calloc(p.env->nkids, sizeof(*o->env))))
		oom = 1;
	for (e = o->env ? p.env->kids : NULL; e; e = e->next) {
		struct podspec_env *pe = &o->env[o->nenv++];

		m = member(e, "name");
		pe->name = str_dup(m->str, m->len, &oom);
		m = member(e, "value");
		pe->value = m ? str_dup(m->str, m->len, &oom) : str_dup("", 0, &oom);
	}
	if (oom || b.oom) {
		podspec_free(o);
		return 0;
	}
	return 1;
}

int podspec_parse(const char *data, size_t len, struct podspec *out)
{
	const unsigned char *d = (const unsigned char *)data;
	struct tree t = {0};
	struct node *root;
	size_t i = 0;
	int ok;

	if (!out)
		return 0;
	memset(out, 0, sizeof(*out));
	if (!data || len > max_input)
		return 0;
	/* pod.Decode: a UTF-8 BOM is not content; JSON when the first
	 * non-blank byte is '{'. */
	if (len >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf) {
		d += 3;
		len -= 3;
	}
	while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
		i++;
	if (i == len)
		return 0;
	root = d[i] == '{' ? json_parse(d, len, &t) : yaml_parse(d, len, &t);
	if (!root)
		return 0;
	ok = fill(root, out);
	node_free(root);
	return ok;
}

void podspec_free(struct podspec *p)
{
	size_t i;

	if (!p)
		return;
	free(p->name);
	free(p->hostname);
	free(p->container);
	if (p->argv)
		for (i = 0; i < p->argc; i++)
			free(p->argv[i]);
	free(p->argv);
	for (i = 0; p->env && i < p->nenv; i++) {
		free(p->env[i].name);
		free(p->env[i].value);
	}
	free(p->env);
	free(p->working_dir);
	free(p->rootfs);
	free(p->manifest_json);
	memset(p, 0, sizeof(*p));
}
