// SPDX-License-Identifier: GPL-2.0
/*
 * ptag kernel benchmarks: each figure is a ratio of two timings taken side by
 * side in one run, interleaved round by round (ABAB, the order alternating),
 * reported as the median over the rounds, with every raw timing kept.
 *
 *   bench [--rounds N] [--children N] [--json FILE]
 *
 *   fork_exit      fork()+_exit()+waitpid() from a parent with 32 tags (of
 *                  maximal size) vs from an identical parent with none;
 *   get            PR_GET_PTAG of one key (1 tag set) vs PR_GET_NAME;
 *   get_32         the same, the last of 32 tags;
 *   set            PR_SET_PTAG of 31 new keys in a fresh child vs 31
 *                  PR_GET_NAME in the same child, summed over many children;
 *   set_full       one PR_SET_PTAG of a maximal tag in a fresh child of a
 *                  parent with 31 maximal tags (the new set is 32 maximal tags,
 *                  10688 bytes: above the largest kmalloc cache) vs the same
 *                  call in a fresh child of an untagged parent (a 1-tag set);
 *   proc           open+read+close of /proc/<pid>/ptags (4 tags) vs
 *                  /proc/<pid>/cgroup of the same process (in a container-like
 *                  cgroup, when cgroup2 is writable);
 *   proc_32        the same with 32 maximal tags;
 *   reference      getppid() and a user-space loop: an in-run yardstick, so
 *                  that runs on different kernels (booted separately) can be
 *                  compared as fork_exit(0 tags) / getppid;
 *   memory         slab bytes (meminfo and /proc/slabinfo) after forking N
 *                  children that stay alive from a parent with 32 maximal tags,
 *                  vs from an untagged parent: the difference is the cost of
 *                  the tags (one shared set, not one per child);
 *   task_struct    the object size of the task_struct slab cache.
 *
 * On a kernel without process tags only the reference, fork_exit(0 tags),
 * memory(0 tags) and task_struct are measured.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../torture/ptag_abi.h"

static int rounds = 11;
static int children = 10000;
static bool have_ptag;
static FILE *js;
static bool js_first = true;

/* ---- small helpers ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double *c = malloc(n * sizeof(*c));
	double m;

	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	free(c);
	return m;
}

static void js_key(const char *k)
{
	fprintf(js, "%s\n  \"%s\": ", js_first ? "" : ",", k);
	js_first = false;
}

static void js_array(const double *v, int n)
{
	fprintf(js, "[");
	for (int i = 0; i < n; i++)
		fprintf(js, "%s%.7g", i ? ", " : "", v[i]);
	fprintf(js, "]");
}

/*
 * Reports one A-vs-B figure: per-round ns/op of each side, their ratios, and
 * the medians.
 */
static void report(const char *name, const char *a_name, const char *b_name, const double *a,
		   const double *b, int n, const char *unit, const char *note)
{
	double ratio[64] = { 0 }, lo, hi;

	for (int i = 0; i < n; i++)
		ratio[i] = a[i] / b[i];
	lo = hi = ratio[0];
	for (int i = 1; i < n; i++) {
		lo = ratio[i] < lo ? ratio[i] : lo;
		hi = ratio[i] > hi ? ratio[i] : hi;
	}
	double amin = a[0], bmin = b[0];

	for (int i = 1; i < n; i++) {
		amin = a[i] < amin ? a[i] : amin;
		bmin = b[i] < bmin ? b[i] : bmin;
	}
	printf("bench: %-9s %s %.1f %s vs %s %.1f %s: ratio %.3f (median of %d rounds, "
	       "%.3f..%.3f; ratio of the fastest rounds %.3f)\n", name, a_name, median(a, n), unit,
	       b_name, median(b, n), unit, median(ratio, n), n, lo, hi, amin / bmin);
	{
		js_key(name);
		fprintf(js, "{\"a\": \"%s\", \"b\": \"%s\", \"unit\": \"%s\", \"rounds\": %d, "
			    "\"a_median\": %.7g, \"b_median\": %.7g, \"ratio_median\": %.4f, "
			    "\"ratio_min\": %.4f, \"ratio_max\": %.4f, \"ratio_of_min\": %.4f, "
			    "\"a_raw\": ",
			a_name, b_name, unit, n, median(a, n), median(b, n), median(ratio, n), lo,
			hi, amin / bmin);
		js_array(a, n);
		fprintf(js, ", \"b_raw\": ");
		js_array(b, n);
		fprintf(js, ", \"ratio_raw\": ");
		js_array(ratio, n);
		if (note)
			fprintf(js, ", \"note\": \"%s\"", note);
		fprintf(js, "}");
	}
	fflush(stdout);
}

static int set_tag(const char *key, const char *val, size_t vlen)
{
	struct ptag_args a = { .key = (uintptr_t)key, .value = (uintptr_t)val,
			       .value_len = (uint32_t)vlen };

	return (int)ptag_call(PR_SET_PTAG, &a, sizeof(a), 0, 0);
}

/*
 * @n tags; @big: 64-byte keys and @big-byte values (1: 256), else
 * container-like ones.
 */
static void tag_self(int n, int big)
{
	char key[PTAG_KEY_MAX + 1], val[PTAG_VALUE_MAX];

	for (int i = 0; i < n; i++) {
		size_t vlen;

		if (big) {
			memset(key, 'k', PTAG_KEY_MAX);
			snprintf(key, sizeof(key), "%02d", i);
			key[2] = 'k';
			key[PTAG_KEY_MAX] = 0;
			vlen = big == 1 ? sizeof(val) : (size_t)big;
			memset(val, 'v', vlen);
		} else {
			static const char *const keys[] = { "container.id", "container.name",
							    "container.runtime", "k8s.pod" };

			snprintf(key, sizeof(key), "%s", i < 4 ? keys[i] : "x");
			if (i >= 4)
				snprintf(key, sizeof(key), "label.%d", i);
			vlen = snprintf(val, sizeof(val),
					"3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1%d",
					i);
		}
		if (set_tag(key, val, vlen)) {
			fprintf(stderr, "bench: PR_SET_PTAG %s: %m\n", key);
			exit(2);
		}
	}
}

static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- a server process: runs a timed job on request ------------------- */

enum job { J_FORK, J_GET_PTAG, J_GET_NAME, J_READ_PTAGS, J_READ_CGROUP, J_GET_EINVAL,
	   J_GET_PROBE, J_GET_ENOENT, J_SET_FORKED, J_QUIT };

struct server {
	pid_t pid;
	int req, resp;
};

static char target_ptags[64], target_cgroup[64];
static const char *get_key = "container.id";

/*
 * @n fresh children, each timing one PR_SET_PTAG of a new maximal tag (a
 * 64-byte key no tag_self() key equals, a 256-byte value): mean ns per call.
 */
static double set_forked(long n)
{
	double sum = 0;

	for (long i = 0; i < n; i++) {
		int p[2];
		double ns;
		pid_t pid;

		if (pipe(p))
			exit(2);
		pid = fork();
		if (!pid) {
			char key[PTAG_KEY_MAX + 1], val[PTAG_VALUE_MAX];
			uint64_t t0;
			int r;

			memset(key, 'z', PTAG_KEY_MAX);
			key[PTAG_KEY_MAX] = 0;
			memset(val, 'v', sizeof(val));
			t0 = now_ns();
			r = set_tag(key, val, sizeof(val));
			ns = (double)(now_ns() - t0);
			if (r || write(p[1], &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		if (read(p[0], &ns, sizeof(ns)) != sizeof(ns)) {
			fprintf(stderr, "bench: a set_full child failed\n");
			exit(2);
		}
		close(p[0]);
		waitpid(pid, NULL, 0);
		sum += ns;
	}
	return sum / n;
}

static double run_job(int job, long n)
{
	char name[16], buf[16384];
	struct ptag_args a = { .key = (uintptr_t)get_key, .value = (uintptr_t)buf,
			       .value_len = PTAG_VALUE_MAX };
	uint64_t t0 = now_ns();
	int status, fd;

	switch (job) {
	case J_FORK:
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();

			if (!pid)
				_exit(0);
			waitpid(pid, &status, 0);
		}
		break;
	case J_GET_PTAG:
		for (long i = 0; i < n; i++)
			if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) < 0)
				abort();
		break;
	case J_GET_NAME:
		for (long i = 0; i < n; i++)
			prctl(PR_GET_NAME, name);
		break;
	case J_GET_EINVAL: /* rejected right after copying the struct in */
		a.flags = 2;
		for (long i = 0; i < n; i++)
			ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
		break;
	case J_GET_PROBE: /* the whole lookup, nothing copied out */
		a.value_len = 0;
		for (long i = 0; i < n; i++)
			ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
		break;
	case J_GET_ENOENT: /* key copied in and searched for, not found */
		a.key = (uintptr_t)"container.missing";
		for (long i = 0; i < n; i++)
			ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
		break;
	case J_SET_FORKED: /* one timed SET per fresh child; the fork is not timed */
		return set_forked(n);
	case J_READ_PTAGS:
	case J_READ_CGROUP:
		for (long i = 0; i < n; i++) {
			fd = open(job == J_READ_PTAGS ? target_ptags : target_cgroup, O_RDONLY);
			if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
				abort();
			close(fd);
		}
		break;
	}
	return (double)(now_ns() - t0) / n;
}

static struct server start_server(int tags, int big)
{
	int req[2], resp[2];
	struct server s;

	if (pipe(req) || pipe(resp))
		exit(2);
	s.pid = fork();
	if (!s.pid) {
		long msg[2];

		close(req[1]);
		close(resp[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (tags)
			tag_self(tags, big);
		while (read(req[0], msg, sizeof(msg)) == sizeof(msg) && msg[0] != J_QUIT) {
			double ns = run_job((int)msg[0], msg[1]);

			if (write(resp[1], &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
		}
		_exit(0);
	}
	close(req[0]);
	close(resp[1]);
	s.req = req[1];
	s.resp = resp[0];
	return s;
}

static double ask(struct server *s, int job, long n)
{
	long msg[2] = { job, n };
	double ns;

	if (write(s->req, msg, sizeof(msg)) != sizeof(msg) ||
	    read(s->resp, &ns, sizeof(ns)) != sizeof(ns)) {
		fprintf(stderr, "bench: a server died\n");
		exit(2);
	}
	return ns;
}

static void stop_server(struct server *s)
{
	long msg[2] = { J_QUIT, 0 };

	if (write(s->req, msg, sizeof(msg)) < 0)
		return;
	waitpid(s->pid, NULL, 0);
	close(s->req);
	close(s->resp);
}

/* Iterations for a job to take about @ms milliseconds on server @s. */
static long calibrate(struct server *s, int job, double ms)
{
	long n = 16;
	double ns;

	for (;;) {
		ns = ask(s, job, n);
		if (ns * n >= ms * 1e6 / 4 || n > 1 << 26)
			break;
		n *= 4;
	}
	n = (long)(ms * 1e6 / ns);
	return n < 8 ? 8 : n;
}

/* Interleaved A/B rounds of @n operations of one job on two servers. */
static void ab_n(const char *name, struct server *sa, int ja, const char *an, struct server *sb,
		 int jb, const char *bn, long n, const char *note)
{
	double a[64], b[64];

	ask(sa, ja, n / 4 + 1); /* warm up */
	ask(sb, jb, n / 4 + 1);
	for (int r = 0; r < rounds; r++) {
		if (r % 2) {
			b[r] = ask(sb, jb, n);
			a[r] = ask(sa, ja, n);
		} else {
			a[r] = ask(sa, ja, n);
			b[r] = ask(sb, jb, n);
		}
	}
	report(name, an, bn, a, b, rounds, "ns/op", note);
}

/* The same, each round of B taking about @ms milliseconds. */
static void ab(const char *name, struct server *sa, int ja, const char *an, struct server *sb,
	       int jb, const char *bn, double ms, const char *note)
{
	ab_n(name, sa, ja, an, sb, jb, bn, calibrate(sb, jb, ms), note);
}

/* ---- SET: 31 new keys per fresh child --------------------------------- */

static void bench_set(void)
{
	double a[64], b[64];
	int per_round = 64;

	for (int r = 0; r < rounds; r++) {
		double tset = 0, tname = 0;

		for (int c = 0; c < per_round; c++) {
			int p[2];
			double res[2];
			pid_t pid;

			if (pipe(p))
				exit(2);
			pid = fork();
			if (!pid) {
				char keys[31][32], val[40], name[16];
				uint64_t t0, t1, t2;

				for (int i = 0; i < 31; i++)
					snprintf(keys[i], sizeof(keys[i]), "bench.key.%d", i);
				memset(val, 'v', 32);
				/* alternate which goes first */
				if (c % 2) {
					t0 = now_ns();
					for (int i = 0; i < 31; i++)
						prctl(PR_GET_NAME, name);
					t1 = now_ns();
					for (int i = 0; i < 31; i++)
						if (set_tag(keys[i], val, 32))
							_exit(1);
					t2 = now_ns();
					res[0] = t2 - t1;
					res[1] = t1 - t0;
				} else {
					t0 = now_ns();
					for (int i = 0; i < 31; i++)
						if (set_tag(keys[i], val, 32))
							_exit(1);
					t1 = now_ns();
					for (int i = 0; i < 31; i++)
						prctl(PR_GET_NAME, name);
					t2 = now_ns();
					res[0] = t1 - t0;
					res[1] = t2 - t1;
				}
				if (write(p[1], res, sizeof(res)) != sizeof(res))
					_exit(1);
				_exit(0);
			}
			close(p[1]);
			if (read(p[0], res, sizeof(res)) != sizeof(res)) {
				fprintf(stderr, "bench: a SET child failed\n");
				exit(2);
			}
			close(p[0]);
			waitpid(pid, NULL, 0);
			tset += res[0];
			tname += res[1];
		}
		a[r] = tset / (31.0 * per_round);
		b[r] = tname / (31.0 * per_round);
	}
	report("set", "PR_SET_PTAG (new key, 0..30 tags present)", "PR_GET_NAME", a, b, rounds,
	       "ns/op",
	       "31 new keys per fresh child (32-byte values), timed as one batch, vs 31 "
	       "PR_GET_NAME in the same child; freeing the replaced sets happens after an RCU "
	       "grace period and is not in the figure");
}

/* ---- memory ----------------------------------------------------------- */

static bool cache_found;

struct slabsnap {
	long slab_kb;
	long cache_bytes; /* the kmalloc cache a 32-tag set lives in */
	long cache_objs;
};

/*
 * The memory test's parent has 32 tags of 64-byte keys and 150-byte values: a
 * 7296-byte set, which lives in the kmalloc-cg-8k slab cache (GFP_KERNEL_ACCOUNT)
 * where it can be counted.  (A set of 32 maximal tags, 10688 bytes, is above
 * the largest kmalloc cache and comes from the page allocator: it would show in
 * meminfo's Slab but not in /proc/slabinfo.)
 */
#define MEM_VALUE 150
static const char *set_cache = "kmalloc-cg-8k";

static void snap(struct slabsnap *s)
{
	char line[512];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(s, 0, sizeof(*s));
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Slab:", 5))
			s->slab_kb = atol(line + 5);
	if (f)
		fclose(f);
	f = fopen("/proc/slabinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char name[64];
		long active, num, objsize;

		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &objsize) == 4 &&
		    !strcmp(name, set_cache)) {
			cache_found = true;
			s->cache_objs = active;
			s->cache_bytes = active * objsize;
		}
	}
	if (f)
		fclose(f);
}

static long slab_objsize(const char *cache)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");
	long size = -1;

	while (f && fgets(line, sizeof(line), f)) {
		char name[64];
		long active, num, objsize;

		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &num, &objsize) == 4 &&
		    !strcmp(name, cache))
			size = objsize;
	}
	if (f)
		fclose(f);
	return size;
}

/* Forks @n children of a parent with @tags tags; returns the slab growth. */
static void memory_run(int tags, int n, struct slabsnap *delta, long *failed)
{
	int p[2], q[2];
	pid_t parent;
	struct slabsnap before, after;
	char c;

	if (pipe(p) || pipe(q))
		exit(2);
	sync();
	{
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

		if (fd >= 0) {
			if (write(fd, "2", 1) < 0)
				perror("drop_caches");
			close(fd);
		}
	}
	sleep(1);
	snap(&before);
	parent = fork();
	if (!parent) {
		int made = 0;

		close(p[0]);
		close(q[1]);
		if (tags)
			tag_self(tags, MEM_VALUE);
		for (int i = 0; i < n; i++) {
			pid_t pid = fork();

			if (!pid) {
				/* stay alive until the parent's pipe closes */
				char x;

				if (read(q[0], &x, 1) < 0)
					_exit(1);
				_exit(0);
			}
			if (pid > 0)
				made++;
		}
		if (write(p[1], &made, sizeof(made)) < 0)
			_exit(1);
		/* wait for the snapshot, then let the children go */
		if (read(q[0], &c, 1) < 0)
			_exit(1);
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	{
		int made = 0;

		if (read(p[0], &made, sizeof(made)) != sizeof(made))
			exit(2);
		*failed = n - made;
	}
	sleep(1);
	snap(&after);
	close(q[1]); /* everyone's read() returns 0: children and parent exit */
	waitpid(parent, NULL, 0);
	close(p[0]);
	delta->slab_kb = after.slab_kb - before.slab_kb;
	delta->cache_objs = after.cache_objs - before.cache_objs;
	delta->cache_bytes = after.cache_bytes - before.cache_bytes;
}

static void bench_memory(void)
{
	struct slabsnap d0, d32;
	long f0 = 0, f32 = 0;
	double set_bytes = 32 + 32 * 12 + 32 * (PTAG_KEY_MAX + 1 + MEM_VALUE);

	memory_run(0, children, &d0, &f0);
	if (have_ptag)
		memory_run(32, children, &d32, &f32);
	printf("bench: memory    %d children of an untagged parent: slab %+ld kB (%.0f B/child), "
	       "%s %+ld objects\n", children - (int)f0, d0.slab_kb,
	       d0.slab_kb * 1024.0 / children, set_cache, d0.cache_objs);
	if (have_ptag)
		printf("bench: memory    %d children of a parent with 32 tags (one set: %.0f "
		       "bytes): slab %+ld kB (%.0f B/child), %s %+ld objects; difference %+ld kB "
		       "(%+.1f B/child; a set per child would be %.0f kB)\n",
		       children - (int)f32, set_bytes, d32.slab_kb, d32.slab_kb * 1024.0 / children,
		       set_cache, d32.cache_objs, d32.slab_kb - d0.slab_kb,
		       (d32.slab_kb - d0.slab_kb) * 1024.0 / children, children * 8192 / 1024.0);
	js_key("memory");
	fprintf(js, "{\"children\": %d, \"tags\": \"32 tags, 64-byte keys, %d-byte values\", "
		    "\"set_cache\": \"%s\", \"set_cache_in_slabinfo\": %s, \"set_bytes\": %.0f, "
		    "\"untagged\": {\"failed_forks\": %ld, \"slab_kb_delta\": %ld, "
		    "\"set_cache_objs_delta\": %ld}",
		children, MEM_VALUE, set_cache, cache_found ? "true" : "false", set_bytes, f0,
		d0.slab_kb, d0.cache_objs);
	if (have_ptag)
		fprintf(js, ", \"tags32\": {\"failed_forks\": %ld, \"slab_kb_delta\": %ld, "
			    "\"set_cache_objs_delta\": %ld}, \"tag_cost_kb\": %ld, "
			    "\"tag_cost_bytes_per_child\": %.1f, \"deep_copy_would_be_kb\": %.0f",
			f32, d32.slab_kb, d32.cache_objs, d32.slab_kb - d0.slab_kb,
			(d32.slab_kb - d0.slab_kb) * 1024.0 / children, children * 8192 / 1024.0);
	fprintf(js, "}");
}

/* ---- the whole run ---------------------------------------------------- */

/* A process to read /proc files of: in a container-like cgroup if possible. */
static pid_t start_target(int tags, int big, char *cgpath, size_t cap)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		exit(2);
	pid = fork();
	if (!pid) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (tags)
			tag_self(tags, big);
		if (write(p[1], "r", 1) < 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		exit(2);
	close(p[0]);
	snprintf(cgpath, cap, "/");
	{
		const char *dir = "/sys/fs/cgroup/system.slice/"
				  "docker-3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1.scope";
		char procs[512];
		int fd;

		mkdir("/sys/fs/cgroup/system.slice", 0755);
		mkdir(dir, 0755);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		fd = open(procs, O_WRONLY);
		if (fd >= 0) {
			char num[16];
			int len = snprintf(num, sizeof(num), "%d", pid);

			if (write(fd, num, len) == len)
				snprintf(cgpath, cap, "%s", dir + strlen("/sys/fs/cgroup"));
			close(fd);
		}
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *json = "/dev/null";
	double gp[64], ul[64], f0[64];
	struct utsname_like { char r[256]; } rel = { "" };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--children") && i + 1 < argc)
			children = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else {
			fprintf(stderr, "usage: bench [--rounds N] [--children N] [--json FILE]\n");
			return 2;
		}
	}
	if (rounds < 5 || rounds > 64) {
		fprintf(stderr, "bench: --rounds must be 5..64\n");
		return 2;
	}
	{
		struct ptag_args a = { .key = (uintptr_t)"bench.probe" };
		long r = ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);

		have_ptag = r == -ENOENT;
		if (!have_ptag && r != -EINVAL) {
			fprintf(stderr, "bench: PR_GET_PTAG probe returned %ld\n", r);
			return 2;
		}
	}
	{
		FILE *f = fopen("/proc/sys/kernel/osrelease", "r");

		if (f) {
			if (!fgets(rel.r, sizeof(rel.r), f))
				rel.r[0] = 0;
			rel.r[strcspn(rel.r, "\n")] = 0;
			fclose(f);
		}
	}
	{
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };

		setrlimit(RLIMIT_NPROC, &rl);
	}
	js = fopen(json, "w");
	if (!js) {
		perror(json);
		return 2;
	}
	pin_cpu();
	fprintf(js, "{");
	js_key("kernel_release");
	fprintf(js, "\"%s\"", rel.r);
	js_key("ptag");
	fprintf(js, "%s", have_ptag ? "true" : "false");
	js_key("rounds");
	fprintf(js, "%d", rounds);
	js_key("task_struct_objsize");
	fprintf(js, "%ld", slab_objsize("task_struct"));
	printf("bench: kernel %s, process tags %s, task_struct slab object %ld bytes, %d rounds\n",
	       rel.r, have_ptag ? "yes" : "no", slab_objsize("task_struct"), rounds);
	fflush(stdout);

	{
		struct server s0 = start_server(0, 0), s32 = start_server(have_ptag ? 32 : 0, 1);
		long n = calibrate(&s0, J_FORK, 250);

		/* the references and fork from an untagged parent, interleaved */
		ask(&s0, J_FORK, n / 4 + 1);
		ask(&s32, J_FORK, n / 4 + 1);
		for (int r = 0; r < rounds; r++) {
			uint64_t t0;
			volatile unsigned long x = 0;
			long m = 200000;

			t0 = now_ns();
			for (long i = 0; i < m; i++)
				syscall(SYS_getppid);
			gp[r] = (double)(now_ns() - t0) / m;
			t0 = now_ns();
			for (long i = 0; i < m * 10; i++)
				x += i;
			ul[r] = (double)(now_ns() - t0) / (m * 10);
			f0[r] = ask(&s0, J_FORK, n);
		}
		{
			double norm[64], norm_u[64];

			for (int r = 0; r < rounds; r++) {
				norm[r] = f0[r] / gp[r];
				norm_u[r] = f0[r] / ul[r];
			}
			printf("bench: reference getppid %.1f ns, user loop %.2f ns/iter; "
			       "fork+exit (0 tags) %.0f ns = %.1f getppid = %.0f loop iters\n",
			       median(gp, rounds), median(ul, rounds), median(f0, rounds),
			       median(norm, rounds), median(norm_u, rounds));
			js_key("reference");
			fprintf(js, "{\"getppid_ns_median\": %.7g, \"user_loop_ns_median\": %.7g, "
				    "\"fork_exit_0tags_ns_median\": %.7g, "
				    "\"fork_exit_per_getppid_median\": %.4f, "
				    "\"fork_exit_per_user_loop_median\": %.4f, \"getppid_raw\": ",
				median(gp, rounds), median(ul, rounds), median(f0, rounds),
				median(norm, rounds), median(norm_u, rounds));
			js_array(gp, rounds);
			fprintf(js, ", \"user_loop_raw\": ");
			js_array(ul, rounds);
			fprintf(js, ", \"fork_exit_0tags_raw\": ");
			js_array(f0, rounds);
			fprintf(js, ", \"fork_exit_per_getppid_raw\": ");
			js_array(norm, rounds);
			fprintf(js, "}");
		}
		if (have_ptag)
			ab("fork_exit", &s32, J_FORK, "fork+exit, 32 tags", &s0, J_FORK,
			   "fork+exit, 0 tags", 250,
			   "32 tags of 64-byte keys and 256-byte values; the child exits at once");
		stop_server(&s0);
		stop_server(&s32);
	}
	if (have_ptag) {
		struct server s1 = start_server(1, 0), s32;
		char k32[PTAG_KEY_MAX + 1];

		ab("get", &s1, J_GET_PTAG, "PR_GET_PTAG", &s1, J_GET_NAME, "PR_GET_NAME", 200,
		   "one tag set (container.id, 65-byte value), read by key with a 256-byte buffer");
		/* where the time goes: the same call stopped at successive stages */
		ab("get_einval", &s1, J_GET_EINVAL, "PR_GET_PTAG rejected after the struct copy",
		   &s1, J_GET_NAME, "PR_GET_NAME", 200,
		   "breakdown: prctl entry and copy_struct_from_user() of the 40-byte struct only");
		ab("get_enoent", &s1, J_GET_ENOENT, "PR_GET_PTAG of a missing key", &s1, J_GET_NAME,
		   "PR_GET_NAME", 200,
		   "breakdown: struct and key copied in, set referenced and searched, ENOENT");
		ab("get_probe", &s1, J_GET_PROBE, "PR_GET_PTAG size probe (value_len 0)", &s1,
		   J_GET_NAME, "PR_GET_NAME", 200,
		   "breakdown: everything but copying the value and the owner out");
		stop_server(&s1);
		memset(k32, 'k', PTAG_KEY_MAX);
		snprintf(k32, sizeof(k32), "31");
		k32[2] = 'k';
		k32[PTAG_KEY_MAX] = 0;
		get_key = k32;
		s32 = start_server(32, 1);
		ab("get_32", &s32, J_GET_PTAG, "PR_GET_PTAG (last of 32)", &s32, J_GET_NAME,
		   "PR_GET_NAME", 200, "32 maximal tags, the last one read (a linear search)");
		stop_server(&s32);
		get_key = "container.id";
		bench_set();
		{
			struct server s31 = start_server(31, 1), s0 = start_server(0, 0);

			ab_n("set_full", &s31, J_SET_FORKED,
			     "PR_SET_PTAG of a 32nd maximal tag (31 present)", &s0, J_SET_FORKED,
			     "PR_SET_PTAG of a first maximal tag", 256,
			     "one call per fresh child, 256 children per round: a 64-byte key and a "
			     "256-byte value added to 31 maximal tags (the new set holds 32, 10688 "
			     "bytes) vs to none (a 1-tag set)");
			stop_server(&s31);
			stop_server(&s0);
		}
	}
	if (have_ptag) {
		static const int counts[] = { 4, 32 };

		for (int i = 0; i < 2; i++) {
			char cg[512];
			pid_t t = start_target(counts[i], counts[i] == 32, cg, sizeof(cg));
			struct server s = start_server(0, 0);
			char note[700];

			snprintf(target_ptags, sizeof(target_ptags), "/proc/%d/ptags", t);
			snprintf(target_cgroup, sizeof(target_cgroup), "/proc/%d/cgroup", t);
			stop_server(&s);
			s = start_server(0, 0); /* sees the paths */
			snprintf(note, sizeof(note), "open+read+close of each file of one process "
				 "with %d %s tags, in cgroup %s", counts[i],
				 counts[i] == 32 ? "maximal" : "container-like", cg);
			ab(i ? "proc_32" : "proc", &s, J_READ_PTAGS, "read /proc/<pid>/ptags", &s,
			   J_READ_CGROUP, "read /proc/<pid>/cgroup", 200, note);
			stop_server(&s);
			kill(t, SIGKILL);
			waitpid(t, NULL, 0);
		}
	}
	if (children > 0)
		bench_memory();
	fprintf(js, "\n}\n");
	fclose(js);
	return 0;
}
