#!/usr/bin/env bash
# `cairn store hash-path` against `nix hash path` on the same warm tree, side by side
# in one hyperfine run. Prints medians, the ratio, and NAR throughput.
#
# Usage: bench/hash-path.sh [TREE]     (default: the newest /usr/lib/python3.*)
#        RUNS=200 bench/hash-path.sh   (more runs)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v nix >/dev/null || need+=(nix-bin)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

tree=${1:-$(ls -d /usr/lib/python3.* | sort -V | tail -1)}
runs=${RUNS:-100}
cargo build --release --locked -p cairn >&2
cairn=target/release/cairn
nix_hash=(nix --extra-experimental-features nix-command hash path)

ours=$($cairn store hash-path "$tree")
theirs=$("${nix_hash[@]}" "$tree")
if [ "$ours" != "$theirs" ]; then
  echo "error: hashes differ: cairn $ours, nix $theirs" >&2
  exit 1
fi
nar_bytes=$($cairn store dump-nar "$tree" | wc -c)
entries=$(find "$tree" | wc -l)

mkdir -p bench/tmp
hyperfine -N --warmup 10 --runs "$runs" --export-json bench/tmp/hash-path.json \
  -n cairn "$cairn store hash-path $tree" \
  -n nix "${nix_hash[*]} $tree" >&2

python3 - "$nar_bytes" "$entries" "$tree" <<'PY'
import json, sys
nar, entries, tree = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = {x["command"]: x for x in json.load(open("bench/tmp/hash-path.json"))["results"]}
c, n = r["cairn"], r["nix"]
def cpu(x): return x["user"] + x["system"]
print(f"tree: {tree} ({entries} entries, NAR {nar / 1e6:.1f} MB)")
print(f"cairn median {c['median'] * 1e3:.1f} ms (mean {c['mean'] * 1e3:.1f} ± {c['stddev'] * 1e3:.1f})")
print(f"nix   median {n['median'] * 1e3:.1f} ms (mean {n['mean'] * 1e3:.1f} ± {n['stddev'] * 1e3:.1f})")
print(f"ratio cairn/nix (medians): {c['median'] / n['median']:.3f}  (target <= 0.6)")
print(f"cairn NAR throughput: {nar / c['median'] / 1e9:.2f} GB/s wall, "
      f"{nar / cpu(c) / 1e9:.2f} GB/s per CPU-second (user+sys {cpu(c) * 1e3:.1f} ms)  (target >= 1 GB/s per core)")
print(f"nix   NAR throughput: {nar / n['median'] / 1e9:.2f} GB/s wall, {nar / cpu(n) / 1e9:.2f} GB/s per CPU-second")
PY
