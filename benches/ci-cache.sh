#!/usr/bin/env bash
# Benchmark: a CI build on a fresh machine (an empty daemon, as CodeBuild starts with), with
# and without `registry_cache`, in one run, on the rig, release build.
#
# The image has an expensive step (RUN_SECONDS of CPU, default 8) before a small one that
# changes with every commit. A first push leaves the branch's cache tag in the registry; then,
# for each variant, the daemon forgets the image and its build steps, the small file changes,
# and `berth push` runs. Without the cache the expensive step runs again; with it, the
# daemon pulls the last build and reuses its layers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
RUN_SECONDS="${RUN_SECONDS:-8}"
scripts/rig up >/dev/null
eval "$(scripts/rig env)"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
mkdir -p "$work/app"
cat >"$work/app/Dockerfile" <<DOCKERFILE
FROM busybox:stable
RUN end=\$((\$(date +%s) + $RUN_SECONDS)); while [ \$(date +%s) -lt \$end ]; do :; done; echo $stamp > /expensive
COPY commit.txt /commit.txt
DOCKERFILE
export XDG_CACHE_HOME="$work/cache" GIT_BRANCH=main GIT_COMMIT=0123456789abcdef0123456789abcdef01234567
pipeline() {
  cat >"$work/berth.yaml" <<YAML
version: 1
project: bench
images:
  app:
    context: app
    repository: bench/ci-cache-$stamp
    tags: [$1]
$2
YAML
}
forget() {
  local id
  id=$(docker image inspect -f '{{.Id}}' "bench/ci-cache-$stamp:$1" 2>/dev/null) && docker image rm -f "$id" >/dev/null
  docker builder prune -f >/dev/null 2>&1 || true
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }

echo first >"$work/app/commit.txt"
pipeline c1 '    registry_cache: "cache-${git.branch}"'
"$berth" -f "$work/berth.yaml" push -q >/dev/null

forget c1
echo second >"$work/app/commit.txt"
pipeline c2 ''
t=$(now); "$berth" -f "$work/berth.yaml" push -q >/dev/null; without=$(elapsed "$t" "$(now)")

forget c2
echo third >"$work/app/commit.txt"
pipeline c3 '    registry_cache: "cache-${git.branch}"'
t=$(now); "$berth" -f "$work/berth.yaml" push -q >/dev/null; with=$(elapsed "$t" "$(now)")

printf '\nCI build and push on a fresh daemon (an expensive step of %s s, then a changed file)\n\n' "$RUN_SECONDS"
printf '%-34s %10s\n' "without registry_cache" "$without s"
printf '%-34s %10s\n' "with registry_cache" "$with s"
