"""The rig's AWS emulator: moto's server plus the few things berth's tests need from AWS
that moto does not do. Kept apart from berth's code; berth only ever sees an AWS endpoint.

Extensions (each small, each documented in docs/rig.md):

* ECR answers `repositoryUri` and `proxyEndpoint` on the rig's registry (as LocalStack does),
  instead of the real `<account>.dkr.ecr.<region>.amazonaws.com` host that moto reports; for
  an access key starting `AKIARIGREGFAULT`, on the registry's fault proxy (registry_proxy.py).
* The registry's push notifications are turned into ECR `PutImage` calls (with the pushed
  digest), so that an image pushed over the registry protocol shows up in `DescribeImages`,
  as it does in AWS where the API and the registry are one service; a tag that moves to
  a new image leaves the old one untagged (moto deletes it); and `BatchDeleteImage`
  deletes the manifests from the registry too, listing untagged images it deleted (moto
  leaves them out). ECR replication: an image pushed to a
  registry whose replication rules (PutReplicationConfiguration, which moto only stores)
  cover its repository arrives in each destination registry three seconds later, with its
  tag, the repository created there if missing.
* A push to a repository with scan-on-push starts a scan, as in AWS, so that
  `DescribeImageScanFindings` answers (moto's default finding, or results set through
  moto's `/moto-api/static/ecr/scan-finding-results`).
* ECS stores port mappings with their defaults (protocol, and hostPort in awsvpc mode), as
  AWS does; moto stores them as sent.
* ECS services roll out like ECS's (see ecs_sim.py): UpdateService starts a new deployment
  that progresses over a few seconds, with failure injection and circuit-breaker rollback.
* ECS service tasks are task records with IPs that log to CloudWatch Logs as the awslogs
  driver does, and DescribeTargetHealth answers for the target groups of the simulator's
  services, with a failure mode for health checks (ecs_sim.py).
* CodeDeploy blue/green deployments of ECS services progress and switch the service
  (ecs_sim.py), with failure injection and automatic rollback.
* CloudFormation change sets see parameter changes, mark replacements, come back empty when
  nothing changes, can be made to fail and roll back, and their events carry the
  ClientRequestToken (cfn_sim.py).
* ECR authorization tokens expire 12 hours after they are issued, as in AWS (moto dates
  them all in 2015, which would make any client fetch a new one for every call).
* Several accounts. STS AssumeRole is checked as STS checks it (moto hands out any role's
  credentials): the role must exist, its trust policy must name the caller's account and
  match an `sts:ExternalId` condition, and the duration must not pass the role's maximum.
  The credentials act in the role's account (moto's). `POST /_rig/roles` creates a role in
  any account, as that account's administrator would. ECS answers per account. Each
  account's and region's ECR has a registry of its own (a port of registry_proxy.py, which
  takes only that account's token); the default account's us-east-1 is the registry itself.
* STS GetCallerIdentity answers for the caller's access key (the rig maps key K to the IAM
  user `arn:aws:iam::123456789012:user/K`; moto answers for its own users and roles), and a presigned GetCallerIdentity GET (the URL
  inside an EKS token) has its SigV4 query signature verified with the rig's known secret,
  as STS does: a wrong signature, a cluster id header that differs from the signed one, or a
  URL past its 15 minutes is refused. moto would send that GET to S3 and check nothing.
* EKS DescribeCluster answers the endpoint and CA of the rig's Kubernetes API test server
  (kube_server.py), one path per cluster.
* Faults moto cannot make, chosen by access key id (moto checks no permissions): a key
  starting `AKIARIGDENY` is refused ECR's write actions with AccessDeniedException, and a
  key starting `AKIARIGBADREG` gets an ECR token whose password the registry refuses, and a
  key starting `AKIARIGEXPIRED` is refused everything with ExpiredTokenException, as AWS
  answers a session whose credentials ran out. CloudFormation's DescribeStackEvents is
  refused with AccessDenied for a key starting `AKIARIGNOEVENTS` and throttled (Throttling,
  "Rate exceeded") for a key starting `AKIARIGSLOWEVENTS`: a wait must tell such errors
  from the stack's own state.
  CloudWatch Logs refuses every call with AccessDeniedException for a key starting
  `AKIARIGNOLOGS` (a role that may deploy but not read logs).
* IAM policies, for keys given one (`POST /_rig/policies` {"key", "policy"}): every request
  signed with such a key is checked against that policy's Allow statements — the IAM action
  and, where IAM scopes it by resource, the ARN (ECR repositories, ECS services and service
  deployments, CloudFormation stacks, EKS clusters), `iam:PassRole` for the roles in a task
  definition (with `iam:PassedToService`) and `ecs:TagResource` for a task definition
  registered with tags — and refused with AccessDenied as AWS words it. moto checks nothing.
* CreateChangeSet refuses a template with IAM resources unless the change set acknowledges
  CAPABILITY_IAM (CAPABILITY_NAMED_IAM for IAM resources with explicit names), with
  InsufficientCapabilitiesException, as CloudFormation does; moto creates them regardless.
* Every API request is logged (time, service, action, region, access key id and its account)
  to a JSON-lines
  file and is readable at `GET /_rig/requests`, so tests can count write calls. A test that
  uses an access key id of its own sees only its own calls.

Run: python3 emulator.py --port 45660 --registry 127.0.0.1:45650 --log requests.jsonl
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import io
import json
import re
import sys
import threading
import time
import urllib.request

from moto.backends import get_backend

import cfn_sim
from ecs_sim import CodeDeploySim, EcsSim
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response

ACCOUNT = "123456789012"
MANIFEST_TYPES = {
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
}
ECR_HOST = re.compile(r"(https://)?(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com")
DEFAULT_REGION = "us-east-1"
NAMESPACED = re.compile(r"^(\d{12})/([a-z]{2}(?:-[a-z]+)+-\d)/(.+)$")
RIG_SECRET = "rig-test-secret-not-a-real-key"
CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


class Rig:
    def __init__(self, app, registry, log_path, kube=None, kube_ca=None, registry_faults=None):
        self.registry_faults = registry_faults
        self.app = app
        self.kube = kube
        self.kube_ca = kube_ca
        self.registry = registry
        self.log_path = log_path
        self.lock = threading.Lock()
        self.requests = []
        self.ecs = EcsSim(ACCOUNT, get_backend)
        self.ecs_accounts = {ACCOUNT: self.ecs}
        self.codedeploy = CodeDeploySim(self.ecs, get_backend)
        self.policies = {}  # access key -> the only IAM policy it has

    # --- accounts ----------------------------------------------------------------------
    @staticmethod
    def account_of(key):
        """The account of an access key: an IAM user's or an assumed role's (moto keeps both),
        else the rig's default account."""
        from moto.iam.models import get_account_id_from

        return get_account_id_from(key) if key else ACCOUNT

    @staticmethod
    def moto_knows(key):
        from moto.iam.models import iam_backends

        return any(key in part.access_keys for acct in list(iam_backends.keys()) for part in iam_backends[acct].values())

    def ecs_for(self, account):
        with self.lock:
            if account not in self.ecs_accounts:
                self.ecs_accounts[account] = EcsSim(account, get_backend)
            return self.ecs_accounts[account]

    def registry_of(self, account, region):
        """host:port of (account, region)'s registry: the rig's registry for the default
        account and region, else a port of the registry proxy that keeps its repositories
        apart (registry_proxy.py)."""
        if (account, region) == (ACCOUNT, DEFAULT_REGION) or not self.registry_faults:
            return self.registry
        # Asked each time: the proxy hands the least recently asked-for port to a new one.
        req = urllib.request.Request(f"http://{self.registry_faults}/_ns/{account}/{region}", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            return f"127.0.0.1:{int(r.read().decode())}"

    def check_assume_role(self, key, form):
        """None when the caller may assume the role, else (code, message), as STS decides:
        the role must exist, its trust policy must name the caller's account (or the caller),
        and an `sts:ExternalId` condition must match. moto hands out any role's credentials."""
        from moto.iam.models import iam_backends

        arn = (form.get("RoleArn") or [""])[0]
        m = re.fullmatch(r"arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)", arn)
        caller_account = self.account_of(key)
        caller = f"arn:aws:iam::{caller_account}:user/{key}"
        denied = ("AccessDenied", f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {arn}")
        if not m:
            return ("ValidationError", f"{arn} is not a role ARN")
        role = next((r for r in iam_backends[m.group(1)]["aws"].roles.values() if r.name == m.group(2)), None)
        if role is None:
            return denied
        try:
            trust = json.loads(role.assume_role_policy_document)
        except (TypeError, ValueError):
            return denied
        external = (form.get("ExternalId") or [None])[0]
        seconds = int((form.get("DurationSeconds") or ["3600"])[0])
        if seconds > int(role.max_session_duration or 3600):
            return ("ValidationError", f"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
        for st in trust.get("Statement", []):
            if st.get("Effect") != "Allow" or "sts:AssumeRole" not in ([st.get("Action")] if isinstance(st.get("Action"), str) else st.get("Action", [])):
                continue
            principals = (st.get("Principal") or {}).get("AWS", [])
            principals = [principals] if isinstance(principals, str) else principals
            if not any(p in (caller_account, f"arn:aws:iam::{caller_account}:root", caller) for p in principals):
                continue
            wanted = ((st.get("Condition") or {}).get("StringEquals") or {}).get("sts:ExternalId")
            if wanted is not None and wanted != external:
                continue
            return None
        return denied

    # --- request log -------------------------------------------------------------------
    def record(self, entry):
        # The account the key acts in (an assumed role's), so tests can check which identity
        # made each call.
        entry.setdefault("account", self.account_of(entry.get("key", "")))
        with self.lock:
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")

    @staticmethod
    def describe(req, body):
        """(service, action, region, access key id) of an AWS API request."""
        auth = req.headers.get("Authorization", "")
        m = CREDENTIAL.search(auth)
        key, region, service = (m.group(1), m.group(2), m.group(3)) if m else ("", "", "")
        target = req.headers.get("X-Amz-Target", "")
        if target:
            action = target.rsplit(".", 1)[-1]
        else:
            action = req.args.get("Action", "")
            if not action and body and req.mimetype == "application/x-www-form-urlencoded":
                for part in body.decode("utf-8", "replace").split("&"):
                    if part.startswith("Action="):
                        action = part[len("Action="):]
            if not action:
                # REST protocols (EKS): method and path say what it is.
                action = f"{req.method} {req.path}"
        return service, action, region, key

    # --- registry -> ECR ---------------------------------------------------------------
    def registry_get(self, path, accept):
        token = base64.b64encode(f"AWS:{ACCOUNT}-auth-token".encode()).decode()
        req = urllib.request.Request(
            f"http://{self.registry}{path}",
            headers={"Authorization": f"Basic {token}", "Accept": accept},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read().decode("utf-8"), r.headers.get("Content-Type", "")

    def on_registry_events(self, envelope):
        for ev in envelope.get("events", []):
            target = ev.get("target", {})
            if ev.get("action") != "push" or target.get("mediaType") not in MANIFEST_TYPES:
                continue
            repo, digest, tag = target.get("repository"), target.get("digest"), target.get("tag")
            try:
                manifest, media_type = self.registry_get(
                    f"/v2/{repo}/manifests/{digest}", ",".join(sorted(MANIFEST_TYPES))
                )
            except Exception as e:  # the test that needs the image will say it is missing
                print(f"rig: cannot read manifest {repo}@{digest}: {e}", file=sys.stderr)
                continue
            if self.put_image(repo, manifest, tag, media_type or target.get("mediaType"), digest):
                self.replicate(repo, digest, tag)

    # --- ECR replication -----------------------------------------------------------------
    REPLICATION_DELAY = 3.0

    @staticmethod
    def registry_path(account, region, repo):
        return repo if (account, region) == (ACCOUNT, DEFAULT_REGION) else f"{account}/{region}/{repo}"

    def replicate(self, path, digest, tag):
        """ECR replication: an image pushed to a registry whose replication rules cover its
        repository arrives in each destination registry a few seconds later (with its tag;
        the repository is created there if missing), as ECR does. moto only stores the rules."""
        m = NAMESPACED.match(path)
        account, region, repo = (m.group(1), m.group(2), m.group(3)) if m else (ACCOUNT, DEFAULT_REGION, path)
        rules = (get_backend("ecr")[account][region].replication_config or {}).get("rules", [])
        for rule in rules:
            filters = rule.get("repositoryFilters") or []
            if filters and not any(repo.startswith(f.get("filter", "")) for f in filters):
                continue
            for dest in rule.get("destinations", []):
                args = (account, region, repo, dest["registryId"], dest["region"], digest, tag)
                timer = threading.Timer(self.REPLICATION_DELAY, self.copy_image, args)
                timer.daemon = True
                timer.start()

    def copy_image(self, account, region, repo, to_account, to_region, digest, tag):
        src, dst = self.registry_path(account, region, repo), self.registry_path(to_account, to_region, repo)
        try:
            backend = get_backend("ecr")[to_account][to_region]
            if repo not in backend.repositories:
                backend.create_repository(repo, None, {"encryptionType": "AES256"}, {"scanOnPush": False}, "MUTABLE", [])
            self.copy_manifest(src, dst, digest, tag)
        except Exception as e:
            print(f"rig: replicating {src}@{digest} to {dst}: {e}", file=sys.stderr)

    def copy_manifest(self, src, dst, reference, tag=None):
        """Copies a manifest (and its blobs, and an index's children) within the registry."""
        token = base64.b64encode(f"AWS:{ACCOUNT}-auth-token".encode()).decode()
        auth = {"Authorization": f"Basic {token}"}
        body, media_type = self.registry_get(f"/v2/{src}/manifests/{reference}", ",".join(sorted(MANIFEST_TYPES)))
        doc = json.loads(body)
        for child in doc.get("manifests", []):
            self.copy_manifest(src, dst, child["digest"])
        blobs = [doc["config"]] if "config" in doc else []
        blobs += doc.get("layers", [])
        for b in blobs:
            req = urllib.request.Request(
                f"http://{self.registry}/v2/{dst}/blobs/uploads/?mount={b['digest']}&from={src}",
                method="POST",
                headers=auth,
            )
            urllib.request.urlopen(req, timeout=30).close()
        for ref in [reference] + ([tag] if tag else []):
            req = urllib.request.Request(
                f"http://{self.registry}/v2/{dst}/manifests/{ref}",
                data=body.encode(),
                method="PUT",
                headers={**auth, "Content-Type": media_type},
            )
            urllib.request.urlopen(req, timeout=30).close()

    @staticmethod
    def put_image(repo, manifest, tag, media_type, digest):
        # Repositories of other accounts and regions are kept under `<account>/<region>/`.
        m = NAMESPACED.match(repo)
        account, region, repo = (m.group(1), m.group(2), m.group(3)) if m else (ACCOUNT, DEFAULT_REGION, repo)
        backends = get_backend("ecr")[account]
        for region in [region]:
            backend = backends[region]
            if repo not in backend.repositories:
                continue
            repository = backend.repositories[repo]
            # A tag that moves to a new image leaves the old one untagged, as in ECR (moto
            # deletes it when that was its last tag). An immutable repository refuses the
            # push in moto's own check, below.
            if tag is not None and repository.image_tag_mutability == "MUTABLE":
                for old in repository.images:
                    if tag in old.image_tags and old.image_manifest != manifest:
                        old.remove_tag(tag)
                        if not old.image_tags:
                            old.image_tag = None
            try:
                image = backend.put_image(repo, manifest, tag, media_type, digest)
            except Exception as e:
                # Same tag, same manifest: already recorded (a re-push). Anything else is news.
                if "already exists" not in str(e):
                    print(f"rig: PutImage {repo}:{tag} in {region}: {e}", file=sys.stderr)
                continue
            config = backend.repositories[repo].image_scanning_configuration or {}
            if config.get("scanOnPush") and not getattr(image, "last_scan", None):
                image.last_scan = datetime.datetime.today()
            return True
        return False

    @staticmethod
    def ecr_digests(account, region, repo):
        try:
            images = get_backend("ecr")[account][region].repositories[repo].images
        except KeyError:
            return None
        return {i.get_image_digest() for i in images}

    def deleted_untagged(self, before, account, region, repo, out):
        """moto's BatchDeleteImage deletes an untagged image but leaves it out of
        `imageIds` (it lists one id per tag); ECR lists every image deleted."""
        after = self.ecr_digests(account, region, repo) or set()
        try:
            doc = json.loads(out)
        except ValueError:
            return out
        listed = {i.get("imageDigest") for i in doc.get("imageIds", [])}
        for d in sorted(before - after - listed):
            doc.setdefault("imageIds", []).append({"imageDigest": d})
        return json.dumps(doc).encode("utf-8")

    def delete_manifests(self, account, region, repo, out):
        """ECR's BatchDeleteImage removes the images from the registry too: a deleted digest
        cannot be pulled (moto forgets only its record)."""
        try:
            ids = json.loads(out).get("imageIds", [])
        except ValueError:
            return
        path = repo if (account, region) == (ACCOUNT, DEFAULT_REGION) else f"{account}/{region}/{repo}"
        token = base64.b64encode(f"AWS:{ACCOUNT}-auth-token".encode()).decode()
        for i in ids:
            digest = i.get("imageDigest")
            if not digest:
                continue
            req = urllib.request.Request(
                f"http://{self.registry}/v2/{path}/manifests/{digest}",
                method="DELETE",
                headers={"Authorization": f"Basic {token}"},
            )
            try:
                urllib.request.urlopen(req, timeout=10).close()
            except Exception as e:  # already gone from the registry: nothing to do
                print(f"rig: registry delete {path}@{digest}: {e}", file=sys.stderr)

    @staticmethod
    def fresh_token_expiry(text):
        """moto says every token expired in 2015; AWS gives 12 hours."""
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        for data in doc.get("authorizationData", []):
            data["expiresAt"] = time.time() + 12 * 3600
        return json.dumps(doc)

    # --- STS ---------------------------------------------------------------------------
    @staticmethod
    def caller_identity(key):
        arn = f"arn:aws:iam::{ACCOUNT}:user/{key}"
        return (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDA{key[-12:]}</UserId>"
            f"<Account>{ACCOUNT}</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>rig</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )

    @staticmethod
    def sts_error(code, message):
        return (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>rig</RequestId></ErrorResponse>"
        )

    def verify_presigned(self, req):
        """(status, body, access key) for a presigned STS GET, checked as STS checks it."""
        from urllib.parse import quote

        args = {k: req.args.getlist(k) for k in req.args.keys()}
        one = {k: v[0] for k, v in args.items()}
        m = re.fullmatch(r"([^/]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request", one.get("X-Amz-Credential", ""))
        if one.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not m:
            return 400, self.sts_error("IncompleteSignature", "the presigned URL is not a SigV4 one"), ""
        key, day, region = m.groups()
        amz_date = one.get("X-Amz-Date", "")
        try:
            issued = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return 400, self.sts_error("IncompleteSignature", "X-Amz-Date is malformed"), key
        age = time.time() - issued.timestamp()
        if age > 15 * 60 or age < -5 * 60:
            return 403, self.sts_error("ExpiredToken", "Signature expired"), key
        signed = one.get("X-Amz-SignedHeaders", "").split(";")
        canonical_query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, v in sorted((k, v) for k, vs in args.items() for v in vs if k != "X-Amz-Signature")
        )
        headers = "".join(f"{h}:{' '.join((req.headers.get(h) or '').split())}\n" for h in signed)
        canonical = "\n".join(
            ["GET", quote(req.path, safe="/-_.~"), canonical_query, headers, ";".join(signed), hashlib.sha256(b"").hexdigest()]
        )
        scope = f"{day}/{region}/sts/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + RIG_SECRET).encode()
        for part in (day, region, "sts", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, one.get("X-Amz-Signature", "")):
            return 403, self.sts_error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."), key
        return 200, self.caller_identity(key), key

    def describe_cluster(self, out):
        """Point a cluster at the rig's Kubernetes API test server."""
        try:
            doc = json.loads(out)
        except ValueError:
            return out
        cluster = doc.get("cluster")
        if cluster and self.kube:
            cluster["endpoint"] = f"{self.kube}/c/{cluster['name']}"
            with open(self.kube_ca, "rb") as f:
                cluster.setdefault("certificateAuthority", {})["data"] = base64.b64encode(f.read()).decode()
            cluster["status"] = "ACTIVE"
        return json.dumps(doc).encode("utf-8")

    @staticmethod
    def put_role(doc):
        """Creates (or re-trusts) an IAM role in any account: tests set up the roles of other
        accounts with it, as their administrators would. JSON: account, name, trust (the
        trust policy), max_session_duration (seconds, optional)."""
        from moto.iam.models import iam_backends

        iam = iam_backends[doc["account"]]["aws"]
        trust = json.dumps(doc["trust"])
        role = next((r for r in iam.roles.values() if r.name == doc["name"]), None)
        if role is None:
            role = iam.create_role(doc["name"], trust, "/", None, "", [], str(doc.get("max_session_duration", 3600)))
        else:
            role.assume_role_policy_document = trust
        return Response(json.dumps({"arn": role.arn}), 200, mimetype="application/json")

    # --- IAM -------------------------------------------------------------------------
    IAM_PREFIX = {"ecr": "ecr", "ecs": "ecs", "cloudformation": "cloudformation", "eks": "eks", "logs": "logs",
                  "elasticloadbalancing": "elasticloadbalancing", "codedeploy": "codedeploy", "s3": "s3", "sts": "sts"}

    def requested(self, service, action, region, key, req, body):
        """[(iam action, resource ARN, condition context)] one request needs, as IAM decides
        for the calls berth makes (resources where IAM scopes the action, else `*`)."""
        account = self.account_of(key)
        arn = lambda svc, res: f"arn:aws:{svc}:{region}:{account}:{res}"
        if service == "eks":
            m = re.fullmatch(r"/clusters/([^/]+)", req.path)
            if req.method == "GET" and m:
                return [("eks:DescribeCluster", arn("eks", f"cluster/{m.group(1)}"), {})]
            return [(f"eks:{action}", "*", {})]
        prefix = self.IAM_PREFIX.get(service, service)
        out = []
        doc = {}
        if req.headers.get("X-Amz-Target"):
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                doc = {}
        else:
            from urllib.parse import parse_qs

            doc = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        resource = "*"
        if service == "ecr" and doc.get("repositoryNames"):
            return [(f"ecr:{action}", arn("ecr", f"repository/{n}"), {}) for n in doc["repositoryNames"]]
        if service == "ecr" and doc.get("repositoryName"):
            resource = arn("ecr", f"repository/{doc['repositoryName']}")
        elif service == "ecr" and doc.get("resourceArn"):
            resource = doc["resourceArn"]
        elif service == "ecs":
            cluster = (doc.get("cluster") or "default").split("/")[-1]
            svc = lambda s: s if s.startswith("arn:") else arn("ecs", f"service/{cluster}/{s}")
            if action == "DescribeServices":
                return [(f"ecs:{action}", svc(s), {}) for s in doc.get("services", [])]
            if action in ("UpdateService", "ListServiceDeployments") and doc.get("service"):
                resource = svc(doc["service"])
            elif doc.get("resourceArn"):
                resource = doc["resourceArn"]
            elif action == "DescribeServiceDeployments":
                return [(f"ecs:{action}", a, {}) for a in doc.get("serviceDeploymentArns", [])]
            elif doc.get("serviceDeploymentArn"):
                resource = doc["serviceDeploymentArn"]
            if action == "RegisterTaskDefinition":
                for role in (doc.get("taskRoleArn"), doc.get("executionRoleArn")):
                    if role:
                        out.append(("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
                if doc.get("tags"):
                    out.append(("ecs:TagResource", arn("ecs", f"task-definition/{doc.get('family', '')}:*"), {}))
        elif service == "logs" and doc.get("logGroupName"):
            resource = arn("logs", f"log-group:{doc['logGroupName']}")
        elif service == "sts" and action == "AssumeRole" and doc.get("RoleArn"):
            resource = doc["RoleArn"]
        elif service == "cloudformation" and doc.get("StackName"):
            name = doc["StackName"]
            resource = name if name.startswith("arn:") else arn("cloudformation", f"stack/{name}/rig")
        return [(f"{prefix}:{action}", resource, {})] + out

    @staticmethod
    def allows(policy, action, resource, context):
        import fnmatch

        for st in policy.get("Statement", []):
            if st.get("Effect") != "Allow":
                continue
            actions = st.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources = st.get("Resource", [])
            resources = [resources] if isinstance(resources, str) else resources
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
                continue
            if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
                continue
            wanted = (st.get("Condition") or {}).get("StringEquals") or {}
            if any(context.get(k) != v for k, v in wanted.items()):
                continue
            return True
        return False

    def denied(self, service, action, region, key, req, body):
        """The AccessDenied message when `key` has a policy of its own that does not allow
        this request (STS GetCallerIdentity needs no permission, as in AWS)."""
        policy = self.policies.get(key)
        if policy is None or (service == "sts" and action == "GetCallerIdentity"):
            return None
        for iam_action, resource, context in self.requested(service, action, region, key, req, body):
            if not self.allows(policy, iam_action, resource, context):
                return f"User: arn:aws:iam::{self.account_of(key)}:user/{key} is not authorized to perform: {iam_action} on resource: {resource} because no identity-based policy allows the {iam_action} action"
        return None

    def access_denied(self, req, message):
        if req.headers.get("X-Amz-Target"):
            return Response(json.dumps({"__type": "AccessDeniedException", "message": message}), 400, mimetype="application/x-amz-json-1.1")
        if req.path.startswith("/clusters"):
            return Response(json.dumps({"message": message}), 403, headers={"x-amzn-ErrorType": "AccessDeniedException"}, mimetype="application/json")
        xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error><RequestId>rig</RequestId></ErrorResponse>"
        return Response(xml, 403, mimetype="text/xml")

    # --- WSGI --------------------------------------------------------------------------
    def rig_endpoint(self, req):
        if req.path == "/_rig/registry-events" and req.method == "POST":
            self.on_registry_events(json.loads(req.get_data() or b"{}"))
            return Response("", 200)
        if req.path == "/_rig/requests":
            with self.lock:
                return Response(json.dumps(self.requests), 200, mimetype="application/json")
        if req.path == "/_rig/policies" and req.method == "POST":
            doc = json.loads(req.get_data() or b"{}")
            with self.lock:
                self.policies[doc["key"]] = doc["policy"]
            return Response("{}", 200, mimetype="application/json")
        if req.path == "/_rig/roles" and req.method == "POST":
            return self.put_role(json.loads(req.get_data() or b"{}"))
        if req.path == "/_rig/health":
            return Response("ok", 200)
        return Response("unknown rig endpoint", 404)

    def __call__(self, environ, start_response):
        req = Request(environ)
        if req.path.startswith("/_rig/"):
            return self.rig_endpoint(req)(environ, start_response)
        body = req.get_data(cache=True)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        service, action, region, key = self.describe(req, body)
        started = time.time()

        if req.method == "GET" and req.args.get("Action") == "GetCallerIdentity" and "X-Amz-Signature" in req.args:
            status, text, key = self.verify_presigned(req)
            m = re.search(r"/\d{8}/([a-z0-9-]+)/", req.args.get("X-Amz-Credential", ""))
            self.record({"time": round(started, 3), "service": "sts", "action": "GetCallerIdentity", "region": m.group(1) if m else "", "key": key, "status": status, "presigned": True})
            return Response(text, status, mimetype="text/xml")(environ, start_response)
        if service == "sts" and action == "AssumeRole":
            from urllib.parse import parse_qs

            refused = self.check_assume_role(key, parse_qs(body.decode("utf-8", "replace")))
            if refused:
                self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 403})
                return Response(self.sts_error(*refused), 403, mimetype="text/xml")(environ, start_response)
        if service == "sts" and action == "GetCallerIdentity" and not self.moto_knows(key):
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 200})
            return Response(self.caller_identity(key), 200, mimetype="text/xml")(environ, start_response)

        refused = self.denied(service, action, region, key, req, body) if key in self.policies else None
        if refused:
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 403, "denied": True})
            return self.access_denied(req, refused)(environ, start_response)

        if key.startswith("AKIARIGEXPIRED"):
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 400})
            message = "The security token included in the request is expired"
            if req.headers.get("X-Amz-Target"):
                doc = json.dumps({"__type": "ExpiredTokenException", "message": message})
                return Response(doc, 400, mimetype="application/x-amz-json-1.1")(environ, start_response)
            xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>{message}</Message></Error><RequestId>rig</RequestId></ErrorResponse>"
            return Response(xml, 400, mimetype="text/xml")(environ, start_response)

        if service == "cloudformation" and action == "DescribeStackEvents" and key.startswith(("AKIARIGNOEVENTS", "AKIARIGSLOWEVENTS")):
            if key.startswith("AKIARIGNOEVENTS"):
                code, message = "AccessDenied", f"User: arn:aws:iam::{ACCOUNT}:user/{key} is not authorized to perform: cloudformation:DescribeStackEvents"
            else:
                code, message = "Throttling", "Rate exceeded"
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 400})
            xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>rig</RequestId></ErrorResponse>"
            return Response(xml, 400, mimetype="text/xml")(environ, start_response)

        if service == "ecr" and key.startswith("AKIARIGDENY") and not action.startswith(("Describe", "Get", "List", "BatchGet")):
            doc = {"__type": "AccessDeniedException", "message": f"User: arn:aws:iam::{ACCOUNT}:user/{key} is not authorized to perform: ecr:{action} on resource: * because no identity-based policy allows the ecr:{action} action"}
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 400})
            return Response(json.dumps(doc), 400, mimetype="application/x-amz-json-1.1")(environ, start_response)

        if service == "logs" and key.startswith("AKIARIGNOLOGS"):
            doc = {"__type": "AccessDeniedException", "message": f"User: arn:aws:iam::{ACCOUNT}:user/{key} is not authorized to perform: logs:{action} because no identity-based policy allows the logs:{action} action"}
            self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 400})
            return Response(json.dumps(doc), 400, mimetype="application/x-amz-json-1.1")(environ, start_response)

        if service == "ecs" and body:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if action == "RegisterTaskDefinition" and isinstance(payload, dict):
                # ECS stores port mappings with their defaults (moto stores them as sent).
                awsvpc = payload.get("networkMode") == "awsvpc"
                for c in payload.get("containerDefinitions") or []:
                    for pm in c.get("portMappings") or []:
                        pm.setdefault("protocol", "tcp")
                        if awsvpc and "containerPort" in pm:
                            pm.setdefault("hostPort", pm["containerPort"])
                body = json.dumps(payload).encode("utf-8")
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
            ecs = self.ecs_for(self.account_of(key))
            answer = ecs.handle(action, region, payload) if isinstance(payload, dict) else None
            if answer is not None:
                status, doc = answer
                self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": status})
                resp = Response(json.dumps(doc), status, mimetype="application/x-amz-json-1.1")
                return resp(environ, start_response)

        if service == "elasticloadbalancing" and action == "DescribeTargetHealth":
            from urllib.parse import parse_qs

            tg = (parse_qs(body.decode("utf-8", "replace")).get("TargetGroupArn") or [""])[0]
            xml = self.ecs_for(self.account_of(key)).target_health(region, tg)
            if xml is not None:
                self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 200})
                return Response(xml, 200, mimetype="text/xml")(environ, start_response)

        cfn_sim.request.token = cfn_sim.request.stack = None
        if service == "cloudformation":
            from urllib.parse import parse_qs

            form = parse_qs(body.decode("utf-8", "replace"))
            cfn_sim.request.stack = (form.get("StackName") or [None])[0]
            if action == "CreateChangeSet" and form.get("TemplateBody"):
                given = [v[0] for k, v in form.items() if k.startswith("Capabilities.member.")]
                needed = cfn_sim.capabilities_needed(form["TemplateBody"][0])
                if needed and needed not in given and "CAPABILITY_NAMED_IAM" not in given:
                    self.record({"time": round(started, 3), "service": service, "action": action, "region": region, "key": key, "status": 400})
                    xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>InsufficientCapabilitiesException</Code><Message>Requires capabilities : [{needed}]</Message></Error><RequestId>rig</RequestId></ErrorResponse>"
                    return Response(xml, 400, mimetype="text/xml")(environ, start_response)
            if action == "ExecuteChangeSet":
                cfn_sim.request.token = (form.get("ClientRequestToken") or [None])[0]

        before = None
        if service == "ecr" and action == "BatchDeleteImage":
            before = self.ecr_digests(self.account_of(key), region, json.loads(body or b"{}").get("repositoryName", ""))

        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = self.app(environ, capture)
        try:
            out = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if service == "ecr" and out:
            text = out.decode("utf-8")
            if key.startswith("AKIARIGREGFAULT") and self.registry_faults:
                text = ECR_HOST.sub(lambda m: ("http://" if m.group(1) else "") + self.registry_faults, text)
            else:
                text = ECR_HOST.sub(lambda m: ("http://" if m.group(1) else "") + self.registry_of(m.group(2), m.group(3)), text)
            if action == "GetAuthorizationToken":
                text = self.fresh_token_expiry(text)
                if key.startswith("AKIARIGBADREG"):
                    bad = base64.b64encode(b"AWS:not-the-registry-password").decode()
                    text = re.sub(r'"authorizationToken": ?"[^"]*"', f'"authorizationToken": "{bad}"', text)
            out = text.encode("utf-8")
        if service == "ecr" and action == "BatchDeleteImage" and captured["status"].startswith("200") and before is not None:
            out = self.deleted_untagged(before, self.account_of(key), region, json.loads(body or b"{}").get("repositoryName", ""), out)
        if service == "ecr" and action == "BatchDeleteImage" and captured["status"].startswith("200"):
            self.delete_manifests(self.account_of(key), region, json.loads(body or b"{}").get("repositoryName", ""), out)
        if service == "eks" and out and captured["status"].startswith("200") and re.fullmatch(r"/clusters/[^/]+", req.path) and req.method == "GET":
            out = self.describe_cluster(out)
        if service == "codedeploy" and out and captured["status"].startswith("200"):
            try:
                doc, request = json.loads(out), json.loads(body or b"{}")
                if action == "CreateDeployment":
                    self.codedeploy.on_create(region, request, doc)
                elif action == "GetDeployment":
                    out = json.dumps(self.codedeploy.on_get(region, doc)).encode("utf-8")
            except ValueError:
                pass
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(out))))
        self.record(
            {
                "time": round(started, 3),
                "service": service,
                "action": action,
                "region": region,
                "key": key,
                "status": int(captured["status"].split()[0]),
            }
        )
        start_response(captured["status"], headers)
        return [out]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--registry", required=True, help="host:port of the rig's registry")
    p.add_argument("--registry-faults", default=None, help="host:port of the registry's fault proxy (for AKIARIGREGFAULT… keys)")
    p.add_argument("--log", default=None, help="JSON-lines request log")
    p.add_argument("--kube", default=None, help="https://host:port of the Kubernetes API test server")
    p.add_argument("--kube-ca", default=None, help="its CA certificate (PEM)")
    args = p.parse_args()
    cfn_sim.install()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Rig(app, args.registry, args.log, args.kube, args.kube_ca, args.registry_faults), threaded=True)


if __name__ == "__main__":
    main()
