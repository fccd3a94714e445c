#!/usr/bin/env bash
# The project commands' speed targets (issue 5), side by side in one hyperfine run:
# - a no-op `cairn build` of examples/python-http (everything cached);
# - `cairn plan` of a generated spec with 50 images (evaluation);
# - `cairn build` after editing one file of the site (only that tree's object and its
#   layer are made again; the --json report is checked once before timing).
#
# Usage: bench/project-build.sh [RUNS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-20}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
command -v hyperfine >/dev/null || {
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq hyperfine >/dev/null
}

work=$(realpath -m bench/tmp/project-build)
rm -rf "$work" && mkdir -p "$work"
cargo build --release --locked -p cairn >&2
cairn="$PWD/target/release/cairn --quiet --store $work/store"

project=$work/python-http
cp -r examples/python-http "$project"
rm -f "$project/cairn.lock" "$project"/result*
$cairn lock -C "$project"
$cairn build -C "$project" >/dev/null

# 50 images, each with its own package set and files, in one spec.
many=$work/many
mkdir -p "$many/site"
echo hi > "$many/site/index.html"
{
  echo 'deb = debian(suite = "trixie")'
  echo 'site = files("site", dest = "/srv/site")'
  for i in $(seq 50); do
    cat <<STAR
image(
    name = "app-$i",
    contents = [deb.packages(["python3", "pkg-$i"]), site, write_file("/etc/app-$i", "$i\n")],
    entrypoint = ["/usr/bin/python3", "-m", "http.server", "$((8000 + i))"],
    user = "nonroot",
    env = {"APP": "$i"},
    ports = [$((8000 + i))],
)
STAR
  done
} > "$many/cairn.star"

# The edit: one file of the site, with new contents each run.
edit="echo \"<p>\$(date +%s%N)</p>\" > $project/site/index.html"
eval "$edit"
report=$($cairn build -C "$project" --json)
echo "after one edit: $report" >&2
python3 - "$report" <<'PY'
import json, sys
image = json.loads(sys.argv[1])["images"][0]
assert (image["layers_written"], image["files_added"], image["packages_installed"]) == (1, 1, 0), image
PY

hyperfine --runs "$runs" --warmup 2 --export-json "$work/hyperfine.json" \
  -n "cairn build, nothing to do (python-http)" "$cairn build -C $project" \
  -n "cairn plan, 50 images" "$cairn plan -C $many" \
  -n "cairn build after editing one file of site/" --prepare "$edit" "$cairn build -C $project"

python3 - "$work" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/hyperfine.json"))["results"]
for x in r:
    print(f"{x['command']}: median {x['median']*1000:.1f} ms (min {x['min']*1000:.1f}, max {x['max']*1000:.1f})")
PY
