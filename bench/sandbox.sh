#!/usr/bin/env bash
# Start-to-exit overhead of `true` in cairn's sandbox (issue 7 target: under 50 ms),
# against Debian's bubblewrap with an equivalent setup, side by side in one hyperfine run.
#
# cairn: the `sandbox-run` example of cairn-sandbox (new user, mount, pid, net, uts, ipc
# and cgroup namespaces; the host's /usr read-only at /usr plus bin, lib and lib64
# symlinks; fresh /proc, minimal /dev, /tmp and home, loopback, limits, the build user).
# bwrap: --unshare-all --die-with-parent, the same /usr, symlinks, /proc, /dev and /tmp.
#
# Usage: bench/sandbox.sh [RUNS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
source bench/lib.sh
need hyperfine=hyperfine bwrap=bubblewrap python3=python3

work=$(realpath -m bench/tmp/sandbox)
rm -rf "$work" && mkdir -p "$work"
cargo build --release --locked -p cairn-sandbox --example sandbox-run >&2
run=$(realpath target/release/examples/sandbox-run)

# Both must work before they are timed (hyperfine -N would only see an exit code).
"$run" "$work/w" true
bwrap=(bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin
  --symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev --tmpfs /tmp)
"${bwrap[@]}" true

hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/hyperfine.json" \
  -n "cairn sandbox-run true" "$run $work/w true" \
  -n "bwrap true" "${bwrap[*]} true" >&2

python3 - "$work/hyperfine.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
c, b = r[0], r[1]
ms = lambda t: f"{t * 1000:.1f} ms"
for x in r:
    print(f"{x['command']}: median {ms(x['median'])} (min {ms(x['min'])}, max {ms(x['max'])}, "
          f"mean user {ms(x['user'])}, sys {ms(x['system'])})")
print(f"ratio cairn/bwrap (medians): {c['median'] / b['median']:.2f}  (target: cairn < 50 ms)")
PY
