/*
 * podspec.h: the C reader of a pod manifest, for the manifest fast path
 * (`sandbox run POD.yaml` without the Go runtime, fastrun.c).
 *
 * It accepts a conservative subset of what package pod accepts: one
 * container on the host's root filesystem, restartPolicy Never, the network
 * annotation "none", and only the fields listed below. Anything else, and
 * anything it is not sure about (a YAML construct it does not read, a value
 * whose YAML type might not be a string, a value the Go validator might
 * refuse), is "not mine": the Go code then decodes, validates and words any
 * error, as always. What it accepts, package pod accepts too, with no
 * warning, and decodes to the same pod: nsenter/podspec_test.go checks that
 * on a corpus and by fuzzing.
 */
#ifndef SANDBOX_PODSPEC_H
#define SANDBOX_PODSPEC_H

#include <stddef.h>

struct podspec_env {
	char *name;
	char *value; /* "" when the manifest gives no value */
};

struct podspec {
	char *name;         /* metadata.name */
	char *hostname;     /* spec.hostname, defaulted to the name */
	long long grace;    /* spec.terminationGracePeriodSeconds, defaulted to 30 */
	char *container;    /* spec.containers[0].name */
	char **argv;        /* command then args, NULL-terminated; never empty */
	size_t argc;
	struct podspec_env *env; /* spec.containers[0].env, in order */
	size_t nenv;
	char *working_dir;  /* spec.containers[0].workingDir, cleaned; NULL when absent */
	/* The image's root filesystem directory (image "dir:PATH" or "PATH",
	 * pod.ParseImage's ImageDir); NULL for the host's root. */
	char *rootfs;
	/* The pod as run: encoding/json's json.Marshal of the decoded pod after
	 * SetDefaults, byte for byte (the record's "manifest"). */
	char *manifest_json;
	size_t manifest_json_len;
};

/*
 * podspec_parse reads the manifest in data[0:len] (the file's bytes). It
 * returns 1 and fills *out when the manifest is in the subset and valid, 0
 * when it is not (nothing to free then). It never prints.
 */
int podspec_parse(const char *data, size_t len, struct podspec *out);

/* podspec_free frees what podspec_parse filled in. */
void podspec_free(struct podspec *p);

#endif
