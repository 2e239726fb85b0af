#!/usr/bin/env bash
# Benchmark: berth's own push against `docker push` and `skopeo copy` of the same image, in one
# run, interleaved, on the rig, release build; and berth's zstd layers (`compression: zstd`)
# against skopeo's (`--dest-compress-format zstd`).
#
# The image has five layers (FROM scratch): two of RANDOM_MB of random data, three of TEXT_MB
# of base64 text (defaults 150 and 70: 510 MiB). Before each fresh push the registry is
# emptied (stopped, its storage deleted, started again), and berth's layer cache with it.
# Then each tool pushes the image with only its top layer changed to its own repository.
# Reported: wall time, bytes the registry stores, registry writes (blob uploads and manifest
# PUTs from its own log) and berth's peak RSS; then the time berth takes to hash the build
# context (release and debug builds) next to `sha256sum` of the same files.
#
# Needs the rig (scripts/rig up) and skopeo (Debian package, installed here when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
RANDOM_MB="${RANDOM_MB:-150}"
TEXT_MB="${TEXT_MB:-70}"
ROUNDS="${ROUNDS:-2}"
command -v skopeo >/dev/null || { apt-get install -y -qq skopeo >/dev/null || { echo "push.sh: install skopeo" >&2; exit 1; }; }
scripts/rig up >/dev/null
eval "$(scripts/rig env)"
cargo build --release --locked --quiet
cargo build --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"
debug_berth="$CARGO_TARGET_DIR/debug/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
mkdir -p "$work/ctx"
for i in 1 2; do head -c "$((RANDOM_MB << 20))" /dev/urandom >"$work/ctx/r$i"; done
for i in 1 2 3; do
  head -c "$((TEXT_MB * 3 << 18))" /dev/urandom | base64 -w 76 >"$work/ctx/t$i"
  truncate -s "$((TEXT_MB << 20))" "$work/ctx/t$i"
done
printf 'FROM scratch\nCOPY r1 /r1\nCOPY r2 /r2\nCOPY t1 /t1\nCOPY t2 /t2\nCOPY t3 /t3\n' >"$work/ctx/Dockerfile"
repo() { echo "bench/push-$stamp-$1"; }
cat >"$work/berth.yaml" <<YAML
version: 1
project: bench
images:
  big:
    context: ctx
    repository: $(repo berth)
    tags: [v1]
YAML
sed -e "s|$(repo berth)|$(repo berth-zstd)|" -e 's|tags: \[v1\]|tags: [v1]\n    compression: zstd|' \
  "$work/berth.yaml" >"$work/berth-zstd.yaml"
export XDG_CACHE_HOME="$work/cache" DOCKER_CONFIG="$work/docker"
b() { "$berth" -f "$work/berth.yaml" "$@"; }
R="$BERTH_RIG_REGISTRY"
data="$BERTH_RIG_DIR/registry/data"
registry_log="$BERTH_RIG_DIR/registry/registry.log"
writes() { grep 'response completed' "$registry_log" | grep -E 'http.request.method=(PUT|POST|PATCH) ' | grep -c "/v2/$1/" || true; }
stored() { du -sb "$data" | cut -f1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }
mb() { awk -v n="$1" 'BEGIN { printf "%.0f MiB\n", n / 1048576 }'; }
empty_registry() {
  kill "$(cat "$BERTH_RIG_DIR/registry/registry.pid")" 2>/dev/null || true
  while [ -e "/proc/$(cat "$BERTH_RIG_DIR/registry/registry.pid")" ]; do sleep 0.1; done
  rm -rf "$data" "$XDG_CACHE_HOME"
  scripts/rig up >/dev/null
}
for t in docker skopeo skopeo-zstd; do aws ecr create-repository --repository-name "$(repo $t)" >/dev/null; done
b build -q >/dev/null
b login -q >/dev/null
creds=$(python3 -c "import json,base64,sys; print(base64.b64decode(json.load(open('$DOCKER_CONFIG/config.json'))['auths']['$R']['auth']).decode())")

# One push of `tag` by `tool`; prints seconds and (berth) peak RSS in KiB.
push() {
  local tool=$1 tag=$2 t rss=-
  docker tag "$(repo berth):$tag" "$R/$(repo "$tool"):$tag"
  t=$(now)
  case $tool in
    docker) docker push -q "$R/$(repo docker):$tag" >/dev/null ;;
    skopeo) skopeo copy -q --src-daemon-host "$DOCKER_HOST" --dest-tls-verify=false --dest-creds "$creds" \
              "docker-daemon:$(repo berth):$tag" "docker://$R/$(repo skopeo):$tag" ;;
    skopeo-zstd) skopeo copy -q --src-daemon-host "$DOCKER_HOST" --dest-tls-verify=false --dest-creds "$creds" \
              --dest-compress-format zstd --format oci \
              "docker-daemon:$(repo berth):$tag" "docker://$R/$(repo skopeo-zstd):$tag" ;;
    berth) rss=$( { /usr/bin/time -f '%M' "$berth" -f "$work/berth.yaml" push -q >/dev/null; } 2>&1 | tail -1) ;;
    berth-zstd) rss=$( { /usr/bin/time -f '%M' "$berth" -f "$work/berth-zstd.yaml" push -q >/dev/null; } 2>&1 | tail -1) ;;
  esac
  echo "$(elapsed "$t" "$(now)") $rss"
}

declare -A time bytes wr rss
tools="docker skopeo berth skopeo-zstd berth-zstd"
for round in $(seq "$ROUNDS"); do
  for tool in $tools; do
    empty_registry
    before=$(writes "$(repo "$tool")")
    read -r s r < <(push "$tool" v1)
    time[$tool]="${time[$tool]:-}${time[$tool]:+ / }$s s"
    bytes[$tool]=$(mb "$(stored)")
    wr[$tool]=$(( $(writes "$(repo "$tool")") - before ))
    [ "$r" != - ] && rss[$tool]="$((r / 1024)) MiB"
  done
done

# The top layer changed: every tool has the old image in its repository first.
empty_registry
for tool in $tools; do push "$tool" v1 >/dev/null; done
printf 'changed\n' >>"$work/ctx/t3"
sed -i 's/tags: \[v1\]/tags: [v2]/' "$work/berth.yaml" "$work/berth-zstd.yaml"
b build -q >/dev/null
declare -A top_time top_bytes top_wr
for tool in $tools; do
  before=$(writes "$(repo "$tool")") size=$(stored)
  read -r s r < <(push "$tool" v2)
  top_time[$tool]="$s s"
  top_bytes[$tool]=$(mb "$(( $(stored) - size ))")
  top_wr[$tool]=$(( $(writes "$(repo "$tool")") - before ))
done

# Hashing the context: `berth build` of an image the daemon has does only that.
hash_time() { local t; t=$(now); "$1" -f "$work/berth.yaml" build -q >/dev/null; elapsed "$t" "$(now)"; }
hash_release=$(hash_time "$berth")
hash_debug=$(hash_time "$debug_berth")
t=$(now); sha256sum "$work"/ctx/* >/dev/null; hash_sha256sum=$(elapsed "$t" "$(now)")

total=$(( (2 * RANDOM_MB + 3 * TEXT_MB) ))
printf '\nPush of a 5-layer image (%s MiB: 2 x %s MiB random, 3 x %s MiB base64 text), %s rounds\n\n' "$total" "$RANDOM_MB" "$TEXT_MB" "$ROUNDS"
row() { # label, then one value per tool
  printf '%-30s' "$1"; shift
  for v in "$@"; do printf ' %14s' "$v"; done; printf '\n'
}
cells() { local -n m=$1; for tool in $tools; do printf '%s\n' "${m[$tool]:--}"; done; }
row "" "docker push" "skopeo" "berth push" "skopeo zstd" "berth zstd"
mapfile -t v < <(cells time); row "fresh: wall time" "${v[@]}"
mapfile -t v < <(cells bytes); row "  bytes in the registry" "${v[@]}"
mapfile -t v < <(cells wr); row "  registry writes" "${v[@]}"
mapfile -t v < <(cells rss); row "  peak RSS" "${v[@]}"
mapfile -t v < <(cells top_time); row "top layer changed: wall time" "${v[@]}"
mapfile -t v < <(cells top_bytes); row "  bytes added" "${v[@]}"
mapfile -t v < <(cells top_wr); row "  registry writes" "${v[@]}"
printf '\nHashing the %s MiB context: berth release %s s, berth debug %s s; sha256sum %s s\n' "$total" "$hash_release" "$hash_debug" "$hash_sha256sum"
