// SPDX-License-Identifier: GPL-2.0
/*
 * ptag concurrency stress: for a fixed time, processes tag themselves from
 * several threads while other threads fork, vfork, clone3, exec, create
 * threads and exit; reader threads read /proc/<pid>/ptags and
 * /proc/<pid>/task/<tid>/ptags of every process; tagger threads tag the test
 * processes by pidfd, some of them exiting or exec'ing.  Checked continuously:
 *
 *   birth     a child's tags at birth lie between its parent's before and
 *             after the clone: L(parent, before) <= L(child) <= L(parent, after)
 *             as ordered prefixes (threads, fork, vfork, clone3, and across
 *             execve);
 *   append    successive reads of a process, through any of its files and
 *             threads, only ever grow by appending (byte prefixes of /proc);
 *   values    every tag's value is the one it was set with (all values are a
 *             function of the key here), and its owner is the setter's uid;
 *   threads   all threads of a process show the same set (the chain above
 *             runs through every thread's file);
 *   bounded   never more than 32 tags;
 *   atomic    two threads racing to set the same key: exactly one wins, and
 *             the key is present at the end iff one won.
 *
 *   stress [--seconds N] [--seed N] [--families N] [--json FILE]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "ptag_abi.h"

#define MARKER "torture.stress"

extern char **environ;

/* ---- shared counters (a memfd, so exec'd processes keep them) --------- */

struct stats {
	uint64_t seed;
	uint64_t stop;
	uint64_t next_fid;
	uint64_t families_alive, families, family_execs;
	uint64_t sets_ok, sets_eexist, sets_enospc, sets_other;
	uint64_t race_keys;
	uint64_t forks, vforks, clone3s, exec_children, threads;
	uint64_t proc_reads, task_reads, procs_seen;
	uint64_t pidfd_sets_ok, pidfd_sets_enospc, pidfd_sets_esrch, pidfd_open_fail, pidfd_skipped;
	uint64_t checks;
	uint64_t violations;
	int32_t ring[256]; /* pids of marked processes, for the taggers */
	uint64_t ring_pos;
};
static struct stats *st;
static int stats_fd = -1;
static uint64_t seed;
static char self_exe[4096];

#define ADD(field, n) __atomic_fetch_add(&st->field, (n), __ATOMIC_RELAXED)
#define STOPPED() __atomic_load_n(&st->stop, __ATOMIC_RELAXED)

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	torture_violation(&st->violations, "stress", seed, fmt, ap);
	va_end(ap);
}

static void attach_stats(int fd)
{
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st == MAP_FAILED) {
		perror("stress: mmap stats");
		_exit(2);
	}
	stats_fd = fd;
}

/* ---- values are a function of the key --------------------------------- */

static uint64_t fnv(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
	return h;
}

static size_t value_of(const char *key, size_t klen, char *out)
{
	uint64_t h = fnv(key, klen), r = h;
	size_t len = 1 + h % 120, i = 0;

	while (i < len) {
		uint64_t x = rng_next(&r);

		if ((x & 15) == 0 && i + 2 <= len) {
			out[i++] = (char)0xc3; /* UTF-8 passes through */
			out[i++] = (char)0xa9;
		} else {
			out[i++] = (char)(0x20 + (x >> 8) % 0x5f);
		}
	}
	return len;
}

static int set_key(int pidfd, const char *key)
{
	char val[PTAG_VALUE_MAX];

	return ptag_set(pidfd, key, val, value_of(key, strlen(key), val));
}

/* The key list of the caller (or of @pidfd's process): length or -errno. */
static long get_list(int pidfd, char *buf)
{
	return ptag_list(pidfd, buf);
}

static int list_count(const char *l, long n)
{
	int c = 0;

	for (long i = 0; i < n; i++)
		c += !l[i];
	return c;
}

static bool is_prefix(const char *a, long na, const char *b, long nb)
{
	return na <= nb && !memcmp(a, b, na);
}

/*
 * @child holds @before as a prefix and, past its common prefix with
 * @after, only keys that pidfd taggers add (p*): tags added to the child
 * after its birth.
 */
static bool birth_ok(const char *before, long nb, const char *child, long nc, const char *after,
		     long na)
{
	long common = 0, last = 0;

	if (!is_prefix(before, nb, child, nc) || !is_prefix(before, nb, after, na))
		return false;
	while (common < nc && common < na && child[common] == after[common]) {
		if (!child[common])
			last = common + 1;
		common++;
	}
	if (common == nc)
		return true; /* child <= after */
	/* the rest of the child's list: only tagger keys */
	for (long i = last; i < nc; i += strlen(child + i) + 1)
		if (child[i] != 'p')
			return false;
	return last >= nb;
}

static void list_str(const char *l, long n, char *out, size_t cap)
{
	size_t o = 0;

	for (long i = 0; i < n && o + 2 < cap; i++)
		out[o++] = l[i] ? l[i] : ',';
	out[o] = 0;
}

/* ---- exec'd children: check the tags survived ------------------------- */

/*
 * After execve: the tags from before are a prefix of the ones now.  @strict:
 * a single-threaded child, so anything after them came from pidfd taggers.
 */
static int exec_child_main(const char *expect, bool strict)
{
	char now[LIST_MAX], exp[LIST_MAX] = "";
	long n = get_list(-1, now), ne = 0;
	const char *s = expect;

	while (*s) {
		size_t k = strcspn(s, ",");

		memcpy(exp + ne, s, k);
		exp[ne + k] = 0;
		ne += k + 1;
		s += k + (s[k] == ',');
	}
	if (n < 0 || !(strict ? birth_ok(exp, ne, now, n, exp, ne) : is_prefix(exp, ne, now, n))) {
		char a[LIST_MAX + 1], b[LIST_MAX + 1];

		list_str(exp, ne, a, sizeof(a));
		list_str(now, n, b, sizeof(b));
		violation("birth/exec: tags before execve [%s] are not a prefix of after [%s]", a, b);
		return 1;
	}
	ADD(checks, 1);
	return 0;
}

static void exec_self(const char *mode, const char *arg)
{
	char fdarg[16];

	snprintf(fdarg, sizeof(fdarg), "%d", stats_fd);
	execl(self_exe, self_exe, mode, fdarg, arg, (char *)NULL);
	violation("execl %s: %m", self_exe);
	_exit(2);
}

/* ---- a family: a process tagging itself while it forks ---------------- */

struct family {
	uint64_t fid;
	uint64_t rng;
	int cap; /* keys the setters go for: some families fill up, others leave room */
	int8_t race_res[2][64];
	volatile int done_setting;
	volatile int quit;
};
static struct family fam;

static void serialize(const char *l, long n, char *out)
{
	list_str(l, n, out, LIST_MAX + 1);
}

/* Two setters race on the same key sequence; each also watches its own reads grow. */
static void *setter_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = fam.rng ^ (me + 1);
	char last[LIST_MAX], now[LIST_MAX];
	long nlast = 0, n;

	for (int k = 0; k < fam.cap && !fam.quit; k++) {
		char key[64];
		int ret;

		snprintf(key, sizeof(key), "f%" PRIu64 ".s%d", fam.fid, k);
		ret = set_key(-1, key);
		fam.race_res[me][k] = ret == 0 ? 1 : ret == -EEXIST ? 2 : ret == -ENOSPC ? 3 : 4;
		if (ret == 0)
			ADD(sets_ok, 1);
		else if (ret == -EEXIST)
			ADD(sets_eexist, 1);
		else if (ret == -ENOSPC)
			ADD(sets_enospc, 1);
		else {
			ADD(sets_other, 1);
			violation("PR_SET_PTAG %s on itself: %s", key, strerror(-ret));
		}
		n = get_list(-1, now);
		if (n < 0 || !is_prefix(last, nlast, now, n) || list_count(now, n) > PTAG_MAX_TAGS) {
			violation("append: a thread's successive PR_GET_PTAG lists do not grow by "
				  "appending (%ld then %ld bytes)", nlast, n);
		} else {
			ADD(checks, 1);
			memcpy(last, now, n);
			nlast = n;
		}
		if (ret == 0 && !memmem(now, n, key, strlen(key) + 1))
			violation("PR_SET_PTAG %s succeeded but the key is not listed", key);
		if (ret == -ENOSPC)
			break;
		usleep(rng_below(&r, 3000));
	}
	__atomic_fetch_add(&fam.done_setting, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void *vfork_buf_child;
static char vfork_list[LIST_MAX];
static long vfork_n;

static void fork_once(uint64_t *r)
{
	char before[LIST_MAX], child[LIST_MAX], after[LIST_MAX];
	long nb, na;
	volatile long nc = -1;
	int kind = (int)rng_below(r, 100), p[2], status;
	bool do_exec = rng_below(r, 100) < 20;
	pid_t pid;

	(void)vfork_buf_child;
	if (pipe2(p, O_CLOEXEC))
		return;
	nb = get_list(-1, before);
	if (kind < 15) {
		/* vfork: the child reads into our memory, then leaves */
		vfork_n = -1;
		pid = vfork();
		if (!pid) {
			vfork_n = get_list(-1, vfork_list);
			_exit(0);
		}
		na = get_list(-1, after);
		if (pid > 0) {
			waitpid(pid, &status, 0);
			nc = vfork_n;
			memcpy(child, vfork_list, nc > 0 ? nc : 0);
			ADD(vforks, 1);
		}
	} else {
		if (kind < 35) {
			int pidfd = -1;
			struct clone_args ca = {
				.flags = CLONE_PIDFD,
				.pidfd = (uintptr_t)&pidfd,
				.exit_signal = SIGCHLD,
			};

			pid = (pid_t)syscall(__NR_clone3, &ca, sizeof(ca));
			if (pid > 0) {
				close(pidfd);
				ADD(clone3s, 1);
			}
		} else {
			pid = fork();
			if (pid > 0)
				ADD(forks, 1);
		}
		if (!pid) {
			char mine[LIST_MAX], arg[LIST_MAX + 1];
			long n = get_list(-1, mine);

			if (write(p[1], mine, n > 0 ? n : 0) < 0)
				_exit(3);
			if (do_exec) {
				serialize(mine, n, arg);
				exec_self("--exec-child", arg);
			}
			_exit(0);
		}
		na = get_list(-1, after);
		if (pid > 0) {
			close(p[1]);
			p[1] = -1;
			nc = 0;
			for (;;) {
				ssize_t k = read(p[0], child + nc, sizeof(child) - nc);

				if (k <= 0)
					break;
				nc += k;
			}
			waitpid(pid, &status, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				violation("a forked child ended with status %#x", status);
			if (do_exec)
				ADD(exec_children, 1);
		}
	}
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (pid < 0)
		return; /* EAGAIN under load: nothing to check */
	if (nb < 0 || na < 0 || nc < 0 || !birth_ok(before, nb, child, nc, after, na)) {
		char a[LIST_MAX + 1], b[LIST_MAX + 1], c[LIST_MAX + 1];

		list_str(before, nb, a, sizeof(a));
		list_str(child, nc, b, sizeof(b));
		list_str(after, na, c, sizeof(c));
		violation("birth: child's tags [%s] not between the parent's before [%s] and after "
			  "[%s] (%s)", b, a, c, kind < 15 ? "vfork" : kind < 35 ? "clone3" : "fork");
	} else {
		ADD(checks, 1);
	}
}

static void *forker_main(void *unused)
{
	uint64_t r = fam.rng ^ 0xf0f0;

	(void)unused;
	while (!fam.quit) {
		fork_once(&r);
		usleep(rng_below(&r, 1000));
	}
	return NULL;
}

/* A new thread: its own /proc/self/task/<tid>/ptags lies between the creator's lists. */
struct tborn {
	char list[LIST_MAX];
	long n;
	char text[16384];
	long tn;
};

static void *born_main(void *arg)
{
	struct tborn *b = arg;
	char path[64];
	int fd;

	b->n = get_list(-1, b->list);
	snprintf(path, sizeof(path), "/proc/self/task/%d/ptags", gettid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	b->tn = fd < 0 ? -errno : read(fd, b->text, sizeof(b->text));
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *churn_main(void *unused)
{
	uint64_t r = fam.rng ^ 0xc4c4;
	static struct tborn b;

	(void)unused;
	while (!fam.quit) {
		char before[LIST_MAX], after[LIST_MAX];
		long nb = get_list(-1, before), na;
		pthread_t t;

		if (pthread_create(&t, NULL, born_main, &b))
			continue;
		pthread_join(t, NULL);
		na = get_list(-1, after);
		ADD(threads, 1);
		/* threads share the process's set: no tagger slack here */
		if (nb < 0 || na < 0 || b.n < 0 || !is_prefix(before, nb, b.list, b.n) ||
		    !is_prefix(b.list, b.n, after, na)) {
			violation("birth: a new thread's tags (%ld bytes) not between its creator's "
				  "before (%ld) and after (%ld)", b.n, nb, na);
		} else {
			ADD(checks, 1);
		}
		if (b.tn < 0)
			violation("a live thread cannot read its own task ptags: %s",
				  strerror((int)-b.tn));
		usleep(rng_below(&r, 1000));
	}
	return NULL;
}

/*
 * @counted: the supervisor counted this family in families_alive already
 * (it forked it, or it is the same family after execve).
 */
static int family_main(const char *prev, bool counted)
{
	char now[LIST_MAX], arg[LIST_MAX + 1];
	pthread_t setters[2], forker, churn;
	long n;
	uint64_t r;
	int ret = 0;
	bool exec_next, successor;

	memset(&fam, 0, sizeof(fam));
	fam.fid = ADD(next_fid, 1);
	fam.rng = seed ^ (fam.fid * 0x9e3779b97f4a7c15ull);
	r = fam.rng;
	fam.cap = rng_below(&r, 100) < 30 ? 64 : 8 + (int)rng_below(&r, 16);
	if (!counted) {
		ADD(families_alive, 1);
		ADD(families, 1);
	}
	if (prev && exec_child_main(prev, false))
		ret = 1;
	/* the marker: the readers and taggers only look at marked processes */
	if (set_key(-1, MARKER) && (n = get_list(-1, now), !memmem(now, n, MARKER, sizeof(MARKER)))) {
		violation("cannot set the marker tag");
		return 1;
	}
	{
		uint64_t pos = ADD(ring_pos, 1);

		__atomic_store_n(&st->ring[pos % 256], getpid(), __ATOMIC_RELAXED);
	}
	if (pthread_create(&setters[0], NULL, setter_main, (void *)0) ||
	    pthread_create(&setters[1], NULL, setter_main, (void *)1) ||
	    pthread_create(&forker, NULL, forker_main, NULL) ||
	    pthread_create(&churn, NULL, churn_main, NULL)) {
		violation("pthread_create failed");
		return 1;
	}
	/* live until both setters are done, then a little longer */
	while (fam.done_setting < 2 && !STOPPED())
		usleep(10000);
	usleep(200000 + rng_below(&r, 800000));
	exec_next = !STOPPED() && rng_below(&r, 100) < 25;
	successor = !STOPPED() && rng_below(&r, 100) < 30;
	if (exec_next) {
		/* execve with every thread busy: de_thread() kills them mid-call */
		n = get_list(-1, now);
		serialize(now, n, arg);
		ADD(family_execs, 1);
		exec_self("--family", arg);
	}
	fam.quit = 1;
	pthread_join(setters[0], NULL);
	pthread_join(setters[1], NULL);
	pthread_join(forker, NULL);
	pthread_join(churn, NULL);

	/* the race: at most one winner per key, and the winners are listed, in order */
	n = get_list(-1, now);
	for (int k = 0; k < 64; k++) {
		char key[64];
		int wins = (fam.race_res[0][k] == 1) + (fam.race_res[1][k] == 1);
		bool listed;

		if (!fam.race_res[0][k] && !fam.race_res[1][k])
			continue;
		snprintf(key, sizeof(key), "f%" PRIu64 ".s%d", fam.fid, k);
		listed = memmem(now, n, key, strlen(key) + 1) != NULL;
		ADD(race_keys, 1);
		if (wins > 1 || (wins == 1) != listed)
			violation("atomic: key %s won by %d setters, listed %d", key, wins, listed);
		else
			ADD(checks, 1);
	}
	if (successor && list_count(now, n) < 20) {
		/* a child carries on as a family, with the tags it inherits */
		pid_t pid = fork();

		if (!pid)
			_exit(family_main(NULL, false));
	}
	ADD(families_alive, -1);
	return ret;
}

/* ---- readers: /proc of every process ---------------------------------- */

struct seen {
	pid_t pid;
	uint64_t start;
	uint64_t epoch;
	char *text;
	size_t len;
};

#define SEEN_MAX 4096
struct reader {
	struct seen tab[SEEN_MAX];
	uint64_t epoch;
	uint64_t r;
};

static struct seen *seen_get(struct reader *rd, pid_t pid, uint64_t start)
{
	size_t h = ((size_t)pid * 2654435761u) % SEEN_MAX;

	for (size_t i = 0; i < SEEN_MAX; i++) {
		struct seen *s = &rd->tab[(h + i) % SEEN_MAX];

		if (s->pid == pid && s->start == start)
			return s;
		if (!s->pid || s->epoch + 2 < rd->epoch) {
			free(s->text);
			s->text = NULL;
			s->len = 0;
			s->pid = pid;
			s->start = start;
			return s;
		}
	}
	return NULL;
}

/* Checks one ptags text of a marked process; returns false on a violation. */
static bool check_text(const char *what, pid_t pid, const char *t, size_t len)
{
	int count = 0;
	const char *p = t, *end = t + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *sp, *eq;
		char val[PTAG_VALUE_MAX];
		size_t vl;

		if (!nl) {
			violation("%s of %d: a line without a newline", what, pid);
			return false;
		}
		sp = memchr(p, ' ', nl - p);
		eq = sp ? memchr(sp, '=', nl - sp) : NULL;
		if (!sp || !eq || sp == p || eq == sp + 1) {
			violation("%s of %d: malformed line '%.*s'", what, pid, (int)(nl - p), p);
			return false;
		}
		if (sp - p != 1 || *p != '0') {
			violation("%s of %d: owner '%.*s', expected 0", what, pid, (int)(sp - p), p);
			return false;
		}
		vl = value_of(sp + 1, eq - sp - 1, val);
		if ((size_t)(nl - eq - 1) != vl || memcmp(eq + 1, val, vl)) {
			violation("values: %s of %d: key %.*s has a value it was not set with", what,
				  pid, (int)(eq - sp - 1), sp + 1);
			return false;
		}
		count++;
		p = nl + 1;
	}
	if (count > PTAG_MAX_TAGS) {
		violation("bounded: %s of %d has %d tags", what, pid, count);
		return false;
	}
	return true;
}

static void reader_visit(struct reader *rd, pid_t pid)
{
	char path[64], stat[1024], text[16384];
	uint64_t start = 0;
	struct seen *s;
	ssize_t n;
	int dfd, tfd;
	char *cp;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	n = read_at(dfd, "ptags", text, sizeof(text));
	ADD(proc_reads, 1);
	if (n < 0 || strncmp(text, "0 " MARKER "=", sizeof(MARKER) + 2)) {
		/* gone, or not one of ours (the marker is every test process's first tag) */
		close(dfd);
		return;
	}
	/* the same process (the directory pins its pid): its start time */
	n = read_at(dfd, "stat", stat, sizeof(stat));
	cp = n > 0 ? strrchr(stat, ')') : NULL;
	if (cp) {
		/* field 22, starttime: the 20th after the comm */
		for (int f = 0; f < 20 && cp; f++)
			cp = strchr(cp + 1, ' ');
		if (cp)
			start = strtoull(cp + 1, NULL, 10);
	}
	if (!start) {
		close(dfd);
		return;
	}
	n = strlen(text);
	{
		/* the taggers go for processes with room for more tags */
		int lines = 0;

		for (ssize_t i = 0; i < n; i++)
			lines += text[i] == '\n';
		if (lines < PTAG_MAX_TAGS) {
			uint64_t pos = ADD(ring_pos, 1);

			__atomic_store_n(&st->ring[pos % 256], pid, __ATOMIC_RELAXED);
		}
	}
	s = seen_get(rd, pid, start);
	if (!s) {
		close(dfd);
		return;
	}
	if (!s->text)
		ADD(procs_seen, 1);
	s->epoch = rd->epoch;
#define CHAIN(what, t, l)                                                                       \
	do {                                                                                    \
		if (check_text(what, pid, t, l)) {                                              \
			if (s->text && (s->len > (size_t)(l) || memcmp(s->text, t, s->len))) {  \
				violation("append: %s of %d (%zu bytes) does not extend the "  \
					  "previous read (%zu bytes) of the process", what,    \
					  pid, (size_t)(l), s->len);                            \
			} else {                                                                \
				ADD(checks, 1);                                                 \
			}                                                                       \
			free(s->text);                                                          \
			s->text = malloc((l) + 1);                                              \
			memcpy(s->text, t, (l) + 1);                                            \
			s->len = (l);                                                           \
		}                                                                               \
	} while (0)
	CHAIN("/proc/<pid>/ptags", text, (size_t)n);
	tfd = openat(dfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd >= 0) {
		DIR *d = fdopendir(tfd);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char name[300];

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			snprintf(name, sizeof(name), "%s/ptags", e->d_name);
			n = read_at(tfd, name, text, sizeof(text));
			if (n < 0)
				continue; /* the thread exited */
			ADD(task_reads, 1);
			CHAIN("/proc/<pid>/task/<tid>/ptags", text, (size_t)n);
		}
		if (d)
			closedir(d);
		else
			close(tfd);
	}
	close(dfd);
}

static void *reader_main(void *unused)
{
	struct reader *rd = calloc(1, sizeof(*rd));

	(void)unused;
	while (!STOPPED()) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		rd->epoch++;
		while (d && (e = readdir(d)) && !STOPPED())
			if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
				reader_visit(rd, atoi(e->d_name));
		if (d)
			closedir(d);
		/* between full scans, the test processes seen lately, again and again */
		for (int pass = 0; pass < 8 && !STOPPED(); pass++)
			for (int i = 0; i < 256 && !STOPPED(); i++) {
				pid_t pid = __atomic_load_n(&st->ring[i], __ATOMIC_RELAXED);

				if (pid > 0)
					reader_visit(rd, pid);
			}
	}
	for (int i = 0; i < SEEN_MAX; i++)
		free(rd->tab[i].text);
	free(rd);
	return NULL;
}

/* ---- taggers: pidfds of the test processes, some exiting -------------- */

static void *tagger_main(void *arg)
{
	int me = (int)(intptr_t)arg;
	uint64_t r = seed ^ (0xabcdull + me), k = 0;

	while (!STOPPED()) {
		pid_t pid = __atomic_load_n(&st->ring[rng_below(&r, 256)], __ATOMIC_RELAXED);
		struct ptag_args a = { .key = (uintptr_t)MARKER, .flags = PTAG_F_PIDFD };
		char key[64], val[PTAG_VALUE_MAX], got[PTAG_VALUE_MAX];
		int pidfd, ret;
		long g;

		if (pid <= 0) {
			usleep(200);
			continue;
		}
		pidfd = sys_pidfd_open(pid, 0);
		if (pidfd < 0) {
			/* gone: forget it (unless the slot was reused meanwhile) */
			for (int i = 0; i < 256; i++) {
				int32_t old = pid;

				__atomic_compare_exchange_n(&st->ring[i], &old, 0, false,
							    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			}
			ADD(pidfd_open_fail, 1);
			continue;
		}
		/* the pidfd pins the process: is it (still) one of ours? */
		a.pidfd = pidfd;
		if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) < 0) {
			ADD(pidfd_skipped, 1);
			close(pidfd);
			continue;
		}
		snprintf(key, sizeof(key), "p%d.%" PRIu64, me, k++);
		ret = set_key(pidfd, key);
		if (ret == 0) {
			ADD(pidfd_sets_ok, 1);
			a.key = (uintptr_t)key;
			a.value = (uintptr_t)got;
			a.value_len = sizeof(got);
			g = ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0);
			if (g >= 0 && ((size_t)g != value_of(key, strlen(key), val) ||
				       memcmp(got, val, g) || a.owner != 0))
				violation("values: %s set by pidfd on %d reads back differently", key,
					  pid);
			else if (g < 0 && g != -ESRCH)
				violation("PR_GET_PTAG by pidfd of %s just set on %d: %s", key, pid,
					  strerror((int)-g));
		} else if (ret == -ENOSPC) {
			ADD(pidfd_sets_enospc, 1);
		} else if (ret == -ESRCH) {
			ADD(pidfd_sets_esrch, 1);
		} else {
			violation("PR_SET_PTAG by pidfd on %d: %s", pid, strerror(-ret));
		}
		close(pidfd);
		usleep(rng_below(&r, 500));
	}
	return NULL;
}

/* ---- supervisor ------------------------------------------------------- */

int main(int argc, char **argv)
{
	double seconds = 60;
	int families = 3, readers = 2, taggers = 2, status;
	const char *json = NULL;
	pthread_t rt[8], tt[8];
	uint64_t t0;
	bool seeded = false;

	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0) {
		perror("readlink");
		return 2;
	}
	if (argc == 4 && (!strcmp(argv[1], "--exec-child") || !strcmp(argv[1], "--family"))) {
		attach_stats(atoi(argv[2]));
		seed = st->seed;
		if (!strcmp(argv[1], "--exec-child"))
			return exec_child_main(argv[3], true);
		return family_main(argv[3], true);
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0), seeded = true;
		else if (!strcmp(argv[i], "--families") && i + 1 < argc)
			families = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else {
			fprintf(stderr, "usage: stress [--seconds N] [--seed N] [--families N] "
					"[--json FILE]\n");
			return 2;
		}
	}
	if (!seeded)
		seed = now_ns();
	{
		struct ptag_args a = { .key = (uintptr_t)MARKER };

		if (ptag_call(PR_GET_PTAG, &a, sizeof(a), 0, 0) != -ENOENT) {
			fprintf(stderr, "stress: the kernel lacks process tags, or this process is "
					"already marked\n");
			return 2;
		}
	}
	{
		int fd = memfd_create("ptag-stress", 0);

		if (fd < 0 || ftruncate(fd, sizeof(struct stats))) {
			perror("stress: memfd");
			return 2;
		}
		attach_stats(fd);
	}
	st->next_fid = 1;
	st->seed = seed;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	printf("stress: seed=%" PRIu64 " seconds=%.0f families=%d readers=%d taggers=%d\n", seed,
	       seconds, families, readers, taggers);
	fflush(stdout);
	for (int i = 0; i < readers; i++)
		pthread_create(&rt[i], NULL, reader_main, NULL);
	for (int i = 0; i < taggers; i++)
		pthread_create(&tt[i], NULL, tagger_main, (void *)(intptr_t)i);
	t0 = now_ns();
	while ((now_ns() - t0) / 1e9 < seconds) {
		pid_t pid;

		while (waitpid(-1, &status, WNOHANG) > 0) {
			if (!WIFEXITED(status) || WEXITSTATUS(status))
				violation("a test process ended with status %#x", status);
		}
		if (__atomic_load_n(&st->families_alive, __ATOMIC_RELAXED) < (uint64_t)families) {
			ADD(families_alive, 1);
			ADD(families, 1);
			fflush(stdout);
			pid = fork();
			if (!pid) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				_exit(family_main(NULL, true));
			}
			if (pid < 0)
				ADD(families_alive, -1);
		}
		usleep(20000);
	}
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELAXED);
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			violation("a test process ended with status %#x", status);
	for (int i = 0; i < readers; i++)
		pthread_join(rt[i], NULL);
	for (int i = 0; i < taggers; i++)
		pthread_join(tt[i], NULL);
	{
		double secs = (now_ns() - t0) / 1e9;

		printf("stress: %.1f s: %" PRIu64 " families (%" PRIu64 " re-exec'd), tags set by "
		       "themselves ok=%" PRIu64 " EEXIST=%" PRIu64 " ENOSPC=%" PRIu64 " other=%" PRIu64
		       ", raced keys %" PRIu64 "\n", secs, st->families, st->family_execs,
		       st->sets_ok, st->sets_eexist, st->sets_enospc, st->sets_other, st->race_keys);
		printf("stress: forks=%" PRIu64 " vforks=%" PRIu64 " clone3=%" PRIu64
		       " exec'd children=%" PRIu64 " threads=%" PRIu64 "\n", st->forks, st->vforks,
		       st->clone3s, st->exec_children, st->threads);
		printf("stress: reads: /proc/<pid>/ptags=%" PRIu64 " task/<tid>/ptags=%" PRIu64
		       " (%" PRIu64 " test processes followed); by pidfd: set ok=%" PRIu64
		       " ENOSPC=%" PRIu64 " ESRCH=%" PRIu64 ", gone before pidfd_open %" PRIu64 "\n",
		       st->proc_reads, st->task_reads, st->procs_seen, st->pidfd_sets_ok,
		       st->pidfd_sets_enospc, st->pidfd_sets_esrch, st->pidfd_open_fail);
		printf("stress: invariant checks=%" PRIu64 " violations=%" PRIu64 "\n", st->checks,
		       st->violations);
		if (json) {
			FILE *f = fopen(json, "w");

			if (f) {
				fprintf(f, "{\"seed\": %" PRIu64 ", \"seconds\": %.2f, \"families\": %" PRIu64
					   ", \"family_execs\": %" PRIu64 ", \"self_sets_ok\": %" PRIu64
					   ", \"self_sets_eexist\": %" PRIu64 ", \"self_sets_enospc\": %" PRIu64
					   ", \"raced_keys\": %" PRIu64 ", \"forks\": %" PRIu64
					   ", \"vforks\": %" PRIu64 ", \"clone3\": %" PRIu64
					   ", \"exec_children\": %" PRIu64 ", \"threads\": %" PRIu64
					   ", \"proc_reads\": %" PRIu64 ", \"task_reads\": %" PRIu64
					   ", \"processes_followed\": %" PRIu64 ", \"pidfd_sets_ok\": %" PRIu64
					   ", \"pidfd_sets_enospc\": %" PRIu64 ", \"pidfd_sets_esrch\": %" PRIu64
					   ", \"checks\": %" PRIu64 ", \"violations\": %" PRIu64 "}\n",
					seed, secs, st->families, st->family_execs, st->sets_ok,
					st->sets_eexist, st->sets_enospc, st->race_keys, st->forks,
					st->vforks, st->clone3s, st->exec_children, st->threads,
					st->proc_reads, st->task_reads, st->procs_seen,
					st->pidfd_sets_ok, st->pidfd_sets_enospc, st->pidfd_sets_esrch,
					st->checks, st->violations);
				fclose(f);
			}
		}
	}
	return st->violations ? 1 : 0;
}
