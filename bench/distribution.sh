#!/usr/bin/env bash
# Distribution (issue 8), with `examples/python-http` (python3 and its closure, about
# 100 MB unpacked), side by side in one run:
# 1. `cairn push` of the unchanged image to a local registry (Debian's `docker-registry`
#    on 127.0.0.1, its own config): the re-push; target under 1 s, zero layer bytes.
# 2. After the app's files change: the bytes uploaded against the app layer's
#    compressed size plus the config (target within 10%).
# 3. Into an empty store: substituting the image's build from a `file://` cache
#    (`cairn cache push`) against fetching the packages from the mirror.
#
# Usage: bench/distribution.sh [RUNS]     (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
source bench/lib.sh
need hyperfine=hyperfine docker-registry=docker-registry jq=jq curl=curl

work=$(realpath -m bench/tmp/distribution)
rm -rf "$work" && mkdir -p "$work"
cargo build --release --locked -p cairn >&2
cairn="$PWD/target/release/cairn -q"
store=$work/store
project=$work/project
cp -r examples/python-http "$project"
$cairn --store "$store" lock -C "$project"

# The registry, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/web:1

push() { $cairn --store "$store" push web "$ref" --json -C "$project"; }
echo "-- first push:" >&2
push | tee "$work/first.json" >&2
echo "-- the re-push (unchanged), $runs runs:" >&2
push | tee "$work/again.json" >&2
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$work/repush.json" \
  "$cairn --store $store push web $ref -C $project" >&2

echo "-- after an app change:" >&2
echo "<p>changed $(date +%N)</p>" >>"$project/site/index.html"
push | tee "$work/changed.json" >&2
$cairn --store "$store" inspect web --json -C "$project" >"$work/inspect.json"
app_layer=$(jq '[.layers[] | select(.created_by | test("site"))] | map(.size) | add' "$work/inspect.json")
config=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://127.0.0.1:$port/v2/bench/web/manifests/1" | jq .config.size)
uploaded=$(jq .bytes_uploaded "$work/changed.json")
echo "bytes uploaded: $uploaded; app layer $app_layer + config $config = $((app_layer + config))" >&2

echo "-- into an empty store: from a file:// cache against from the mirror, $runs runs:" >&2
$cairn --store "$store" cache push "file://$work/cache" web -C "$project" >&2
hyperfine --style basic --runs "$runs" --export-json "$work/substitute.json" \
  --prepare "chmod -R u+w $work/empty 2>/dev/null || true; rm -rf $work/empty" \
  -n "from the file:// cache" "$cairn --store $work/empty build --no-link -C $project --offline --substituter file://$work/cache" \
  -n "from the mirror" "$cairn --store $work/empty build --no-link -C $project" >&2
