/* The fork server of the sandbox CLI's `run` (spawner.c, spawner.go). */
#ifndef SANDBOX_SPAWNER_H
#define SANDBOX_SPAWNER_H

#include <stdint.h>

#define SPAWN_VERSION 1
/* flags */
#define SPAWN_SETSID 1
#define SPAWN_SETPGID 2
/* limits of one request */
#define SPAWN_MAX_FDS 64
#define SPAWN_MAX_ENV 256
#define SPAWN_MAX_MESSAGE (64 * 1024)

/* The start of a request; the environment follows. */
struct spawn_header {
	uint32_t version;
	uint32_t flags;
};

/* The Go side's end of the server's socket and the server's pid (-1: no
 * server). */
extern int sandbox_spawner_fd;
extern int sandbox_spawner_pid;

void sandbox_start_spawner(void);

#endif
