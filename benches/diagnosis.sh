#!/usr/bin/env bash
# Benchmark: what gathering a diagnosis adds to a failed deploy, on the rig, release build.
#
# An ECS service (2 tasks, circuit breaker with rollback, behind a target group) gets a
# revision whose tasks crash and log to CloudWatch Logs, ROUNDS times. From the ndjson event
# times: the rollout watch (deploy start to the verdict: the "gathering why" progress event)
# against the gathering (that event to the step's end), which reads the stopped tasks, their
# task definition, each failed container's last log lines and the target health. The same run
# then does it with an identity that may not read logs (each read it may not make is a gap).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth/target}"
ROUNDS="${ROUNDS:-3}"
scripts/rig up >/dev/null
eval "$(scripts/rig env)"
cargo build --release --locked --quiet
berth="$CARGO_TARGET_DIR/release/berth"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stamp=$(date +%s)
vpc=$(aws ec2 describe-vpcs --query 'Vpcs[0].VpcId' --output text)
tg=$(aws elbv2 create-target-group --name "bench-$stamp" --protocol HTTP --port 8080 --target-type ip \
  --vpc-id "$vpc" --query 'TargetGroups[0].TargetGroupArn' --output text)
aws logs create-log-group --log-group-name "/bench/$stamp"
aws ecs create-cluster --cluster-name "bench-$stamp" >/dev/null
aws ecs register-task-definition --family "bench-$stamp" \
  --container-definitions '[{"name":"web","image":"busybox:stable","memory":128,"portMappings":[{"containerPort":8080}]}]' >/dev/null
mkdir -p "$work/app" "$work/ecs"
echo 'FROM busybox:stable' >"$work/app/Dockerfile"
cat >"$work/ecs/web.json" <<JSON
{"family": "bench-$stamp", "containerDefinitions": [{"name": "web", "image": "x", "memory": 128,
  "portMappings": [{"containerPort": 8080}],
  "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/bench/$stamp", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "web"}},
  "environment": [{"name": "BERTH_RIG_FAIL", "value": "1"}, {"name": "BERTH_RIG_LOG", "value": "starting|FATAL: no database"}]}]}
JSON
image="web=$BERTH_RIG_REGISTRY/bench/web@sha256:$(printf '3%.0s' {1..64})"

# ms between the first event matching $1 and the first matching $2 in ndjson file $3.
ms_between() {
  python3 - "$1" "$2" "$3" <<'PY'
import datetime, json, sys
first = {}
for line in open(sys.argv[3]):
    ev = json.loads(line)
    if "event" not in ev:
        continue
    text = json.dumps(ev)
    for k in (sys.argv[1], sys.argv[2]):
        if k in text and k not in first:
            first[k] = datetime.datetime.fromisoformat(ev["time"].replace("Z", "+00:00"))
print(round((first[sys.argv[2]] - first[sys.argv[1]]).total_seconds() * 1000))
PY
}

run() { # $1: label, $2: access key
  for i in $(seq 1 "$ROUNDS"); do
    svc="svc-$stamp-$1-$i"
    aws ecs create-service --cluster "bench-$stamp" --service-name "$svc" --task-definition "bench-$stamp:1" \
      --desired-count 2 --deployment-configuration 'deploymentCircuitBreaker={enable=true,rollback=true}' \
      --load-balancers "targetGroupArn=$tg,containerName=web,containerPort=8080" >/dev/null
    cat >"$work/berth.yaml" <<YAML
version: 1
project: bench
images:
  web: { context: app, tags: [v1], repository: bench/web }
targets:
  svc:
    ecs: { cluster: bench-$stamp, service: $svc, containers: { web: web }, task_definition: ecs/web.json, poll_interval: 1s }
YAML
    (cd "$work" && AWS_ACCESS_KEY_ID="$2" "$berth" deploy --image "$image" -o ndjson >"$work/events.ndjson" 2>/dev/null) || true
    watch=$(ms_between '"step_started"' 'gathering why' "$work/events.ndjson")
    gather=$(ms_between 'gathering why' '"step_finished"' "$work/events.ndjson")
    lines=$(python3 -c "import json,sys; d=json.loads(open(sys.argv[1]).read().splitlines()[-1])['targets'][0]['diagnosis']; print(sum(len(c['log']) for u in d['units'] for c in u['containers']), len(d['gaps']))" "$work/events.ndjson")
    printf '%-10s round %d: rollout watch %6d ms   gathering %5d ms   (log lines, gaps: %s)\n' "$1" "$i" "$watch" "$gather" "$lines"
  done
}
echo "diagnosis of a crashing ECS deploy ($ROUNDS rounds; rig ECS step 1 s)"
run readable "AKIABENCHDIAG$stamp"
run no-logs "AKIARIGNOLOGS$stamp"
