#!/usr/bin/env bash
# Builds cairn and runs its main job on a fresh store: a small image from Debian
# packages (busybox-static from trixie, fetched from deb.debian.org), inspected, and run
# with podman when it is installed. First, the store on its own: a directory with its
# dependency, its closure, its metadata, a verify.
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
# A lowercase path: podman names an `oci:` image after it.
work=${TMPDIR:-/tmp}/cairn-try-$$
mkdir -p "$work"
store=$work/store
trap 'rm -rf "$work"' EXIT

echo "== adding examples/hello-site/static, then the site that needs it, to a fresh store at $store" >&2
assets=$($cairn --store "$store" store add examples/hello-site/static --name hello-assets)
site=$($cairn --store "$store" store add examples/hello-site --name hello-site --reference "$assets")
echo "== closure of $site" >&2
$cairn --store "$store" store closure "$site"
echo "== info" >&2
$cairn --store "$store" store info "$site"
echo "== verify" >&2
$cairn --store "$store" store verify

image=$work/busybox
echo "== building an image of busybox-static (trixie) into $image" >&2
$cairn --store "$store" image build --suite trixie --package busybox-static \
  --entrypoint /usr/bin/busybox --cmd "echo hello from a cairn image" --user nonroot \
  --output "oci:$image"
$cairn --store "$store" image inspect "oci:$image"
if command -v podman >/dev/null && [ -x /usr/sbin/runc ]; then
  echo "== running it with podman" >&2
  podman --runtime /usr/sbin/runc run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    "oci:$image:latest"
else
  echo "== (install podman and runc to run it: scripts/test.sh does)" >&2
fi
