#!/usr/bin/env bash
# Benchmark: what installing and starting berth costs a CI job. Needs a release in dist/
# (scripts/release) and, for the image, the rig (scripts/rig up).
#
# Reported: the release binary's and tarball's size; `berth --version` wall time (median of
# RUNS runs) next to `aws --version` and `kubectl version --client` measured the same way;
# the installer's wall time from a local HTTP server (median of 5) next to unpacking the
# same tarball with tar alone; and the size of berth's container image next to its base.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dist="${BERTH_DIST:-$PWD/dist}"
RUNS="${RUNS:-51}"
version=$(cat "$dist/LATEST")
name="berth-$version-x86_64-unknown-linux-gnu"
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

ms() { date +%s%N; }
# Median wall time in ms of running "$@" RUNS times.
median() {
  local n=$1; shift
  for _ in $(seq "$n"); do
    local t; t=$(ms); "$@" >/dev/null 2>&1; echo $(( ($(ms) - t) / 1000 ))
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f ms\n", a[int((NR + 1) / 2)] / 1000 }'
}

printf 'berth %s\n\n' "$version"
printf '%-34s %s\n' "release binary" "$(stat -c %s "$dist/$name/berth" | awk '{ printf "%.1f MiB", $1 / 1048576 }')"
printf '%-34s %s\n' "release tarball" "$(stat -c %s "$dist/$name.tar.gz" | awk '{ printf "%.1f MiB", $1 / 1048576 }')"
printf '%-34s %s\n' "berth --version (median of $RUNS)" "$(median "$RUNS" "$dist/$name/berth" --version)"
command -v aws >/dev/null && printf '%-34s %s\n' "  aws --version" "$(median "$RUNS" aws --version)"
command -v kubectl >/dev/null && printf '%-34s %s\n' "  kubectl version --client" "$(median "$RUNS" kubectl version --client)"

site="$work/site"
mkdir -p "$site/download/v$version" "$site/latest/download"
cp "$dist"/*.tar.gz* "$dist/install.sh" "$site/download/v$version/"
cp "$dist/LATEST" "$site/latest/download/"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/latest/download/LATEST" >/dev/null && break; sleep 0.1; done
fresh_install() { rm -rf "$work/prefix"; sh scripts/install.sh --base-url "http://127.0.0.1:$port" --prefix "$work/prefix"; }
untar() { rm -rf "$work/untar"; mkdir -p "$work/untar"; tar -xzf "$dist/$name.tar.gz" -C "$work/untar"; }
printf '%-34s %s\n' "install.sh from a local server" "$(median 5 fresh_install)"
printf '%-34s %s\n' "  tar -xzf of the same tarball" "$(median 5 untar)"

if [ -n "${DOCKER_HOST:-}" ] && docker image inspect busybox:stable >/dev/null 2>&1; then
  repo="bench/berth-image-$$"
  BERTH_DIST="$dist" BERTH_IMAGE_BASE=busybox:stable BERTH_VERSION="$version" BERTH_IMAGE_REPOSITORY="$repo" \
    "$dist/$name/berth" -f scripts/image/berth.yaml build -q >/dev/null
  size() { docker image inspect -f '{{.Size}}' "$1" | awk '{ printf "%.1f MiB", $1 / 1048576 }'; }
  printf '%-34s %s\n' "berth's image" "$(size "$repo:$version")"
  printf '%-34s %s\n' "  its base (busybox)" "$(size busybox:stable)"
  docker image rm -f "$repo:$version" >/dev/null
fi
