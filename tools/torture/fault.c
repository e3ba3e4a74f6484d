// SPDX-License-Identifier: GPL-2.0
/*
 * ptag fault injection: failslab through /proc/self/task/<tid>/fail-nth on
 * PR_SET_PTAG (of the caller and by pidfd), on every clone flavour of a
 * tagged process (fork, clone3, vfork, threads), on execve, and on reading
 * /proc/<pid>/ptags.
 *
 *   sweeps   for each operation and several tag counts, fail the 1st, 2nd,
 *            ... slab allocation of the call until the call gets through
 *            without reaching the armed point;
 *   random   then, for --seconds, fail a random early allocation of a random
 *            operation, in two processes at once.
 *
 * Every failed call must fail cleanly: PR_SET_PTAG with ENOMEM, clone with
 * ENOMEM or EAGAIN (no child, no thread appears), a /proc read with ENOMEM;
 * execve with whatever its failing layer reports (ENOMEM, E2BIG from
 * copy_strings(), ENOEXEC from load_elf_binary(), ...: counted by errno) and
 * the process keeps its tags, or it is killed past the point of no return;
 * and nothing half-applied is ever visible: the tags are exactly the ones
 * before, or before plus the one set, in every thread and in /proc.  Leaks
 * are found by the kmemleak scan of 'tools/vm run --check' afterwards.
 *
 * The program execs a static copy of itself on tmpfs: read over 9p, the
 * binary (and a dynamic loader's libraries) would turn the injected failures
 * into 9p errors that say nothing about exec.
 *
 *   fault [--seconds N] [--seed N] [--json FILE]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "ptag_abi.h"

#define FAILSLAB "/sys/kernel/debug/failslab/"

struct stats {
	uint64_t ops, injected, absorbed;
	uint64_t set_enomem, clone_fail, exec_enomem, exec_killed, read_enomem; /* exec: any errno */
	uint64_t forks_ok, threads_ok, sets_ok;
	uint64_t sweep_points[8];
	uint64_t exec_errno[256];
	uint64_t violations;
};
static struct stats *st;
static uint64_t seed;
static char self_exe[4096];
static __thread int nth_fd = -1;
static bool quick; /* sweeps step over allocation points at random strides */

#define ADD(field, n) __atomic_fetch_add(&st->field, (n), __ATOMIC_RELAXED)

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	torture_violation(&st->violations, "fault", seed, fmt, ap);
	va_end(ap);
}

/* ---- fail-nth: the file stays open, opening it allocates ------------- */

static void nth_open(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	nth_fd = open(path, O_RDWR | O_CLOEXEC);
	if (nth_fd < 0) {
		fprintf(stderr, "fault: %s: %m (CONFIG_FAULT_INJECTION_DEBUG_FS?)\n", path);
		exit(2);
	}
}

static void arm(int nth)
{
	char num[16];
	int len = snprintf(num, sizeof(num), "%d", nth);

	if (pwrite(nth_fd, num, len, 0) != len) {
		fprintf(stderr, "fault: write fail-nth: %m\n");
		exit(2);
	}
}

/* Disarms; true if the armed allocation was reached and failed. */
static bool disarm(void)
{
	char buf[16] = "";

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) < 0) {
		fprintf(stderr, "fault: read fail-nth: %m\n");
		exit(2);
	}
	if (atoi(buf)) {
		arm(0);
		return false;
	}
	ADD(injected, 1);
	return true;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* ---- tags ------------------------------------------------------------- */

static int set_tag(int pidfd, const char *key, const char *val)
{
	return ptag_set(pidfd, key, val, (uint32_t)strlen(val));
}

/* The key list, by PR_GET_PTAG. */
static long list_of(int pidfd, char *buf)
{
	return ptag_list(pidfd, buf);
}

/*
 * Every thread of @pid shows the same ptags as the process, and the process
 * shows exactly @want (its /proc text).  Runs without fail-nth armed.
 */
static bool consistent(pid_t pid, const char *want, const char *what)
{
	char path[300], text[16384], t2[16384];
	ssize_t n;
	DIR *d;
	struct dirent *e;
	bool ok = true;

	snprintf(path, sizeof(path), "/proc/%d/ptags", pid);
	n = read_at(AT_FDCWD, path, text, sizeof(text));
	if (n < 0 || (want && strcmp(text, want))) {
		violation("%s: /proc/%d/ptags is not what it was before plus what succeeded (%zd "
			  "bytes, expected %zu)", what, pid, n, want ? strlen(want) : 0);
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/ptags", pid, e->d_name);
		if (read_at(AT_FDCWD, path, t2, sizeof(t2)) >= 0 && strcmp(t2, text)) {
			violation("%s: thread %s of %d shows other tags than its process", what,
				  e->d_name, pid);
			ok = false;
		}
	}
	if (d)
		closedir(d);
	return ok;
}

static void proc_text(char *out)
{
	if (read_at(AT_FDCWD, "/proc/self/ptags", out, 16384) < 0)
		out[0] = 0;
}

/* ---- the operations --------------------------------------------------- */

enum { OP_SET, OP_SET_PIDFD, OP_FORK, OP_CLONE3, OP_VFORK, OP_THREAD, OP_EXEC, OP_READ, OP_NR };
static const char *const op_names[OP_NR] = { "PR_SET_PTAG", "PR_SET_PTAG by pidfd", "fork",
	"clone3", "vfork", "pthread_create", "execve", "read /proc/<pid>/ptags" };

static unsigned long key_no;
static int victim_fd = -1;
static pid_t victim_pid;

static void *thread_fn(void *arg)
{
	(void)arg;
	return NULL;
}

/*
 * Runs @op once with the @nth allocation armed to fail (0: none).  Returns
 * true if the armed point was reached.  Checks the outcome either way.
 */
static bool run_op(int op, int nth)
{
	char before[16384], after[16384], vbefore[16384], list[LIST_MAX], key[64], val[64];
	bool hit;
	int ret = 0, status;
	pid_t pid;

	proc_text(before);
	if (op == OP_SET_PIDFD) {
		char p[64];

		snprintf(p, sizeof(p), "/proc/%d/ptags", victim_pid);
		if (read_at(AT_FDCWD, p, vbefore, sizeof(vbefore)) < 0)
			vbefore[0] = 0;
	}
	snprintf(key, sizeof(key), "fault.k%lu", key_no);
	snprintf(val, sizeof(val), "value-%lu", key_no);
	ADD(ops, 1);

	switch (op) {
	case OP_SET:
	case OP_SET_PIDFD:
		arm(nth);
		ret = set_tag(op == OP_SET ? -1 : victim_fd, key, val);
		hit = nth && disarm();
		if (ret == 0) {
			char *tgt = op == OP_SET ? before : vbefore;
			char p[64];

			key_no++;
			ADD(sets_ok, 1);
			if (hit)
				ADD(absorbed, 1);
			sprintf(tgt + strlen(tgt), "0 %s=%s\n", key, val);
			if (op == OP_SET) {
				consistent(getpid(), before, "SET under fail-nth");
			} else {
				snprintf(p, sizeof(p), "/proc/%d/ptags", victim_pid);
				if (read_at(AT_FDCWD, p, after, sizeof(after)) < 0 || strcmp(after, vbefore))
					violation("SET by pidfd under fail-nth %d: the target's tags are "
						  "not what they were plus the new one", nth);
			}
		} else if (ret == -ENOMEM && hit) {
			ADD(set_enomem, 1);
			if (op == OP_SET)
				consistent(getpid(), before, "failed SET");
			else
				consistent(victim_pid, vbefore, "failed SET by pidfd");
		} else if (ret == -ENOSPC) {
			/* full: the caller starts over with a fresh process */
		} else {
			violation("%s with allocation %d failed (%s): returned %s", op_names[op], nth,
				  hit ? "reached" : "not reached", strerror(-ret));
		}
		return hit;

	case OP_FORK:
	case OP_CLONE3:
	case OP_VFORK: {
		long n = list_of(-1, list);
		int pfd = -1;

		arm(nth);
		if (op == OP_FORK) {
			pid = fork();
		} else if (op == OP_CLONE3) {
			struct clone_args ca = { .flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pfd,
						 .exit_signal = SIGCHLD };

			pid = (pid_t)syscall(__NR_clone3, &ca, sizeof(ca));
		} else {
			pid = vfork();
		}
		if (!pid) {
			/* the child: exactly the parent's tags (fail-nth starts at 0 here) */
			char mine[LIST_MAX];
			long m = list_of(-1, mine);

			_exit(m == n && !memcmp(mine, list, n) ? 0 : 1);
		}
		ret = pid < 0 ? errno : 0;
		hit = nth && disarm();
		if (pfd >= 0)
			close(pfd);
		if (pid > 0) {
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status))
				violation("%s with allocation %d failed: the child's tags differ from "
					  "its parent's (status %#x)", op_names[op], nth, status);
			else
				ADD(forks_ok, 1);
			if (hit)
				ADD(absorbed, 1);
		} else if (hit && (ret == ENOMEM || ret == EAGAIN)) {
			ADD(clone_fail, 1);
			if (waitpid(-1, &status, WNOHANG) > 0)
				violation("%s failed but a child appeared", op_names[op]);
		} else {
			violation("%s with allocation %d failed (%s): %s", op_names[op], nth,
				  hit ? "reached" : "not reached", strerror(ret));
		}
		consistent(getpid(), before, op_names[op]);
		return hit;
	}

	case OP_THREAD: {
		pthread_t t;

		arm(nth);
		ret = pthread_create(&t, NULL, thread_fn, NULL);
		hit = nth && disarm();
		if (!ret) {
			pthread_join(t, NULL);
			ADD(threads_ok, 1);
			if (hit)
				ADD(absorbed, 1);
		} else if (hit && (ret == EAGAIN || ret == ENOMEM)) {
			ADD(clone_fail, 1);
		} else {
			violation("pthread_create with allocation %d failed: %s", nth, strerror(ret));
		}
		consistent(getpid(), before, "pthread_create");
		return hit;
	}

	case OP_EXEC: {
		/* in a child, which arms its own fail-nth and execs a checker */
		long n = list_of(-1, list);
		char arg[LIST_MAX + 1];

		for (long i = 0; i < n; i++)
			arg[i] = list[i] ? list[i] : ',';
		arg[n] = 0;
		pid = fork();
		if (!pid) {
			char nthbuf[16];

			nth_open();
			snprintf(nthbuf, sizeof(nthbuf), "%d", nth);
			arm(nth);
			execl(self_exe, self_exe, "--exec-check", arg, (char *)NULL);
			ret = errno;
			hit = nth && disarm();
			/*
			 * Not only ENOMEM: exec reports a failed allocation the way the
			 * failing layer does (copy_strings(): E2BIG; a short read of
			 * the binary over 9p: ENOEXEC; ...).  What matters here: the
			 * process goes on with its tags intact.
			 */
			if (hit) {
				char mine[LIST_MAX];
				long m = list_of(-1, mine);

				if (ret > 0 && ret < 256)
					ADD(exec_errno[ret], 1);
				_exit(m == n && !memcmp(mine, list, n) ? 42 : 44);
			}
			printf("fault: execve with allocation %d armed failed with %s (%s)\n", nth,
			       strerror(ret), hit ? "the allocation was failed" : "not reached");
			fflush(stdout);
			_exit(43);
		}
		if (pid < 0)
			return false;
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 42) {
			ADD(exec_enomem, 1);
			ADD(injected, 1);
			return true;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return false; /* tags intact, the allocation not reached in execve */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
			/* tags intact, the failure absorbed by execve */
			ADD(injected, 1);
			ADD(absorbed, 1);
			return true;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) >= 43 && WEXITSTATUS(status) <= 77 &&
		    WEXITSTATUS(status) != 127) {
			violation("execve with allocation %d failed: %s", nth,
				  WEXITSTATUS(status) == 77 ? "the new image has other tags" :
				  WEXITSTATUS(status) == 44 ? "the tags changed after a failed execve" :
							      "execve failed with no allocation failed");
			return false;
		}
		/*
		 * Killed past the point of no return, or the failure was still
		 * armed in the new image and hit its loader: allowed outcomes.
		 */
		ADD(exec_killed, 1);
		ADD(injected, 1);
		return true;
	}

	case OP_READ: {
		char text[16384];
		int fd;
		ssize_t n;

		arm(nth);
		fd = open("/proc/self/ptags", O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -errno : read(fd, text, sizeof(text) - 1);
		if (n < 0 && fd >= 0)
			n = -errno;
		hit = nth && disarm();
		if (fd >= 0)
			close(fd);
		if (n >= 0) {
			text[n] = 0;
			if (strcmp(text, before))
				violation("read of /proc/self/ptags with allocation %d failed: wrong "
					  "text", nth);
		} else if (hit && n == -ENOMEM) {
			ADD(read_enomem, 1);
		} else {
			violation("read of /proc/self/ptags with allocation %d failed: %s", nth,
				  strerror((int)-n));
		}
		return hit;
	}
	}
	return false;
}

/* A victim to tag by pidfd: waits to be killed. */
static void start_victim(void)
{
	int p[2];
	char c;

	if (victim_fd >= 0) {
		kill(victim_pid, SIGKILL);
		waitpid(victim_pid, NULL, 0);
		close(victim_fd);
	}
	if (pipe(p))
		exit(2);
	victim_pid = fork();
	if (!victim_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], &c, 1) < 0)
		exit(2);
	close(p[0]);
	victim_fd = sys_pidfd_open(victim_pid, 0);
}

/* Tags the caller until it has @n tags. */
static void fill_to(int n)
{
	char list[LIST_MAX];
	long len = list_of(-1, list);
	int have = 0;

	for (long i = 0; i < len; i++)
		have += !list[i];
	while (have < n) {
		char key[64];

		snprintf(key, sizeof(key), "fill.%d", have);
		if (set_tag(-1, key, "x")) {
			violation("cannot fill to %d tags", n);
			return;
		}
		have++;
	}
}

/* Sweep: fail allocation 1, 2, ... of @op until the op no longer reaches it. */
static void sweep(int op, int tags)
{
	pid_t pid = fork();
	int status = 0;

	if (!pid) {
		uint64_t r = seed ^ (op * 131 + tags);
		int nth, tried = 0;

		nth_open();
		key_no = 0;
		fill_to(tags);
		if (op == OP_SET_PIDFD)
			start_victim();
		for (nth = 1; nth < 1000; nth += quick ? 1 + (int)rng_below(&r, 12) : 1) {
			if (!run_op(op, nth))
				break;
			tried++;
		}
		ADD(sweep_points[op], tried);
		if (victim_fd >= 0)
			kill(victim_pid, SIGKILL);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		violation("sweep of %s with %d tags ended with status %#x", op_names[op], tags,
			  status);
}

/* Random: random ops with a random early allocation failing. */
static void random_worker(uint64_t s, double seconds)
{
	uint64_t t0 = now_ns();

	nth_open();
	start_victim();
	while ((now_ns() - t0) / 1e9 < seconds) {
		int op = (int)rng_below(&s, OP_NR);
		int nth = rng_below(&s, 4) ? 1 + (int)rng_below(&s, 12) : 1 + (int)rng_below(&s, 60);

		if (op == OP_EXEC && rng_below(&s, 4))
			continue; /* exec is slow: a quarter as often */
		run_op(op, nth);
		if (key_no >= 28)
			break; /* near the limit: a fresh process carries on */
	}
	kill(victim_pid, SIGKILL);
	_exit(0);
}

static int exec_check(const char *expect)
{
	char now[LIST_MAX], exp[LIST_MAX] = "";
	long n = list_of(-1, now), ne = 0;

	for (const char *s = expect; *s;) {
		size_t k = strcspn(s, ",");

		memcpy(exp + ne, s, k);
		exp[ne + k] = 0;
		ne += k + 1;
		s += k + (s[k] == ',');
	}
	if (n != ne || memcmp(now, exp, n))
		return 77;
	/*
	 * Was the armed allocation reached during execve (and absorbed)?  It is
	 * still pending if it was not: then opening fail-nth (which allocates)
	 * fails, or reading it shows the count left.
	 */
	{
		char path[64], buf[16] = "";
		int fd;

		snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return 0;
		if (read(fd, buf, sizeof(buf) - 1) < 0 || atoi(buf))
			return 0;
		return 2;
	}
}

int main(int argc, char **argv)
{
	double seconds = 30;
	const char *json = NULL;
	bool seeded = false;
	uint64_t t0;
	int status;

	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		return 2;
	if (argc == 3 && !strcmp(argv[1], "--exec-check"))
		return exec_check(argv[2]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0), seeded = true;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else {
			fprintf(stderr, "usage: fault [--seconds N] [--seed N] [--quick] [--json FILE]\n");
			return 2;
		}
	}
	if (!seeded)
		seed = now_ns();
	{
		/*
		 * execve a copy on tmpfs: the tests fail allocations, and a binary
		 * read over 9p turns them into 9p errors (EINVAL, ELIBBAD, ...) that
		 * say nothing about exec.  The program is linked statically, so
		 * nothing else is read at exec.
		 */
		static char copy[64];
		int in = open(self_exe, O_RDONLY | O_CLOEXEC), out;
		char buf[65536];
		ssize_t n;

		snprintf(copy, sizeof(copy), "/tmp/ptag-fault-exec.%d", getpid());
		out = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, n) != n)
				break;
		if (in >= 0)
			close(in);
		if (out >= 0) {
			close(out);
			snprintf(self_exe, sizeof(self_exe), "%s", copy);
		}
	}
	{
		struct ptag_args a = { .value_len = 0 };

		if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) != 0) {
			fprintf(stderr, "fault: needs a kernel with process tags, and no tags here\n");
			return 2;
		}
	}
	if (access(FAILSLAB "ignore-gfp-wait", W_OK)) {
		fprintf(stderr, "fault: %s not found: needs CONFIG_FAILSLAB and "
				"CONFIG_FAULT_INJECTION_DEBUG_FS, debugfs mounted\n", FAILSLAB);
		return 2;
	}
	/* GFP_KERNEL allocations may fail too; no stack traces in dmesg per failure */
	if (write_str(FAILSLAB "ignore-gfp-wait", "N") || write_str(FAILSLAB "verbose", "0")) {
		fprintf(stderr, "fault: cannot configure failslab\n");
		return 2;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	printf("fault: seed=%" PRIu64 " random phase %.0f s\n", seed, seconds);
	fflush(stdout);
	t0 = now_ns();

	/* sweeps (--quick: the ptag allocation and fork with 32 tags only) */
	{
		static const int counts[] = { 0, 1, 16, 31 };

		for (unsigned int c = quick ? 3 : 0; c < 4; c++) {
			sweep(OP_SET, counts[c]);
			sweep(OP_SET_PIDFD, counts[c]);
		}
		for (int op = OP_FORK; op < OP_NR; op++) {
			if (quick && op != OP_FORK && op != OP_THREAD && op != OP_READ)
				continue;
			if (!quick)
				sweep(op, 0);
			sweep(op, 32);
		}
	}
	printf("fault: sweeps: allocation points failed one by one: SET %" PRIu64
	       ", SET by pidfd %" PRIu64 ", fork %" PRIu64 ", clone3 %" PRIu64 ", vfork %" PRIu64
	       ", thread %" PRIu64 ", execve %" PRIu64 ", /proc read %" PRIu64 "\n",
	       st->sweep_points[OP_SET], st->sweep_points[OP_SET_PIDFD], st->sweep_points[OP_FORK],
	       st->sweep_points[OP_CLONE3], st->sweep_points[OP_VFORK],
	       st->sweep_points[OP_THREAD], st->sweep_points[OP_EXEC], st->sweep_points[OP_READ]);
	fflush(stdout);

	/* random, two fresh (untagged) processes at a time */
	{
		uint64_t t1 = now_ns(), i = 0;
		int running = 0;

		for (;;) {
			double left = seconds - (now_ns() - t1) / 1e9;

			if (left > 0.5 && running < 2) {
				fflush(stdout);
				i++;
				if (!fork())
					random_worker(seed ^ (0x9e3779b97f4a7c15ull * i), left);
				running++;
				continue;
			}
			if (!running)
				break;
			if (wait(&status) > 0) {
				running--;
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					violation("a random worker ended with status %#x", status);
			}
		}
		printf("fault: random phase: %" PRIu64 " worker processes\n", i);
	}

	{
		double secs = (now_ns() - t0) / 1e9;

		printf("fault: %.1f s: %" PRIu64 " operations, %" PRIu64 " injected faults: SET "
		       "ENOMEM=%" PRIu64 ", clone failed=%" PRIu64 ", execve failed=%" PRIu64
		       " killed=%" PRIu64 ", /proc read ENOMEM=%" PRIu64 ", absorbed (call "
		       "succeeded)=%" PRIu64 "; successes: SET %" PRIu64 ", clones %" PRIu64
		       ", threads %" PRIu64 "\n", secs, st->ops, st->injected, st->set_enomem,
		       st->clone_fail, st->exec_enomem, st->exec_killed, st->read_enomem,
		       st->absorbed, st->sets_ok, st->forks_ok, st->threads_ok);
		printf("fault: execve failures by errno:");
		for (int e = 1; e < 256; e++)
			if (st->exec_errno[e])
				printf(" %s=%" PRIu64, strerrorname_np(e), st->exec_errno[e]);
		printf("\nfault: violations=%" PRIu64 "\n", st->violations);
		if (!strncmp(self_exe, "/tmp/ptag-fault-exec.", 21))
			unlink(self_exe);
		if (json) {
			FILE *f = fopen(json, "w");

			if (f) {
				fprintf(f, "{\"seed\": %" PRIu64 ", \"seconds\": %.2f, \"operations\": %"
					   PRIu64 ", \"injected_faults\": %" PRIu64
					   ", \"set_enomem\": %" PRIu64 ", \"clone_failed\": %" PRIu64
					   ", \"exec_failed\": %" PRIu64 ", \"exec_killed\": %" PRIu64
					   ", \"proc_read_enomem\": %" PRIu64 ", \"absorbed\": %" PRIu64
					   ", \"sets_ok\": %" PRIu64 ", \"clones_ok\": %" PRIu64
					   ", \"threads_ok\": %" PRIu64 ", \"sweep_points\": {",
					seed, secs, st->ops, st->injected, st->set_enomem, st->clone_fail,
					st->exec_enomem, st->exec_killed, st->read_enomem, st->absorbed,
					st->sets_ok, st->forks_ok, st->threads_ok);
				for (int op = 0; op < OP_NR; op++)
					fprintf(f, "%s\"%s\": %" PRIu64, op ? ", " : "", op_names[op],
						st->sweep_points[op]);
				fprintf(f, "}, \"exec_failure_errnos\": {");
				for (int e = 1, first = 1; e < 256; e++)
					if (st->exec_errno[e]) {
						fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
							strerrorname_np(e), st->exec_errno[e]);
						first = 0;
					}
				fprintf(f, "}, \"violations\": %" PRIu64 "}\n", st->violations);
				fclose(f);
			}
		}
	}
	return st->violations ? 1 : 0;
}
