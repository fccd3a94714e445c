#!/usr/bin/env bash
# Building a python3 + ca-certificates image (trixie) with the packages already in the
# store: cairn with layer blobs not yet cached, cairn with them cached, and buildah
# (`buildah from scratch`, copy the same root file system, `buildah commit` to an OCI
# layout), side by side in one hyperfine run. Also the image's uncompressed size next to
# `mmdebstrap --variant=essential --include=python3,ca-certificates trixie`'s tarball.
#
# Usage: bench/image-build.sh [RUNS]     (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need=()
for tool in hyperfine buildah umoci mmdebstrap; do command -v $tool >/dev/null || need+=($tool); done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

work=$(realpath -m bench/tmp/image-build)
rm -rf "$work" && mkdir -p "$work"
cargo build --release --locked -p cairn >&2
cairn="target/release/cairn --quiet --store $work/store"
$cairn debian resolve --suite trixie python3 ca-certificates --write-lock "$work/cairn.lock" >/dev/null
$cairn debian fetch --lock "$work/cairn.lock" >/dev/null
build="$cairn image build --lock $work/cairn.lock --offline --entrypoint /usr/bin/python3 --user nonroot"

# The same root file system for buildah: cairn's image, unpacked.
SOURCE_DATE_EPOCH=1 $build --output "oci:$work/image" >/dev/null
umoci unpack --rootless --image "$work/image:latest" "$work/bundle" >/dev/null

# `buildah commit` to a local destination writes uncompressed layers by default
# (`--disable-compression` is on); cairn gzips by default. Both are measured both ways,
# so each compression setting is compared with the same one.
buildah_cmd() {
  echo "ctr=\$(buildah from scratch) && buildah copy --quiet \$ctr $work/bundle/rootfs / >/dev/null && buildah commit $1 --quiet \$ctr oci:$work/buildah >/dev/null && buildah rm \$ctr >/dev/null"
}
hyperfine --runs "$runs" --warmup 1 --export-json "$work/hyperfine.json" \
  -n "cairn image build, gzip (layer blobs not cached)" \
  "SOURCE_DATE_EPOCH=\$(date +%s%N) $build --output oci:$work/cold" \
  -n "cairn image build, gzip (layer blobs cached)" \
  "SOURCE_DATE_EPOCH=1 $build --output oci:$work/warm" \
  -n "buildah from scratch + copy + commit, gzip" \
  "$(buildah_cmd --disable-compression=false)" \
  -n "cairn image build, uncompressed (layer blobs not cached)" \
  "SOURCE_DATE_EPOCH=\$(date +%s%N) $build --compression none --output oci:$work/cold-plain" \
  -n "buildah from scratch + copy + commit, uncompressed (its default)" \
  "$(buildah_cmd --disable-compression=true)"

python3 - "$work" <<'PY'
import json, sys
r = json.load(open(f"{sys.argv[1]}/hyperfine.json"))["results"]
cold, warm, buildah_gz, cold_plain, buildah_plain = (x["median"] for x in r)
ms = lambda t: f"{t*1000:.0f} ms"
print(f"median gzip: cairn cold {ms(cold)}, cairn cached {ms(warm)}, buildah {ms(buildah_gz)}; "
      f"ratios cold {cold/buildah_gz:.2f}, cached {warm/buildah_gz:.3f}")
print(f"median uncompressed: cairn cold {ms(cold_plain)}, buildah {ms(buildah_plain)}; "
      f"ratio {cold_plain/buildah_plain:.2f}")
print(f"across settings (cairn gzip / buildah's uncompressed default): cold {cold/buildah_plain:.2f}, "
      f"cached {warm/buildah_plain:.3f}")
PY
mmdebstrap --quiet --variant=essential --include=python3,ca-certificates trixie "$work/mmdebstrap.tar"
python3 - "$work" <<'PY'
import gzip, json, os, sys
work = sys.argv[1]
d = f"{work}/image"
index = json.load(open(f"{d}/index.json"))
manifest = json.load(open(f"{d}/blobs/sha256/" + index["manifests"][0]["digest"][7:]))
size = 0
for layer in manifest["layers"]:
    with gzip.open(f"{d}/blobs/sha256/" + layer["digest"][7:]) as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
mm = os.path.getsize(f"{work}/mmdebstrap.tar")
print(f"image: {len(manifest['layers'])} layers, {sum(l['size'] for l in manifest['layers'])} bytes compressed, {size} bytes uncompressed")
print(f"size: cairn image {size} bytes uncompressed, mmdebstrap tarball {mm} bytes, ratio {size/mm:.3f}")
PY
