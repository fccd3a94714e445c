#!/usr/bin/env bash
# Parsing a real Debian `Packages` index into typed packages (issue 3 target: the trixie
# main amd64 index, ~69,000 stanzas, in under 1 s).
#
# Usage: bench/debian-index.sh [SUITE]     (default: trixie; downloads the index once)
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-trixie}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v curl >/dev/null || need+=(curl)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p bench/tmp
index=bench/tmp/$suite-main-amd64-Packages
if [ ! -s "$index" ]; then
  curl -fsSL "http://deb.debian.org/debian/dists/$suite/main/binary-amd64/Packages.xz" | xz -dc > "$index.part"
  mv "$index.part" "$index"
fi
echo "index: $index ($(grep -c '^Package:' "$index") stanzas, $(du -h "$index" | cut -f1))" >&2

cargo build --release --locked -p cairn-debian --example parse_packages >&2
hyperfine -N --warmup 3 --runs 20 "target/release/examples/parse_packages $index"
