#!/usr/bin/env bash
# demo.sh: the ptag story in one short transcript.
#
# Runs as root inside the VM on the patched kernel, with ptag and ptag-exec on
# PATH (the venv's bin).  `make demo` boots the VM and runs it.  It:
#   1. starts two "containers" with unshare + ptag-exec, "build" nested
#      inside "web", each running a few processes, in cgroups named the way
#      docker and podman name theirs;
#   2. lets one process of "web" escape the usual way (double fork, setsid,
#      and a move to another cgroup: "build"'s);
#   3. shows `ptag ps --tree` attributing every process, escapee included;
#   4. shows `ptag explain` on the escapee: the cgroup guess blames "build";
#   5. tries to remove or rewrite tags, from inside a container and as root.
# Everything it starts lives in its cgroups and is killed on exit.
set -uo pipefail

DEMO=${PTAG_DEMO_DIR:-/tmp/ptag-demo}
WEB_ID=7d3c9f0e5b2a41c8a6e4f1b0d9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0
BUILD_ID=2b8e4f1a9c0d4e7b8a6f5c3d2e1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b

die() { printf 'demo: %s\n' "$*" >&2; exit 1; }
say() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
note() { printf '%s\n' "$*"; }
# show a command, run it, and show its exit status when it fails
run() {
	printf '$ %s\n' "$*"
	"$@"
	local rc=$?
	[ "$rc" -eq 0 ] || printf '(exit status %d)\n' "$rc"
	return 0
}

[ "$(id -u)" -eq 0 ] || die "run me as root (inside the VM: make demo)"
if ! command -v ptag >/dev/null || ! command -v ptag-exec >/dev/null; then
	die "ptag and ptag-exec must be on PATH (the venv's bin)"
fi
if [ ! -e /proc/self/ptags ]; then
	die "this kernel lacks ptag support: run me in the VM (make demo)"
fi

# -- cgroups: docker's and podman's naming, so the heuristics have a guess ---
cgroot=/sys/fs/cgroup
if [ "$(stat -f -c %T "$cgroot" 2>/dev/null)" != cgroup2fs ]; then
	mkdir -p "$cgroot" 2>/dev/null
	if ! mount -t cgroup2 none "$cgroot" 2>/dev/null; then
		cgroot=$DEMO/cgroup # paths in /proc/PID/cgroup do not depend on the mount point
		mkdir -p "$cgroot"
		mount -t cgroup2 none "$cgroot" || die "cannot mount cgroup2"
	fi
fi
WEB_CG=$cgroot/system.slice/docker-$WEB_ID.scope
BUILD_CG=$WEB_CG/libpod-$BUILD_ID.scope

cleanup() {
	[ -d "$WEB_CG" ] || return 0
	if [ -e "$WEB_CG/cgroup.kill" ]; then
		echo 1 >"$WEB_CG/cgroup.kill" 2>/dev/null
	else
		for _ in 1 2 3; do
			cat "$BUILD_CG/cgroup.procs" "$WEB_CG/cgroup.procs" 2>/dev/null |
				xargs -r kill -9 2>/dev/null
			sleep 0.1
		done
	fi
	for _ in $(seq 50); do
		rmdir "$BUILD_CG" "$WEB_CG" 2>/dev/null
		[ -d "$WEB_CG" ] || break
		sleep 0.1
	done
	rmdir "$cgroot/system.slice" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "${DEMO:?}/bin" "${DEMO:?}/state"
mkdir -p "$DEMO/bin" "$DEMO/state" "$WEB_CG" "$BUILD_CG" || die "cannot create cgroups"
# friendly process names: comm is the name a program is started by
for name in web-server web-worker build-job escapee; do
	ln -sf "$(command -v sleep)" "$DEMO/bin/$name"
done

# -- the containers' own scripts ----------------------------------------------
# "build": a runtime inside "web" (podman in docker).  Its processes inherit
# web's tags, which nobody can rewrite, so it adds keys of its own.
cat >"$DEMO/state/build.sh" <<EOF
$DEMO/bin/build-job 600 &
$DEMO/bin/build-job 600 &
touch $DEMO/state/build.up
wait
EOF

# "web": two servers, the nested container, and a process that escapes.
cat >"$DEMO/state/web.sh" <<EOF
$DEMO/bin/web-server 600 &
$DEMO/bin/web-worker 600 &
(
	echo 0 >$BUILD_CG/cgroup.procs
	exec ptag-exec -t nested.container.id=$BUILD_ID -t nested.container.name=build \\
		-t nested.container.runtime=podman -- \\
		unshare --pid --fork --mount-proc sh $DEMO/state/build.sh
) &
# the escapee: fork, fork again and let the middle one die, start a new
# session, and move to another cgroup (build's) before settling down
( setsid sh -c 'echo 0 >$BUILD_CG/cgroup.procs; exec $DEMO/bin/escapee 600' & ) </dev/null
# wait until told, then try to tamper with the tags from inside
while [ ! -e $DEMO/state/tamper ]; do sleep 0.05; done
{
	echo '# ptag-exec -t container.id=evil -- true'
	ptag-exec -t container.id=evil -- true; echo "(exit status \$?)"
	echo '# ptag set -p 1 container.name=db'
	ptag set -p 1 container.name=db; echo "(exit status \$?)"
} >$DEMO/state/tamper.log 2>&1
touch $DEMO/state/tamper.done
wait
EOF

say "1. Two containers, one nested in the other"
note "web (docker), in cgroup docker-${WEB_ID:0:12}….scope:"
note "  ptag-exec -t container.id=${WEB_ID:0:12}… -t container.name=web \\"
note "            -t container.runtime=docker -- \\"
note "    unshare --pid --fork --mount-proc sh web.sh"
note "build (podman inside web), in cgroup …/libpod-${BUILD_ID:0:12}….scope:"
note "  ptag-exec -t nested.container.id=${BUILD_ID:0:12}… -t nested.container.name=build \\"
note "            -t nested.container.runtime=podman -- \\"
note "    unshare --pid --fork --mount-proc sh build.sh"
note "(build cannot reuse web's keys: they are set, and a set tag never changes)"
(
	echo 0 >"$WEB_CG/cgroup.procs"
	exec ptag-exec -t container.id="$WEB_ID" -t container.name=web \
		-t container.runtime=docker -- \
		unshare --pid --fork --mount-proc sh "$DEMO/state/web.sh"
) </dev/null &
disown $!

# wait for both containers and the escapee (a shell loop: each ptag command is
# a Python start, seconds under an emulated CPU)
escapee='' deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
	escapee=$(pgrep -x escapee)
	[ -n "$escapee" ] && [ -e "$DEMO/state/build.up" ] && break
	sleep 0.05
done
[ -n "$escapee" ] || die "the containers did not start"

say "2. One process escapes: double fork, setsid, moved to build's cgroup"
run cat "/proc/$escapee/cgroup"

say "3. ptag ps --tree: every process attributed by its tags"
run ptag ps --tree -l container.id \
	-o pid,comm,tag:container.name,tag:nested.container.name,guess

say "4. ptag explain: the cgroup heuristic gets the escapee wrong"
run ptag explain "$escapee"

say "5. Tags cannot be removed or rewritten"
note "From inside web (as its root):"
touch "$DEMO/state/tamper"
deadline=$((SECONDS + 60))
while [ ! -e "$DEMO/state/tamper.done" ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.05
done
sed 's/^/  /' "$DEMO/state/tamper.log"
note "As root on the host:"
run ptag set -p "$escapee" container.id="$BUILD_ID"
run ptag set -p "$escapee" --exist-ok container.name=build
printf '$ echo > /proc/%s/ptags\n' "$escapee"
if (echo >"/proc/$escapee/ptags") 2>"$DEMO/state/write.err"; then
	note "(written?!)"
else
	sed 's/^.*line [0-9]*: //' "$DEMO/state/write.err"
fi
note "(and there is no operation to remove a tag: the kernel has none)"
note "A user cannot even add a tag to someone else's process:"
run setpriv --reuid=65534 --regid=65534 --clear-groups \
	ptag set -p "$escapee" note=mine
note "The escapee's tags, unchanged (owner uid first):"
run cat "/proc/$escapee/ptags"
