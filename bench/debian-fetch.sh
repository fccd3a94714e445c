#!/usr/bin/env bash
# Fetch and unpack python3's closure from an empty store (indexes included), next to
# `mmdebstrap --variant=essential --include=python3,ca-certificates` on the same machine,
# measured side by side in one run. Both download from deb.debian.org; neither keeps a
# cache between runs (cairn's store and mmdebstrap's output are removed before each).
#
# Usage: bench/debian-fetch.sh [SUITE] [RUNS]     (default: trixie 5)
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-trixie}
runs=${2:-5}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(realpath -m bench/tmp/fetch-$suite)
mkdir -p "$work"
cargo build --release --locked -p cairn >&2

hyperfine --runs "$runs" --export-json "$work/hyperfine.json" \
  --prepare "rm -rf $work/store $work/root.tar" \
  -n "cairn debian fetch python3 ca-certificates (empty store)" \
  "target/release/cairn --quiet --store $work/store debian fetch --suite $suite python3 ca-certificates" \
  -n "mmdebstrap --variant=essential --include=python3,ca-certificates" \
  "mmdebstrap --quiet --variant=essential --include=python3,ca-certificates $suite $work/root.tar"
python3 - "$work/hyperfine.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
c, m = r[0]["median"], r[1]["median"]
print(f"median: cairn {c:.2f} s, mmdebstrap {m:.2f} s, ratio cairn/mmdebstrap {c/m:.2f}")
PY
