// SPDX-License-Identifier: GPL-2.0
/*
 * ptag argument fuzzer: PR_SET_PTAG / PR_GET_PTAG with random and boundary
 * arguments, checked against a model of the documented contract.
 *
 *   fuzz [--seed N] [--calls N] [--jobs J] [--max-seconds S] [--json FILE] [-v]
 *
 * A supervisor forks short-lived worker processes (fresh, untagged, so the
 * SET paths keep running below the 32-tag limit); worker i draws every
 * argument from a generator seeded with (seed, i), so a run is reproducible
 * from its seed.  Each worker keeps a model of the tags of every process it
 * targets (itself, three victims of different uids, a zombie) and checks every
 * result:
 *   - it is success or one of the errnos the contract documents for that call
 *     (anything else is an "undocumented errno" failure);
 *   - when the arguments are fully known (no racing page), the result is
 *     exactly what the contract says: success only without any input error,
 *     the errno of one of the input errors otherwise, EEXIST/ENOSPC/ENOENT/
 *     ERANGE from the model's state, the value/list/owner bytes that GET copies
 *     out, and nothing written past them;
 *   - at the end, GET and /proc/<pid>/ptags of every target equal the model.
 * Pointers: NULL, kernel and non-canonical addresses, guard pages, buffers that
 * run into a guard page, read-only pages, and a page that another thread keeps
 * unmapping, protecting and zapping during the calls.  pidfds: the caller, a
 * thread of the caller (PIDFD_THREAD), live processes of three uids, a zombie,
 * a reaped process, PID 1 (GET only), closed fds, non-pidfd fds, negative fds.
 * A fifth of the workers run as uid 1000 to reach EPERM.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "ptag_abi.h"

#define PG 4096UL
#define MAX_FAIL_PRINT 30

/* ---- errno bookkeeping ------------------------------------------------ */

enum { E_OK, E_EINVAL, E_E2BIG, E_ENOSPC, E_EEXIST, E_EPERM, E_ESRCH, E_EBADF, E_EFAULT,
       E_ENOENT, E_ERANGE, E_ENOMEM, E_OTHER, E_NR };
static const char *const e_names[E_NR] = { "ok", "EINVAL", "E2BIG", "ENOSPC", "EEXIST", "EPERM",
	"ESRCH", "EBADF", "EFAULT", "ENOENT", "ERANGE", "ENOMEM", "other" };
static const int e_vals[E_NR] = { 0, EINVAL, E2BIG, ENOSPC, EEXIST, EPERM, ESRCH, EBADF, EFAULT,
	ENOENT, ERANGE, ENOMEM, -1 };

#define B(e) (1u << (e))
/* The errnos the contract documents, per call. */
#define DOC_SET (B(E_EINVAL) | B(E_E2BIG) | B(E_ENOSPC) | B(E_EEXIST) | B(E_EPERM) | B(E_ESRCH) | \
		 B(E_EBADF) | B(E_EFAULT) | B(E_ENOMEM))
#define DOC_GET (B(E_EINVAL) | B(E_E2BIG) | B(E_ESRCH) | B(E_EBADF) | B(E_EFAULT) | B(E_ENOENT) | \
		 B(E_ERANGE) | B(E_ENOMEM))

static int e_index(long ret)
{
	int i;

	if (ret >= 0)
		return E_OK;
	for (i = 1; i < E_OTHER; i++)
		if (-ret == e_vals[i])
			return i;
	return E_OTHER;
}

/* Shared with the supervisor. */
struct stats {
	uint64_t calls, set_calls, get_calls;
	uint64_t res[2][E_NR];
	uint64_t failures, undocumented, mismatches, final_mismatches;
	uint64_t racy_calls, workers, forks, unpriv_workers, byte_sweep[2];
	uint64_t set_success_self, set_success_pidfd;
};
static struct stats *st;
#define ADD(field, n) __atomic_fetch_add(&st->field, (n), __ATOMIC_RELAXED)

/* ---- the worker's world ----------------------------------------------- */

enum target { T_SELF, T_SELF_PIDFD, T_THREAD_PIDFD, T_V0, T_V1, T_V2, T_ZOMBIE, T_REAPED, T_INIT,
	      T_CLOSED, T_DEVNULL, T_PIPE, T_PROCDIR, T_NEGFD, T_NR };
static const char *const t_names[T_NR] = { "self", "pidfd(self)", "pidfd(thread)", "pidfd(v0 root)",
	"pidfd(v1 uid1000)", "pidfd(v2 uid1001)", "pidfd(zombie)", "pidfd(reaped)", "pidfd(init)",
	"closed fd", "/dev/null fd", "pipe fd", "/proc dir fd", "negative fd" };

struct tag {
	char key[PTAG_KEY_MAX + 1];
	unsigned char val[PTAG_VALUE_MAX];
	uint32_t klen, vlen, owner;
};

struct model {
	int n;
	struct tag t[PTAG_MAX_TAGS];
	pid_t pid;
};

enum { M_SELF, M_V0, M_V1, M_V2, M_ZOMBIE, M_NR };

static struct world {
	uint64_t rng;
	uint64_t seed;
	unsigned long idx;
	bool unpriv;
	uid_t uid;
	unsigned char *args_area; /* 3 RW pages + guard */
	unsigned char *key_area;  /* 1 RW page + guard */
	unsigned char *val_area;  /* 1 RW page + guard */
	unsigned char *out_area;  /* 2 RW pages + guard */
	unsigned char *ro_page;   /* 1 read-only page + guard: structs */
	unsigned char *ro_data;   /* 1 read-only page + guard: values low, keys high */
	unsigned char *racy;      /* 1 page another thread unmaps */
	uintptr_t unmapped;       /* an address with nothing mapped */
	int fd[T_NR];
	struct model m[M_NR];
	pid_t victims[M_NR];
	pthread_t racer;
	volatile int racer_stop, racy_lost;
	bool racer_on;
	pid_t racer_tid;
	char pool[48][PTAG_KEY_MAX + 1];
	unsigned int sweep[2];
	unsigned long call_no;
	int printed;
} w;

static unsigned long rnd(unsigned long n)
{
	return rng_below(&w.rng, n);
}

static bool chance(unsigned int percent)
{
	return rnd(100) < percent;
}

/* ---- the racer: a page that comes and goes during calls --------------- */

static void racy_fill(unsigned char *p)
{
	struct ptag_args a = {
		.key = (uintptr_t)(p + 256),
		.value = (uintptr_t)(p + 512),
		.value_len = 8,
	};

	memcpy(p, &a, sizeof(a));
	memcpy(p + 256, "racy.key", 9);
	memcpy(p + 512, "racyval!", 8);
}

static void *racer_main(void *unused)
{
	unsigned long i = 0;

	(void)unused;
	w.racer_tid = gettid();
	while (!w.racer_stop) {
		switch (i++ % 3) {
		case 0:
			munmap(w.racy, PG);
			if (mmap(w.racy, PG, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != w.racy) {
				/* someone took the address: stop racing, stay alive */
				w.racy_lost = 1;
				while (!w.racer_stop)
					usleep(1000);
				return NULL;
			}
			racy_fill(w.racy);
			break;
		case 1:
			mprotect(w.racy, PG, PROT_NONE);
			sched_yield();
			mprotect(w.racy, PG, PROT_READ | PROT_WRITE);
			break;
		case 2:
			madvise(w.racy, PG, MADV_DONTNEED);
			sched_yield();
			racy_fill(w.racy);
			break;
		}
	}
	return NULL;
}

/* ---- model helpers ---------------------------------------------------- */

static int model_find(const struct model *m, const char *key, size_t klen)
{
	int i;

	for (i = 0; i < m->n; i++)
		if (m->t[i].klen == klen && !memcmp(m->t[i].key, key, klen))
			return i;
	return -1;
}

static int target_model(int t)
{
	switch (t) {
	case T_SELF:
	case T_SELF_PIDFD:
	case T_THREAD_PIDFD:
		return M_SELF;
	case T_V0:
		return M_V0;
	case T_V1:
		return M_V1;
	case T_V2:
		return M_V2;
	case T_ZOMBIE:
		return M_ZOMBIE;
	default:
		return -1;
	}
}

static int target_fd(int t)
{
	return t == T_SELF ? -1 : w.fd[t];
}

/* Reads all tags of a target with clean calls; returns count or -errno. */
static int read_tags(int fd, struct model *out)
{
	char list[PTAG_MAX_TAGS * (PTAG_KEY_MAX + 1) + 64];
	struct ptag_args a = { .value = (uintptr_t)list, .value_len = sizeof(list) };
	long n, off = 0;

	ptag_target(&a, fd);
	n = ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
	if (n < 0)
		return (int)n;
	out->n = 0;
	while (off < n && out->n < PTAG_MAX_TAGS + 1) {
		struct tag *t = &out->t[out->n < PTAG_MAX_TAGS ? out->n : PTAG_MAX_TAGS - 1];
		size_t kl = strnlen(list + off, n - off);
		long r;

		if (kl > PTAG_KEY_MAX || off + (long)kl >= n)
			return -EPROTO;
		memcpy(t->key, list + off, kl + 1);
		t->klen = kl;
		a.key = (uintptr_t)t->key;
		a.value = (uintptr_t)t->val;
		a.value_len = sizeof(t->val);
		a.owner = 0xdeadbeef;
		r = ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
		if (r < 0)
			return (int)r;
		t->vlen = r;
		t->owner = a.owner;
		off += kl + 1;
		out->n++;
	}
	if (out->n > PTAG_MAX_TAGS)
		return -E2BIG;
	return out->n;
}

static bool tag_eq(const struct tag *a, const struct tag *b)
{
	return a->klen == b->klen && a->vlen == b->vlen && a->owner == b->owner &&
	       !memcmp(a->key, b->key, a->klen) && !memcmp(a->val, b->val, a->vlen);
}

static bool tag_syntax_ok(const struct tag *t)
{
	uint32_t i;

	if (!t->klen || t->klen > PTAG_KEY_MAX || !key_first_ok(t->key[0]) ||
	    t->vlen > PTAG_VALUE_MAX)
		return false;
	for (i = 0; i < t->klen; i++)
		if (!key_char_ok(t->key[i]))
			return false;
	for (i = 0; i < t->vlen; i++)
		if (!value_byte_ok(t->val[i]))
			return false;
	return true;
}

/* ---- failure reporting ------------------------------------------------ */

struct call {
	int op, target;
	unsigned long a4, a5, size;
	int args_kind, key_kind, val_kind;
	bool racy, tail_nonzero;
	struct ptag_args a;
	unsigned char *argp;
	unsigned char keybuf[160];
	size_t keybytes; /* bytes of keybuf placed in memory */
};

static const char *const k_names[] = { "ok", "null", "kernel-text", "direct-map", "noncanonical",
	"minus-one", "vsyscall", "low", "guard", "cross-guard", "unmapped", "read-only", "racy" };

static void fail(const struct call *c, unsigned int want, long got, const char *why)
{
	char wantstr[256] = "";
	int i;

	ADD(failures, 1);
	if (e_index(got) == E_OTHER || (got < 0 && !((c->op == PR_SET_PTAG ? DOC_SET : DOC_GET) &
						     B(e_index(got)))))
		ADD(undocumented, 1);
	else
		ADD(mismatches, 1);
	if (w.printed++ >= MAX_FAIL_PRINT)
		return;
	for (i = 0; i < E_NR; i++)
		if (want & B(i))
			snprintf(wantstr + strlen(wantstr), sizeof(wantstr) - strlen(wantstr), "%s%s",
				 *wantstr ? "|" : "", e_names[i]);
	printf("FAIL fuzz seed=%" PRIu64 " worker=%lu call=%lu: %s: %s(%#lx, size=%lu, %#lx, %#lx) "
	       "returned %ld (%s), expected %s\n"
	       "     args@%s key=%#" PRIx64 "(%s) value=%#" PRIx64 "(%s) value_len=%u pidfd=%d "
	       "flags=%#" PRIx64 " owner=%#x reserved=%#x tail_nonzero=%d target=%s racy=%d "
	       "uid=%u\n",
	       w.seed, w.idx, w.call_no, why,
	       c->op == PR_SET_PTAG ? "PR_SET_PTAG" : "PR_GET_PTAG", (unsigned long)c->argp,
	       c->size, c->a4, c->a5, got, got < 0 ? strerror((int)-got) : "ok", wantstr,
	       k_names[c->args_kind], c->a.key, k_names[c->key_kind], c->a.value,
	       k_names[c->val_kind], c->a.value_len, c->a.pidfd, c->a.flags, c->a.owner,
	       c->a.__reserved, c->tail_nonzero, t_names[c->target], c->racy, w.uid);
	if (c->key_kind == 0 || c->key_kind == 9 || c->key_kind == 11) {
		printf("     key bytes:");
		for (size_t k = 0; k < c->keybytes && k < 80; k++)
			printf(" %02x", c->keybuf[k]);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- pointer kinds ---------------------------------------------------- */

enum { K_OK, K_NULL, K_KTEXT, K_DIRECT, K_NONCANON, K_MINUS1, K_VSYSCALL, K_LOW, K_GUARD, K_CROSS,
       K_UNMAPPED, K_RO, K_RACY };

static uint64_t bad_pointer(int kind)
{
	switch (kind) {
	case K_NULL:
		return 0;
	case K_KTEXT:
		return 0xffffffff81000000ull + rnd(0x100000);
	case K_DIRECT:
		return 0xffff888000000000ull + rnd(1ull << 30);
	case K_NONCANON:
		return 0x0000800000000000ull + rnd(1ull << 40);
	case K_MINUS1:
		return ~0ull - rnd(64);
	case K_VSYSCALL:
		return 0xffffffffff600000ull;
	case K_LOW:
		return 1 + rnd(0xffff);
	case K_UNMAPPED:
		return w.unmapped + rnd(PG);
	default:
		abort();
	}
}

static int pick_bad_kind(void)
{
	static const int kinds[] = { K_NULL, K_KTEXT, K_DIRECT, K_NONCANON, K_MINUS1, K_VSYSCALL,
				     K_LOW, K_UNMAPPED, K_GUARD };

	return kinds[rnd(sizeof(kinds) / sizeof(kinds[0]))];
}

/* ---- generating keys and values --------------------------------------- */

static const char key_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/:-";
static const char key_first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static size_t gen_key(unsigned char *buf, size_t cap)
{
	static const size_t lens[] = { 0, 1, 2, 3, 8, 16, 32, 63, 64, 65, 66, 80, 128, 150 };
	size_t len, i;

	if (chance(35)) {
		const char *k = w.pool[rnd(48)];

		len = strlen(k);
		memcpy(buf, k, len);
	} else {
		len = chance(50) ? lens[rnd(sizeof(lens) / sizeof(lens[0]))] : 1 + rnd(70);
		if (len > cap - 1)
			len = cap - 1;
		for (i = 0; i < len; i++)
			buf[i] = key_chars[rnd(sizeof(key_chars) - 1)];
		if (len)
			buf[0] = key_first[rnd(sizeof(key_first) - 1)];
	}
	if (len && chance(15)) {
		/* every byte value, in turn, at a random place (0 too: a shorter key) */
		buf[rnd(len)] = (unsigned char)(w.sweep[0]++ & 0xff);
		ADD(byte_sweep[0], 1);
	} else if (len && chance(4)) {
		buf[0] = "._/:-"[rnd(5)];
	}
	buf[len] = 0;
	return len;
}

static size_t gen_value(unsigned char *buf)
{
	static const size_t lens[] = { 0, 1, 2, 16, 100, 255, 256, 257, 300 };
	size_t len = chance(50) ? lens[rnd(sizeof(lens) / sizeof(lens[0]))] : rnd(260);
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned int r = (unsigned int)rnd(100);

		if (r < 70)
			buf[i] = 0x20 + rnd(0x5f); /* printable ASCII */
		else
			buf[i] = 0x80 + rnd(0x80); /* UTF-8 bytes pass through */
	}
	if (len && chance(15)) {
		buf[rnd(len)] = (unsigned char)(w.sweep[1]++ & 0xff);
		ADD(byte_sweep[1], 1);
	}
	return len;
}

/* ---- prediction ------------------------------------------------------- */

/*
 * Where a user buffer of @kind starting at @p can be read (and written):
 * the number of accessible bytes from @p.
 */
static size_t readable_from(int kind, uint64_t p, uint64_t region_end)
{
	switch (kind) {
	case K_OK:
	case K_RO:
	case K_CROSS:
		return p < region_end ? region_end - p : 0;
	default:
		return 0;
	}
}

struct pred {
	unsigned int must; /* input errors: the call must fail with one of these */
	unsigned int state; /* outcome from the model if no input error */
	long ok_value;      /* the return value on success */
	bool unknown;       /* racy: any documented outcome */
	bool check_out;     /* GET success: check the copied bytes */
	const unsigned char *expect;
	size_t expect_len;
	uint32_t expect_owner;
	bool check_owner;
	struct tag newtag;  /* SET success: the tag to append */
	int mi;             /* model index of the target, -1 if unmodelled */
};

static void do_call(void)
{
	struct call c = { 0 };
	struct pred p = { .mi = -1 };
	unsigned char *argbase = w.args_area;
	size_t key_readable = 0, val_readable = 0, out_writable = 0;
	uint64_t region_end = 0;
	struct ptag_args *a = &c.a;
	unsigned char valbuf[320];
	size_t klen = 0, vlen;
	bool state_known = false, key_ok = false;
	long ret;
	int r, i;

	w.call_no++;
	c.op = chance(50) ? PR_SET_PTAG : PR_GET_PTAG;

	/* target */
	r = (int)rnd(100);
	if (r < 45)
		c.target = T_SELF;
	else if (r < 55)
		c.target = T_SELF_PIDFD;
	else if (r < 58)
		c.target = T_THREAD_PIDFD;
	else if (r < 66)
		c.target = T_V0;
	else if (r < 74)
		c.target = T_V1;
	else if (r < 80)
		c.target = T_V2;
	else if (r < 85)
		c.target = T_ZOMBIE;
	else if (r < 88)
		c.target = T_REAPED;
	else if (r < 90)
		c.target = c.op == PR_GET_PTAG ? T_INIT : T_SELF;
	else
		c.target = T_CLOSED + (int)rnd(T_NR - T_CLOSED);
	if (c.target == T_THREAD_PIDFD && w.fd[T_THREAD_PIDFD] < 0)
		c.target = T_SELF_PIDFD;
	if (c.target != T_SELF) {
		a->flags = PTAG_F_PIDFD;
		a->pidfd = target_fd(c.target);
	}

	/* key */
	c.key_kind = K_OK;
	r = (int)rnd(100);
	if (c.op == PR_GET_PTAG && r < 20) {
		c.key_kind = K_NULL; /* list the keys */
	} else if (r < 28) {
		c.key_kind = pick_bad_kind();
	} else if (r < 36) {
		c.key_kind = K_CROSS;
	} else if (r < 40) {
		c.key_kind = K_RO;
	} else if (r < 42 && w.racer_on && !w.racy_lost) {
		c.key_kind = K_RACY;
	}
	if (c.key_kind == K_OK || c.key_kind == K_CROSS || c.key_kind == K_RO) {
		klen = gen_key(c.keybuf, sizeof(c.keybuf));
		c.keybytes = klen + 1;
		unsigned char *dst;

		if (c.key_kind == K_CROSS) {
			/* the key runs into the guard page, with or without its NUL */
			size_t n = 1 + rnd(klen + 1);

			c.keybytes = n;
			dst = w.key_area + PG - n;
		} else if (c.key_kind == K_RO) {
			dst = w.ro_data + PG - c.keybytes - rnd(64);
			mprotect(w.ro_data, PG, PROT_READ | PROT_WRITE);
		} else {
			dst = w.key_area + rnd(PG - c.keybytes + 1);
		}
		memcpy(dst, c.keybuf, c.keybytes);
		if (c.key_kind == K_RO)
			mprotect(w.ro_data, PG, PROT_READ);
		a->key = (uintptr_t)dst;
		key_readable = c.key_kind == K_CROSS ? c.keybytes : SIZE_MAX;
	} else if (c.key_kind == K_GUARD) {
		a->key = (uintptr_t)(w.key_area + PG + rnd(PG));
	} else if (c.key_kind == K_RACY) {
		a->key = (uintptr_t)(w.racy + 256);
		c.racy = true;
	} else if (c.key_kind != K_NULL) {
		a->key = bad_pointer(c.key_kind);
	}
	if (c.key_kind == K_NULL && c.op == PR_SET_PTAG)
		a->key = 0;

	/* value */
	c.val_kind = K_OK;
	vlen = 0;
	r = (int)rnd(100);
	if (c.op == PR_SET_PTAG) {
		vlen = gen_value(valbuf);
		if (r < 8)
			c.val_kind = pick_bad_kind();
		else if (r < 16)
			c.val_kind = K_CROSS;
		else if (r < 20)
			c.val_kind = K_RO;
		else if (r < 22 && w.racer_on && !w.racy_lost)
			c.val_kind = K_RACY;
		if (c.val_kind == K_OK || c.val_kind == K_CROSS || c.val_kind == K_RO) {
			unsigned char *dst;
			size_t placed = vlen > PG ? PG : vlen;

			if (c.val_kind == K_CROSS) {
				placed = vlen ? rnd(vlen) : 0;
				dst = w.val_area + PG - placed;
				val_readable = placed;
			} else if (c.val_kind == K_RO) {
				mprotect(w.ro_data, PG, PROT_READ | PROT_WRITE);
				dst = w.ro_data + rnd(PG / 4);
				val_readable = w.ro_data + PG - dst;
			} else {
				dst = w.val_area + rnd(PG - placed + 1);
				val_readable = w.val_area + PG - dst;
			}
			memcpy(dst, valbuf, placed);
			if (c.val_kind == K_RO)
				mprotect(w.ro_data, PG, PROT_READ);
			a->value = (uintptr_t)dst;
		} else if (c.val_kind == K_GUARD) {
			a->value = (uintptr_t)(w.val_area + PG + rnd(PG));
		} else if (c.val_kind == K_RACY) {
			a->value = (uintptr_t)(w.racy + 512);
			c.racy = true;
		} else {
			a->value = bad_pointer(c.val_kind);
		}
		r = (int)rnd(100);
		if (r < 85)
			a->value_len = vlen;
		else if (r < 90)
			a->value_len = (uint32_t)rnd(1u << 20);
		else if (r < 95)
			a->value_len = (uint32_t)(0xffffffffu - rnd(4));
		else
			a->value_len = vlen + 1 - (uint32_t)rnd(3);
	} else {
		/* GET: an output buffer */
		static const uint32_t lens[] = { 0, 1, 2, 8, 64, 255, 256, 257, 2080, 4096, 8192,
						 0xffffffffu };
		size_t room;
		unsigned char *dst;

		if (r < 8)
			c.val_kind = pick_bad_kind();
		else if (r < 16)
			c.val_kind = K_CROSS;
		else if (r < 20)
			c.val_kind = K_RO;
		else if (r < 22 && w.racer_on && !w.racy_lost)
			c.val_kind = K_RACY;
		a->value_len = chance(70) ? lens[rnd(sizeof(lens) / sizeof(lens[0]))] :
					    (uint32_t)rnd(2200);
		switch (c.val_kind) {
		case K_OK:
			room = rnd(2 * PG);
			dst = w.out_area + 2 * PG - room;
			out_writable = room;
			break;
		case K_CROSS:
			room = rnd(300);
			dst = w.out_area + 2 * PG - room;
			out_writable = room;
			break;
		case K_RO:
			dst = w.ro_data + rnd(PG);
			out_writable = 0;
			break;
		case K_RACY:
			dst = w.racy + rnd(PG);
			c.racy = true;
			break;
		case K_GUARD:
			dst = w.out_area + 2 * PG + rnd(PG);
			break;
		default:
			dst = (unsigned char *)(uintptr_t)bad_pointer(c.val_kind);
		}
		a->value = (uintptr_t)dst;
		if (c.val_kind == K_OK || c.val_kind == K_CROSS)
			memset(dst, 0xa5, out_writable < 2400 ? out_writable : 2400);
	}

	/* flags, pidfd, owner, reserved */
	if (chance(4))
		a->flags |= 1ull << (1 + rnd(63));
	if (chance(2))
		a->flags = rng_next(&w.rng);
	if (chance(3) && !(a->flags & PTAG_F_PIDFD))
		a->pidfd = (int32_t)rng_next(&w.rng) | 1;
	if (c.op == PR_SET_PTAG ? chance(3) : chance(50))
		a->owner = (uint32_t)rng_next(&w.rng);
	if (chance(3))
		a->__reserved = (uint32_t)rng_next(&w.rng) | 1;

	/* arg4, arg5 */
	if (chance(3))
		c.a4 = chance(50) ? 1 : rng_next(&w.rng);
	if (chance(3))
		c.a5 = chance(50) ? 1 : rng_next(&w.rng);

	/* the struct: size and where it lives */
	{
		static const unsigned long sizes[] = { 0, 1, 8, 16, 24, 32, 39, 40, 41, 44, 48, 56,
						      64, 128, 4095, 4096, 4097, 8191, 8192 };
		size_t off;

		r = (int)rnd(100);
		if (r < 60)
			c.size = 40;
		else if (r < 85)
			c.size = sizes[rnd(sizeof(sizes) / sizeof(sizes[0]))];
		else
			c.size = rnd(2 * PG + 1);
		r = (int)rnd(100);
		c.args_kind = K_OK;
		if (r < 6)
			c.args_kind = pick_bad_kind();
		else if (r < 12)
			c.args_kind = K_CROSS;
		else if (r < 16)
			c.args_kind = K_RO;
		else if (r < 18 && w.racer_on && !w.racy_lost)
			c.args_kind = K_RACY;
		if (c.size > 40 && chance(25))
			c.tail_nonzero = true;

		switch (c.args_kind) {
		case K_OK:
			off = rnd(3 * PG - (c.size > 40 ? c.size : 40) + 1);
			c.argp = argbase + off;
			region_end = (uintptr_t)(argbase + 3 * PG);
			break;
		case K_CROSS:
			/* the struct (or its tail) runs into the guard page */
			off = 3 * PG - 1 - rnd(c.size > 40 ? c.size : 40);
			c.argp = argbase + off;
			region_end = (uintptr_t)(argbase + 3 * PG);
			break;
		case K_RO:
			c.argp = w.ro_page + rnd(PG - 40 + 1);
			region_end = (uintptr_t)(w.ro_page + PG);
			break;
		case K_RACY:
			c.argp = w.racy;
			c.racy = true;
			break;
		case K_GUARD:
			c.argp = argbase + 3 * PG + rnd(PG - 40);
			break;
		default:
			c.argp = (unsigned char *)(uintptr_t)bad_pointer(c.args_kind);
		}
		if (c.args_kind == K_OK || c.args_kind == K_CROSS || c.args_kind == K_RO) {
			unsigned char *end = (unsigned char *)(uintptr_t)region_end;
			size_t room = end - c.argp;
			size_t body = room < 40 ? room : 40;
			size_t tail = c.size > 40 ? c.size - 40 : 0;

			if (c.args_kind == K_RO)
				mprotect(w.ro_page, PG, PROT_READ | PROT_WRITE);
			memcpy(c.argp, a, body);
			if (tail && room > 40) {
				size_t t = tail < room - 40 ? tail : room - 40;

				memset(c.argp + 40, 0, t);
				if (c.tail_nonzero) {
					size_t at = rnd(tail);

					if (at < t)
						c.argp[40 + at] = 1 + rnd(255);
					else
						c.tail_nonzero = false; /* beyond the readable end */
				}
			} else {
				c.tail_nonzero = false;
			}
			if (c.args_kind == K_RO)
				mprotect(w.ro_page, PG, PROT_READ);
		} else {
			c.tail_nonzero = false;
		}
	}

	/* ---- predict ---- */
	p.mi = target_model(c.target);
	if (c.racy) {
		p.unknown = true;
	} else {
		size_t args_readable =
			(c.args_kind == K_OK || c.args_kind == K_CROSS || c.args_kind == K_RO) ?
				readable_from(c.args_kind, (uintptr_t)c.argp, region_end) : 0;
		bool struct_ok = false;

		if (c.a4 || c.a5)
			p.must |= B(E_EINVAL);
		if (c.size < 40)
			p.must |= B(E_EINVAL);
		else if (c.size > PG)
			p.must |= B(E_E2BIG);
		else if (args_readable < c.size)
			/* a non-zero tail byte before the hole may be found first */
			p.must |= B(E_EFAULT) | (c.tail_nonzero ? B(E_E2BIG) : 0);
		else if (c.tail_nonzero)
			p.must |= B(E_E2BIG);
		else
			struct_ok = true;
		if (!struct_ok && !p.must)
			abort();
		if (struct_ok) {
			if ((a->flags & ~PTAG_F_PIDFD) || a->__reserved ||
			    (!(a->flags & PTAG_F_PIDFD) && a->pidfd))
				p.must |= B(E_EINVAL);
			if (c.op == PR_SET_PTAG && (!a->key || a->owner))
				p.must |= B(E_EINVAL);
			if (a->key) {
				if (c.key_kind == K_OK || c.key_kind == K_CROSS || c.key_kind == K_RO) {
					size_t lim = c.keybytes < 65 ? c.keybytes : 65;
					size_t nul = 0;

					while (nul < lim && c.keybuf[nul])
						nul++;
					if (nul < lim) {
						klen = nul;
						key_ok = klen && key_first_ok(c.keybuf[0]);
						for (i = 0; i < (int)klen; i++)
							if (!key_char_ok(c.keybuf[i]))
								key_ok = false;
						if (!key_ok)
							p.must |= B(E_EINVAL);
					} else if (key_readable >= 65) {
						p.must |= B(E_E2BIG);
					} else {
						p.must |= B(E_EFAULT);
					}
				} else {
					p.must |= B(E_EFAULT);
				}
			}
			if (c.op == PR_SET_PTAG) {
				if (a->value_len > PTAG_VALUE_MAX) {
					p.must |= B(E_E2BIG);
				} else if (a->value_len) {
					if (c.val_kind == K_OK || c.val_kind == K_CROSS ||
					    c.val_kind == K_RO) {
						if (val_readable < a->value_len)
							p.must |= B(E_EFAULT);
						else
							for (i = 0; i < (int)a->value_len; i++)
								if (!value_byte_ok(((unsigned char *)(uintptr_t)a->value)[i]))
									p.must |= B(E_EINVAL);
					} else {
						p.must |= B(E_EFAULT);
					}
				}
			}
			/* the target, if the flags select a pidfd */
			if (!(a->flags & ~PTAG_F_PIDFD) && (a->flags & PTAG_F_PIDFD)) {
				switch (c.target) {
				case T_CLOSED:
				case T_DEVNULL:
				case T_PIPE:
				case T_PROCDIR:
				case T_NEGFD:
					p.must |= B(E_EBADF);
					break;
				case T_REAPED:
					p.must |= B(E_ESRCH);
					break;
				case T_ZOMBIE:
					if (c.op == PR_SET_PTAG)
						p.must |= B(E_ESRCH) | (w.unpriv ? B(E_EPERM) : 0);
					break;
				case T_V0:
				case T_V2:
					if (c.op == PR_SET_PTAG && w.unpriv)
						p.must |= B(E_EPERM);
					break;
				default:
					break;
				}
			}
			state_known = (key_ok || (!a->key && c.op == PR_GET_PTAG)) &&
				      !(a->flags & ~PTAG_F_PIDFD) && !a->__reserved &&
				      ((a->flags & PTAG_F_PIDFD) ? c.target != T_REAPED &&
				       c.target < T_CLOSED : !a->pidfd);
		}
	}
	/*
	 * The outcome from the model's state, with the key as the kernel sees
	 * it.  The contract does not order input errors against state errors,
	 * so with input errors a state error is accepted too (never success).
	 */
	if (!p.unknown && state_known) {
		int t = (a->flags & PTAG_F_PIDFD) ? c.target : T_SELF;
		struct model *m;

		p.mi = target_model(t);
		m = p.mi >= 0 ? &w.m[p.mi] : NULL;
		if (c.op == PR_SET_PTAG) {
			int at = model_find(m, (const char *)c.keybuf, klen);

			if (at >= 0)
				p.state = B(E_EEXIST);
			else if (m->n >= PTAG_MAX_TAGS)
				p.state = B(E_ENOSPC);
			else if (!p.must) {
				p.state = B(E_OK);
				p.ok_value = 0;
				memcpy(p.newtag.key, c.keybuf, klen);
				p.newtag.key[klen] = 0;
				p.newtag.klen = klen;
				if (a->value_len)
					memcpy(p.newtag.val, (void *)(uintptr_t)a->value, a->value_len);
				p.newtag.vlen = a->value_len;
				p.newtag.owner = w.uid;
			}
		} else if (!m) {
			/* PID 1: not modelled; any non-input outcome */
			p.state = B(E_OK) | B(E_ENOENT) | B(E_ERANGE) | B(E_EFAULT);
			p.unknown = false;
			p.ok_value = -1;
		} else if (a->key) {
			int at = model_find(m, (const char *)c.keybuf, klen);

			if (at < 0) {
				p.state = B(E_ENOENT);
			} else {
				const struct tag *tg = &m->t[at];

				if (!a->value_len && c.args_kind == K_RO) {
					/* a size probe reports the owner too (v2) */
					p.state = B(E_EFAULT);
				} else if (!a->value_len) {
					p.state = B(E_OK);
					p.ok_value = tg->vlen;
					p.check_owner = true;
					p.expect_owner = tg->owner;
				} else if (a->value_len < tg->vlen) {
					p.state = B(E_ERANGE);
				} else if (tg->vlen && out_writable < tg->vlen) {
					p.state = B(E_EFAULT);
				} else if (c.args_kind == K_RO) {
					p.state = B(E_EFAULT); /* owner cannot be written back */
				} else {
					p.state = B(E_OK);
					p.ok_value = tg->vlen;
					p.check_out = true;
					p.expect = tg->val;
					p.expect_len = tg->vlen;
					p.check_owner = true;
					p.expect_owner = tg->owner;
				}
			}
		} else {
			static unsigned char list[PTAG_MAX_TAGS * (PTAG_KEY_MAX + 1)];
			size_t total = 0;

			for (i = 0; i < m->n; i++) {
				memcpy(list + total, m->t[i].key, m->t[i].klen + 1);
				total += m->t[i].klen + 1;
			}
			if (!a->value_len) {
				p.state = B(E_OK);
				p.ok_value = total;
			} else if (a->value_len < total) {
				p.state = B(E_ERANGE);
			} else if (total && out_writable < total) {
				p.state = B(E_EFAULT);
			} else {
				p.state = B(E_OK);
				p.ok_value = total;
				p.check_out = true;
				p.expect = list;
				p.expect_len = total;
			}
		}
	}

	/* ---- call ---- */
	ret = ptag_call(c.op, c.argp, c.size, c.a4, c.a5);

	/* ---- check ---- */
	{
		int e = e_index(ret);
		unsigned int doc = c.op == PR_SET_PTAG ? DOC_SET : DOC_GET;

		ADD(calls, 1);
		if (c.op == PR_SET_PTAG)
			ADD(set_calls, 1);
		else
			ADD(get_calls, 1);
		ADD(res[c.op == PR_GET_PTAG][e], 1);
		if (c.racy)
			ADD(racy_calls, 1);

		if (e == E_OTHER || (e != E_OK && !(doc & B(e)))) {
			fail(&c, doc, ret, "undocumented errno");
			return;
		}
		if (c.op == PR_SET_PTAG && e == E_OK && ret != 0) {
			fail(&c, B(E_OK), ret, "SET returned non-zero success");
			return;
		}
		if (c.op == PR_GET_PTAG && e == E_OK &&
		    ret > (a->key && c.args_kind != K_RACY ? PTAG_VALUE_MAX :
						      PTAG_MAX_TAGS * (PTAG_KEY_MAX + 1))) {
			fail(&c, B(E_OK), ret, "GET returned an impossible length");
			return;
		}
		if (p.unknown) {
			/* racing page: any documented result; learn what a SET did */
			if (c.op == PR_SET_PTAG && e == E_OK) {
				/* a racing struct is the page's template: no pidfd */
				int t = (a->flags & PTAG_F_PIDFD) && c.args_kind != K_RACY ? c.target :
											     T_SELF;
				int mi = target_model(t);
				struct model now;
				int n;

				if (mi < 0) {
					fail(&c, doc, ret, "SET succeeded on a target that cannot be set");
					return;
				}
				n = read_tags(target_fd(t == T_SELF ? T_SELF : t), &now);
				if (n != w.m[mi].n + 1) {
					fail(&c, doc, n, "racy SET succeeded but did not add exactly one tag");
					return;
				}
				for (i = 0; i < w.m[mi].n; i++)
					if (!tag_eq(&now.t[i], &w.m[mi].t[i])) {
						fail(&c, doc, ret, "racy SET changed an existing tag");
						return;
					}
				if (!tag_syntax_ok(&now.t[n - 1]) || now.t[n - 1].owner != w.uid) {
					fail(&c, doc, ret, "racy SET added an invalid tag");
					return;
				}
				w.m[mi].t[w.m[mi].n++] = now.t[n - 1];
				ADD(set_success_pidfd, 1);
			}
			return;
		}
		if (p.must) {
			unsigned int ok = p.must | (p.state & ~B(E_OK));

			if (!(ok & B(e)))
				fail(&c, ok, ret, "input error not reported as documented");
			return;
		}
		if (!(p.state & B(e))) {
			fail(&c, p.state, ret, "result differs from the contract's model");
			return;
		}
		if (e != E_OK)
			return;
		if (p.ok_value >= 0 && ret != p.ok_value) {
			fail(&c, p.state, ret, "wrong length returned");
			return;
		}
		if (c.op == PR_SET_PTAG) {
			struct model *m = &w.m[p.mi];

			m->t[m->n++] = p.newtag;
			if (p.mi == M_SELF && c.target == T_SELF)
				ADD(set_success_self, 1);
			else
				ADD(set_success_pidfd, 1);
			return;
		}
		if (p.check_out) {
			const unsigned char *out = (const unsigned char *)(uintptr_t)a->value;
			size_t room = out_writable - p.expect_len;

			if (memcmp(out, p.expect, p.expect_len)) {
				fail(&c, p.state, ret, "GET copied wrong bytes");
				return;
			}
			for (size_t k = 0; k < room && k < 64; k++)
				if (out[p.expect_len + k] != 0xa5) {
					fail(&c, p.state, ret, "GET wrote past the value/list");
					return;
				}
		}
		if (p.check_owner) {
			uint32_t owner;

			memcpy(&owner, c.argp + offsetof(struct ptag_args, owner), 4);
			if (owner != p.expect_owner) {
				fail(&c, p.state, owner, "GET reported the wrong owner");
				return;
			}
		}
	}
}

/* ---- setup and teardown of a worker ----------------------------------- */

static unsigned char *map_guarded(size_t pages, int prot)
{
	unsigned char *p = mmap(NULL, (pages + 1) * PG, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	mprotect(p + pages * PG, PG, PROT_NONE);
	if (prot != (PROT_READ | PROT_WRITE))
		mprotect(p, pages * PG, prot);
	return p;
}

/* A victim: tags itself, changes uid if asked, then waits to be killed. */
static pid_t spawn_victim(int mi, uid_t uid, bool exit_at_once, int *pidfd)
{
	int ready[2], go[2];
	pid_t pid;
	char c;

	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC)) {
		perror("pipe");
		exit(2);
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (!pid) {
		char key[32], val[32];
		struct ptag_args a = { .key = (uintptr_t)key, .value = (uintptr_t)val };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (uid && (setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(3);
		prctl(PR_SET_DUMPABLE, 1);
		snprintf(key, sizeof(key), "victim");
		a.value_len = snprintf(val, sizeof(val), "v%d uid %u", mi, uid);
		if (ptag_call(PR_SET_PTAG, &a, sizeof(a), 0, 0))
			_exit(4);
		if (write(ready[1], "r", 1) != 1)
			_exit(5);
		if (read(go[0], &c, 1) < 0)
			_exit(6);
		if (exit_at_once)
			_exit(0);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "fuzz: victim %d did not start\n", mi);
		exit(2);
	}
	close(ready[0]);
	*pidfd = sys_pidfd_open(pid, 0);
	if (*pidfd < 0) {
		perror("pidfd_open");
		exit(2);
	}
	if (mi >= 0) {
		struct model *m = &w.m[mi];

		m->n = 1;
		strcpy(m->t[0].key, "victim");
		m->t[0].klen = 6;
		m->t[0].vlen = snprintf((char *)m->t[0].val, sizeof(m->t[0].val), "v%d uid %u", mi,
					uid);
		m->t[0].owner = uid;
		m->pid = pid;
	}
	if (write(go[1], "g", 1) != 1)
		exit(2);
	close(go[1]);
	ADD(forks, 1);
	return pid;
}

static bool final_check(int mi, int fd, pid_t pid)
{
	struct model now;
	char path[64], buf[16384], expect[16384];
	size_t len = 0;
	ssize_t n;
	int i, cnt, pf;

	cnt = read_tags(fd, &now);
	if (cnt != w.m[mi].n) {
		printf("FAIL fuzz seed=%" PRIu64 " worker=%lu: final: target %d has %d tags, model %d\n",
		       w.seed, w.idx, mi, cnt, w.m[mi].n);
		return false;
	}
	for (i = 0; i < cnt; i++)
		if (!tag_eq(&now.t[i], &w.m[mi].t[i])) {
			printf("FAIL fuzz seed=%" PRIu64 " worker=%lu: final: target %d tag %d (%s) "
			       "differs from the model\n", w.seed, w.idx, mi, i, now.t[i].key);
			return false;
		}
	/* /proc/<pid>/ptags says the same, in its documented format */
	for (i = 0; i < cnt; i++) {
		const struct tag *t = &w.m[mi].t[i];

		len += snprintf(expect + len, sizeof(expect) - len, "%u %s=", t->owner, t->key);
		memcpy(expect + len, t->val, t->vlen);
		len += t->vlen;
		expect[len++] = '\n';
	}
	snprintf(path, sizeof(path), "/proc/%d/ptags", pid);
	pf = open(path, O_RDONLY | O_CLOEXEC);
	if (pf < 0) {
		printf("FAIL fuzz: final: open %s: %m\n", path);
		return false;
	}
	n = read(pf, buf, sizeof(buf));
	close(pf);
	if (n != (ssize_t)len || memcmp(buf, expect, len)) {
		printf("FAIL fuzz seed=%" PRIu64 " worker=%lu: final: %s differs from the model "
		       "(%zd bytes, expected %zu)\n", w.seed, w.idx, path, n, len);
		return false;
	}
	return true;
}

static void worker(uint64_t seed, unsigned long idx, unsigned long ncalls)
{
	uint64_t s = seed ^ (0x5851f42d4c957f2dull * (idx + 1));
	int devnull, pfd[2], i;
	pid_t reaped;
	bool ok = true;

	memset(&w, 0, sizeof(w));
	w.rng = rng_next(&s);
	w.seed = seed;
	w.idx = idx;
	w.unpriv = chance(20);
	w.racer_on = chance(40);
	for (i = 0; i < T_NR; i++)
		w.fd[i] = -1;

	w.args_area = map_guarded(3, PROT_READ | PROT_WRITE);
	w.key_area = map_guarded(1, PROT_READ | PROT_WRITE);
	w.val_area = map_guarded(1, PROT_READ | PROT_WRITE);
	w.out_area = map_guarded(2, PROT_READ | PROT_WRITE);
	w.ro_page = map_guarded(1, PROT_READ);
	w.ro_data = map_guarded(1, PROT_READ);
	w.racy = map_guarded(1, PROT_READ | PROT_WRITE);
	racy_fill(w.racy);
	for (i = 0; i < 48; i++) {
		static const int lens[] = { 1, 2, 5, 12, 63, 64 };
		int len = i < 6 ? lens[i] : 1 + (int)rnd(64), k;

		for (k = 0; k < len; k++)
			w.pool[i][k] = key_chars[rnd(sizeof(key_chars) - 1)];
		w.pool[i][0] = key_first[rnd(sizeof(key_first) - 1)];
		w.pool[i][len] = 0;
	}

	/* the targets */
	w.m[M_SELF].pid = getpid();
	spawn_victim(M_V0, 0, false, &w.fd[T_V0]);
	spawn_victim(M_V1, 1000, false, &w.fd[T_V1]);
	spawn_victim(M_V2, 1001, false, &w.fd[T_V2]);
	w.victims[M_ZOMBIE] = spawn_victim(M_ZOMBIE, 0, true, &w.fd[T_ZOMBIE]);
	{
		siginfo_t si;

		/* a zombie: exited, not reaped */
		waitid(P_PID, w.victims[M_ZOMBIE], &si, WEXITED | WNOWAIT);
	}
	reaped = spawn_victim(-1, 0, true, &w.fd[T_REAPED]);
	waitpid(reaped, NULL, 0);
	w.fd[T_SELF_PIDFD] = sys_pidfd_open(getpid(), 0);
	w.fd[T_INIT] = sys_pidfd_open(1, 0);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w.fd[T_DEVNULL] = devnull;
	if (pipe2(pfd, O_CLOEXEC) == 0)
		w.fd[T_PIPE] = pfd[0];
	w.fd[T_PROCDIR] = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* a closed fd that nothing will reuse: far above the ones in use */
	w.fd[T_CLOSED] = 700 + (int)rnd(200);
	if (fcntl(w.fd[T_CLOSED], F_GETFD) != -1)
		close(w.fd[T_CLOSED]);
	w.fd[T_NEGFD] = -1 - (int)rnd(3);

	if (w.racer_on) {
		if (pthread_create(&w.racer, NULL, racer_main, NULL)) {
			w.racer_on = false;
		} else {
			while (!__atomic_load_n(&w.racer_tid, __ATOMIC_ACQUIRE))
				sched_yield();
			w.fd[T_THREAD_PIDFD] = sys_pidfd_open(w.racer_tid, PIDFD_THREAD);
		}
	}

	{
		/* a hole, made after the last mapping the worker creates */
		unsigned char *u = map_guarded(1, PROT_READ | PROT_WRITE);

		munmap(u, 2 * PG);
		w.unmapped = (uintptr_t)u;
	}
	if (w.unpriv) {
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000)) {
			perror("setresuid");
			exit(2);
		}
		prctl(PR_SET_DUMPABLE, 1);
		ADD(unpriv_workers, 1);
	}
	w.uid = geteuid();

	for (unsigned long k = 0; k < ncalls; k++)
		do_call();

	if (w.racer_on) {
		w.racer_stop = 1;
		pthread_join(w.racer, NULL);
	}
	ok &= final_check(M_SELF, -1, getpid());
	ok &= final_check(M_V0, w.fd[T_V0], w.m[M_V0].pid);
	ok &= final_check(M_V1, w.fd[T_V1], w.m[M_V1].pid);
	ok &= final_check(M_V2, w.fd[T_V2], w.m[M_V2].pid);
	ok &= final_check(M_ZOMBIE, w.fd[T_ZOMBIE], w.m[M_ZOMBIE].pid);
	if (!ok) {
		ADD(failures, 1);
		ADD(final_mismatches, 1);
	}
	fflush(stdout);
	/* victims die with us (PDEATHSIG) */
	_exit(0);
}

/* ---- supervisor ------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr, "usage: fuzz [--seed N] [--calls N] [--jobs J] [--max-seconds S] "
			"[--json FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0, t0;
	unsigned long calls = 1000000, jobs = 2, idx = 0, running = 0, assigned = 0;
	double max_seconds = 0;
	const char *json = NULL;
	int i, status, bad_exit = 0;
	bool seeded = false, timed_out = false;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0), seeded = true;
		else if (!strcmp(argv[i], "--calls") && i + 1 < argc)
			calls = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
			jobs = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
			max_seconds = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else
			usage();
	}
	if (!seeded)
		seed = now_ns() ^ ((uint64_t)getpid() << 32);
	if (getuid()) {
		fprintf(stderr, "fuzz: needs root (victims of several uids)\n");
		return 2;
	}
	{
		struct ptag_args a = { .key = (uintptr_t)"fuzz.probe" };

		if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) != -ENOENT) {
			fprintf(stderr, "fuzz: the kernel lacks process tags (or this process has a "
					"fuzz.probe tag)\n");
			return 2;
		}
		a.key = 0;
		if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) != 0) {
			fprintf(stderr, "fuzz: the supervisor must start without tags\n");
			return 2;
		}
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("fuzz: seed=%" PRIu64 " calls=%lu jobs=%lu (reproduce: fuzz --seed %" PRIu64
	       " --calls %lu)\n", seed, calls, jobs, seed, calls);
	fflush(stdout);
	t0 = now_ns();
	{
		uint64_t plan = seed;

		while (assigned < calls || running) {
			if (max_seconds > 0 && (now_ns() - t0) / 1e9 > max_seconds && !timed_out) {
				timed_out = true;
				calls = assigned; /* finish the workers that run, start no more */
			}
			if (assigned < calls && running < jobs) {
				unsigned long n = 200 + rng_below(&plan, 3000);
				pid_t pid;

				if (n > calls - assigned)
					n = calls - assigned;
				fflush(stdout);
				pid = fork();
				if (pid < 0) {
					perror("fork");
					return 2;
				}
				if (!pid)
					worker(seed, idx, n);
				ADD(forks, 1);
				ADD(workers, 1);
				idx++;
				assigned += n;
				running++;
				continue;
			}
			if (waitpid(-1, &status, 0) > 0) {
				static uint64_t shown;

				running--;
				if (st->calls / 100000 > shown) {
					shown = st->calls / 100000;
					printf("fuzz: %" PRIu64 " calls, %" PRIu64 " failures, %.0f s\n",
					       st->calls, st->failures, (now_ns() - t0) / 1e9);
					fflush(stdout);
				}
				if (!WIFEXITED(status) || WEXITSTATUS(status)) {
					printf("FAIL fuzz: a worker ended with status %#x\n", status);
					bad_exit++;
				}
			}
		}
	}
	{
		double secs = (now_ns() - t0) / 1e9;
		FILE *f;

		printf("fuzz: %" PRIu64 " calls (%" PRIu64 " SET, %" PRIu64 " GET) in %.1f s by %" PRIu64
		       " workers (%" PRIu64 " unprivileged), %" PRIu64 " forks, %" PRIu64
		       " racing-page calls%s\n", st->calls, st->set_calls, st->get_calls, secs,
		       st->workers, st->unpriv_workers, st->forks, st->racy_calls,
		       timed_out ? " (stopped by --max-seconds)" : "");
		for (int op = 0; op < 2; op++) {
			printf("fuzz: %s results:", op ? "GET" : "SET");
			for (i = 0; i < E_NR; i++)
				if (st->res[op][i])
					printf(" %s=%" PRIu64, e_names[i], st->res[op][i]);
			printf("\n");
		}
		printf("fuzz: tags set: %" PRIu64 " on itself, %" PRIu64 " by pidfd; byte sweeps: "
		       "%" PRIu64 " keys, %" PRIu64 " values\n", st->set_success_self,
		       st->set_success_pidfd, st->byte_sweep[0], st->byte_sweep[1]);
		printf("fuzz: failures=%" PRIu64 " (undocumented errnos %" PRIu64 ", contract "
		       "mismatches %" PRIu64 ", final-state mismatches %" PRIu64 ", bad worker exits %d)\n",
		       st->failures, st->undocumented, st->mismatches, st->final_mismatches, bad_exit);
		if (json && (f = fopen(json, "w"))) {
			fprintf(f, "{\"seed\": %" PRIu64 ", \"calls\": %" PRIu64 ", \"set_calls\": %" PRIu64
				   ", \"get_calls\": %" PRIu64 ", \"seconds\": %.2f, \"workers\": %" PRIu64
				   ", \"unprivileged_workers\": %" PRIu64 ", \"forks\": %" PRIu64
				   ", \"racing_page_calls\": %" PRIu64 ", \"tags_set_self\": %" PRIu64
				   ", \"tags_set_pidfd\": %" PRIu64 ", \"byte_sweep_keys\": %" PRIu64
				   ", \"byte_sweep_values\": %" PRIu64 ", \"stopped_by_time\": %s",
				seed, st->calls, st->set_calls, st->get_calls, secs, st->workers,
				st->unpriv_workers, st->forks, st->racy_calls, st->set_success_self,
				st->set_success_pidfd, st->byte_sweep[0], st->byte_sweep[1],
				timed_out ? "true" : "false");
			for (int op = 0; op < 2; op++) {
				fprintf(f, ", \"%s_results\": {", op ? "get" : "set");
				int first = 1;

				for (i = 0; i < E_NR; i++)
					if (st->res[op][i]) {
						fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
							e_names[i], st->res[op][i]);
						first = 0;
					}
				fprintf(f, "}");
			}
			fprintf(f, ", \"failures\": %" PRIu64 ", \"undocumented_errnos\": %" PRIu64
				   ", \"contract_mismatches\": %" PRIu64 ", \"final_state_mismatches\": %"
				   PRIu64 ", \"bad_worker_exits\": %d}\n",
				st->failures + bad_exit, st->undocumented, st->mismatches,
				st->final_mismatches, bad_exit);
			fclose(f);
		}
		return st->failures || bad_exit ? 1 : 0;
	}
}
