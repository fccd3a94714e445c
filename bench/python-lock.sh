#!/usr/bin/env bash
# Locking the Flask example's requirements (issue 6), cold and warm, side by side in one
# hyperfine run:
# - `cairn lock` of the Python node only: the project's lock is kept, so its `debian`
#   node (and with it the target Python) stays pinned, and `--upgrade` names every
#   locked wheel, which resolves the `python_env` node again with no preferences. This
#   is the same work as the two below. Cold: an empty store each run; warm: the store
#   kept (core metadata is read from it; project pages are fetched every time).
# - `uv pip compile requirements.txt` for CPython 3.13.5 on manylinux x86_64,
#   wheels only. Cold: an empty UV_CACHE_DIR each run; warm: the cache kept.
# - `pip install --dry-run --report` for the same target (`--python-version`,
#   `--platform` for every manylinux tag up to the lock's glibc, `--only-binary=:all:`).
#   Cold: `--no-cache-dir`; warm: a `--cache-dir` kept.
# - for reference, the whole `cairn lock --upgrade` of the project (Debian node too)
#   with no lock: cold (empty store: Debian indexes downloaded too) and warm.
# All of them must choose the same wheels; that is checked before timing.
#
# Name lookups: on some networks (this project's CI sandbox among them) a burst of
# concurrent DNS queries loses some, and glibc's resolver waits 5 s before it asks again.
# cairn used to make one lookup per connection (up to 8 at once) and met this in 25-45%
# of its runs; since 1f86a77 it looks each host up once. The summary still counts the
# runs that stalled like this. With PIN_DNS=1 the script
# runs itself in a private mount namespace whose /etc/hosts names the index, file and
# Debian mirror hosts (looked up once, at the start), which takes DNS out of every
# tool's time alike (needs root or sudo, and `unshare`).
#
# uv and pip are installed into a venv (BENCH_VENV, default /tmp/cairn-bench-venv),
# pinned to BENCH_UV and BENCH_PIP; a venv this script creates is removed at the end
# unless KEEP=1, as is its work directory (bench/tmp/python-lock).
#
# Usage: bench/python-lock.sh [RUNS]     (default 10)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$0")/.."

runs=${1:-10}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if [ "${PIN_DNS:-}" = 1 ] && [ -z "${CAIRN_BENCH_HOSTS:-}" ]; then
  hosts=$(mktemp /tmp/cairn-bench-hosts.XXXXXX)
  cat /etc/hosts > "$hosts"
  for host in pypi.org files.pythonhosted.org deb.debian.org; do
    ip=$(getent ahostsv4 "$host" | awk 'NR == 1 { print $1 }' || true)
    [ -z "$ip" ] || echo "$ip $host" >> "$hosts"
  done
  echo "PIN_DNS: $(tail -n +"$(($(wc -l < /etc/hosts) + 1))" "$hosts" | tr '\n' ';')" >&2
  status=0
  $SUDO env CAIRN_BENCH_HOSTS="$hosts" unshare --mount sh -c 'mount --bind "$CAIRN_BENCH_HOSTS" /etc/hosts && exec "$@"' \
    sh bash "$self" "$@" || status=$?
  rm -f "$hosts"
  exit $status
fi
venv=${BENCH_VENV:-/tmp/cairn-bench-venv}
uv_req=${BENCH_UV:-uv==0.13.9}
pip_req=${BENCH_PIP:-pip==26.3}
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
/usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(realpath -m bench/tmp/python-lock)
made_venv=
cleanup() {
  if [ "${KEEP:-}" != 1 ]; then
    rm -rf "$work"
    [ -z "$made_venv" ] || rm -rf "$venv"
  fi
}
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"

# This machine's pip settings must not change what pip does (a --find-links directory,
# say); the self-update check would add a request to pip's time only.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_NO_INDEX PIP_NO_CACHE_DIR PIP_CACHE_DIR \
  PIP_ONLY_BINARY PIP_PLATFORM PIP_PYTHON_VERSION PIP_CONSTRAINT PIP_REQUIRE_VIRTUALENV
export PIP_DISABLE_PIP_VERSION_CHECK=1
# uv: no user configuration, no managed Python downloads; the interpreter is named.
export UV_NO_CONFIG=1 UV_PYTHON_DOWNLOADS=never
unset UV_CACHE_DIR UV_INDEX_URL UV_EXTRA_INDEX_URL UV_INDEX UV_DEFAULT_INDEX UV_NO_CACHE

if ! { [ -x "$venv/bin/uv" ] && [ -x "$venv/bin/pip" ] \
  && "$venv/bin/pip" --version | grep -q "^pip ${pip_req#pip==} " \
  && "$venv/bin/uv" --version | grep -q "^uv ${uv_req#uv==}\( \|$\)"; }; then
  [ -d "$venv" ] || made_venv=1
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade "$uv_req" "$pip_req" >&2
fi
uv=$venv/bin/uv
pip=$venv/bin/pip

cargo build --release --locked -p cairn >&2
# A copy, so that a rebuild elsewhere cannot change the binary mid-run.
cp target/release/cairn "$work/cairn-bin"
cairn="$work/cairn-bin --quiet"

# Two copies of the example: one for the Python-only lock, one for the whole lock.
for p in flask-py flask-full; do
  cp -r examples/flask "$work/$p"
  rm -rf "$work/$p/cairn.lock" "$work/$p"/result*
done
$cairn --store "$work/store-setup" lock -C "$work/flask-py"
cp "$work/flask-py/cairn.lock" "$work/lock.saved"
rm -rf "$work/store-setup"

# What the lock says: the target, and the wheels it chose.
read -r pyver glibc wheels < <(python3 - "$work/lock.saved" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
pypi = text[text.index("[[pypi]]"):]
pyver = re.search(r'^python = "([^"]+)"', pypi, re.M).group(1)
glibc = re.search(r'^glibc = "([^"]+)"', pypi, re.M).group(1)
names = re.findall(r'^\[\[pypi\.package\]\]\nname = "([^"]+)"', pypi, re.M)
print(pyver, glibc, ",".join(names))
PY
)
glibc_minor=${glibc#2.}
names=${wheels//,/ }
# uv knows manylinux platforms up to some glibc: the newest it knows, at most the lock's.
uv_platform=$("$uv" pip compile --help | grep -o 'x86_64-manylinux_2_[0-9]*' | sed 's/.*_//' \
  | awk -v max="$glibc_minor" '$1 <= max' | sort -n | tail -1)
uv_platform=x86_64-manylinux_2_$uv_platform
# pip takes the exact platform tags: every manylinux one the target accepts.
platforms=""
for m in $(seq "$glibc_minor" -1 5); do platforms+=" --platform manylinux_2_${m}_x86_64"; done
platforms+=" --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64"

reqs=$work/flask-py/requirements.txt
uv_cmd() {
  echo "env UV_CACHE_DIR=$1 $uv pip compile $reqs --python $venv/bin/python --python-version $pyver --python-platform $uv_platform --only-binary :all: --no-header --no-annotate --quiet"
}
pip_cmd() {
  echo "$pip install --quiet --dry-run --ignore-installed --report $work/pip-report.json -r $reqs --python-version $pyver --only-binary=:all:$platforms --target $work/pip-target $1"
}
lock_py() { echo "$cairn --store $1 lock -C $work/flask-py --upgrade $names"; }
lock_full="$cairn --store $work/store-full lock -C $work/flask-full --upgrade"

# The same wheels from all three (and the cache directories filled for the warm runs).
eval "$(uv_cmd "$work/uv-warm")" > "$work/uv.txt"
eval "$(pip_cmd "--cache-dir $work/pip-cache")"
eval "$(lock_py "$work/store-py-warm")"
python3 - "$work" <<'PY'
import json, re, sys
work = sys.argv[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
text = open(f"{work}/flask-py/cairn.lock").read()
cairn = {norm(n): v for n, v in re.findall(
    r'^\[\[pypi\.package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text, re.M)}
uv = {norm(n): v.strip() for n, v in (l.split("==") for l in open(f"{work}/uv.txt") if "==" in l)}
pip = {norm(i["metadata"]["name"]): i["metadata"]["version"]
       for i in json.load(open(f"{work}/pip-report.json"))["install"]}
print("cairn:", " ".join(f"{n}=={v}" for n, v in sorted(cairn.items())), file=sys.stderr)
assert cairn == uv == pip, (cairn, uv, pip)
PY

echo "cairn $($work/cairn-bin --version | cut -d' ' -f2-), $("$uv" --version), $("$pip" --version | cut -d' ' -f1-2), $(hyperfine --version)" >&2
echo "target: CPython $pyver, glibc $glibc; uv --python-platform $uv_platform; wheels: $names" >&2

hyperfine --runs "$runs" --warmup 1 --export-json "$work/hyperfine.json" \
  -n "cairn lock, python_env only, cold (empty store)" \
  --prepare "rm -rf $work/store-py-cold && cp $work/lock.saved $work/flask-py/cairn.lock" \
  "$(lock_py "$work/store-py-cold")" \
  -n "cairn lock, python_env only, warm (store kept)" \
  --prepare "cp $work/lock.saved $work/flask-py/cairn.lock" \
  "$(lock_py "$work/store-py-warm")" \
  -n "uv pip compile, cold (empty cache)" \
  --prepare "rm -rf $work/uv-cold" \
  "$(uv_cmd "$work/uv-cold")" \
  -n "uv pip compile, warm (cache kept)" \
  --prepare "true" \
  "$(uv_cmd "$work/uv-warm")" \
  -n "pip install --dry-run --report, cold (--no-cache-dir)" \
  --prepare "true" \
  "$(pip_cmd --no-cache-dir)" \
  -n "pip install --dry-run --report, warm (cache kept)" \
  --prepare "true" \
  "$(pip_cmd "--cache-dir $work/pip-cache")" \
  -n "cairn lock --upgrade, whole project (Debian too), cold (empty store)" \
  --prepare "rm -rf $work/store-full $work/flask-full/cairn.lock" \
  "$lock_full" \
  -n "cairn lock --upgrade, whole project (Debian too), warm (store kept)" \
  --prepare "rm -f $work/flask-full/cairn.lock" \
  "$lock_full"

# What the warm runs had to start from (a server sending no caching headers leaves
# pip's HTTP cache empty, for instance).
size() { if [ -e "$1" ]; then echo "$(du -sk "$1" | cut -f1) KiB in $(find "$1" -type f | wc -l) files"; else echo "none"; fi; }
echo "warm state: cairn store $(size "$work/store-py-warm"); uv cache $(size "$work/uv-warm"); pip cache $(size "$work/pip-cache")"

python3 - "$work" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/hyperfine.json"))["results"]
py_cold, py_warm, uv_cold, uv_warm, pip_cold, pip_warm, full_cold, full_warm = (x["median"] for x in r)
ms = lambda t: f"{t * 1000:.0f} ms"
def rng(x): return f"{x['min'] * 1000:.0f}–{x['max'] * 1000:.0f} ms"
# A run that waited on a lost DNS answer is about 5 s slower than the fastest.
def stalled(x): return f"{sum(t - x['min'] > 4 for t in x['times'])}/{len(x['times'])}"
print()
print("| tool | cold median | cold range | cold runs stalled | warm median | warm range | warm runs stalled |")
print("|---|---|---|---|---|---|---|")
for name, cold, warm in [("cairn lock (python_env node)", r[0], r[1]), ("uv pip compile", r[2], r[3]),
                         ("pip install --dry-run --report", r[4], r[5]),
                         ("cairn lock, whole project (Debian + PyPI)", r[6], r[7])]:
    print(f"| {name} | {ms(cold['median'])} | {rng(cold)} | {stalled(cold)} "
          f"| {ms(warm['median'])} | {rng(warm)} | {stalled(warm)} |")
print()
print("| ratio | cold | warm | target |")
print("|---|---|---|---|")
print(f"| cairn / pip | {py_cold / pip_cold:.2f} | {py_warm / pip_warm:.2f} | < 1 |")
print(f"| cairn / uv | {py_cold / uv_cold:.2f} | {py_warm / uv_warm:.2f} | ≤ 2 |")
print(f"| cairn whole project / pip | {full_cold / pip_cold:.2f} | {full_warm / pip_warm:.2f} | (reference) |")
print(f"| cairn whole project / uv | {full_cold / uv_cold:.2f} | {full_warm / uv_warm:.2f} | (reference) |")
PY
