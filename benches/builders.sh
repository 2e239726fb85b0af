#!/usr/bin/env bash
# Benchmark: six builds on one engine against the same six spread over two, on the rig,
# release build.
#
# Six images whose builds each spend WAIT seconds in a RUN step and then compress a little
# (a build that fetches dependencies or waits on a compiler service), built with `berth
# build`: once on the rig's dockerd alone (one build at a time: `concurrency: 1`, the
# baseline), once on a pool of it and the rig's remote engine (TLS over TCP, one build at a
# time each), and once on the local engine with `concurrency: 2`. Fresh content each round
# (a seed in a build arg), so nothing is reused. Both engines run on this machine: what a
# second engine buys here is a second build slot; on a machine of its own it also brings its
# own CPUs, disk and layer cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
ROUNDS="${ROUNDS:-3}"
WAIT="${WAIT:-3}"
scripts/rig up >/dev/null
eval "$(scripts/rig env)"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app"
printf 'FROM busybox:stable\nARG SEED\nRUN sleep %s && head -c 2000000 /dev/urandom | gzip > /blob && echo "$SEED" > /seed\n' "$WAIT" >"$work/app/Dockerfile"

pipeline() { # $1: pool members, $2: local concurrency, $3: seed
  {
    printf 'version: 1\nproject: bench\nbuilders:\n  default:\n    concurrency: %s\n' "$2"
    printf '  remote:\n    host: %s\n    tls: %s\n    platform: linux/amd64\n    concurrency: 1\n' \
      "$BERTH_RIG_REMOTE_DOCKER" "$BERTH_RIG_DIR/remote/client"
    printf 'pools:\n  pool: [%s]\nimages:\n' "$1"
    for i in 1 2 3 4 5 6; do
      printf '  i%s: { context: app, tags: [b], builder: pool, build_args: { SEED: "%s-%s" } }\n' "$i" "$3" "$i"
    done
  } >"$work/berth.yaml"
}

run() { # prints wall milliseconds of one `berth build`
  local start end
  start=$(date +%s%N)
  "$berth" -f "$work/berth.yaml" build -q >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}

secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

one=0 two=0 conc2=0
for r in $(seq 1 "$ROUNDS"); do
  pipeline "default" 1 "one-$r-$$-$RANDOM"; t1=$(run)
  pipeline "default, remote" 1 "two-$r-$$-$RANDOM"; t2=$(run)
  pipeline "default" 2 "conc-$r-$$-$RANDOM"; t3=$(run)
  echo "round $r: one engine $(secs "$t1")s, two engines $(secs "$t2")s, one engine with concurrency 2 $(secs "$t3")s"
  one=$((one + t1)) two=$((two + t2)) conc2=$((conc2 + t3))
done
echo
echo "six builds (RUN sleep ${WAIT}s, then 2 MB through gzip), mean of $ROUNDS rounds:"
echo "  one engine, one build at a time (baseline): $(secs $((one / ROUNDS)))s"
echo "  two engines, one build at a time each:      $(secs $((two / ROUNDS)))s"
echo "  one engine, two builds at a time:           $(secs $((conc2 / ROUNDS)))s"
