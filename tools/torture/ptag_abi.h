/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ptag kernel ABI (issue 3), spelled out here so the torture and bench
 * programs build without the patched kernel's uapi headers, plus small
 * helpers shared by tools/torture and tools/perf (bench.c).
 */
#ifndef PTAG_TORTURE_ABI_H
#define PTAG_TORTURE_ABI_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PR_SET_PTAG 82
#define PR_GET_PTAG 83

#define PTAG_MAX_TAGS 32
#define PTAG_KEY_MAX 64
#define PTAG_VALUE_MAX 256
#define PTAG_F_PIDFD (1ULL << 0)

struct ptag_args {
	uint64_t key;
	uint64_t value;
	uint32_t value_len;
	int32_t pidfd;
	uint64_t flags;
	uint32_t owner;
	uint32_t __reserved;
} __attribute__((aligned(8)));

#define PTAG_ARGS_SIZE_VER0 40
_Static_assert(sizeof(struct ptag_args) == PTAG_ARGS_SIZE_VER0, "ptag_args layout");
_Static_assert(offsetof(struct ptag_args, flags) == 24, "ptag_args layout");

#ifndef __NR_pidfd_open
#define __NR_pidfd_open 434
#endif
#ifndef __NR_clone3
#define __NR_clone3 435
#endif
#ifndef PIDFD_THREAD
#define PIDFD_THREAD 0200 /* O_EXCL */
#endif

static inline long ptag_call(int op, const void *args, unsigned long size, unsigned long a4,
			     unsigned long a5)
{
	long r = syscall(SYS_prctl, op, (unsigned long)args, size, a4, a5);

	return r < 0 ? -errno : r;
}

/* The largest key list: PTAG_MAX_TAGS keys, each NUL-terminated. */
#define LIST_MAX (PTAG_MAX_TAGS * (PTAG_KEY_MAX + 1))

/* Aims @a at @pidfd's process, or leaves it on the caller when @pidfd < 0. */
static inline void ptag_target(struct ptag_args *a, int pidfd)
{
	if (pidfd >= 0) {
		a->flags = PTAG_F_PIDFD;
		a->pidfd = pidfd;
	}
}

/* PR_SET_PTAG of @key=@val[0..@len) on @pidfd's process (or the caller's): 0 or -errno. */
static inline int ptag_set(int pidfd, const char *key, const char *val, uint32_t len)
{
	struct ptag_args a = { .key = (uintptr_t)key, .value = (uintptr_t)val, .value_len = len };

	ptag_target(&a, pidfd);
	return (int)ptag_call(PR_SET_PTAG, &a, sizeof(a), 0, 0);
}

/* The key list of @pidfd's process (or the caller's) into @buf[LIST_MAX]: length or -errno. */
static inline long ptag_list(int pidfd, char *buf)
{
	struct ptag_args a = { .value = (uintptr_t)buf, .value_len = LIST_MAX };

	ptag_target(&a, pidfd);
	return ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
}

/*
 * Counts a violation in *@count (shared by every process of the run) and
 * prints the first 50 with @prog, @seed and the caller's pid.
 */
static inline void torture_violation(uint64_t *count, const char *prog, uint64_t seed,
				     const char *fmt, va_list ap)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (__atomic_fetch_add(count, 1, __ATOMIC_RELAXED) < 50) {
		printf("FAIL %s (seed %" PRIu64 ", pid %d): %s\n", prog, seed, getpid(), buf);
		fflush(stdout);
	}
}

/* Reads a small file (relative to @dirfd) into @buf, NUL-terminated: length or -errno. */
static inline ssize_t read_at(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + total, cap - 1 - total)) > 0)
		total += n;
	close(fd);
	if (n < 0)
		return -errno;
	buf[total] = 0;
	return total;
}

static inline int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return (int)syscall(__NR_pidfd_open, pid, flags);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a seeded, reproducible generator. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

/* Key syntax of the contract: [A-Za-z0-9._/:-], first byte alphanumeric. */
static inline int key_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '/' || c == ':' || c == '-';
}

static inline int key_first_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static inline int value_byte_ok(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

#endif
