"""ECS services that behave like ECS, for the rig.

moto keeps a service's deployment frozen as created: UpdateService never starts a new
deployment and nothing ever rolls out. This module takes over the service and task calls
(CreateService, UpdateService, DescribeServices, DeleteService, RunTask, DescribeTasks,
ListTasks) and leaves clusters and task definitions to moto. What it does, per `STEP`
seconds (BERTH_RIG_ECS_STEP, default 1):

* UpdateService with another task definition starts a new PRIMARY deployment
  (IN_PROGRESS) and demotes the old one to ACTIVE; the new one starts its tasks after one
  step, runs half after two, all after three (COMPLETED; the old deployment goes away), with
  service events worded like AWS's.
* A task definition with the environment variable BERTH_RIG_FAIL=1 in a container makes the
  new tasks stop ("Essential container in task exited", exit code 1), one every half step.
  With the deployment circuit breaker enabled, the deployment turns FAILED once the
  threshold (half the desired count, clamped to 3..200) is reached, and — with its rollback
  enabled — ECS starts a rollback deployment to the previous task definition.
* TagResource, UntagResource and ListTagsForResource work on its services (berth keeps
  its lease on a service there).
* BERTH_RIG_NEVER_READY=1 leaves the new tasks pending forever (for timeouts).
* BERTH_RIG_UNHEALTHY=1 makes the new tasks run but fail the load balancer's health checks:
  their targets are `unhealthy` (Target.ResponseCodeMismatch) in DescribeTargetHealth, and
  ECS stops them ("Task failed ELB health checks in (target-group …)"), with the circuit
  breaker as above.
* Service tasks are real task records (ListTasks by service, startedBy the deployment id,
  DescribeTasks), each with an IP; a replaced deployment's tasks are stopped. Containers whose
  task definition logs with `awslogs` write log lines to the emulator's CloudWatch Logs, to
  the stream `<prefix>/<container>/<task id>` as the awslogs driver names it (only when the
  log group exists, or `awslogs-create-group` is "true"): the lines of BERTH_RIG_LOG
  (separated by `|`) or a default start line, and for a failing task why it exits.
* Services whose deploymentConfiguration.strategy is BLUE_GREEN, LINEAR or CANARY roll out
  as service deployments (ListServiceDeployments, DescribeServiceDeployments,
  StopServiceDeployment; the service's currentServiceDeployment), one lifecycle stage per
  step: RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT,
  POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (the target revision's
  requestedProductionTrafficWeight moves all at once, by canaryPercent then 100, or by
  stepPercent steps), POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP, then SUCCESSFUL. A
  minute of bake time (bakeTimeInMinutes, canary/linear step bake times) is one step.
  BERTH_RIG_FAIL fails the new tasks in SCALE_UP; with the circuit breaker that is a rollback
  (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL a step later). With
  deploymentConfiguration.alarms enabled, an alarm of the emulator's CloudWatch in state
  ALARM from PRODUCTION_TRAFFIC_SHIFT to BAKE_TIME triggers the same rollback (its name in
  alarms.triggeredAlarmNames), or fails the deployment when its rollback is off. As in AWS,
  such a strategy needs each load balancer's advancedConfiguration (alternate target group,
  production listener rule, role) and the ECS deployment controller.
* DescribeTargetHealth (elbv2) answers for target groups the simulator's services are
  registered with: their running tasks healthy, the tasks of a BERTH_RIG_UNHEALTHY
  deployment unhealthy while that deployment is there.
* RunTask tasks run for one step and stop after two, with the exit code given by
  BERTH_RIG_EXIT_CODE (container overrides first, then the task definition; default 0).
"""

import json
import os
import threading
import time
import uuid

STEP = float(os.environ.get("BERTH_RIG_ECS_STEP", "1.0"))


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class NotMine(Exception):
    """A call about a resource the simulator does not own: moto answers it."""


def threshold(desired):
    return min(max(desired // 2, 3), 200)


def public(d):
    """A record without the simulator's own (underscore) fields."""
    if isinstance(d, dict):
        return {k: public(v) for k, v in d.items() if not k.startswith("_")}
    if isinstance(d, list):
        return [public(x) for x in d]
    return d


def env_value(container, name):
    for e in container.get("environment") or []:
        if e.get("name") == name:
            return e.get("value")
    return None


STAGES = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
ALARM_STAGES = ("PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME")


def timeline(config):
    """[(stage, steps, production weight)] of a service deployment with `config`."""
    strategy = config.get("strategy")
    out = [(st, 1, 0.0) for st in STAGES[:6]]
    if strategy == "CANARY":
        cc = config.get("canaryConfiguration") or {}
        out.append(("PRODUCTION_TRAFFIC_SHIFT", max(1, int(cc.get("canaryBakeTimeInMinutes", 1))), float(cc.get("canaryPercent", 5.0))))
    elif strategy == "LINEAR":
        lc = config.get("linearConfiguration") or {}
        step = float(lc.get("stepPercent", 10.0))
        w = step
        while w < 100:
            out.append(("PRODUCTION_TRAFFIC_SHIFT", max(1, int(lc.get("stepBakeTimeInMinutes", 1))), w))
            w += step
    out.append(("PRODUCTION_TRAFFIC_SHIFT", 1, 100.0))
    out.append(("POST_PRODUCTION_TRAFFIC_SHIFT", 1, 100.0))
    out.append(("BAKE_TIME", max(1, int(config.get("bakeTimeInMinutes", 0) or 0)), 100.0))
    out.append(("CLEAN_UP", 1, 100.0))
    return out


def target_td(sd):
    dep = next((d for d in sd["_svc"]["deployments"] if d["id"] == sd["_deployment"]), None)
    return dep["taskDefinition"] if dep else sd["_previous"]


def strategy_of(svc):
    return (svc.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING"


def check_strategy(config, load_balancers, controller):
    if (config or {}).get("strategy", "ROLLING") not in STRATEGIES:
        return
    if (controller or {}).get("type", "ECS") != "ECS":
        raise ApiError("InvalidParameterException", f"The {config['strategy']} deployment strategy requires the ECS deployment controller.")
    for lb in load_balancers or []:
        adv = lb.get("advancedConfiguration") or {}
        missing = [k for k in ("alternateTargetGroupArn", "productionListenerRule", "roleArn") if not adv.get(k)]
        if missing:
            raise ApiError("InvalidParameterException", f"advancedConfiguration.{missing[0]} is required for load balancers of a service with the {config['strategy']} deployment strategy.")


class EcsSim:
    def __init__(self, account, get_backend):
        self.account = account
        self.get_backend = get_backend
        self.lock = threading.Lock()
        self.services = {}
        self.tasks = {}
        self.service_deployments = {}

    # --- moto lookups ----------------------------------------------------------------
    def backend(self, region):
        return self.get_backend("ecs")[self.account][region]

    def cluster(self, region, ref):
        name = (ref or "default").split("/")[-1]
        c = self.backend(region).clusters.get(name)
        if c is None:
            raise ApiError("ClusterNotFoundException", "Cluster not found.")
        return c

    def task_definition(self, region, ref):
        try:
            return self.backend(region).describe_task_definition(ref)
        except Exception:
            raise ApiError("ClientException", f"Unable to describe task definition {ref}.")

    def mode(self, region, td_arn):
        td = self.task_definition(region, td_arn)
        for c in td.container_definitions:
            if env_value(c, "BERTH_RIG_FAIL") == "1":
                return "fail"
            if env_value(c, "BERTH_RIG_NEVER_READY") == "1":
                return "never"
            if env_value(c, "BERTH_RIG_UNHEALTHY") == "1":
                return "unhealthy"
        return "ok"

    # --- CloudWatch Logs, as the awslogs driver writes them -----------------------------
    def write_logs(self, region, container, task_id, lines, now):
        opts = (container.get("logConfiguration") or {})
        if opts.get("logDriver") != "awslogs":
            return
        o = opts.get("options") or {}
        group, prefix = o.get("awslogs-group"), o.get("awslogs-stream-prefix")
        if not group or not prefix:
            return
        logs = self.get_backend("logs")[self.account][o.get("awslogs-region") or region]
        if group not in logs.groups:
            if str(o.get("awslogs-create-group")).lower() != "true":
                return
            logs.create_log_group(group, {})
        stream = f"{prefix}/{container['name']}/{task_id}"
        try:
            logs.create_log_stream(group, stream)
        except Exception:
            pass
        ms = int(now * 1000)
        logs.put_log_events(group, stream, [{"timestamp": ms + i, "message": line} for i, line in enumerate(lines)])

    def log_lines(self, container, default):
        given = env_value(container, "BERTH_RIG_LOG")
        return given.split("|") if given else default

    def start_tasks(self, region, svc, dep, n, now):
        """`n` running tasks of deployment `dep`."""
        td = self.task_definition(region, dep["taskDefinition"])
        for _ in range(n):
            tid = uuid.uuid4().hex
            arn = f"arn:aws:ecs:{region}:{self.account}:task/{svc['_cluster']}/{tid}"
            ip = f"10.0.{len(self.tasks) // 250 % 250}.{len(self.tasks) % 250 + 2}"
            self.tasks[(region, arn)] = {
                "taskArn": arn, "clusterArn": svc["clusterArn"], "taskDefinitionArn": dep["taskDefinition"],
                "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "startedBy": dep["id"],
                "group": f"service:{svc['serviceName']}", "createdAt": now, "startedAt": now,
                "containers": [{"name": c["name"], "lastStatus": "RUNNING"} for c in td.container_definitions],
                "attachments": [{"type": "ElasticNetworkInterface", "status": "ATTACHED",
                                 "details": [{"name": "privateIPv4Address", "value": ip}]}],
                "_service": svc["serviceName"], "_ip": ip,
            }
            for c in td.container_definitions:
                self.write_logs(region, c, tid, self.log_lines(c, [f"[rig] {c['name']} started in task {tid}"]), now)

    def stop_tasks(self, region, svc, deployment_id, reason, now):
        for (r, _), t in self.tasks.items():
            if r == region and t.get("startedBy") == deployment_id and t.get("_service") == svc["serviceName"] and t["desiredStatus"] == "RUNNING":
                t["lastStatus"] = t["desiredStatus"] = "STOPPED"
                t["stoppedReason"], t["stopCode"], t["stoppedAt"] = reason, "ServiceSchedulerInitiated", now
                for c in t["containers"]:
                    c["lastStatus"], c["exitCode"] = "STOPPED", 0

    # --- records ----------------------------------------------------------------------
    def new_deployment(self, region, td_arn, desired, now, previous, running=0):
        did = "ecs-svc/" + "".join(str((uuid.uuid4().int >> i) % 10) for i in range(19))
        return {
            "id": did,
            "status": "PRIMARY",
            "taskDefinition": td_arn,
            "desiredCount": desired,
            "pendingCount": 0,
            "runningCount": running,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "rolloutState": "COMPLETED" if running == desired else "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {did} " + ("completed." if running == desired else "in progress."),
            "_t0": now,
            "_mode": self.mode(region, td_arn),
            "_previous": previous,
            "_started": running == desired,
        }

    def event(self, svc, message, now):
        svc["events"].insert(0, {"id": str(uuid.uuid4()), "createdAt": now, "message": message})

    def service_key(self, region, cluster_ref, name):
        c = self.cluster(region, cluster_ref)
        return (region, c.name, name.split("/")[-1]), c

    def get_service(self, region, cluster_ref, name):
        key, _ = self.service_key(region, cluster_ref, name)
        svc = self.services.get(key)
        if svc is None or svc["status"] != "ACTIVE":
            raise ApiError("ServiceNotFoundException", "Service not found.")
        return svc

    def stopped_task(self, region, svc, dep, now, reason, container_reason, exit_code, stop_code="EssentialContainerExited"):
        tid = uuid.uuid4().hex
        arn = f"arn:aws:ecs:{region}:{self.account}:task/{svc['_cluster']}/{tid}"
        td = self.task_definition(region, dep["taskDefinition"])
        self.tasks[(region, arn)] = {
            "taskArn": arn,
            "clusterArn": svc["clusterArn"],
            "taskDefinitionArn": dep["taskDefinition"],
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "startedBy": dep["id"],
            "group": f"service:{svc['serviceName']}",
            "stoppedReason": reason,
            "stopCode": stop_code,
            "createdAt": now,
            "stoppedAt": now,
            "containers": [
                dict({"name": c["name"], "lastStatus": "STOPPED", "exitCode": exit_code}, **({"reason": container_reason} if container_reason else {}))
                for c in td.container_definitions
            ],
            "_service": svc["serviceName"],
        }
        for c in td.container_definitions:
            why = {1: "[rig] BERTH_RIG_FAIL is set: exiting with code 1"}.get(exit_code, f"[rig] stopped by ECS (exit code {exit_code})")
            self.write_logs(region, c, tid, self.log_lines(c, [f"[rig] {c['name']} started in task {tid}"]) + [why], now)
        return tid

    # --- service deployments (blue/green, linear, canary) ----------------------------------
    def start_service_deployment(self, region, svc, dep, previous_td, now):
        sid = uuid.uuid4().hex[:20]
        arn = f"arn:aws:ecs:{region}:{self.account}:service-deployment/{svc['_cluster']}/{svc['serviceName']}/{sid}"
        rev = lambda td: f"arn:aws:ecs:{region}:{self.account}:service-revision/{svc['_cluster']}/{svc['serviceName']}/{abs(hash(td)) % 10**19}"
        config = json.loads(json.dumps(svc.get("deploymentConfiguration") or {}))
        alarms = config.get("alarms") or {}
        cb = config.get("deploymentCircuitBreaker") or {}
        desired = svc["desiredCount"]
        sd = {
            "serviceDeploymentArn": arn, "serviceArn": svc["serviceArn"], "clusterArn": svc["clusterArn"],
            "createdAt": now, "startedAt": now, "updatedAt": now,
            "sourceServiceRevisions": [{"arn": rev(previous_td), "requestedTaskCount": desired, "runningTaskCount": desired, "pendingTaskCount": 0,
                                        "requestedProductionTrafficWeight": 100.0, "requestedTestTrafficWeight": 0.0}],
            "targetServiceRevision": {"arn": rev(dep["taskDefinition"]), "requestedTaskCount": desired, "runningTaskCount": 0, "pendingTaskCount": 0,
                                      "requestedProductionTrafficWeight": 0.0, "requestedTestTrafficWeight": 0.0},
            "status": "PENDING", "lifecycleStage": "RECONCILE_SERVICE",
            "deploymentConfiguration": config,
            "deploymentCircuitBreaker": {"status": "MONITORING" if cb.get("enable") else "DISABLED", "failureCount": 0, "threshold": threshold(desired)},
            "alarms": {"status": "MONITORING" if alarms.get("enable") else "DISABLED", "alarmNames": alarms.get("alarmNames") or []},
            "_t0": now, "_timeline": timeline(config), "_deployment": dep["id"], "_previous": previous_td, "_svc": svc, "_region": region,
        }
        self.service_deployments[arn] = sd
        svc["currentServiceDeployment"] = arn
        return sd

    def alarms_firing(self, region, names):
        cw = self.get_backend("cloudwatch")[self.account][region]
        return [n for n in names if n in cw.alarms and cw.alarms[n].state_value == "ALARM"]

    def begin_rollback(self, sd, reason, now):
        sd["status"], sd["statusReason"] = "ROLLBACK_IN_PROGRESS", reason
        sd["rollback"] = {"reason": reason, "startedAt": now, "serviceRevisionArn": sd["sourceServiceRevisions"][0]["arn"]}
        sd["_rollback_t0"] = now
        svc = sd["_svc"]
        self.event(svc, f"(service {svc['serviceName']}) (service-deployment {sd['serviceDeploymentArn'].split('/')[-1]}) rolling back: {reason}", now)

    def finish_rollback(self, sd, now):
        svc, region = sd["_svc"], sd["_region"]
        sd["status"], sd["finishedAt"] = "ROLLBACK_SUCCESSFUL", now
        sd["targetServiceRevision"]["requestedProductionTrafficWeight"] = 0.0
        ours = next((d for d in svc["deployments"] if d["id"] == sd["_deployment"]), None)
        self.stop_tasks(region, svc, sd["_deployment"], "Service deployment rolled back", now)
        back = self.new_deployment(region, sd["_previous"], svc["desiredCount"], now, None, running=svc["desiredCount"])
        keep = [d for d in svc["deployments"] if d is not ours and d["taskDefinition"] == sd["_previous"]]
        if keep:
            back = keep[0]
            back["status"] = "PRIMARY"
        svc["deployments"] = [back]
        svc["taskDefinition"] = sd["_previous"]

    def advance_service_deployment(self, sd, now):
        if sd["status"] in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"):
            return
        svc, region = sd["_svc"], sd["_region"]
        sd["updatedAt"] = now
        if sd["status"] in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            sd["status"] = "ROLLBACK_IN_PROGRESS"
            if now - sd.get("_rollback_t0", now) >= STEP:
                self.finish_rollback(sd, now)
            return
        steps = (now - sd["_t0"]) / STEP
        if steps < 0.5:
            return
        sd["status"] = "IN_PROGRESS"
        elapsed, entry = 0.0, None
        for e in sd["_timeline"]:
            if steps - 0.5 < elapsed + e[1]:
                entry = e
                break
            elapsed += e[1]
        dep = next((d for d in svc["deployments"] if d["id"] == sd["_deployment"]), None)
        target = sd["targetServiceRevision"]
        if entry is None:
            sd["status"], sd["finishedAt"], sd["lifecycleStage"] = "SUCCESSFUL", now, "CLEAN_UP"
            for o in [d for d in svc["deployments"] if d is not dep]:
                self.stop_tasks(region, svc, o["id"], f"Scaling activity initiated by (deployment {sd['_deployment']})", now)
            if dep:
                dep.update(status="PRIMARY", rolloutState="COMPLETED", runningCount=svc["desiredCount"], pendingCount=0,
                           rolloutStateReason=f"ECS deployment {dep['id']} completed.")
                svc["deployments"] = [dep]
            sd["sourceServiceRevisions"][0].update(runningTaskCount=0, requestedProductionTrafficWeight=0.0)
            self.event(svc, f"(service {svc['serviceName']}) (service-deployment {sd['serviceDeploymentArn'].split('/')[-1]}) deployment completed.", now)
            return
        stage, _, weight = entry
        sd["lifecycleStage"] = stage
        mode = self.mode(region, target_td(sd))
        index = STAGES.index(stage)
        if index >= STAGES.index("SCALE_UP") and not sd.get("_scaled"):
            sd["_scaled"] = True
            if mode == "fail":
                cb = sd["deploymentCircuitBreaker"]
                for _ in range(cb["threshold"]):
                    self.stopped_task(region, svc, dep, now, "Essential container in task exited", None, 1)
                    cb["failureCount"] += 1
                if cb["status"] == "MONITORING":
                    cb["status"] = "TRIGGERED"
                    self.begin_rollback(sd, "Circuit breaker triggered: tasks of the target service revision failed to start.", now)
                    return
            else:
                self.start_tasks(region, svc, dep, svc["desiredCount"], now)
                target.update(runningTaskCount=svc["desiredCount"])
        if mode == "fail" and sd.get("_scaled"):
            sd["lifecycleStage"] = "SCALE_UP"  # tasks never come up: it stays there
            return
        if index >= STAGES.index("TEST_TRAFFIC_SHIFT"):
            target["requestedTestTrafficWeight"] = 100.0
        target["requestedProductionTrafficWeight"] = weight
        sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] = 100.0 - weight
        alarms = sd["alarms"]
        if stage in ALARM_STAGES and alarms["status"] == "MONITORING":
            firing = self.alarms_firing(region, alarms["alarmNames"])
            if firing:
                alarms["status"], alarms["triggeredAlarmNames"] = "TRIGGERED", firing
                reason = f"CloudWatch alarm(s) {', '.join(firing)} went into ALARM state during {stage}."
                if (sd["deploymentConfiguration"].get("alarms") or {}).get("rollback"):
                    self.begin_rollback(sd, reason, now)
                else:
                    sd["status"], sd["statusReason"], sd["finishedAt"] = "STOPPED", reason, now

    def advance_strategy(self, region, svc, now):
        sd = self.service_deployments.get(svc.get("currentServiceDeployment"))
        if sd is not None:
            self.advance_service_deployment(sd, now)
        svc["runningCount"] = sum(d["runningCount"] for d in svc["deployments"])
        svc["pendingCount"] = sum(d["pendingCount"] for d in svc["deployments"])

    def sd_brief(self, sd):
        return {k: sd.get(k) for k in ("serviceDeploymentArn", "serviceArn", "clusterArn", "startedAt", "createdAt", "finishedAt", "status", "statusReason") if sd.get(k) is not None} | \
            {"targetServiceRevisionArn": sd["targetServiceRevision"]["arn"]}

    def api_ListServiceDeployments(self, region, b, now):
        svc = self.get_service(region, b.get("cluster"), b["service"])
        self.advance(region, svc, now)
        want = set(b.get("status") or [])
        sds = [sd for sd in self.service_deployments.values() if sd["_svc"] is svc and (not want or sd["status"] in want)]
        sds.sort(key=lambda sd: sd["createdAt"], reverse=True)
        return {"serviceDeployments": [self.sd_brief(sd) for sd in sds[: int(b.get("maxResults") or 20)]]}

    def api_DescribeServiceDeployments(self, region, b, now):
        out, failures = [], []
        for arn in b.get("serviceDeploymentArns") or []:
            sd = self.service_deployments.get(arn)
            if sd is None:
                failures.append({"arn": arn, "reason": "MISSING", "detail": "The service deployment does not exist."})
                continue
            self.advance(sd["_region"], sd["_svc"], now)
            out.append(public(sd))
        return {"serviceDeployments": out, "failures": failures}

    def api_StopServiceDeployment(self, region, b, now):
        sd = self.service_deployments.get(b.get("serviceDeploymentArn"))
        if sd is None:
            raise ApiError("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
        self.advance(sd["_region"], sd["_svc"], now)
        if sd["status"] not in ("PENDING", "IN_PROGRESS"):
            raise ApiError("ConflictException", f"The service deployment is {sd['status']} and cannot be stopped.")
        if b.get("stopType", "ABORT") == "ROLLBACK":
            sd["status"], sd["statusReason"], sd["_rollback_t0"] = "ROLLBACK_REQUESTED", "Stopped with rollback by StopServiceDeployment.", now
            sd["rollback"] = {"reason": "Stopped with rollback by StopServiceDeployment.", "startedAt": now, "serviceRevisionArn": sd["sourceServiceRevisions"][0]["arn"]}
        else:
            sd["status"], sd["statusReason"], sd["finishedAt"] = "STOPPED", "Stopped by StopServiceDeployment.", now
        return {"serviceDeploymentArn": sd["serviceDeploymentArn"]}

    # --- the rollout --------------------------------------------------------------------
    def advance(self, region, svc, now):
        if strategy_of(svc) in STRATEGIES and svc.get("currentServiceDeployment"):
            return self.advance_strategy(region, svc, now)
        p = next((d for d in svc["deployments"] if d["status"] == "PRIMARY"), None)
        if p is None or p["rolloutState"] != "IN_PROGRESS":
            return
        steps = (now - p["_t0"]) / STEP
        desired = p["desiredCount"]
        name = svc["serviceName"]
        others = [d for d in svc["deployments"] if d is not p]
        if p["_mode"] == "ok":
            if steps >= 1 and not p["_started"]:
                p["_started"] = True
                p["pendingCount"] = desired
                self.start_tasks(region, svc, p, desired, now)
                ids = ", ".join(f"(task {t['taskArn'].split('/')[-1]})" for t in self.tasks.values() if t.get("startedBy") == p["id"])
                self.event(svc, f"(service {name}) has started {desired} tasks: {ids}.", now)
            if steps >= 2 and p["runningCount"] < (desired + 1) // 2:
                p["runningCount"] = (desired + 1) // 2
                p["pendingCount"] = desired - p["runningCount"]
                for o in others:
                    o["runningCount"] = max(0, min(o["runningCount"], desired - p["runningCount"]))
            if steps >= 3:
                p["runningCount"], p["pendingCount"] = desired, 0
                p["rolloutState"] = "COMPLETED"
                p["rolloutStateReason"] = f"ECS deployment {p['id']} completed."
                if others:
                    self.event(svc, f"(service {name}) has stopped {sum(o['runningCount'] for o in others)} running tasks.", now)
                for o in others:
                    self.stop_tasks(region, svc, o["id"], f"Scaling activity initiated by (deployment {p['id']})", now)
                svc["deployments"] = [p]
                self.event(svc, f"(service {name}) (deployment {p['id']}) deployment completed.", now)
                self.event(svc, f"(service {name}) has reached a steady state.", now)
        elif p["_mode"] == "never":
            if steps >= 1 and not p["_started"]:
                p["_started"] = True
                p["pendingCount"] = desired
                self.event(svc, f"(service {name}) has started {desired} tasks: (task {uuid.uuid4().hex}).", now)
        else:  # fail, unhealthy
            due = int((steps - 1) * 2) + 1 if steps >= 1 else 0
            while p["failedTasks"] < due:
                if p["_mode"] == "fail":
                    tid = self.stopped_task(region, svc, p, now, "Essential container in task exited", None, 1)
                else:
                    tg = next((lb.get("targetGroupArn") for lb in svc.get("loadBalancers") or []), "?")
                    tid = self.stopped_task(region, svc, p, now, f"Task failed ELB health checks in (target-group {tg})", None, 143, "ServiceSchedulerInitiated")
                    t = self.tasks[(region, f"arn:aws:ecs:{region}:{self.account}:task/{svc['_cluster']}/{tid}")]
                    t["_ip"] = f"10.0.{len(self.tasks) // 250 % 250}.{len(self.tasks) % 250 + 2}"
                    p.setdefault("_unhealthy", []).append(t["_ip"])
                p["failedTasks"] += 1
                self.event(svc, f"(service {name}) has started 1 tasks: (task {tid}).", now)
            cb = (svc.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
            if cb.get("enable") and p["failedTasks"] >= threshold(desired):
                p["rolloutState"] = "FAILED"
                p["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
                if cb.get("rollback") and p["_previous"]:
                    rb = self.new_deployment(region, p["_previous"], desired, now, None)
                    p["status"] = "ACTIVE"
                    svc["deployments"].insert(0, rb)
                    svc["taskDefinition"] = p["_previous"]
                    self.event(svc, f"(service {name}) (deployment {p['id']}) deployment failed: tasks failed to start. Rolling back to deployment {rb['id']}.", now)
                else:
                    self.event(svc, f"(service {name}) (deployment {p['id']}) deployment failed: tasks failed to start.", now)
        p["updatedAt"] = now
        svc["runningCount"] = sum(d["runningCount"] for d in svc["deployments"])
        svc["pendingCount"] = sum(d["pendingCount"] for d in svc["deployments"])

    # --- API ------------------------------------------------------------------------------
    def handle(self, action, region, body):
        """(status, response) for the calls the simulator owns, else None (moto answers)."""
        fn = getattr(self, "api_" + action, None)
        if fn is None:
            return None
        with self.lock:
            try:
                return 200, fn(region, body, time.time())
            except NotMine:
                return None
            except ApiError as e:
                return 400, {"__type": e.code, "message": e.message}

    def service_by_arn(self, arn):
        svc = next((s for s in self.services.values() if s["serviceArn"] == arn), None)
        if svc is None:
            raise NotMine()
        return svc

    # Tags on services (berth keeps its lease there); other resources' tags are moto's.
    def api_TagResource(self, region, b, now):
        svc = self.service_by_arn(b.get("resourceArn"))
        tags = {t["key"]: t["value"] for t in svc.get("_tags", [])}
        for t in b.get("tags") or []:
            tags[t["key"]] = t["value"]
        svc["_tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return {}

    def api_UntagResource(self, region, b, now):
        svc = self.service_by_arn(b.get("resourceArn"))
        drop = set(b.get("tagKeys") or [])
        svc["_tags"] = [t for t in svc.get("_tags", []) if t["key"] not in drop]
        return {}

    def api_ListTagsForResource(self, region, b, now):
        svc = self.service_by_arn(b.get("resourceArn"))
        return {"tags": list(svc.get("_tags", []))}

    def api_CreateService(self, region, b, now):
        key, c = self.service_key(region, b.get("cluster"), b["serviceName"])
        if key in self.services and self.services[key]["status"] == "ACTIVE":
            raise ApiError("InvalidParameterException", "Creation of service was not idempotent.")
        td = self.task_definition(region, b["taskDefinition"]).arn
        check_strategy(b.get("deploymentConfiguration"), b.get("loadBalancers"), b.get("deploymentController"))
        desired = int(b.get("desiredCount", 1))
        svc = {
            "serviceArn": f"arn:aws:ecs:{region}:{self.account}:service/{c.name}/{key[2]}",
            "serviceName": key[2],
            "clusterArn": c.arn,
            "status": "ACTIVE",
            "desiredCount": desired,
            "runningCount": desired,
            "pendingCount": 0,
            "taskDefinition": td,
            "launchType": b.get("launchType"),
            "capacityProviderStrategy": b.get("capacityProviderStrategy") or [],
            "networkConfiguration": b.get("networkConfiguration"),
            "loadBalancers": b.get("loadBalancers") or [],
            "deploymentConfiguration": b.get("deploymentConfiguration") or {"maximumPercent": 200, "minimumHealthyPercent": 100},
            "deploymentController": b.get("deploymentController") or {"type": "ECS"},
            "createdAt": now,
            "events": [],
            "deployments": [self.new_deployment(region, td, desired, now, None, running=desired)],
            "_cluster": c.name,
        }
        self.services[key] = svc
        self.start_tasks(region, svc, svc["deployments"][0], desired, now)
        return {"service": public(svc)}

    def codedeploy_switch(self, region, cluster, name, td, deployment_id, now):
        """A CodeDeploy deployment finished: the service runs `td` now."""
        svc = self.get_service(region, cluster, name)
        dep = self.new_deployment(region, td, svc["desiredCount"], now, svc["taskDefinition"], running=svc["desiredCount"])
        for old in svc["deployments"]:
            self.stop_tasks(region, svc, old["id"], f"Scaling activity initiated by (deployment {dep['id']})", now)
        svc["deployments"] = [dep]
        svc["taskDefinition"] = td
        self.start_tasks(region, svc, dep, svc["desiredCount"], now)
        self.event(svc, f"(service {name}) updated by CodeDeploy deployment {deployment_id}.", now)

    def api_UpdateService(self, region, b, now):
        svc = self.get_service(region, b.get("cluster"), b["service"])
        if svc["deploymentController"].get("type") == "CODE_DEPLOY" and b.get("taskDefinition"):
            raise ApiError("InvalidParameterException", "Unable to update task definition on services with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment.")
        self.advance(region, svc, now)
        if "desiredCount" in b:
            svc["desiredCount"] = int(b["desiredCount"])
        if b.get("deploymentConfiguration"):
            check_strategy(b["deploymentConfiguration"], b.get("loadBalancers") or svc.get("loadBalancers"), svc["deploymentController"])
            svc["deploymentConfiguration"] = b["deploymentConfiguration"]
        primary = next((d for d in svc["deployments"] if d["status"] == "PRIMARY"), None)
        td = self.task_definition(region, b["taskDefinition"]).arn if b.get("taskDefinition") else svc["taskDefinition"]
        if td != svc["taskDefinition"] or b.get("forceNewDeployment"):
            for d in svc["deployments"]:
                d["status"] = "ACTIVE"
            dep = self.new_deployment(region, td, svc["desiredCount"], now, primary["taskDefinition"] if primary else None)
            svc["deployments"].insert(0, dep)
            if strategy_of(svc) in STRATEGIES:
                dep["_mode"] = "strategy"
                current = self.service_deployments.get(svc.get("currentServiceDeployment"))
                if current is not None and current["status"] in ("PENDING", "IN_PROGRESS"):
                    current["status"], current["statusReason"], current["finishedAt"] = "STOPPED", "Superseded by a newer service deployment.", now
                self.start_service_deployment(region, svc, dep, primary["taskDefinition"] if primary else td, now)
            svc["taskDefinition"] = td
        return {"service": public(svc)}

    def api_DescribeServices(self, region, b, now):
        out, failures = [], []
        for name in b.get("services", []):
            try:
                svc = self.get_service(region, b.get("cluster"), name)
            except ApiError as e:
                if e.code == "ClusterNotFoundException":
                    raise
                failures.append({"arn": name, "reason": "MISSING"})
                continue
            self.advance(region, svc, now)
            out.append(public(svc))
        return {"services": out, "failures": failures}

    def api_DeleteService(self, region, b, now):
        svc = self.get_service(region, b.get("cluster"), b["service"])
        svc["status"] = "INACTIVE"
        for d in svc["deployments"]:
            self.stop_tasks(region, svc, d["id"], "Service deleted", now)
        return {"service": public(svc)}

    def target_health(self, region, tg_arn):
        """The DescribeTargetHealth answer (XML) for a target group a service uses, else None."""
        with self.lock:
            rows = []
            for svc in self.services.values():
                lbs = [lb for lb in svc.get("loadBalancers") or [] if lb.get("targetGroupArn") == tg_arn]
                if svc["status"] != "ACTIVE" or not lbs:
                    continue
                self.advance(region, svc, time.time())
                port = lbs[0].get("containerPort", 80)
                ids = {d["id"] for d in svc["deployments"]}
                for (r, _), t in self.tasks.items():
                    if r == region and t.get("_service") == svc["serviceName"] and t["desiredStatus"] == "RUNNING" and t.get("startedBy") in ids:
                        rows.append((t["_ip"], port, "healthy", None, None))
                for d in svc["deployments"]:
                    for ip in d.get("_unhealthy", [])[-3:]:
                        rows.append((ip, port, "unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]"))
                break
            else:
                return None
        members = []
        for ip, port, state, reason, desc in rows:
            extra = (f"<Reason>{reason}</Reason><Description>{desc}</Description>" if reason else "")
            members.append(f"<member><Target><Id>{ip}</Id><Port>{port}</Port></Target><HealthCheckPort>{port}</HealthCheckPort>"
                           f"<TargetHealth><State>{state}</State>{extra}</TargetHealth></member>")
        return ('<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
                f"<DescribeTargetHealthResult><TargetHealthDescriptions>{''.join(members)}</TargetHealthDescriptions>"
                "</DescribeTargetHealthResult><ResponseMetadata><RequestId>rig</RequestId></ResponseMetadata></DescribeTargetHealthResponse>")

    def api_RunTask(self, region, b, now):
        c = self.cluster(region, b.get("cluster"))
        td = self.task_definition(region, b["taskDefinition"])
        overrides = {o.get("name"): o for o in ((b.get("overrides") or {}).get("containerOverrides") or [])}
        tasks = []
        for _ in range(int(b.get("count", 1))):
            tid = uuid.uuid4().hex
            arn = f"arn:aws:ecs:{region}:{self.account}:task/{c.name}/{tid}"
            containers = []
            for cd in td.container_definitions:
                o = overrides.get(cd["name"], {})
                code = env_value(o, "BERTH_RIG_EXIT_CODE") or env_value(cd, "BERTH_RIG_EXIT_CODE") or "0"
                containers.append({"name": cd["name"], "lastStatus": "PENDING", "_exit": int(code)})
            task = {
                "taskArn": arn,
                "clusterArn": c.arn,
                "taskDefinitionArn": td.arn,
                "lastStatus": "PROVISIONING",
                "desiredStatus": "RUNNING",
                "startedBy": b.get("startedBy"),
                "launchType": b.get("launchType"),
                "overrides": b.get("overrides") or {},
                "createdAt": now,
                "containers": containers,
                "_t0": now,
            }
            self.tasks[(region, arn)] = task
            tasks.append(public(task))
        return {"tasks": tasks, "failures": []}

    def advance_task(self, t, now):
        if "_t0" not in t or t["lastStatus"] == "STOPPED":
            return
        steps = (now - t["_t0"]) / STEP
        if steps >= 1:
            t["lastStatus"] = "RUNNING"
            for c in t["containers"]:
                c["lastStatus"] = "RUNNING"
        if steps >= 2:
            t["lastStatus"] = t["desiredStatus"] = "STOPPED"
            t["stoppedReason"] = "Essential container in task exited"
            t["stopCode"] = "EssentialContainerExited"
            t["stoppedAt"] = now
            for c in t["containers"]:
                c["lastStatus"] = "STOPPED"
                c["exitCode"] = c["_exit"]

    def api_DescribeTasks(self, region, b, now):
        out, failures = [], []
        for arn in b.get("tasks", []):
            t = self.tasks.get((region, arn))
            if t is None:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            self.advance_task(t, now)
            out.append(public(t))
        return {"tasks": out, "failures": failures}

    def api_ListTasks(self, region, b, now):
        c = self.cluster(region, b.get("cluster"))
        want = b.get("desiredStatus", "RUNNING")
        arns = []
        for (r, arn), t in self.tasks.items():
            if r != region or not arn.split("/")[-2] == c.name:
                continue
            self.advance_task(t, now)
            if b.get("serviceName") and t.get("_service") != b["serviceName"]:
                continue
            if b.get("startedBy") and t.get("startedBy") != b["startedBy"]:
                continue
            if t["desiredStatus"] == want:
                arns.append(arn)
        return {"taskArns": arns}


class CodeDeploySim:
    """CodeDeploy blue/green deployments of ECS services that move, on top of moto's.

    moto records a deployment and leaves it `Created` for ever. Here a deployment created
    with an AppSpec for an ECS service is InProgress for three steps and then Succeeded, at
    which point the ECS service runs the AppSpec's task definition. A task definition with
    BERTH_RIG_FAIL=1 makes it Failed after two steps instead — with a rollback deployment in
    `rollbackInfo` when the deployment group has automatic rollback enabled. Timestamps are
    answered as numbers, as the API defines them (moto sends ISO strings).
    """

    def __init__(self, ecs, get_backend):
        self.ecs = ecs
        self.get_backend = get_backend
        self.deployments = {}

    def on_create(self, region, request, response):
        try:
            spec = json.loads(request["revision"]["appSpecContent"]["content"])
            props = spec["Resources"][0]["TargetService"]["Properties"]
            td = props["TaskDefinition"]
        except (KeyError, IndexError, TypeError, ValueError):
            return
        self.deployments[response.get("deploymentId")] = {
            "t0": time.time(),
            "td": td,
            "app": request.get("applicationName"),
            "group": request.get("deploymentGroupName"),
            "region": region,
            "done": False,
        }

    def on_get(self, region, response):
        info = response.get("deploymentInfo") or {}
        rec = self.deployments.get(info.get("deploymentId"))
        for k in ("createTime", "startTime", "completeTime"):
            if isinstance(info.get(k), str):
                info.pop(k)
        if rec is None:
            return response
        now = time.time()
        steps = (now - rec["t0"]) / STEP
        info["createTime"] = rec["t0"]
        group = self.get_backend("codedeploy")[self.ecs.account][region].get_deployment_group(rec["app"], rec["group"])
        svc_ref = (group.ecs_services or [{}])[0]
        mode = self.ecs.mode(region, rec["td"])
        if steps < 0.5:
            info["status"] = "Created"
        elif mode == "fail" and steps >= 2:
            info["status"] = "Failed"
            info["errorInformation"] = {"code": "ECS_UPDATE_ERROR", "message": "The ECS service cannot reach a steady state: tasks of the replacement task set failed to start."}
            auto = group.auto_rollback_configuration or {}
            if auto.get("enabled"):
                info["rollbackInfo"] = {"rollbackDeploymentId": "d-RB" + info["deploymentId"][-8:].upper(), "rollbackMessage": "Automatic rollback triggered by DEPLOYMENT_FAILURE."}
            info["completeTime"] = now
        elif mode == "ok" and steps >= 3:
            info["status"] = "Succeeded"
            info["completeTime"] = now
            if not rec["done"]:
                rec["done"] = True
                with self.ecs.lock:
                    self.ecs.codedeploy_switch(region, svc_ref.get("clusterName"), svc_ref.get("serviceName"), rec["td"], info["deploymentId"], now)
        else:
            info["status"] = "InProgress"
            info["startTime"] = rec["t0"]
        response["deploymentInfo"] = info
        return response
