#!/usr/bin/env bash
# `cairn debian resolve python3 ca-certificates` with the indexes already in the store,
# against `apt-get install -s` with an empty status file for the same request, on the
# same suites (trixie main + trixie-security main, amd64), measured side by side.
#
# apt runs under an isolated configuration (APT_CONFIG, as the oracle tests use), with
# its indexes and its binary cache (pkgcache.bin) already built by `apt-get update`, so
# both tools start warm.
#
# Usage: bench/debian-resolve.sh [SUITE]     (default: trixie)
set -euo pipefail
cd "$(dirname "$0")/.."

suite=${1:-trixie}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
command -v hyperfine >/dev/null || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq hyperfine >/dev/null; }

work=$(realpath -m bench/tmp/resolve-$suite)
rm -rf "$work" && mkdir -p "$work"/{etc/apt.conf.d,etc/preferences.d,etc/sources.list.d,etc/trusted.gpg.d,state/lists/partial,cache/archives/partial,log}
: > "$work/status"
cat > "$work/etc/sources.list" <<LIST
deb [trusted=yes arch=amd64] http://deb.debian.org/debian $suite main
deb [trusted=yes arch=amd64] http://deb.debian.org/debian-security $suite-security main
LIST
cat > "$work/apt.conf" <<CONF
Dir::Etc "$work/etc/"; Dir::Etc::main "$work/etc/apt.conf"; Dir::Etc::parts "$work/etc/apt.conf.d/";
Dir::Etc::sourcelist "$work/etc/sources.list"; Dir::Etc::sourceparts "$work/etc/sources.list.d/";
Dir::Etc::preferences "$work/etc/preferences"; Dir::Etc::preferencesparts "$work/etc/preferences.d/";
Dir::Etc::trusted "$work/etc/trusted.gpg"; Dir::Etc::trustedparts "$work/etc/trusted.gpg.d/";
Dir::State "$work/state/"; Dir::State::lists "$work/state/lists/"; Dir::State::status "$work/status";
Dir::State::extended_states "$work/state/extended_states";
Dir::Cache "$work/cache/"; Dir::Cache::archives "$work/cache/archives/"; Dir::Log "$work/log/";
Debug::NoLocking "true"; APT::Sandbox::User "root"; APT::Architecture "amd64"; APT::Architectures "amd64";
APT::Install-Recommends "false"; Acquire::Languages "none"; Acquire::PDiffs "false";
CONF
export APT_CONFIG=$work/apt.conf
apt-get -qq update >&2

cargo build --release --locked -p cairn >&2
store=$work/store
target/release/cairn --store "$store" debian resolve --suite "$suite" python3 ca-certificates > "$work/cairn.txt"
apt-get install -s python3 ca-certificates | awk '/^Inst /{print $2}' | sort > "$work/apt.txt"
cut -d' ' -f1 "$work/cairn.txt" | diff - "$work/apt.txt" >&2 && echo "same $(wc -l < "$work/apt.txt") packages as apt" >&2

hyperfine -N --warmup 3 --runs 20 --export-json "$work/hyperfine.json" \
  -n "cairn debian resolve (indexes in the store)" \
  "target/release/cairn --store $store debian resolve --offline --suite $suite python3 ca-certificates" \
  -n "apt-get install -s (empty status)" \
  "apt-get install -s python3 ca-certificates"
python3 - "$work/hyperfine.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
c, a = r[0]["median"], r[1]["median"]
print(f"median: cairn {c*1000:.0f} ms, apt {a*1000:.0f} ms, ratio cairn/apt {c/a:.2f}")
PY
