#!/usr/bin/env bash
# Builds cairn and runs its main job on a fresh store: today, adding a directory with
# its dependency and printing the closure. Later this builds an example image.
#
# Usage: scripts/try.sh            (from the repository root, as any user)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "error: cargo is not installed; cairn needs Rust 1.95 or newer (https://rustup.rs)" >&2
  exit 1
fi
if ! command -v cc >/dev/null; then
  echo "installing a C compiler (SQLite is built from source)…" >&2
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gcc libc6-dev
fi

cargo build --release --locked -p cairn
cairn=target/release/cairn
store=$(mktemp -d)/store
trap 'rm -rf "$(dirname "$store")"' EXIT

echo "== adding examples/hello-site/static, then the site that needs it, to a fresh store at $store" >&2
assets=$($cairn --store "$store" store add examples/hello-site/static --name hello-assets)
site=$($cairn --store "$store" store add examples/hello-site --name hello-site --reference "$assets")
echo "== closure of $site" >&2
$cairn --store "$store" store closure "$site"
echo "== info" >&2
$cairn --store "$store" store info "$site"
echo "== verify" >&2
$cairn --store "$store" store verify
