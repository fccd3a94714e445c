#!/usr/bin/env bash
# Composing a `run()` step's root file system of `dash gcc libc6-dev` with the packages
# in the store (issue 7 target: under 300 ms), side by side in one hyperfine run:
# - `cairn build --check gcc`: runs the step again (evaluate, read the lock, compose the
#   root from the objects' listings, stack the objects with overlayfs under a top layer
#   of what composition adds, sandbox, remove the top layer, hash and compare the
#   output): an upper bound;
# - `cairn build --check tiny`: the same with a root of `dash` alone;
# - `cairn build gcc` with nothing to do: the fixed cost.
# check gcc - check tiny is what composing, stacking and removing gcc's root costs.
# The three run twice: with the store in bench/tmp/ (the disk), and with a second store
# on tmpfs (/dev/shm), which takes the disk's file system out of the figures.
#
# Then, without perf: the files in the composed roots (the store objects of each step's
# packages, and the syscalls of one run by `strace -c`), and where a check run's time
# goes, from a few landmark syscalls (`strace --seccomp-bpf`, which stops at those only).
#
# Usage: bench/step-compose.sh [RUNS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
source bench/lib.sh
need hyperfine=hyperfine strace=strace python3=python3

work=$(realpath -m bench/tmp/step-compose)
shm=/dev/shm/cairn-bench-step-compose
cleanup() { rm -rf "$shm"; }
trap cleanup EXIT
rm -rf "$work" "$shm" && mkdir -p "$work/project" "$shm"
cargo build --release --locked -p cairn >&2
bin=$PWD/target/release/cairn
cairn="$bin -q"
disk=$work/store
project=$work/project

# The images need an entrypoint that exists, hence dash (and with it libc6) in both.
cat >"$project/cairn.star" <<'STAR'
deb = debian(suite = "trixie")
s = run(name = "compose", deps = [deb.packages(["dash", "gcc", "libc6-dev"])], cmd = ["sh", "-c", "echo > /out/done"])
tiny = run(name = "tiny", deps = [deb.packages(["dash"])], cmd = ["sh", "-c", "echo > /out/done"])
image(name = "gcc", contents = [deb.packages(["libc6", "dash"]), s], entrypoint = ["/bin/sh"])
image(name = "tiny", contents = [deb.packages(["libc6", "dash"]), tiny], entrypoint = ["/bin/sh"])
STAR
$cairn --store "$disk" lock -C "$project"
# Fill and warm both stores (each downloads the packages once).
for store in "$disk" "$shm"; do
  $cairn --store "$store" build -C "$project" --no-link >/dev/null
done
echo "-- cairn build --check gcc -v (once):" >&2
$bin --store "$disk" -v build --offline -C "$project" --check gcc 2>&1 | grep -E '^(step|compose|[0-9]+ steps)' >&2

# What the roots are made of: the store objects of each step's package set.
python3 - "$project/cairn.lock" "$disk/v1/objects" <<'PY'
import os, sys, tomllib
lock = tomllib.load(open(sys.argv[1], "rb"))
objects = os.listdir(sys.argv[2])
for node in lock["debian"]:
    files = links = dirs = size = 0
    for p in node["package"]:
        suffix = f"-{p['name']}_{p['version'].replace(':', '-')}_{p['architecture']}"
        (obj,) = [o for o in objects if o.endswith(suffix)]
        for top, subdirs, names in os.walk(os.path.join(sys.argv[2], obj)):
            dirs += 1
            for name in subdirs + names:
                path = os.path.join(top, name)
                if os.path.islink(path):
                    links += 1
                elif name in names:
                    files += 1
                    size += os.lstat(path).st_size
    print(f"{' '.join(node['request'])}: {len(node['package'])} packages; their store objects hold "
          f"{files} regular files ({size / 1e6:.0f} MB), {links} symlinks, {dirs} directories")
PY
for step in gcc tiny; do
  strace -f -c -o "$work/strace-c-$step.txt" $cairn --store "$disk" build --offline -C "$project" --check $step >/dev/null
  echo "syscalls of one check $step run (strace -c):" \
    "$(awk '$NF ~ /^(linkat|symlink|symlinkat|mkdir|mkdirat|unlinkat|openat|fsconfig)$/ {printf " %s %s", $4, $NF}' "$work/strace-c-$step.txt")"
done

# Disk first, in the order no-op, tiny, gcc: on this VM's ext4 (no journal), allocating an
# inode skips every inode freed in the last minutes, so each command pays for the inodes the
# ones before it freed. tmpfs has no such effect.
cmds=()
for store in "$disk" "$shm"; do
  where=$([ "$store" = "$shm" ] && echo tmpfs || echo disk)
  cmds+=(-n "no-op build gcc ($where)" "$cairn --store $store build --offline -C $project --no-link gcc"
    -n "check tiny ($where)" "$cairn --store $store build --offline -C $project --check tiny"
    -n "check gcc ($where)" "$cairn --store $store build --offline -C $project --check gcc")
done
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/hyperfine.json" "${cmds[@]}" >&2

# Landmarks of a check run: exec; the last flock before the sandbox (the step's staging
# batch is open: composing starts); the fork of the sandbox (the root is ready); its
# wait4 (the sandbox has exited); the rename of its log (the root is removed); exit (the
# output hashed and compared). Each phase is the median of 10 runs.
for store in "$disk" "$shm"; do
  for step in gcc tiny; do
    for i in $(seq 10); do
      strace -f --seccomp-bpf -ttt -e trace=execve,flock,clone,wait4,rename,exit_group \
        -o "$work/landmarks-$(basename "$store")-$step-$i.txt" \
        $cairn --store "$store" build --offline -C "$project" --check $step >/dev/null
    done
  done
done

python3 - "$work" "$(basename "$disk")" "$(basename "$shm")" <<'PY'
import glob, json, re, statistics, sys
work, disk, shm = sys.argv[1:]
r = {x["command"]: x for x in json.load(open(f"{work}/hyperfine.json"))["results"]}
ms = lambda t: f"{t * 1000:.1f} ms"
for name, x in r.items():
    print(f"{name}: median {ms(x['median'])} (min {ms(x['min'])}, max {ms(x['max'])}, "
          f"mean user {ms(x['user'])}, sys {ms(x['system'])})")
for where in ("disk", "tmpfs"):
    g, t, n = (r[f"{k} ({where})"]["median"] for k in ("check gcc", "check tiny", "no-op build gcc"))
    print(f"{where}: check gcc {ms(g)} (target < 300 ms); check gcc - check tiny {ms(g - t)} "
          f"(composing, stacking and removing gcc's root); check gcc - no-op {ms(g - n)}; "
          f"gcc/tiny {g / t:.2f}")

def phases(path):
    lines = [l.split(None, 2) for l in open(path)]
    main = lines[0][0]
    mine = [(float(ts), rest) for pid, ts, rest in lines if pid == main]
    fork = next(i for i, (_, r) in enumerate(mine) if r.startswith("clone(") and "CLONE_THREAD" not in r)
    batch = max(i for i, (_, r) in enumerate(mine[:fork]) if r.startswith("flock("))
    waited = next(i for i, (_, r) in enumerate(mine) if "wait4" in r and re.search(r"= [0-9]+$", r))
    renamed = next(i for i, (_, r) in enumerate(mine) if r.startswith("rename(") and "/v1/logs/" in r)
    end = next(i for i, (_, r) in enumerate(mine) if r.startswith("exit_group"))
    marks = [mine[i][0] for i in (0, batch, fork, waited, renamed, end)]
    return [b - a for a, b in zip(marks, marks[1:])] + [marks[-1] - marks[0]]

names = ["start, evaluate, lock, store", "compose and stack the root", "sandbox",
         "remove the root", "hash, compare, exit", "total (under strace)"]
for where, store in (("disk", disk), ("tmpfs", shm)):
    med = {s: [statistics.median(c) for c in zip(*map(phases, glob.glob(f"{work}/landmarks-{store}-{s}-*.txt")))]
           for s in ("gcc", "tiny")}
    print(f"phases of a check run, store on {where} (strace landmarks, medians of 10):")
    print(f"  {'':30s} {'gcc':>9s} {'tiny':>9s} {'gcc-tiny':>9s}")
    for i, p in enumerate(names):
        print(f"  {p:30s} {ms(med['gcc'][i]):>9s} {ms(med['tiny'][i]):>9s} {ms(med['gcc'][i] - med['tiny'][i]):>9s}")
PY
