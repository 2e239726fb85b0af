#!/usr/bin/env bash
# Benchmark: `berth push` against `docker push` of the same image, in one run, on the rig.
#
# Prints wall times and registry write requests (blob uploads, manifest PUTs) for a cold
# push to an empty repository and for a repeated push when nothing changed. The image has
# three layers of random data (SIZE_MB each, default 16). Needs the rig: scripts/rig up.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
eval "$(scripts/rig env)"
SIZE_MB="${SIZE_MB:-16}"
RUNS="${RUNS:-3}"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
# Two images of the same shape with different random data, one per tool: with the same
# layers, whichever pushed second would only mount blobs the first had uploaded.
for tool in docker berth; do
  mkdir -p "$work/$tool"
  for i in 1 2 3; do head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom >"$work/$tool/blob$i"; done
  printf 'FROM busybox:stable\nCOPY blob1 /data/\nCOPY blob2 /data/\nCOPY blob3 /data/\n' >"$work/$tool/Dockerfile"
done
cat >"$work/berth.yaml" <<YAML
version: 1
project: bench
images:
  big:
    context: berth
    repository: bench/berth-$stamp
    tags: [v1]
  same-shape:
    context: docker
    repository: bench/docker-$stamp
    tags: [v1]
YAML
registry_log="$BERTH_RIG_DIR/registry/registry.log"
writes() { grep 'response completed' "$registry_log" | grep -E 'http.request.method=(PUT|POST|PATCH) ' | grep -c "/v2/$1/" || true; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The image is built once, outside the timings: both pushes send the same layers.
"$berth" -f "$work/berth.yaml" build -q >/dev/null
docker tag "bench/docker-$stamp:v1" "$BERTH_RIG_REGISTRY/bench/docker-$stamp:v1"
aws ecr create-repository --repository-name "bench/docker-$stamp" >/dev/null
export DOCKER_CONFIG="$work/docker"
"$berth" -f "$work/berth.yaml" login -q >/dev/null

t=$(now); docker push -q "$BERTH_RIG_REGISTRY/bench/docker-$stamp:v1" >/dev/null; docker_cold=$(elapsed "$t" "$(now)")
docker_cold_writes=$(writes "bench/docker-$stamp")
t=$(now); "$berth" -f "$work/berth.yaml" push -q big >/dev/null; berth_cold=$(elapsed "$t" "$(now)")
berth_cold_writes=$(writes "bench/berth-$stamp")

docker_again=$(for _ in $(seq "$RUNS"); do t=$(now); docker push -q "$BERTH_RIG_REGISTRY/bench/docker-$stamp:v1" >/dev/null; elapsed "$t" "$(now)"; done | median)
docker_again_writes=$(( $(writes "bench/docker-$stamp") - docker_cold_writes ))
berth_again=$(for _ in $(seq "$RUNS"); do t=$(now); "$berth" -f "$work/berth.yaml" push -q big >/dev/null; elapsed "$t" "$(now)"; done | median)
berth_again_writes=$(( $(writes "bench/berth-$stamp") - berth_cold_writes ))

printf '\npush of a 3-layer image (%s MiB of random data per layer) to the rig registry\n\n' "$SIZE_MB"
printf '%-34s %12s %12s\n' "" "docker push" "berth push"
printf '%-34s %11.2fs %11.2fs\n' "cold, empty repository" "$docker_cold" "$berth_cold"
printf '%-34s %12s %12s\n' "  registry writes" "$docker_cold_writes" "$berth_cold_writes"
printf '%-34s %11.2fs %11.2fs\n' "again, nothing changed (median/$RUNS)" "$docker_again" "$berth_again"
printf '%-34s %12s %12s\n' "  registry writes ($RUNS runs)" "$docker_again_writes" "$berth_again_writes"
