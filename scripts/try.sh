#!/usr/bin/env bash
# Builds cairn and runs its main job on a fresh store: the project examples/python-http
# (a cairn.star: python3 and a static site from trixie, fetched from deb.debian.org)
# locked, built, built again (nothing to do), inspected, and run with podman when it is
# installed. First, the store on its own: a directory with its dependency, its
# closure, its metadata, a verify.
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

# The main job: a project. A copy of examples/python-http (a static site served by
# Python's http.server as nonroot), locked against trixie and built.
project=$work/python-http
cp -r examples/python-http "$project"
echo "== cairn lock, then cairn build, in a copy of examples/python-http ($project)" >&2
$cairn --store "$store" lock -C "$project"
$cairn --store "$store" build -C "$project"
echo "== the same build again: nothing to do" >&2
time $cairn --store "$store" build -C "$project"
$cairn --store "$store" inspect -C "$project" web
if command -v podman >/dev/null && [ -x /usr/sbin/runc ]; then
  echo "== cairn run: loading it into podman and running it, then fetching its page" >&2
  # Podman's storage goes in the temporary directory too, and this machine's podman
  # needs runc and these limits: all in podman's own configuration, which cairn run
  # leaves to podman.
  export CONTAINERS_CONF=$work/containers.conf CONTAINERS_STORAGE_CONF=$work/storage.conf
  printf '[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' >"$CONTAINERS_CONF"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$work/podman/root" "$work/podman/run" >"$CONTAINERS_STORAGE_CONF"
  $cairn --store "$store" run -C "$project" -p 127.0.0.1:18080:8000 web </dev/null &
  # http.server runs as the container's PID 1, which ignores SIGTERM: remove the
  # container (podman rm -f kills it), then podman's own storage.
  trap 'podman rm -f --all >/dev/null 2>&1; podman rmi -f --all >/dev/null 2>&1; wait; rm -rf "$work"' EXIT
  served=
  for _ in $(seq 100); do
    if page=$(python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:18080/").read().decode())' 2>/dev/null); then
      echo "$page"
      served=1
      break
    fi
    sleep 0.2
  done
  [ -n "$served" ] || { echo "error: the image did not serve its page" >&2; exit 1; }
else
  echo "== (install podman and runc to run it: scripts/test.sh does)" >&2
fi
