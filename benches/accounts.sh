#!/usr/bin/env bash
# Benchmark: what assuming roles costs a run, on the rig, release build.
#
# The same one-image, one-ECS-service pipeline twice, each already deployed, so a run finds
# nothing to do: once with the runner's own credentials (the baseline), once with the image in
# a shared-services account's ECR and the service in a workload account, both through roles
# berth assumes. ROUNDS no-change runs of each: wall time, and the AWS calls each made (from
# the rig's request log: a run's own key makes the AssumeRole calls, the roles' keys the rest).
# Then `berth gc` (dry run) of the shared repository, which asks the workload account what it
# runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
ROUNDS="${ROUNDS:-5}"
scripts/rig up >/dev/null
eval "$(scripts/rig env)"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
shared="7$(printf '%011d' "$stamp" | tail -c 11)"
workload="8$(printf '%011d' "$stamp" | tail -c 11)"
trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}'
for pair in "$shared:ecr" "$workload:deploy"; do
  curl -sf -XPOST "$AWS_ENDPOINT_URL/_rig/roles" \
    -d "{\"account\":\"${pair%%:*}\",\"name\":\"${pair##*:}\",\"trust\":$trust}" >/dev/null
done
creds=$(aws sts assume-role --role-arn "arn:aws:iam::$workload:role/deploy" --role-session-name bench \
  --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
read -r wk ws wt <<<"$creds"
service() { # $1: cluster/service name; the rest: env for the aws CLI
  local name=$1; shift
  env "$@" aws ecs create-cluster --cluster-name "$name" >/dev/null
  env "$@" aws ecs register-task-definition --family "$name" --cpu 256 --memory 512 \
    --container-definitions '[{"name":"web","image":"busybox:stable","memory":128}]' >/dev/null
  env "$@" aws ecs create-service --cluster "$name" --service-name "$name" \
    --task-definition "$name:1" --desired-count 1 >/dev/null
}
service "bench-own-$stamp" AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
service "bench-xa-$stamp" AWS_ACCESS_KEY_ID="$wk" AWS_SECRET_ACCESS_KEY="$ws" AWS_SESSION_TOKEN="$wt"

for kind in own xa; do
  mkdir -p "$work/$kind/app"
  printf 'FROM busybox:stable\nLABEL bench=%s\n' "$kind-$stamp" >"$work/$kind/app/Dockerfile"
  if [ "$kind" = own ]; then roles=("" ""); else
    roles=("role_arn: 'arn:aws:iam::$shared:role/ecr'" "role_arn: 'arn:aws:iam::$workload:role/deploy'"); fi
  cat >"$work/$kind/berth.yaml" <<YAML
version: 1
project: bench
defaults: { region: us-east-1 }
images:
  web:
    context: app
    tags: [v1]
    repository: bench/$kind-$stamp
    ecr: { ${roles[0]} }
targets:
  svc:
    ${roles[1]}
    ecs: { cluster: bench-$kind-$stamp, service: bench-$kind-$stamp, containers: { web: web }, poll_interval: 1s }
YAML
  AWS_ACCESS_KEY_ID="AKIABENCHSETUP$kind" "$berth" -f "$work/$kind/berth.yaml" ship -q >/dev/null
done

calls() { # calls the rig logged for key $1 and for the roles' keys in $2's accounts since $3
  python3 - "$1" "$2" "$3" <<'PY'
import json, os, sys, urllib.request
log = json.load(urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/_rig/requests"))
key, accounts, since = sys.argv[1], sys.argv[2].split(","), float(sys.argv[3])
own = [r for r in log if r["key"] == key]
roles = [r for r in log if r["time"] >= since and r["key"].startswith("ASIA") and r.get("account") in accounts]
print(f"{len(own) + len(roles)} ({sum(r['action'] == 'AssumeRole' for r in own)} AssumeRole)")
PY
}

printf '%-34s %10s %10s  %s\n' "no-change ship" "median ms" "max ms" "AWS calls per run"
for kind in own xa; do
  times=()
  for i in $(seq 1 "$ROUNDS"); do
    key="AKIABENCH$kind$i$stamp"
    since=$(date +%s.%N)
    start=$(date +%s%N)
    AWS_ACCESS_KEY_ID="$key" "$berth" -f "$work/$kind/berth.yaml" ship -q >/dev/null
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
    n=$(calls "$key" "$shared,$workload" "$since")
  done
  sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  label=$([ "$kind" = own ] && echo "own credentials (baseline)" || echo "two assumed roles, two accounts")
  printf '%-34s %10s %10s  %s\n' "$label" "${sorted[$((ROUNDS / 2))]}" "${sorted[-1]}" "$n"
done

start=$(date +%s%N)
AWS_ACCESS_KEY_ID="AKIABENCHGC$stamp" "$berth" -f "$work/xa/berth.yaml" gc -o json >"$work/gc.json"
gc_ms=$(( ($(date +%s%N) - start) / 1000000 ))
python3 - "$work/gc.json" "$gc_ms" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r = doc["gc"][0]
print(f"gc dry run, shared repository ({len(r['images'])} image, asks the workload account): {sys.argv[2]} ms")
PY
