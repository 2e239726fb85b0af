#!/usr/bin/env bash
# Benchmark: `berth ship` on a 10-service pipeline (10 images, 10 ECS services) against the
# same work done the way a hand-written buildspec does it — docker build, docker push,
# aws ecs register-task-definition, update-service, wait — one service after another. In one
# run, on the rig. Prints wall times and write calls (AWS API writes from the emulator's log,
# registry writes from the registry's log):
#
#   1. cold (new content everywhere): berth vs the script
#   2. again with nothing changed: berth vs the script
#   3. berth --jobs 1 vs berth's default --jobs, both on new content
#
# The script waits for each service with a 2-second describe-services loop (a fair script;
# `aws ecs wait services-stable` polls every 15 s and would make it look worse).
# Needs the rig: scripts/rig up. N=10 services by default.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
eval "$(scripts/rig env)"
N="${N:-10}"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
export DOCKER_CONFIG="$work/docker"
registry_log="$BERTH_RIG_DIR/registry/registry.log"
registry_writes() { grep 'response completed' "$registry_log" | grep -E 'http.request.method=(PUT|POST|PATCH) ' | grep -c "/v2/bench-$stamp/$1" || true; }
aws_writes() {
  curl -sf "$AWS_ENDPOINT_URL/_rig/requests" | jq --arg k "$1" \
    '[.[] | select(.key == $k) | select(.action | test("^(Describe|Get|List|BatchGet)") | not)] | length'
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", b - a }'; }

# Services: one ECS cluster, 2N services (a set for berth, a set for the script), each on a
# first task definition revision, as Terraform would have left them.
cluster="bench-$stamp"
aws ecs create-cluster --cluster-name "$cluster" >/dev/null
for set in berth script; do
  for i in $(seq "$N"); do
    aws ecs register-task-definition --family "bench-$stamp-$set-$i" \
      --container-definitions '[{"name":"app","image":"busybox:stable","memory":128,"essential":true}]' >/dev/null
    aws ecs create-service --cluster "$cluster" --service-name "$set-$i" \
      --task-definition "bench-$stamp-$set-$i:1" --desired-count 2 \
      --deployment-configuration 'deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100' >/dev/null
  done
done

# Sources: one small image per service; `content` changes to make new images.
new_content() { # set label
  for i in $(seq "$N"); do
    mkdir -p "$work/$1/s$i"
    printf 'FROM busybox:stable\nCOPY content /content\n' >"$work/$1/s$i/Dockerfile"
    printf '%s %s %s\n' "$2" "$i" "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$work/$1/s$i/content"
  done
}
new_content berth cold
new_content script cold

{
  printf 'version: 1\nproject: bench\nimages:\n'
  for i in $(seq "$N"); do
    printf '  s%d: { context: berth/s%d, repository: bench-%s/berth-s%d, tags: [v1] }\n' "$i" "$i" "$stamp" "$i"
  done
  printf 'targets:\n'
  for i in $(seq "$N"); do
    printf '  svc%d:\n    ecs: { cluster: %s, service: berth-%d, containers: { app: s%d }, poll_interval: 1s }\n' "$i" "$cluster" "$i" "$i"
  done
} >"$work/berth.yaml"

# The hand-written way, as a buildspec's build phase does it.
cat >"$work/script.sh" <<'SCRIPT'
set -euo pipefail
aws ecr get-login-password | docker login --username AWS --password-stdin "$REGISTRY" >/dev/null 2>&1
for i in $(seq "$N"); do
  repo="bench-$STAMP/script-s$i"
  aws ecr describe-repositories --repository-names "$repo" >/dev/null 2>&1 \
    || aws ecr create-repository --repository-name "$repo" >/dev/null
  docker build -q -t "$REGISTRY/$repo:v1" "$WORK/script/s$i" >/dev/null
  docker push -q "$REGISTRY/$repo:v1" >/dev/null
  digest=$(aws ecr describe-images --repository-name "$repo" --image-ids imageTag=v1 --query 'imageDetails[0].imageDigest' --output text)
  td=$(aws ecs register-task-definition --family "bench-$STAMP-script-$i" \
    --container-definitions "[{\"name\":\"app\",\"image\":\"$REGISTRY/$repo@$digest\",\"memory\":128,\"essential\":true}]" \
    --query taskDefinition.taskDefinitionArn --output text)
  aws ecs update-service --cluster "$CLUSTER" --service "script-$i" --task-definition "$td" >/dev/null
  until [ "$(aws ecs describe-services --cluster "$CLUSTER" --services "script-$i" \
      --query 'length(services[0].deployments)' --output text)" = 1 ] \
    && [ "$(aws ecs describe-services --cluster "$CLUSTER" --services "script-$i" \
      --query 'services[0].deployments[0].rolloutState' --output text)" = COMPLETED ]; do
    sleep 2
  done
done
SCRIPT
script() { REGISTRY="$BERTH_RIG_REGISTRY" STAMP="$stamp" WORK="$work" CLUSTER="$cluster" N="$N" \
  AWS_ACCESS_KEY_ID="$1" bash "$work/script.sh"; }
ship() { local key=$1; shift; AWS_ACCESS_KEY_ID="$key" "$berth" -f "$work/berth.yaml" ship -q "$@" >/dev/null; }
total_registry() { local n=0; for i in $(seq "$N"); do n=$((n + $(registry_writes "$1-s$i/"))); done; echo "$n"; }

bk="AKIABENCHBERTH$stamp"; sk="AKIABENCHSCRIPT$stamp"
t=$(now); ship "$bk"; berth_cold=$(elapsed "$t" "$(now)")
berth_cold_aws=$(aws_writes "$bk"); berth_cold_reg=$(total_registry berth)
t=$(now); script "$sk"; script_cold=$(elapsed "$t" "$(now)")
script_cold_aws=$(aws_writes "$sk"); script_cold_reg=$(total_registry script)

t=$(now); ship "$bk"; berth_again=$(elapsed "$t" "$(now)")
berth_again_aws=$(( $(aws_writes "$bk") - berth_cold_aws )); berth_again_reg=$(( $(total_registry berth) - berth_cold_reg ))
t=$(now); script "$sk"; script_again=$(elapsed "$t" "$(now)")
script_again_aws=$(( $(aws_writes "$sk") - script_cold_aws )); script_again_reg=$(( $(total_registry script) - script_cold_reg ))

new_content berth jobs1
t=$(now); ship "$bk" --jobs 1; jobs1=$(elapsed "$t" "$(now)")
new_content berth jobsN
t=$(now); ship "$bk"; jobsn=$(elapsed "$t" "$(now)")

printf '\n%d services (10 images, 10 ECS services), %s cores, %s\n\n' "$N" "$(nproc)" "$(date -u +%F)"
printf '| %-40s | %-22s | %-22s |\n' "" "hand-written script" "berth ship"
printf '|%s|%s|%s|\n' "------------------------------------------" "------------------------" "------------------------"
printf '| %-40s | %-22s | %-22s |\n' "cold: wall time" "${script_cold} s" "${berth_cold} s"
printf '| %-40s | %-22s | %-22s |\n' "cold: AWS writes / registry writes" "$script_cold_aws / $script_cold_reg" "$berth_cold_aws / $berth_cold_reg"
printf '| %-40s | %-22s | %-22s |\n' "nothing changed: wall time" "${script_again} s" "${berth_again} s"
printf '| %-40s | %-22s | %-22s |\n' "nothing changed: AWS / registry writes" "$script_again_aws / $script_again_reg" "$berth_again_aws / $berth_again_reg"
printf '\nberth on new content: --jobs 1 %s s, default --jobs %s s\n' "$jobs1" "$jobsn"
