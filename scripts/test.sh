#!/usr/bin/env bash
# Installs every system package the tests use and runs the whole test suite.
# This is the test command of README.md; .ci/run calls it.
#
# Usage: scripts/test.sh           (root, or a user with sudo, on Debian 12 or newer)
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
# nix-bin: the oracle for NAR and hashes. dpkg and apt: the oracles for Debian versions
# and resolution (the live tests also reach deb.debian.org). util-linux: unshare/setpriv
# for the fault tests. gcc/libc6-dev: SQLite is compiled from source. skopeo and umoci:
# independent readers of the OCI layouts cairn writes; podman with runc runs the images;
# docker.io loads the docker-archives (the tests start their own dockerd on a socket in a
# temporary directory). python3-packaging: the oracle for wheel tags and file names.
# docker-registry (with htpasswd from apache2-utils): a real OCI registry for push and
# pull. nginx: a real HTTP binary cache (GET, HEAD, PUT).
packages=(nix-bin dpkg apt util-linux gcc libc6-dev skopeo umoci podman runc docker.io python3-packaging python3-pip docker-registry apache2-utils nginx openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The Debian version oracle test reads real archive versions from apt's indexes.
have_indexes() { compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; }
if [ ${#missing[@]} -gt 0 ] || ! have_indexes; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# moto in server mode: a real S3-compatible server for the S3 binary cache tests.
if ! python3 -c "import moto.server" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'moto[server]' 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]'
fi

# The oracle tests fail rather than skip when CI=true.
export CI="${CI:-}"
cargo test --workspace --locked --no-fail-fast
