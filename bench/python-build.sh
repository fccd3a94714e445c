#!/usr/bin/env bash
# Building the Flask example (issue 6) from a warm store, side by side in one hyperfine
# run, after one `cairn lock` and `cairn build` of a copy of examples/flask:
# - `cairn build` with nothing to do;
# - `cairn build` after `touch app/app.py` (its time stamp only);
# - `cairn build` after editing app/app.py (new contents each run: only the `/app`
#   tree's object and its layer are made again; the --json report is checked first).
# Then the image's uncompressed size (the sum of its layers, gunzipped) next to the same
# app built the python:3-slim way, without Docker Hub: `mmdebstrap --variant=minbase
# trixie` with python3, python3-pip and ca-certificates, and `pip install` in the image
# of the very wheels cairn locked (SOURCE_DATE_EPOCH set; `--no-cache-dir`), as a tar.
#
# The work directory (bench/tmp/python-build) is removed at the end unless KEEP=1.
#
# Usage: bench/python-build.sh [RUNS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
for tool in hyperfine mmdebstrap; do command -v $tool >/dev/null || need+=($tool); done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(realpath -m bench/tmp/python-build)
cleanup() { [ "${KEEP:-}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
rm -rf "$work" && mkdir -p "$work"

cargo build --release --locked -p cairn >&2
# A copy, so that a rebuild elsewhere cannot change the binary mid-run.
cp target/release/cairn "$work/cairn-bin"
cairn="$work/cairn-bin --quiet --store $work/store"

project=$work/flask
cp -r examples/flask "$project"
rm -rf "$project/cairn.lock" "$project"/result*
cp "$project/app/app.py" "$work/app.py.orig"
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
t=$(date +%s%N); $cairn lock -C "$project"; lock_ms=$(ms_since "$t")
t=$(date +%s%N); $cairn build -C "$project" >/dev/null; build_ms=$(ms_since "$t")
echo "once, from an empty store: cairn lock ${lock_ms} ms, cairn build ${build_ms} ms (downloads included)" >&2

# The edit: one line of app.py, with new contents each run.
edit="cp $work/app.py.orig $project/app/app.py && echo \"# \$(date +%s%N)\" >> $project/app/app.py"
eval "$edit"
report=$($cairn build -C "$project" --json)
echo "after one edit: $report" >&2
python3 - "$report" <<'PY'
import json, sys
image = json.loads(sys.argv[1])["images"][0]
got = (image["layers_written"], image["files_added"], image["packages_installed"], image["wheels_installed"])
assert got == (1, 1, 0, 0), image
PY

echo "cairn $($work/cairn-bin --version | cut -d' ' -f2-), $(hyperfine --version)" >&2
hyperfine --runs "$runs" --warmup 2 --export-json "$work/hyperfine.json" \
  -n "cairn build, nothing to do" --prepare "true" "$cairn build -C $project" \
  -n "cairn build after touch app/app.py" --prepare "touch $project/app/app.py" "$cairn build -C $project" \
  -n "cairn build after editing app/app.py" --prepare "$edit" "$cairn build -C $project"

# The same wheels, installed by pip in a Debian trixie image. The host's CA bundle is
# lent to pip in the image for the download only (a TLS-intercepting proxy needs it).
python3 - "$project/cairn.lock" > "$work/requirements.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for name, version in re.findall(r'^\[\[pypi\.package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', text, re.M):
    print(f"{name}=={version}")
PY
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) mmdebstrap --quiet --variant=minbase \
  --include=python3,python3-pip,ca-certificates \
  --customize-hook='mkdir "$1/tmp/bench"' \
  --customize-hook="copy-in $work/requirements.txt $ca /tmp/bench" \
  --customize-hook="chroot \"\$1\" env -u PIP_FIND_LINKS PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
    PIP_CERT=/tmp/bench/$(basename "$ca") SSL_CERT_FILE=/tmp/bench/$(basename "$ca") \
    pip install --quiet --no-cache-dir --break-system-packages --only-binary=:all: -r /tmp/bench/requirements.txt" \
  --customize-hook='rm -r "$1/tmp/bench"' \
  trixie "$work/slim-style.tar"

python3 - "$work" "$project/result" <<'PY'
import gzip, io, json, os, sys, tarfile
work, d = sys.argv[1], sys.argv[2]
r = json.load(open(f"{work}/hyperfine.json"))["results"]
index = json.load(open(f"{d}/index.json"))
manifest = json.load(open(f"{d}/blobs/sha256/" + index["manifests"][0]["digest"][7:]))
size = files = pyc = 0
for layer in manifest["layers"]:
    with gzip.open(f"{d}/blobs/sha256/" + layer["digest"][7:]) as f:
        data = f.read()
    size += len(data)
    for member in tarfile.open(fileobj=io.BytesIO(data)):
        files += 1
        pyc += member.size if member.name.endswith(".pyc") else 0
compressed = sum(l["size"] for l in manifest["layers"])
other = f"{work}/slim-style.tar"
other_size = os.path.getsize(other)
other_files = other_pyc = 0
for member in tarfile.open(other):
    other_files += 1
    other_pyc += member.size if member.name.endswith(".pyc") else 0
mb = lambda n: f"{n / 1e6:.1f} MB"
print()
print("| cairn build (warm store) | median | min | max |")
print("|---|---|---|---|")
for x in r:
    print(f"| {x['command']} | {x['median'] * 1000:.1f} ms | {x['min'] * 1000:.1f} ms | {x['max'] * 1000:.1f} ms |")
print()
print("| image | uncompressed | of which .pyc | entries | layers |")
print("|---|---|---|---|---|")
print(f"| cairn (examples/flask) | {mb(size)} ({size} B) | {mb(pyc)} | {files} | {len(manifest['layers'])} ({mb(compressed)} gzipped) |")
print(f"| mmdebstrap minbase + python3 + python3-pip + pip install | {mb(other_size)} ({other_size} B) | {mb(other_pyc)} | {other_files} | 1 (tar) |")
print()
print(f"size ratio cairn / slim-style: {size / other_size:.3f}; without .pyc: {(size - pyc) / (other_size - other_pyc):.3f}")
PY
