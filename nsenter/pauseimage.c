/*
 * pauseimage.c: the program every pause executes once it has set itself up
 * in C (nsenter.c, pause_with and spawned_pause): a one-segment ELF
 * executable of 360 bytes, made at run time in a sealed memfd.
 *
 * Why execute at all: a process's memory belongs to the user namespace it
 * last executed in. A pause that never executed (the one the first join
 * spawns, the `run -- CMD` fast path's) would keep memory of the host's user
 * namespace, and once non-dumpable (it must be: it sits in the host's mount
 * namespace) only host root could nsenter it or read its /proc/PID/smaps;
 * executed in the pod's user namespace, its owner can, as for any
 * container. Why not the sandbox binary: loading 16 MB and libc cost 0.6-0.9
 * ms of CPU on a 2-CPU machine at the moment the id-map helpers and the
 * container need it (about 0.3 ms of a pod's start), and a pause that did
 * execute it (one the supervisor starts) leaves all that behind by executing
 * this page, as it once left it by unmapping it page by page.
 *
 * The program is position-independent code assembled into .rodata (data
 * here, never executed in this process). It uses no stack: it first unmaps
 * the stack below the page holding its argument strings (which
 * /proc/PID/cmdline reads), so that the kernel's start-up data there
 * (argument pointers, auxiliary vector) costs no memory. It makes itself
 * non-dumpable (the exec made it dumpable again; nothing of the pod runs before
 * its "ok"), names itself "pause", reports "ok" on descriptor 3 and closes
 * it, then loops on rt_sigtimedwait for SIGTERM or SIGINT and exits 0: the
 * signal mask (both blocked), the ignored signals (SIGCHLD: the kernel
 * reaps orphans), the session, the parent-death signal and /dev/null on 0-2
 * are kept across the exec, so no signal handler is needed and the kernel
 * never writes a signal frame. runc executes itself from a sealed memfd for
 * a related reason (CVE-2019-5736); here it is the only copy of the program.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

#if defined(__x86_64__) || defined(__aarch64__)
#if SIGTERM != 15 || SIGINT != 2
#error "the pause image's signal set assumes SIGTERM 15 and SIGINT 2"
#endif
#define PR_DUMPABLE 4 /* PR_SET_DUMPABLE */
#define PR_NAME 15    /* PR_SET_NAME */

extern const unsigned char sandbox_pause_image[] __attribute__((visibility("hidden")));
extern const unsigned char sandbox_pause_image_end[] __attribute__((visibility("hidden")));

/* The stack below the page of the argument strings is unmapped, BELOW
 * bytes of it: all the kernel gave (the initial stack and the room it may
 * grow into, 132 kB and a random gap of up to 8 kB here), and nothing else,
 * which the kernel keeps at least a stack guard gap (1 MB) and the stack's
 * rlimit (128 MB at least) lower. */
#define BELOW 0x100000

/* Labels: 5 the name, 6 the report, 4 the signal set {SIGINT, SIGTERM},
 * 3 the wait loop, 9 exit status 125 (the supervisor then finds no "ok"). */
#define IMAGE_BEGIN \
	".pushsection .rodata\n" \
	".balign 16\n" \
	".globl sandbox_pause_image\n" \
	".hidden sandbox_pause_image\n" \
	"sandbox_pause_image:\n"
#define IMAGE_END \
	"5:	.asciz \"pause\"\n" \
	"6:	.ascii \"ok\\n\"\n" \
	".balign 8\n" \
	"4:	.quad 0x4002\n" \
	".globl sandbox_pause_image_end\n" \
	".hidden sandbox_pause_image_end\n" \
	"sandbox_pause_image_end:\n" \
	".popsection\n"

#if defined(__x86_64__)
#define IMAGE_MACHINE EM_X86_64
__asm__(IMAGE_BEGIN
	"	mov 8(%rsp), %rdi\n" /* argv[0], in the stack's top page */
	"	and $-4096, %rdi\n"
	"	sub $" STR(BELOW) ", %rdi\n"
	"	mov $" STR(BELOW) ", %esi\n"
	"	mov $" STR(__NR_munmap) ", %eax\n"
	"	syscall\n"
	"	mov $" STR(__NR_prctl) ", %eax\n"
	"	mov $" STR(PR_DUMPABLE) ", %edi\n"
	"	xor %esi, %esi\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 9f\n"
	"	mov $" STR(__NR_prctl) ", %eax\n"
	"	mov $" STR(PR_NAME) ", %edi\n"
	"	lea 5f(%rip), %rsi\n"
	"	syscall\n"
	"	mov $" STR(__NR_write) ", %eax\n"
	"	mov $3, %edi\n"
	"	lea 6f(%rip), %rsi\n"
	"	mov $3, %edx\n"
	"	syscall\n"
	"	cmp $3, %rax\n"
	"	jne 9f\n"
	"	mov $" STR(__NR_close) ", %eax\n"
	"	mov $3, %edi\n"
	"	syscall\n"
	"3:	lea 4f(%rip), %rdi\n"
	"	xor %esi, %esi\n"
	"	xor %edx, %edx\n"
	"	mov $8, %r10d\n"
	"	mov $" STR(__NR_rt_sigtimedwait) ", %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jle 3b\n" /* -EINTR (after a stop and continue): wait again */
	"	xor %edi, %edi\n"
	"	mov $" STR(__NR_exit_group) ", %eax\n"
	"	syscall\n"
	"9:	mov $125, %edi\n"
	"	mov $" STR(__NR_exit_group) ", %eax\n"
	"	syscall\n"
	IMAGE_END);
#elif defined(__aarch64__)
#define IMAGE_MACHINE EM_AARCH64
__asm__(IMAGE_BEGIN
	"	ldr x0, [sp, #8]\n" /* argv[0], in the stack's top page */
	"	and x0, x0, #0xfffffffffffff000\n"
	"	sub x0, x0, #" STR(BELOW) "\n"
	"	mov x1, #" STR(BELOW) "\n"
	"	mov x8, #" STR(__NR_munmap) "\n"
	"	svc #0\n"
	"	mov x0, #" STR(PR_DUMPABLE) "\n"
	"	mov x1, #0\n"
	"	mov x8, #" STR(__NR_prctl) "\n"
	"	svc #0\n"
	"	cbnz x0, 9f\n"
	"	mov x0, #" STR(PR_NAME) "\n"
	"	adr x1, 5f\n"
	"	mov x8, #" STR(__NR_prctl) "\n"
	"	svc #0\n"
	"	mov x0, #3\n"
	"	adr x1, 6f\n"
	"	mov x2, #3\n"
	"	mov x8, #" STR(__NR_write) "\n"
	"	svc #0\n"
	"	cmp x0, #3\n"
	"	b.ne 9f\n"
	"	mov x0, #3\n"
	"	mov x8, #" STR(__NR_close) "\n"
	"	svc #0\n"
	"3:	adr x0, 4f\n"
	"	mov x1, #0\n"
	"	mov x2, #0\n"
	"	mov x3, #8\n"
	"	mov x8, #" STR(__NR_rt_sigtimedwait) "\n"
	"	svc #0\n"
	"	cmp x0, #0\n"
	"	b.le 3b\n"
	"	mov x0, #0\n"
	"	mov x8, #" STR(__NR_exit_group) "\n"
	"	svc #0\n"
	"9:	mov x0, #125\n"
	"	mov x8, #" STR(__NR_exit_group) "\n"
	"	svc #0\n"
	IMAGE_END);
#endif

/* The image's only segment is mapped here: any page-aligned address above
 * vm.mmap_min_addr does, the process has nothing else mapped yet. */
#define IMAGE_BASE 0x400000UL

struct pause_image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	unsigned char code[512];
};

/* build fills img with the executable and returns its size, or 0 if the
 * program does not fit. */
static size_t build(struct pause_image *img)
{
	size_t n = (size_t)(sandbox_pause_image_end - sandbox_pause_image);
	size_t size = offsetof(struct pause_image, code) + n;

	if (n > sizeof(img->code))
		return 0;
	memset(img, 0, sizeof(*img));
	memcpy(img->eh.e_ident, ELFMAG, SELFMAG);
	img->eh.e_ident[EI_CLASS] = ELFCLASS64;
	img->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	img->eh.e_ident[EI_VERSION] = EV_CURRENT;
	img->eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
	img->eh.e_type = ET_EXEC;
	img->eh.e_machine = IMAGE_MACHINE;
	img->eh.e_version = EV_CURRENT;
	img->eh.e_entry = IMAGE_BASE + offsetof(struct pause_image, code);
	img->eh.e_phoff = offsetof(struct pause_image, ph);
	img->eh.e_ehsize = sizeof(Elf64_Ehdr);
	img->eh.e_phentsize = sizeof(Elf64_Phdr);
	img->eh.e_phnum = 2;
	/* Headers and program in one read-only, executable page. */
	img->ph[0].p_type = PT_LOAD;
	img->ph[0].p_flags = PF_R | PF_X;
	img->ph[0].p_offset = 0;
	img->ph[0].p_vaddr = img->ph[0].p_paddr = IMAGE_BASE;
	img->ph[0].p_filesz = img->ph[0].p_memsz = size;
	img->ph[0].p_align = 0x1000;
	/* A stack that is not executable. */
	img->ph[1].p_type = PT_GNU_STACK;
	img->ph[1].p_flags = PF_R | PF_W;
	memcpy(img->code, sandbox_pause_image, n);
	return size;
}

/*
 * sandbox_exec_pause_image executes the pause image with argv[0] title
 * ("pause" if none; the network holder's is "sandbox-netholder") and
 * _SANDBOX_EXE, the sandbox binary's path, as its environment; it returns
 * only if it
 * could not (-1, errno set): a kernel before memfd_create, a policy that
 * refuses executable memfds (vm.memfd_noexec = 2), a seccomp filter. The
 * caller then executes the sandbox binary instead.
 */
int sandbox_exec_pause_image(const char *title)
{
	static const char exe_key[] = "_SANDBOX_EXE=";
	struct pause_image img;
	char *argv[] = {(char *)(title != NULL && title[0] != '\0' ? title : "pause"), NULL};
	char exe[sizeof(exe_key) + PATH_MAX];
	char *envp[] = {exe, NULL};
	ssize_t len;
	size_t size = build(&img), off = 0;
	int fd, saved;

	if (size == 0) {
		errno = E2BIG;
		return -1;
	}
	/* The one variable of its environment names the sandbox binary it
	 * replaces: /proc/PID/exe no longer does (ps e, and the tests' leak
	 * checks, find a pause by it). */
	memcpy(exe, exe_key, sizeof(exe_key) - 1);
	len = readlink("/proc/self/exe", exe + sizeof(exe_key) - 1, PATH_MAX);
	if (len < 0 || len >= PATH_MAX)
		envp[0] = NULL;
	else
		exe[sizeof(exe_key) - 1 + len] = '\0';
	/* MFD_EXEC (Linux 6.3+) says we mean to execute it; before 6.3 the
	 * flag is unknown (EINVAL) and every memfd is executable. */
	fd = (int)syscall(SYS_memfd_create, "pause", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = (int)syscall(SYS_memfd_create, "pause", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fd, (const char *)&img + off, size - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto fail;
	syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}
#else
int sandbox_exec_pause_image(const char *title)
{
	(void)title;
	errno = ENOSYS;
	return -1;
}
#endif /* amd64, arm64 */
