"""The rig's Kubernetes API test server: just enough of kube-apiserver and its controllers for
berth's EKS tests, kept apart from berth's code. No real API server can be installed on the
test machines; the test `kube_server_is_faithful_to_kubectl` drives this one with the real
`kubectl` to keep it honest.

What it does (each part as the real thing does it, as far as berth and kubectl can see):

* HTTPS with its own CA (written to <dir>/ca.crt); one server, many clusters: a cluster's
  endpoint is `https://127.0.0.1:PORT/c/<cluster name>`, and each cluster has its own objects.
* Authentication as EKS does it: only a bearer token `k8s-aws-v1.<base64url presigned URL>`
  is accepted, checked the way aws-iam-authenticator checks it (the URL is a GetCallerIdentity
  on the configured STS endpoint, only the allowed query parameters, `x-k8s-aws-id` among the
  signed headers, X-Amz-Date at most 15 minutes old), then verified by calling the presigned
  URL on the STS endpoint (the rig's emulator, which checks the signature) with the header
  `x-k8s-aws-id: <cluster>`. Anything else is 401. Identities can be left unmapped (401) or
  made read-only (403 on writes) per cluster through `PUT /_rig/clusters/<name>`.
* Discovery (/api, /apis, resource lists with short names), /version.
* GET, LIST (label and field selectors), WATCH (chunked JSON events from a resourceVersion),
  POST, PUT, DELETE, and PATCH in all four content types: server-side apply (field manager,
  field ownership so that fields a manager stops applying are removed, dryRun), JSON merge
  patch, strategic merge patch (merge keys, `$patch`, `$setElementOrder`), JSON patch.
  A write that changes nothing keeps the resourceVersion and sends no watch event.
* metadata.generation (bumped on spec changes), defaults a Deployment gets.
* A Deployment controller: ReplicaSets per pod template hash with revision annotations
  (reusing an old one on rollback, as `kubectl rollout undo` expects), pods that become ready
  over time, a rolling update one replica per tick, status with observedGeneration, replica
  counts and the Available/Progressing conditions, ProgressDeadlineExceeded.
  StatefulSets, DaemonSets and Jobs complete at once.
* Failure injection through the pod template annotation `rig.berth.dev/fail`:
  `crashloop` (CrashLoopBackOff), `never-ready` (running, never ready), `image-pull`
  (ErrImagePull, then ImagePullBackOff).
* Pod events as the kubelet records them (`BackOff` for a crash loop, `Failed` for an image
  that cannot be pulled; involvedObject set, so field selectors find them), and pod logs
  (`pods/<name>/log` with `container`, `tailLines`, `previous` and `follow`, as text): the lines of the
  pod annotation `rig.berth.dev/log` (separated by `|`) or a start line, and for a crash loop
  the exit; `previous=true` of a container that never restarted, or the log of one still
  waiting to start, is refused with 400 as the kubelet does.
* `GET /_rig/clusters/<name>/requests`: every API request (method, path, user) so tests can
  count writes.
* Faults: `PUT /_rig/clusters/<name>` with `{"faults": {"status": 503, "count": 20, "after": 1}}`
  makes the next `count` reads (GETs, watches included; only watches with `"watches": true`)
  after `after` seconds fail with that status (429 or a 5xx); `GET /_rig/clusters/<name>`
  says how many were answered so.

Run: python3 kube_server.py --port 45670 --dir DIR --sts http://127.0.0.1:45660
"""

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import random
import re
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TICK = float(os.environ.get("BERTH_RIG_KUBE_TICK", "0.25"))
POD_READY_AFTER = float(os.environ.get("BERTH_RIG_KUBE_READY_AFTER", "0.5"))
FAIL_ANNOTATION = "rig.berth.dev/fail"
LOG_ANNOTATION = "rig.berth.dev/log"
REVISION = "deployment.kubernetes.io/revision"
TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_MAX_AGE = 15 * 60
ALLOWED_QUERY = {
    "action", "version", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
    "x-amz-expires", "x-amz-security-token", "x-amz-signature", "x-amz-signedheaders",
}

# (group, version) -> [(plural, kind, namespaced, short names)]
RESOURCES = {
    ("", "v1"): [
        ("namespaces", "Namespace", False, ["ns"]),
        ("configmaps", "ConfigMap", True, ["cm"]),
        ("secrets", "Secret", True, []),
        ("services", "Service", True, ["svc"]),
        ("serviceaccounts", "ServiceAccount", True, ["sa"]),
        ("pods", "Pod", True, ["po"]),
        ("events", "Event", True, ["ev"]),
    ],
    ("apps", "v1"): [
        ("deployments", "Deployment", True, ["deploy"]),
        ("replicasets", "ReplicaSet", True, ["rs"]),
        ("statefulsets", "StatefulSet", True, ["sts"]),
        ("daemonsets", "DaemonSet", True, ["ds"]),
    ],
    ("batch", "v1"): [("jobs", "Job", True, []), ("cronjobs", "CronJob", True, ["cj"])],
    ("networking.k8s.io", "v1"): [("ingresses", "Ingress", True, ["ing"])],
    ("rbac.authorization.k8s.io", "v1"): [
        ("roles", "Role", True, []),
        ("rolebindings", "RoleBinding", True, []),
        ("clusterroles", "ClusterRole", False, []),
    ],
    ("autoscaling", "v2"): [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"])],
    ("coordination.k8s.io", "v1"): [("leases", "Lease", True, [])],
}
KIND_OF = {(g, p): k for (g, _v), rs in RESOURCES.items() for p, k, _n, _s in rs}
NAMESPACED = {(g, p): n for (g, _v), rs in RESOURCES.items() for p, _k, n, _s in rs}
WORKLOADS = {("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"), ("batch", "cronjobs")}
# Merge keys of the lists Kubernetes merges by key (strategic merge patch and apply).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "imagePullSecrets": "name",
    "conditions": "type", "ownerReferences": "uid",
}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_key(field, items):
    if field == "ports":
        for it in items:
            if isinstance(it, dict):
                return "containerPort" if "containerPort" in it else "port"
        return None
    return MERGE_KEYS.get(field)


def status_doc(code, reason, message, details=None):
    doc = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code}
    if details:
        doc["details"] = details
    return doc


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.doc = status_doc(code, reason, message, details)
        self.code = code


def resource_label(group, plural):
    return f"{plural}.{group}" if group else plural


def not_found(group, plural, name):
    return ApiError(404, "NotFound", f'{resource_label(group, plural)} "{name}" not found',
                    {"name": name, "group": group, "kind": plural})


# --- patches --------------------------------------------------------------------------------
def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge(target, patch):
    """Strategic merge patch: maps merge, lists with a merge key merge by key, `$patch`
    directives, `$setElementOrder`/`$retainKeys` accepted."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch") or k.startswith("$deleteFromPrimitiveList/"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and isinstance(out.get(k), list) and merge_key(k, v + out[k]):
            key = merge_key(k, v + out[k])
            items = copy.deepcopy(out[k])
            for pv in v:
                if not isinstance(pv, dict):
                    continue
                idx = next((i for i, it in enumerate(items) if isinstance(it, dict) and it.get(key) == pv.get(key)), None)
                if pv.get("$patch") == "delete":
                    if idx is not None:
                        items.pop(idx)
                elif idx is None:
                    items.append({a: b for a, b in pv.items() if a != "$patch"})
                else:
                    items[idx] = strategic_merge(items[idx], pv)
            out[k] = items
        elif isinstance(v, dict):
            out[k] = strategic_merge(out.get(k), v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def json_pointer(path):
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path.lstrip("/").split("/")]


def json_patch(doc, ops):
    """RFC 6902: add, remove, replace, test, copy, move."""
    doc = copy.deepcopy(doc)

    def parent(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def get(parts):
        cur = doc
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    for op in ops:
        parts = json_pointer(op["path"])
        kind = op["op"]
        try:
            if kind == "test":
                if get(parts) != op["value"]:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: test failed at {op['path']}")
                continue
            if kind in ("copy", "move"):
                value = copy.deepcopy(get(json_pointer(op["from"])))
                if kind == "move":
                    src = json_pointer(op["from"])
                    sp = parent(src)
                    sp.pop(int(src[-1]) if isinstance(sp, list) else src[-1])
                kind, op = "add", {"value": value}
            if not parts:
                doc = copy.deepcopy(op["value"])
                continue
            p = parent(parts)
            last = parts[-1]
            if kind == "remove":
                p.pop(int(last) if isinstance(p, list) else last)
            elif kind == "add":
                if isinstance(p, list):
                    p.insert(len(p) if last == "-" else int(last), copy.deepcopy(op["value"]))
                else:
                    p[last] = copy.deepcopy(op["value"])
            elif kind == "replace":
                if isinstance(p, list):
                    p[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in p:
                        raise KeyError(last)
                    p[last] = copy.deepcopy(op["value"])
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {kind} at {op.get('path')}")
    return doc


# --- server-side apply ----------------------------------------------------------------------
IDENTITY_FIELDS = {((), "apiVersion"), ((), "kind"), (("metadata",), "name"), (("metadata",), "namespace")}


def leaf_paths(value, prefix=()):
    """The fields an applied configuration sets, as paths; list items with a merge key are
    addressed by key (so two appliers can own different containers), other lists are atomic."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k.startswith("$") or (prefix, k) in IDENTITY_FIELDS:
                continue
            p = prefix + (k,)
            if isinstance(v, dict) and v:
                out |= leaf_paths(v, p)
            elif isinstance(v, list) and merge_key(k, v) and all(isinstance(i, dict) for i in v):
                key = merge_key(k, v)
                for item in v:
                    ip = p + ((key, json.dumps(item.get(key))),)
                    out.add(ip)
                    out |= leaf_paths({a: b for a, b in item.items() if a != key}, ip)
            else:
                out.add(p)
    return out


def remove_path(obj, path):
    cur = obj
    for seg in path[:-1]:
        cur = step(cur, seg)
        if cur is None:
            return
    last = path[-1]
    if isinstance(last, tuple) and isinstance(cur, list):
        key, val = last
        cur[:] = [i for i in cur if not (isinstance(i, dict) and json.dumps(i.get(key)) == val)]
    elif isinstance(cur, dict):
        cur.pop(last, None)


def step(cur, seg):
    if isinstance(seg, tuple):
        if not isinstance(cur, list):
            return None
        key, val = seg
        return next((i for i in cur if isinstance(i, dict) and json.dumps(i.get(key)) == val), None)
    return cur.get(seg) if isinstance(cur, dict) else None


MAP_FIELDS = {"annotations", "labels", "data", "binaryData", "stringData", "matchLabels", "nodeSelector"}


def drop_nulls(value):
    """What the Go types do to a decoded object: a null is no field, and empty lists and
    empty string maps are omitted (`omitempty`), so `annotations: {}` is not stored. Empty
    structs (`emptyDir: {}`) stay: they are pointers, and present means set."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = drop_nulls(v)
            if v is None or (isinstance(v, list) and not v) or (k in MAP_FIELDS and v == {}):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def fields_v1(paths):
    """Field paths in the managedFields FieldsV1 format."""
    root = {}
    for p in sorted(paths, key=lambda p: json.dumps(p)):
        cur = root
        for seg in p:
            if isinstance(seg, tuple):
                cur = cur.setdefault("k:" + json.dumps({seg[0]: json.loads(seg[1])}, separators=(",", ":")), {})
                cur.setdefault(".", {})
            else:
                cur = cur.setdefault(f"f:{seg}", {})
    return root


def apply_merge(live, applied):
    """Merge an applied configuration into the live object (maps recursively, keyed lists by
    key, everything else replaced)."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(live)
    for k, v in applied.items():
        if isinstance(v, list) and isinstance(out.get(k), list) and merge_key(k, v) and all(isinstance(i, dict) for i in v):
            key = merge_key(k, v)
            items = copy.deepcopy(out[k])
            for av in v:
                idx = next((i for i, it in enumerate(items) if isinstance(it, dict) and it.get(key) == av.get(key)), None)
                if idx is None:
                    items.append(copy.deepcopy(av))
                else:
                    items[idx] = apply_merge(items[idx], av)
            out[k] = items
        elif isinstance(v, dict):
            out[k] = apply_merge(out.get(k, {}), v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --- defaults and validation ----------------------------------------------------------------
def default_pod_spec(spec):
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            if not isinstance(c, dict):
                continue
            image = c.get("image", "")
            tagged = "@" in image or ":" in image.rsplit("/", 1)[-1]
            latest = image.endswith(":latest") or not tagged
            c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
            c.setdefault("terminationMessagePath", "/dev/termination-log")
            c.setdefault("terminationMessagePolicy", "File")
            c.setdefault("resources", {})
            for port in c.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def pod_template_spec(group, plural, obj):
    spec = obj.get("spec") or {}
    if plural == "pods":
        return spec
    if plural == "cronjobs":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return (spec.get("template") or {}).get("spec")


def apply_defaults(group, plural, obj):
    spec = obj.get("spec")
    if (group, plural) == ("apps", "deployments") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    if (group, plural) == ("", "services") and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
    if (group, plural) in WORKLOADS or (group, plural) == ("", "pods"):
        ps = pod_template_spec(group, plural, obj)
        if isinstance(ps, dict):
            default_pod_spec(ps)


def validate(group, plural, obj):
    kind = KIND_OF[(group, plural)]
    name = (obj.get("metadata") or {}).get("name", "")
    causes = []
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name or "") or len(name) > 253:
        causes.append({"reason": "FieldValueInvalid", "message": f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'", "field": "metadata.name"})
    if (group, plural) in WORKLOADS or (group, plural) == ("", "pods"):
        ps = pod_template_spec(group, plural, obj)
        prefix = {"pods": "spec", "cronjobs": "spec.jobTemplate.spec.template.spec"}.get(plural, "spec.template.spec")
        if not isinstance(ps, dict) or not ps.get("containers"):
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{prefix}.containers"})
        else:
            for i, c in enumerate(ps.get("containers") or []):
                if not isinstance(c, dict) or not c.get("image"):
                    causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": f"{prefix}.containers[{i}].image"})
    if (group, plural) in {("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"), ("apps", "replicasets")}:
        spec = obj.get("spec") or {}
        sel = ((spec.get("selector") or {}).get("matchLabels")) or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not sel:
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"})
        elif any(labels.get(k) != v for k, v in sel.items()):
            causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: map[string]string(nil): `selector` does not match template `labels`", "field": "spec.template.metadata.labels"})
    if causes:
        msg = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
        raise ApiError(422, "Invalid", f'{kind}.{group or "core"} "{name}" is invalid: {msg}',
                       {"name": name, "group": group, "kind": kind, "causes": causes})


def comparable(obj):
    o = copy.deepcopy(obj)
    md = o.get("metadata") or {}
    for k in ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"):
        md.pop(k, None)
    return json.dumps(o, sort_keys=True)


def matches_labels(labels, selector):
    labels = labels or {}
    for part in filter(None, (p.strip() for p in re.split(r",(?![^()]*\))", selector or ""))):
        m = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",")}
            if (labels.get(m.group(1)) in vals) != (m.group(2) == "in"):
                return False
            continue
        if part.startswith("!"):
            if part[1:] in labels:
                return False
        elif "!=" in part:
            k, v = part.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in part:
            k, v = part.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif part not in labels:
            return False
    return True


def matches_fields(obj, selector):
    for part in filter(None, (selector or "").split(",")):
        neg = "!=" in part
        k, v = part.split("!=" if neg else "=", 1)
        k = k.strip().lstrip("=")
        v = v.lstrip("=").strip()
        cur = obj
        for seg in k.split("."):
            cur = cur.get(seg) if isinstance(cur, dict) else None
        if (str(cur) == v) == neg:
            return False
    return True


# --- a cluster ------------------------------------------------------------------------------
class Cluster:
    def __init__(self, name):
        self.name = name
        self.lock = threading.Condition()
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.owners = {}  # object key -> {manager: set(paths)}
        self.rv = 1000
        self.events = []  # (rv, key, type, object)
        self.requests = []
        self.deny = set()
        self.readonly = set()
        # Failure injection for the reliability tests: the next `count` API reads (GET) after
        # `after` seconds answer `status` (429 with Retry-After, or a 5xx), as an overloaded
        # or restarting API server does.
        self.faults = None
        self.progress = {}  # deployment key -> (last progress time, signature)
        self.pod_born = {}  # pod key -> creation time
        for ns in ("default", "kube-system", "kube-public"):
            with self.lock:
                self.put("", "namespaces", "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}, None)

    # all methods below expect self.lock held
    def _store(self, key, obj, kind):
        self.rv += 1
        md = obj.setdefault("metadata", {})
        md["resourceVersion"] = str(self.rv)
        if kind == "DELETED":
            self.objects.pop(key, None)
            self.owners.pop(key, None)
        else:
            self.objects[key] = obj
        self.events.append((self.rv, key, kind, copy.deepcopy(obj)))
        if len(self.events) > 20000:
            del self.events[:5000]
        self.lock.notify_all()
        return obj

    def put(self, group, plural, ns, obj, existing):
        """Store `obj` (create or update) unless nothing changed. Returns the stored object."""
        key = (group, plural, ns, obj["metadata"]["name"])
        md = obj["metadata"]
        if existing is not None:
            if comparable(existing) == comparable(obj):
                return existing
            md["uid"] = existing["metadata"]["uid"]
            md["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
            gen = existing["metadata"].get("generation")
            if gen is not None:
                md["generation"] = gen + (1 if json.dumps(existing.get("spec"), sort_keys=True) != json.dumps(obj.get("spec"), sort_keys=True) else 0)
            if "status" in existing and plural != "namespaces":
                obj["status"] = existing["status"]
            return self._store(key, obj, "MODIFIED")
        md.setdefault("uid", str(uuid.uuid4()))
        md.setdefault("creationTimestamp", now_iso())
        if "spec" in obj and plural not in ("services",):
            md["generation"] = 1
        if plural == "namespaces":
            obj.setdefault("status", {"phase": "Active"})
        return self._store(key, obj, "ADDED")

    def delete(self, key):
        obj = self.objects.get(key)
        if obj is None:
            return None
        self._store(key, copy.deepcopy(obj), "DELETED")
        uid = obj["metadata"].get("uid")
        for k, o in list(self.objects.items()):  # garbage collection of owned objects
            if any(r.get("uid") == uid for r in (o["metadata"].get("ownerReferences") or [])):
                self.delete(k)
        return obj


# --- the controllers ------------------------------------------------------------------------
def template_hash(template):
    t = copy.deepcopy(template)
    (t.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return hashlib.sha256(json.dumps(t, sort_keys=True).encode()).hexdigest()[:10]


def rand5():
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))


def percent(value, total, round_up):
    if isinstance(value, str) and value.endswith("%"):
        x = int(value[:-1]) * total / 100
        return int(-(-x // 1)) if round_up else int(x)
    return int(value or 0)


def controller_tick(c):
    with c.lock:
        for key, d in list(c.objects.items()):
            if key[:2] == ("apps", "deployments"):
                reconcile_deployment(c, key, d)
            elif key[:2] in {("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs")}:
                reconcile_simple(c, key, d)


def set_status(c, key, obj, status):
    if obj.get("status") != status:
        new = copy.deepcopy(obj)
        new["status"] = status
        c._store(key, new, "MODIFIED")


def reconcile_simple(c, key, obj):
    gen = obj["metadata"].get("generation", 1)
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if key[1] == "statefulsets":
        rev = f"{key[3]}-{template_hash(obj['spec'].get('template') or {})}"
        status = {"observedGeneration": gen, "replicas": replicas, "readyReplicas": replicas, "currentReplicas": replicas,
                  "updatedReplicas": replicas, "availableReplicas": replicas, "currentRevision": rev, "updateRevision": rev}
    elif key[1] == "daemonsets":
        status = {"observedGeneration": gen, "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberAvailable": 1,
                  "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1}
    else:
        status = obj.get("status") or {"startTime": now_iso(), "completionTime": now_iso(), "succeeded": 1,
                                       "conditions": [{"type": "Complete", "status": "True"}]}
    set_status(c, key, obj, status)


def pods_of(c, ns, rs_uid):
    return [(k, p) for k, p in c.objects.items()
            if k[:3] == ("", "pods", ns) and any(r.get("uid") == rs_uid for r in p["metadata"].get("ownerReferences") or [])]


def pod_ready(p):
    return any(cd.get("type") == "Ready" and cd.get("status") == "True" for cd in (p.get("status") or {}).get("conditions") or [])


def without_times(value):
    """`value` without its startedAt stamps, for comparing statuses."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "startedAt"}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def reconcile_pod(c, key, pod):
    """Moves a pod along: Pending -> Running and ready, or into the injected failure."""
    age = time.time() - c.pod_born.setdefault(key, time.time())
    fail = (pod["metadata"].get("annotations") or {}).get(FAIL_ANNOTATION, "")
    containers = pod["spec"].get("containers") or []
    if age < POD_READY_AFTER and fail != "image-pull":
        status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}
    elif fail == "crashloop":
        restarts = int(age / POD_READY_AFTER)
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                  "containerStatuses": [{"name": ct["name"], "image": ct.get("image"), "ready": False, "restartCount": restarts,
                                         "state": {"waiting": {"reason": "CrashLoopBackOff", "message": f"back-off 10s restarting failed container={ct['name']} pod={key[3]}_{key[2]}"}},
                                         "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "exec /app/start: exit status 1"}}} for ct in containers]}
    elif fail == "image-pull":
        reason = "ErrImagePull" if age < 2 * POD_READY_AFTER else "ImagePullBackOff"
        status = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                  "containerStatuses": [{"name": ct["name"], "image": ct.get("image"), "ready": False, "restartCount": 0,
                                         "state": {"waiting": {"reason": reason, "message": f'Back-off pulling image "{ct.get("image")}"'}}} for ct in containers]}
    else:
        ready = fail != "never-ready"
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                  "containerStatuses": [{"name": ct["name"], "image": ct.get("image"), "ready": ready, "restartCount": 0,
                                         "state": {"running": {"startedAt": now_iso()}}} for ct in containers]}
    old = pod.get("status") or {}
    # A pod's status changes when something but its timestamps does.
    if without_times(old) != without_times(status):
        set_status(c, key, pod, status)
        pod_event(c, key, pod, status)


def pod_event(c, key, pod, status):
    """The event the kubelet records when a pod's container starts failing."""
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason == "CrashLoopBackOff":
            ev_reason, message = "BackOff", f"Back-off restarting failed container {cs['name']} in pod {key[3]}_{key[2]}({pod['metadata'].get('uid')})"
        elif reason in ("ErrImagePull", "ImagePullBackOff"):
            ev_reason, message = "Failed", f'Failed to pull image "{cs.get("image")}": rpc error: code = NotFound desc = failed to pull and unpack image: not found'
        else:
            continue
        ns, name = key[2], key[3]
        seed = f"{name}/{cs['name']}/{ev_reason}".encode()
        ev_name = f"{name}.{hashlib.sha1(seed).hexdigest()[:16]}"
        existing = c.objects.get(("", "events", ns, ev_name))
        stamp = now_iso()
        ev = {"apiVersion": "v1", "kind": "Event",
              "metadata": {"name": ev_name, "namespace": ns},
              "involvedObject": {"kind": "Pod", "namespace": ns, "name": name, "uid": pod["metadata"].get("uid"),
                                 "apiVersion": "v1", "fieldPath": f"spec.containers{{{cs['name']}}}"},
              "reason": ev_reason, "message": message, "type": "Warning",
              "source": {"component": "kubelet"}, "reportingComponent": "kubelet",
              "count": (existing or {}).get("count", 0) + 1,
              "firstTimestamp": (existing or {}).get("firstTimestamp", stamp), "lastTimestamp": stamp}
        c.put("", "events", ns, ev, existing)


def pod_log(pod, container, previous):
    """(status, text) of `GET pods/<name>/log`, as the kubelet answers it."""
    name = pod["metadata"]["name"]
    statuses = {cs["name"]: cs for cs in (pod.get("status") or {}).get("containerStatuses") or []}
    names = [ct["name"] for ct in pod["spec"].get("containers") or []]
    if container is None:
        if len(names) != 1:
            return 400, f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        container = names[0]
    if container not in names:
        return 400, f"container {container} is not valid for pod {name}"
    cs = statuses.get(container) or {}
    given = (pod["metadata"].get("annotations") or {}).get(LOG_ANNOTATION)
    lines = given.split("|") if given else [f"[rig] {container} starting"]
    crash = ((cs.get("lastState") or {}).get("terminated") or {})
    if previous:
        if not cs.get("restartCount"):
            return 400, f'previous terminated container "{container}" in pod "{name}" not found'
        return 200, "".join(l + "\n" for l in lines + [f"[rig] exiting with code {crash.get('exitCode', 1)}"])
    waiting = (cs.get("state") or {}).get("waiting") or {}
    if waiting and not cs.get("restartCount"):
        return 400, f'container "{container}" in pod "{name}" is waiting to start: {waiting.get("reason", "ContainerCreating")}'
    if not cs:
        return 400, f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
    return 200, "".join(l + "\n" for l in lines)


def scale_rs(c, key, rs, replicas):
    ns = key[2]
    uid = rs["metadata"]["uid"]
    pods = pods_of(c, ns, uid)
    while len(pods) > replicas:
        pods.sort(key=lambda kp: (pod_ready(kp[1]), kp[1]["metadata"]["creationTimestamp"]))
        k, _ = pods.pop(0)
        c.delete(k)
        c.pod_born.pop(k, None)
    while len(pods) < replicas:
        tmpl = rs["spec"]["template"]
        name = f"{key[3]}-{rand5()}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": copy.deepcopy((tmpl.get("metadata") or {}).get("labels") or {}),
                            "annotations": copy.deepcopy((tmpl.get("metadata") or {}).get("annotations") or {}),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": key[3], "uid": uid, "controller": True, "blockOwnerDeletion": True}]},
               "spec": copy.deepcopy(tmpl.get("spec") or {})}
        pk = ("", "pods", ns, name)
        c.put("", "pods", ns, pod, None)
        pods.append((pk, c.objects[pk]))
    for k, p in pods:
        reconcile_pod(c, k, c.objects[k])
    pods = pods_of(c, ns, uid)
    ready = sum(1 for _, p in pods if pod_ready(p))
    spec = dict(rs["spec"], replicas=replicas)
    if rs["spec"].get("replicas") != replicas:
        rs = copy.deepcopy(rs)
        rs["spec"] = spec
        rs = c._store(key, rs, "MODIFIED")
    set_status(c, key, c.objects[key], {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                                         "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)})
    return len(pods), ready


def reconcile_deployment(c, key, d):
    ns, name = key[2], key[3]
    spec = d.get("spec") or {}
    desired = spec.get("replicas", 1)
    template = spec.get("template") or {}
    h = template_hash(template)
    uid = d["metadata"]["uid"]
    rss = [(k, r) for k, r in c.objects.items() if k[:3] == ("apps", "replicasets", ns)
           and any(o.get("uid") == uid for o in r["metadata"].get("ownerReferences") or [])]
    revisions = [int((r["metadata"].get("annotations") or {}).get(REVISION, "0")) for _, r in rss]
    max_rev = max(revisions, default=0)
    new = next(((k, r) for k, r in rss if (r["metadata"].get("labels") or {}).get("pod-template-hash") == h), None)
    if new is None:
        t = copy.deepcopy(template)
        t.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        sel = copy.deepcopy(spec.get("selector") or {})
        sel.setdefault("matchLabels", {})["pod-template-hash"] = h
        rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": dict(t["metadata"]["labels"]),
                           "annotations": {REVISION: str(max_rev + 1), "deployment.kubernetes.io/desired-replicas": str(desired)},
                           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid, "controller": True, "blockOwnerDeletion": True}]},
              "spec": {"replicas": 0, "selector": sel, "template": t}}
        c.put("apps", "replicasets", ns, rs, None)
        new = (("apps", "replicasets", ns, rs["metadata"]["name"]), c.objects[("apps", "replicasets", ns, rs["metadata"]["name"])])
        c.progress[key] = (time.time(), None, "NewReplicaSetCreated")
        rss.append(new)
    elif int((new[1]["metadata"].get("annotations") or {}).get(REVISION, "0")) < max_rev:
        # Back to an older template (rollback): its ReplicaSet becomes the newest revision.
        rs = copy.deepcopy(new[1])
        old_rev = rs["metadata"]["annotations"][REVISION]
        hist = rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision-history")
        rs["metadata"]["annotations"][REVISION] = str(max_rev + 1)
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] = f"{hist},{old_rev}" if hist else old_rev
        c._store(new[0], rs, "MODIFIED")
        new = (new[0], c.objects[new[0]])
        c.progress[key] = (time.time(), None, "ReplicaSetUpdated")
    new_key, new_rs = new
    new_rev = new_rs["metadata"]["annotations"][REVISION]
    olds = [(k, r) for k, r in rss if k != new_key]

    max_surge = percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxSurge", "25%"), desired, True)
    max_unavail = percent((spec.get("strategy") or {}).get("rollingUpdate", {}).get("maxUnavailable", "25%"), desired, False)
    if max_surge == 0 and max_unavail == 0:
        max_surge = 1
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    old_count = sum(len(pods_of(c, ns, r["metadata"]["uid"])) for _, r in olds)
    new_count = len(pods_of(c, ns, new_rs["metadata"]["uid"]))
    new_target = new_rs["spec"].get("replicas", 0)
    room = desired + max_surge - old_count  # the most pods the new ReplicaSet may have now
    if new_target > desired:
        new_target = desired
    elif new_target < desired and (not recreate or old_count == 0):
        new_target = max(new_target, min(desired, new_target + 1, room))
    n_total, n_ready = scale_rs(c, new_key, c.objects[new_key], new_target)
    min_available = 0 if recreate else desired - max_unavail
    old_state = [(k, r, len(pods_of(c, ns, r["metadata"]["uid"])), sum(1 for _, p in pods_of(c, ns, r["metadata"]["uid"]) if pod_ready(p)))
                 for k, r in sorted(olds, key=lambda kr: int((kr[1]["metadata"].get("annotations") or {}).get(REVISION, "0")))]
    budget = n_ready + sum(ready for _, _, _, ready in old_state) - min_available  # ready pods that may go
    old_ready = 0
    for k, r, cur, cur_ready in old_state:
        drop_ready = max(0, min(cur_ready, budget))
        budget -= drop_ready
        _, ready = scale_rs(c, k, c.objects[k], cur - (cur - cur_ready) - drop_ready)
        old_ready += ready
    # Old ReplicaSets past revisionHistoryLimit go.
    limit = spec.get("revisionHistoryLimit", 10)
    empty_olds = sorted([(k, r) for k, r in olds if k in c.objects and c.objects[k]["spec"].get("replicas", 0) == 0],
                        key=lambda kr: int((kr[1]["metadata"].get("annotations") or {}).get(REVISION, "0")))
    for k, _ in empty_olds[:max(0, len(empty_olds) - limit)]:
        c.delete(k)

    total = n_total + sum(len(pods_of(c, ns, r["metadata"]["uid"])) for k, r in olds if k in c.objects)
    available = n_ready + old_ready
    complete = n_total == desired and total == desired and n_ready == desired
    last, sig, reason = c.progress.get(key, (time.time(), None, "NewReplicaSetCreated"))
    signature = (n_total, n_ready, total, available, new_key)
    if signature != sig:
        if sig is not None:
            reason = "ReplicaSetUpdated"
        last = time.time()
    deadline = spec.get("progressDeadlineSeconds", 600)
    rs_name = new_key[3]
    status = copy.deepcopy(d.get("status") or {})
    conds = {cd["type"]: cd for cd in status.get("conditions") or []}
    stamp = now_iso()
    if complete:
        prog = ("True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
    elif time.time() - last > deadline:
        prog = ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.')
    elif reason == "NewReplicaSetCreated":
        prog = ("True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"')
    else:
        prog = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
    avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.") if available >= desired - max_unavail \
        else ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    for typ, (st, rsn, msg) in (("Available", avail), ("Progressing", prog)):
        old = conds.get(typ)
        if not old or (old["status"], old["reason"], old["message"]) != (st, rsn, msg):
            conds[typ] = {"type": typ, "status": st, "reason": rsn, "message": msg, "lastUpdateTime": stamp,
                          "lastTransitionTime": stamp if not old or old["status"] != st else old["lastTransitionTime"]}
    status = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total, "updatedReplicas": n_total,
              "readyReplicas": available, "availableReplicas": available, "conditions": [conds["Available"], conds["Progressing"]]}
    if total - available > 0:
        status["unavailableReplicas"] = total - available
    if not available:
        status.pop("readyReplicas")
        status.pop("availableReplicas")
    c.progress[key] = (last, signature, reason)
    cur = c.objects.get(key)
    if cur is None:
        return
    if (cur["metadata"].get("annotations") or {}).get(REVISION) != new_rev or cur.get("status") != status:
        new = copy.deepcopy(cur)
        new["metadata"].setdefault("annotations", {})[REVISION] = new_rev
        new["status"] = status
        c._store(key, new, "MODIFIED")


# --- HTTP -----------------------------------------------------------------------------------
class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, tls, sts):
        super().__init__(addr, handler)
        self.tls = tls
        self.sts = sts.rstrip("/")
        self.clusters = {}
        self.clusters_lock = threading.Lock()
        self.token_cache = {}

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread, not in the accept loop.
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def cluster(self, name):
        with self.clusters_lock:
            if name not in self.clusters:
                self.clusters[name] = Cluster(name)
            return self.clusters[name]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "berth-rig-kube/1"

    def log_message(self, fmt, *args):
        if os.environ.get("BERTH_RIG_KUBE_VERBOSE"):
            sys.stderr.write("kube: " + fmt % args + "\n")

    def send_json(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        raw = self.body()
        try:
            if url.path.startswith("/_rig/"):
                return self.rig(method, url.path, raw)
            m = re.match(r"^/c/([^/]+)(/.*)?$", url.path)
            if not m:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            cluster = self.server.cluster(m.group(1))
            path = m.group(2) or "/"
            user = self.authenticate(cluster)
            with cluster.lock:
                f = cluster.faults
                watching = query.get("watch") in ("true", "1")
                if f and method == "GET" and f["count"] > 0 and time.time() >= f["from"] and (watching or not f.get("watches")):
                    f["count"] -= 1
                    f["answered"] += 1
                    cluster.requests.append({"time": round(time.time(), 3), "method": method, "path": path, "query": query,
                                             "user": user, "fault": int(f.get("status", 503))})
                    code = int(f.get("status", 503))
                    reason = "TooManyRequests" if code == 429 else "ServiceUnavailable"
                    raise ApiError(code, reason, "the rig's API server is failing on purpose (fault injection)")
                cluster.requests.append({"time": round(time.time(), 3), "method": method, "path": path, "query": query, "user": user,
                                         "content_type": self.headers.get("Content-Type", "")})
            self.route(cluster, user, method, path, query, raw)
        except ApiError as e:
            self.send_json(e.code, e.doc)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # --- /_rig ---
    def rig(self, method, path, raw):
        if path == "/_rig/health":
            return self.send_json(200, {"ok": True})
        m = re.match(r"^/_rig/clusters/([^/]+)(/requests)?$", path)
        if not m:
            raise ApiError(404, "NotFound", "unknown rig endpoint")
        c = self.server.cluster(m.group(1))
        if m.group(2):
            with c.lock:
                return self.send_json(200, c.requests)
        if method == "PUT":
            doc = json.loads(raw or b"{}")
            with c.lock:
                if "faults" in doc:
                    f = doc["faults"] or None
                    if f:
                        f = dict(f, answered=0, **{"from": time.time() + float(f.get("after", 0))})
                    c.faults = f
                else:
                    c.deny = set(doc.get("unmapped", []))
                    c.readonly = set(doc.get("readonly", []))
            return self.send_json(200, doc)
        if method == "GET":
            with c.lock:
                return self.send_json(200, {"faults": c.faults})
        raise ApiError(405, "MethodNotAllowed", "GET /_rig/clusters/NAME/requests or PUT /_rig/clusters/NAME")

    # --- authentication, as aws-iam-authenticator does it ---
    def authenticate(self, cluster):
        auth = self.headers.get("Authorization", "")
        unauthorized = ApiError(401, "Unauthorized", "Unauthorized")
        if not auth.startswith("Bearer " + TOKEN_PREFIX):
            raise unauthorized
        token = auth[len("Bearer "):]
        if len(token) > 4096:
            raise unauthorized
        cached = self.server.token_cache.get((cluster.name, token))
        if cached and cached[1] > time.time():
            arn = cached[0]
        else:
            arn = self.verify_token(cluster.name, token)
            if arn is None:
                raise unauthorized
            url = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX):] + "=" * (-len(token) % 4)).decode()
            date = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get("X-Amz-Date", [""])[0]
            issued = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
            self.server.token_cache[(cluster.name, token)] = (arn, issued + TOKEN_MAX_AGE)
        if arn in cluster.deny:
            raise unauthorized
        return arn

    def verify_token(self, cluster_name, token):
        try:
            url = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX):] + "=" * (-len(token) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.server.sts or parts.path not in ("", "/"):
            return None
        q = urllib.parse.parse_qs(parts.query)
        if any(k.lower() not in ALLOWED_QUERY for k in q) or any(len(v) != 1 for v in q.values()):
            return None
        if q.get("Action", [""])[0] != "GetCallerIdentity":
            return None
        signed = q.get("X-Amz-SignedHeaders", [""])[0].split(";")
        if "x-k8s-aws-id" not in signed:
            return None
        try:
            issued = datetime.datetime.strptime(q["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        except (KeyError, ValueError):
            return None
        if not (issued - 60 <= time.time() <= issued + TOKEN_MAX_AGE):
            return None
        req = urllib.request.Request(url, headers={"x-k8s-aws-id": cluster_name, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                text = r.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        m = re.search(r"<Arn>([^<]+)</Arn>", text)
        if m:
            return m.group(1)
        try:
            return json.loads(text)["GetCallerIdentityResponse"]["GetCallerIdentityResult"]["Arn"]
        except (ValueError, KeyError, TypeError):
            return None

    # --- the API ---
    def route(self, c, user, method, path, query, raw):
        segs = [s for s in path.split("/") if s]
        if path in ("/version", "/version/"):
            return self.send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.0-berth-rig", "platform": "linux/amd64"})
        if segs and segs[0] == "openapi":
            return self.openapi(segs[1:])
        if segs in (["api"],):
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if segs == ["apis"]:
            groups = {}
            for (g, v) in RESOURCES:
                if g:
                    groups.setdefault(g, []).append({"groupVersion": f"{g}/{v}", "version": v})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": vs, "preferredVersion": vs[0]} for g, vs in groups.items()]})
        if segs and segs[0] == "api" and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs and segs[0] == "apis" and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        elif segs and segs[0] == "apis" and len(segs) == 2:
            vs = [v for (g, v) in RESOURCES if g == segs[1]]
            if not vs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            gv = [{"groupVersion": f"{segs[1]}/{v}", "version": v} for v in vs]
            return self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", "name": segs[1], "versions": gv, "preferredVersion": gv[0]})
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if (group, version) not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"), "resources": [
                {"name": p, "singularName": k.lower(), "namespaced": n, "kind": k, "shortNames": s,
                 "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]}
                for p, k, n, s in RESOURCES[(group, version)]]})
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and NAMESPACED.get((group, rest[2])):
            ns, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        if (group, plural, sub) == ("", "pods", "log") and method == "GET" and name:
            self.authorize(c, user, method, group, plural, ns, name, query)
            with c.lock:
                pod = c.objects.get((group, plural, ns, name))
            if pod is None:
                raise not_found(group, plural, name)
            tail = query.get("tailLines")
            code, text = pod_log(pod, query.get("container"), query.get("previous") in ("true", "1"))
            if code != 200:
                raise ApiError(code, "BadRequest", text)
            if tail is not None:
                kept = text.splitlines(True)[-int(tail):] if int(tail) > 0 else []
                text = "".join(kept)
            body = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            if query.get("follow") not in ("true", "1"):
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            # Following: what there is, then the stream stays open (the rig's containers log
            # nothing more) until the client goes or a minute has passed.
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if body:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(body), body))
                self.wfile.flush()
            end = time.time() + 60
            while time.time() < end:
                time.sleep(0.5)
            self.wfile.write(b"0\r\n\r\n")
            return None
        if (group, plural) not in KIND_OF or sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.authorize(c, user, method, group, plural, ns, name, query)
        if method == "GET" and name is None:
            if query.get("watch") in ("true", "1"):
                return self.watch(c, group, version, plural, ns, query)
            return self.list(c, group, version, plural, ns, query)
        if method == "GET":
            with c.lock:
                obj = c.objects.get((group, plural, ns, name))
            if obj is None:
                raise not_found(group, plural, name)
            return self.send_json(200, obj)
        if method == "DELETE":
            # DeleteOptions.preconditions, as the API server checks them: 409 on a mismatch.
            try:
                pre = (json.loads(raw) if raw else {}).get("preconditions") or {}
            except (ValueError, AttributeError):
                pre = {}
            with c.lock:
                live = c.objects.get((group, plural, ns, name))
                for field in ("resourceVersion", "uid"):
                    want = pre.get(field)
                    have = live and live["metadata"].get(field)
                    if live is not None and want and want != have:
                        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource_label(group, plural)} "{name}": Precondition failed: {field}: {want}, {field} in object meta: {have}',
                                       {"name": name, "group": group, "kind": plural})
                obj = c.delete((group, plural, ns, name))
            if obj is None:
                raise not_found(group, plural, name)
            return self.send_json(200, obj)
        return self.write(c, method, group, version, plural, ns, name, sub, query, raw)

    def openapi(self, rest):
        """Just enough OpenAPI v3 for kubectl to see that the server validates fields itself
        (the PATCH operations and their fieldValidation parameter); no schemas."""
        if rest == ["v3"]:
            return self.send_json(200, {"paths": {
                (f"apis/{g}/{v}" if g else f"api/{v}"): {"serverRelativeURL": f"/openapi/v3/{'apis/' + g if g else 'api'}/{v}?hash=rig"}
                for (g, v) in RESOURCES}})
        gv = ("", rest[2]) if rest[:2] == ["v3", "api"] and len(rest) == 3 else (rest[2], rest[3]) if rest[:2] == ["v3", "apis"] and len(rest) == 4 else None
        if gv not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        g, v = gv
        base = f"/apis/{g}/{v}" if g else f"/api/{v}"
        paths = {}
        for plural, kind, namespaced, _ in RESOURCES[gv]:
            path = f"{base}/namespaces/{{namespace}}/{plural}/{{name}}" if namespaced else f"{base}/{plural}/{{name}}"
            paths[path] = {"patch": {
                "operationId": f"patch{kind}",
                "x-kubernetes-group-version-kind": {"group": g, "version": v, "kind": kind},
                "x-kubernetes-action": "patch",
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("dryRun", "fieldManager", "fieldValidation", "force")],
                "responses": {"200": {"description": "OK"}}}}
        return self.send_json(200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths, "components": {"schemas": {}}})

    def authorize(self, c, user, method, group, plural, ns, name, query):
        if user in c.readonly and method not in ("GET",):
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
            where = f' in the namespace "{ns}"' if ns else " at the cluster scope"
            label = resource_label(group, plural)
            target = f'{label} "{name}"' if name else label
            raise ApiError(403, "Forbidden", f'{target} is forbidden: User "{user}" cannot {verb} resource "{plural}" in API group "{group}"{where}',
                           {"name": name or "", "group": group, "kind": plural})

    def list(self, c, group, version, plural, ns, query):
        with c.lock:
            items = self.select(c, group, plural, ns, query)
            rv = str(c.rv)
        kind = KIND_OF[(group, plural)]
        return self.send_json(200, {"kind": f"{kind}List", "apiVersion": f"{group}/{version}".lstrip("/"),
                                    "metadata": {"resourceVersion": rv}, "items": items})

    @staticmethod
    def select(c, group, plural, ns, query):
        return [copy.deepcopy(o) for k, o in sorted(c.objects.items())
                if k[:2] == (group, plural) and (not ns or k[2] == ns)
                and matches_labels(o["metadata"].get("labels"), query.get("labelSelector"))
                and matches_fields(o, query.get("fieldSelector"))]

    def watch(self, c, group, version, plural, ns, query):
        timeout = min(int(query.get("timeoutSeconds") or 1800), 1800)
        end = time.time() + timeout
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(kind, obj):
            line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        with c.lock:
            since = query.get("resourceVersion") or "0"
            pending = []
            if since == "0":
                pending = [("ADDED", o) for o in self.select(c, group, plural, ns, query)]
                since = c.rv
            since = int(since)
        try:
            for kind, obj in pending:
                send(kind, obj)
            while time.time() < end:
                with c.lock:
                    batch = [(rv, key, kind, obj) for rv, key, kind, obj in c.events if rv > since]
                    if not batch:
                        c.lock.wait(timeout=min(1.0, max(0.0, end - time.time())))
                        batch = [(rv, key, kind, obj) for rv, key, kind, obj in c.events if rv > since]
                for rv, key, kind, obj in batch:
                    since = rv
                    if key[:2] != (group, plural) or (ns and key[2] != ns):
                        continue
                    if not matches_labels(obj["metadata"].get("labels"), query.get("labelSelector")) or not matches_fields(obj, query.get("fieldSelector")):
                        continue
                    send(kind, obj)
                if not batch:
                    # A keep-alive probe: a closed connection ends the watch.
                    self.wfile.write(b"")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def write(self, c, method, group, version, plural, ns, name, sub, query, raw):
        kind = KIND_OF[(group, plural)]
        api_version = f"{group}/{version}".lstrip("/")
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        dry = query.get("dryRun") == "All"
        manager = query.get("fieldManager")
        try:
            if ctype == "application/apply-patch+yaml":
                try:
                    doc = json.loads(raw)
                except ValueError:
                    import yaml
                    doc = yaml.safe_load(raw)
            else:
                doc = json.loads(raw or b"null")
        except Exception as e:  # noqa: BLE001 - any parse error is the client's
            raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {e}")
        if NAMESPACED[(group, plural)] and not ns:
            raise ApiError(405, "MethodNotAllowed", "a namespaced resource needs a namespace")
        with c.lock:
            if ns and ("", "namespaces", "", ns) not in c.objects:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})
            if method == "POST":
                if not isinstance(doc, dict):
                    raise ApiError(400, "BadRequest", "the body must be an object")
                md = doc.setdefault("metadata", {})
                if not md.get("name") and md.get("generateName"):
                    md["name"] = md["generateName"] + rand5()
                name = md.get("name")
                if (group, plural, ns, name) in c.objects:
                    raise ApiError(409, "AlreadyExists", f'{resource_label(group, plural)} "{name}" already exists',
                                   {"name": name, "group": group, "kind": plural})
                existing, new = None, copy.deepcopy(doc)
            else:
                key = (group, plural, ns, name)
                existing = c.objects.get(key)
                if method == "PUT":
                    if existing is None:
                        raise not_found(group, plural, name)
                    rv = (doc.get("metadata") or {}).get("resourceVersion")
                    if rv and rv != existing["metadata"]["resourceVersion"]:
                        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource_label(group, plural)} "{name}": the object has been modified; please apply your changes to the latest version and try again',
                                       {"name": name, "group": group, "kind": plural})
                    new = copy.deepcopy(doc)
                elif ctype == "application/apply-patch+yaml":
                    if not manager:
                        raise ApiError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                    if not isinstance(doc, dict) or doc.get("kind") != kind or doc.get("apiVersion") != api_version:
                        raise ApiError(400, "BadRequest", f"the apply configuration must have kind {kind} and apiVersion {api_version}")
                    if (doc.get("metadata") or {}).get("name") != name:
                        raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
                    applied = copy.deepcopy(doc)
                    applied.get("metadata", {}).pop("resourceVersion", None)
                    owners = c.owners.get(key, {})
                    base = copy.deepcopy(existing) if existing else {}
                    mine = owners.get(manager, {}).get("paths", set())
                    now_paths = leaf_paths(drop_nulls(applied))
                    for p in mine - now_paths:
                        if not any(p in o["paths"] for m, o in owners.items() if m != manager):
                            remove_path(base, p)
                    new = apply_merge(base, drop_nulls(applied))
                elif existing is None:
                    raise not_found(group, plural, name)
                elif ctype == "application/merge-patch+json":
                    new = merge_patch(existing, doc)
                elif ctype == "application/strategic-merge-patch+json":
                    new = strategic_merge(existing, doc)
                elif ctype == "application/json-patch+json":
                    new = json_patch(existing, doc)
                else:
                    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
            new["apiVersion"], new["kind"] = api_version, kind
            md = new.setdefault("metadata", {})
            md["name"] = name
            if ns:
                md["namespace"] = ns
            if existing is not None and sub != "status" and "status" in existing:
                new["status"] = existing["status"]
            if sub == "status" and existing is not None:
                new = dict(copy.deepcopy(existing), status=new.get("status"))
            new = drop_nulls(new)
            md = new["metadata"]
            apply_defaults(group, plural, new)
            validate(group, plural, new)
            # Field ownership: an applier owns what it applied (and loses what it stopped
            # applying); an updater owns what it sent. Others lose what is taken from them.
            owners = copy.deepcopy(c.owners.get((group, plural, ns, name), {}))
            manager = manager or "unknown"
            if ctype == "application/apply-patch+yaml":
                taken, op = now_paths, "Apply"
            else:
                sent = new if method in ("POST", "PUT") or ctype == "application/json-patch+json" else doc
                taken, op = {p for p in leaf_paths(drop_nulls(copy.deepcopy(sent))) if p[0] not in ("status", "apiVersion", "kind") and p[:2] not in (("metadata", "resourceVersion"), ("metadata", "managedFields"), ("metadata", "uid"))}, "Update"
            changed = existing is None or comparable(existing) != comparable(new)
            prev = owners.get(manager)
            for m in list(owners):
                if m != manager:
                    owners[m]["paths"] -= taken
            if op == "Update" and prev and prev["op"] == "Update":
                taken = taken | prev["paths"]
            owners[manager] = {"paths": taken, "op": op, "apiVersion": api_version,
                               "time": prev["time"] if prev and not changed else now_iso()}
            owners = {m: o for m, o in owners.items() if o["paths"] or m == manager}
            md["managedFields"] = [{"manager": m, "operation": o["op"], "apiVersion": o["apiVersion"], "time": o["time"],
                                    "fieldsType": "FieldsV1", "fieldsV1": fields_v1(o["paths"])} for m, o in owners.items()]
            if not dry:
                c.owners[(group, plural, ns, name)] = owners
            if dry:
                out = copy.deepcopy(new)
                if existing is not None:
                    out["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                    out["metadata"]["uid"] = existing["metadata"]["uid"]
                    out["metadata"]["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
                    if "generation" in existing["metadata"]:
                        changed = json.dumps(existing.get("spec"), sort_keys=True) != json.dumps(out.get("spec"), sort_keys=True)
                        out["metadata"]["generation"] = existing["metadata"]["generation"] + (1 if changed else 0)
                else:
                    out["metadata"].setdefault("uid", str(uuid.uuid4()))
                    out["metadata"].setdefault("creationTimestamp", now_iso())
                    if "spec" in out and plural != "services":
                        out["metadata"]["generation"] = 1
                return self.send_json(201 if existing is None else 200, out)
            stored = c.put(group, plural, ns, new, existing)
            out = copy.deepcopy(stored)
        return self.send_json(201 if existing is None else 200, out)


# --- TLS ------------------------------------------------------------------------------------
def ensure_certs(directory):
    """A CA and a server certificate for 127.0.0.1/localhost, made once per rig."""
    ca_crt, crt, key = (os.path.join(directory, n) for n in ("ca.crt", "server.crt", "server.key"))
    if all(os.path.exists(p) for p in (ca_crt, crt, key)):
        return crt, key
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth rig kubernetes CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
           .issuer_name(ca_name).public_key(srv_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
           .sign(ca_key, hashes.SHA256()))
    with open(key, "wb") as f:
        f.write(srv_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(crt, "wb") as f:
        f.write(srv.public_bytes(serialization.Encoding.PEM))
    with open(ca_crt, "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    return crt, key


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True, help="where the CA and server certificates live")
    p.add_argument("--sts", required=True, help="the STS endpoint presigned tokens must name (the emulator)")
    args = p.parse_args()
    crt, key = ensure_certs(args.dir)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(crt, key)
    server = Server((args.host, args.port), Handler, tls, args.sts)

    def controllers():
        while True:
            time.sleep(TICK)
            with server.clusters_lock:
                clusters = list(server.clusters.values())
            for c in clusters:
                try:
                    controller_tick(c)
                except Exception as e:  # noqa: BLE001 - keep the controllers running
                    print(f"kube: controller error in {c.name}: {e!r}", file=sys.stderr)

    threading.Thread(target=controllers, daemon=True).start()
    print(f"kube: serving on https://{args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
