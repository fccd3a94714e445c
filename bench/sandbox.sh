#!/usr/bin/env bash
# Sandboxed steps (issue 7), side by side in one hyperfine run each:
# 1. Start-to-exit overhead of `true`: cairn's sandbox (the `sandbox-run` example of
#    cairn-sandbox: new user, mount, pid, net, uts, ipc and cgroup namespaces, the
#    host's /usr read-only, fresh /proc, minimal /dev, /tmp, home, loopback up, limits)
#    against Debian's bubblewrap with an equivalent setup.
# 2. A step whose root is `gcc libc6-dev` (+ dash), packages in the store: `cairn build
#    --check` runs the step again each time (evaluate, read the lock, compose the root,
#    hard-link it, sandbox, compare), next to the same with a root of `dash` alone, and a
#    no-op `cairn build` (the fixed cost). gcc minus tiny is what composing and linking
#    gcc's root costs.
#
# Usage: bench/sandbox.sh [RUNS]     (default 20; KEEP=1 keeps bench/tmp/sandbox)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v bwrap >/dev/null || need+=(bubblewrap)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(realpath -m bench/tmp/sandbox)
cleanup() { [ "${KEEP:-}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"

cargo build --release --locked -q -p cairn
cargo build --release --locked -q -p cairn-sandbox --example sandbox-run
run=$(realpath target/release/examples/sandbox-run)
cairn=$(realpath target/release/cairn)

echo "== sandbox start to exit: true" >&2
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/true.json" \
  -n cairn "$run $work/true true" \
  -n bwrap "bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp true"

echo "== a step's root: gcc libc6-dev" >&2
project=$work/project
mkdir -p "$project"
cat >"$project/cairn.star" <<'STAR'
deb = debian(suite = "trixie")
gcc = run(name = "gcc-root", deps = [deb.packages(["dash", "gcc", "libc6-dev"])], cmd = ["sh", "-c", "echo > /out/done"])
tiny = run(name = "tiny-root", deps = [deb.packages(["dash"])], cmd = ["sh", "-c", "echo > /out/done"])
image(name = "gcc", contents = [deb.packages(["dash"]), gcc], entrypoint = ["/bin/sh"])
image(name = "tiny", contents = [deb.packages(["dash"]), tiny], entrypoint = ["/bin/sh"])
STAR
export CAIRN_STORE=$work/store
$cairn -q lock -C "$project"
$cairn -q build -C "$project" --no-link >/dev/null
files=$(find "$CAIRN_STORE"/v1/objects -maxdepth 1 -type d -name '*-*' | while read -r o; do find "$o" -type f; done | wc -l)
echo "regular files in the store's package objects (gcc's closure and a few more): $files" >&2
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/step.json" \
  -n "check gcc" "$cairn -q build -C $project --check gcc" \
  -n "check tiny" "$cairn -q build -C $project --check tiny" \
  -n "no-op build" "$cairn -q build -C $project --no-link gcc"

python3 - "$work/true.json" "$work/step.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    results = json.load(open(path))["results"]
    medians = {r["command"]: r["median"] * 1000 for r in results}
    for name, ms in medians.items():
        print(f"{name:12s} median {ms:8.1f} ms")
    names = list(medians)
    print(f"ratio {names[0]}/{names[1]}: {medians[names[0]] / medians[names[1]]:.2f}")
    if len(names) == 3:
        print(f"compose + link gcc's root (check gcc - check tiny): {medians[names[0]] - medians[names[1]]:.1f} ms")
PY
