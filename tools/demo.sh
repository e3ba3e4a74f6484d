#!/usr/bin/env bash
# demo.sh: the ptag story in one short transcript, with a real container.
#
# Runs as root inside the VM on the patched kernel, with ptag, ptag-exec and
# ptag-runtime on PATH (the venv's bin) and crun installed.  `make demo` boots
# the VM and runs it.  It:
#   1. runs a real container, "web", with crun through ptag-runtime (the tags
#      come from its id and config.json's annotations); inside it a nested
#      "container", "build", started with ptag-exec and unshare, the way a
#      runtime inside a container (podman in docker) tags its own;
#   2. lets one process of "web" escape the usual way (double fork, setsid),
#      and moves it to build's cgroup;
#   3. execs a process into "web" (ptag-runtime exec: `docker exec` on Docker);
#   4. shows `ptag ps --tree` attributing every process, escapee and exec'd
#      process included, and `ptag explain` on the escapee: the cgroup guess
#      blames "build";
#   5. tries to remove or rewrite tags, from inside the container and as root.
# Real: the container (crun: namespaces, cgroup, pivot_root), its tags, the
# exec.  Staged: build's cgroup and the moves into it (a nested runtime would
# make its own), and the cgroups' names (Podman's).  Everything it starts is
# killed on exit.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=${PTAG_DEMO_DIR:-/tmp/ptag-demo}
WEB_ID=7d3c9f0e5b2a41c8a6e4f1b0d9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0
BUILD_ID=2b8e4f1a9c0d4e7b8a6f5c3d2e1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b
CRUN=(ptag-runtime --ptag-runtime=crun --root "$DEMO/crun")

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
# the PIDs (host view) whose tags have the line "KEY=VALUE" after the owner
tagged() {
	local f
	for f in /proc/[0-9]*/ptags; do
		grep -qs " $1\$" "$f" && { f=${f#/proc/}; echo "${f%/ptags}"; }
	done
}

[ "$(id -u)" -eq 0 ] || die "run me as root (inside the VM: make demo)"
for c in ptag ptag-exec ptag-runtime crun; do
	command -v "$c" >/dev/null || die "$c must be on PATH (the venv's bin; crun: tools/setup)"
done
[ -e /proc/self/ptags ] || die "this kernel lacks ptag support: run me in the VM (make demo)"
[ -x /bin/busybox ] || die "no /bin/busybox: install busybox-static (tools/setup does)"

cgroot=/sys/fs/cgroup
[ "$(stat -f -c %T "$cgroot" 2>/dev/null)" = cgroup2fs ] || mount -t cgroup2 none "$cgroot" ||
	die "cannot mount cgroup2 on $cgroot"
# crun makes web's cgroup at cgroupsPath; the nested one is the demo's
WEB_CGPATH=/machine.slice/libpod-$WEB_ID.scope
WEB_CG=$cgroot$WEB_CGPATH
BUILD_CG=$WEB_CG/libpod-$BUILD_ID.scope

cleanup() {
	crun --root "$DEMO/crun" kill "$WEB_ID" KILL 2>/dev/null
	for _ in $(seq 50); do
		[ -d "$BUILD_CG" ] && ! rmdir "$BUILD_CG" 2>/dev/null && { sleep 0.1; continue; }
		break
	done
	crun --root "$DEMO/crun" delete --force "$WEB_ID" 2>/dev/null
	rmdir "$cgroot/machine.slice" 2>/dev/null
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- the bundle: busybox, plus the host's /usr, Python and this repository
#    read-only, so that ptag-exec runs inside as a nested runtime's hook would --
rm -rf "${DEMO:?}"
mkdir -p "$DEMO/bundle/rootfs" "$DEMO/state/bin" "$DEMO/crun" && mkfifo "$DEMO/state/tamper" ||
	die "cannot create $DEMO"
py=$(readlink -f "$(command -v python3)")
python3 - "$DEMO" "$WEB_ID" "$WEB_CGPATH" "$REPO" "${py%/bin/*}" <<'EOF' || die "cannot make the bundle"
import json, os, shutil, subprocess, sys
demo, cid, cgpath, repo, pyprefix = sys.argv[1:]
root = f"{demo}/bundle/rootfs"
for d in ("bin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "usr", "demo", repo[1:]):
    os.makedirs(f"{root}/{d}", exist_ok=True)
os.symlink("usr/lib", f"{root}/lib")
os.symlink("usr/lib64", f"{root}/lib64")
shutil.copy("/bin/busybox", f"{root}/bin/busybox")
for applet in ("sh", "cat", "sleep", "setsid", "touch", "echo"):
    os.symlink("busybox", f"{root}/bin/{applet}")
open(f"{root}/etc/passwd", "w").write("root:x:0:0:root:/root:/bin/sh\n")
subprocess.run(["crun", "spec"], cwd=f"{demo}/bundle", check=True)
path = f"{demo}/bundle/config.json"
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
p["args"] = ["sh", "/demo/web.sh"]
p["env"] = [f"PATH={repo}/.venv/bin:/bin:/usr/bin", "HOME=/root"]
# a nested runtime needs CAP_SYS_ADMIN (unshare); CAP_SETUID for setpriv
for k in ("bounding", "effective", "permitted"):
    p["capabilities"][k] += ["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"]
c["hostname"] = "web"
binds = [("/usr", "/usr", "ro"), (repo, repo, "ro"), (f"{demo}/state", "/demo", "rw")]
if not pyprefix.startswith("/usr"):
    os.makedirs(f"{root}/{pyprefix[1:]}", exist_ok=True)
    binds.append((pyprefix, pyprefix, "ro"))
c["mounts"] += [{"destination": d, "type": "bind", "source": s,
                 "options": ["rbind", "nosuid", "nodev", o]} for s, d, o in binds]
c["annotations"] = {"org.ptag.tag.container.name": "web"}
c["linux"]["cgroupsPath"] = cgpath
json.dump(c, open(path, "w"), indent=1)
EOF
# friendly process names: comm is the name a program is started by
for name in web-server web-worker build-job escapee debug-shell; do
	ln -s /usr/bin/sleep "$DEMO/state/bin/$name"
done

# -- the container's own scripts (/demo inside is $DEMO/state) ---------------
# "build": a runtime inside "web" (podman in docker).  Its processes inherit
# web's tags, which nobody can rewrite, so it adds keys of its own.
cat >"$DEMO/state/build.sh" <<'EOF'
/demo/bin/build-job 600 &
/demo/bin/build-job 600 &
touch /demo/build.up
wait
EOF
cat >"$DEMO/state/web.sh" <<EOF
/demo/bin/web-server 600 &
/demo/bin/web-worker 600 &
ptag-exec -t nested.container.id=$BUILD_ID -t nested.container.name=build \\
	-t nested.container.runtime=podman -- \\
	unshare --pid --fork --mount-proc sh /demo/build.sh &
# the escapee: fork, fork again and let the middle one die, start a new session
( setsid /demo/bin/escapee 600 & ) </dev/null
# wait until told (a FIFO: no sleep loop to show up in the listing), then try
# to tamper with the tags from inside
read -r _ </demo/tamper
{
	echo '# ptag-exec -t container.id=evil -- true'
	ptag-exec -t container.id=evil -- true; echo "(exit status \$?)"
	echo '# ptag set -p 1 container.name=db'
	ptag set -p 1 container.name=db; echo "(exit status \$?)"
} >/demo/tamper.log 2>&1
touch /demo/tamper.done
wait
EOF

say "1. A real container (crun through ptag-runtime), and one nested in it"
note "web: crun, a busybox root, config.json annotated org.ptag.tag.container.name=web,"
note "     cgroup …/libpod-${WEB_ID:0:12}….scope (named the way Podman names it):"
printf '$ ptag-runtime --ptag-runtime=crun run -d --bundle bundle %s…\n' "${WEB_ID:0:12}"
"${CRUN[@]}" run -d --bundle "$DEMO/bundle" "$WEB_ID" </dev/null >"$DEMO/run.log" 2>&1 ||
	{ cat "$DEMO/run.log"; die "the container did not start"; }
note "build: inside web, a nested runtime's hook tags its own processes:"
note "  ptag-exec -t nested.container.id=${BUILD_ID:0:12}… -t nested.container.name=build \\"
note "            -t nested.container.runtime=podman -- \\"
note "    unshare --pid --fork --mount-proc sh build.sh"
note "(build cannot reuse web's keys: they are set, and a set tag never changes)"

# wait for both containers and the escapee (a shell loop: each ptag command is
# a Python start, seconds under an emulated CPU)
escapee='' deadline=$((SECONDS + 90))
while [ "$SECONDS" -lt "$deadline" ]; do
	escapee=$(pgrep -x escapee)
	[ -n "$escapee" ] && [ -e "$DEMO/state/build.up" ] && break
	sleep 0.05
done
[ -n "$escapee" ] && [ -e "$DEMO/state/build.up" ] || die "the containers did not start"
# staged: what the nested runtime would do, and the escapee's move
mkdir "$BUILD_CG" || die "cannot create build's cgroup"
for pid in $(tagged "nested.container.name=build") "$escapee"; do
	echo "$pid" >"$BUILD_CG/cgroup.procs" || die "cannot move $pid to build's cgroup"
done

say "2. One process escapes: double fork, setsid, moved to build's cgroup"
run cat "/proc/$escapee/cgroup"

say "3. An exec into web (docker exec, podman exec, kubectl exec)"
printf '$ ptag-runtime --ptag-runtime=crun exec -d %s… /demo/bin/debug-shell 600\n' "${WEB_ID:0:12}"
"${CRUN[@]}" exec -d "$WEB_ID" /demo/bin/debug-shell 600 </dev/null >"$DEMO/exec.log" 2>&1 ||
	{ cat "$DEMO/exec.log"; die "the exec failed"; }
note "(not a descendant of the container's init, and no hook runs for it:"
note " ptag-runtime copied the init's tags onto itself before it ran crun)"

say "4. ptag ps --tree: every process attributed by its tags"
run ptag ps --tree -l container.id \
	-o pid,comm,tag:container.name,tag:nested.container.name,guess
note ""
note "ptag explain: the cgroup heuristic gets the escapee wrong"
run ptag explain "$escapee"

say "5. Tags cannot be removed or rewritten"
note "From inside web (as its root):"
echo go >"$DEMO/state/tamper"
deadline=$((SECONDS + 60))
while [ ! -e "$DEMO/state/tamper.done" ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.05
done
sed 's/^/  /' "$DEMO/state/tamper.log"
note "As root on the host:"
run ptag set -p "$escapee" container.id="$BUILD_ID"
run ptag set -p "$escapee" --exist-ok container.name=build
printf '$ echo > /proc/%s/ptags\n' "$escapee"
if (echo >"/proc/$escapee/ptags") 2>"$DEMO/write.err"; then
	note "(written?!)"
else
	sed 's/^.*line [0-9]*: //' "$DEMO/write.err"
fi
note "(and there is no operation to remove a tag: the kernel has none)"
note "A user cannot even add a tag to someone else's process:"
run setpriv --reuid=65534 --regid=65534 --clear-groups \
	ptag set -p "$escapee" note=mine
note "The escapee's tags, unchanged (owner uid first):"
run cat "/proc/$escapee/ptags"
