//! EKS targets against the rig: an EKS cluster in the emulator whose endpoint is the rig's
//! Kubernetes API test server, which accepts only real EKS tokens (verified by calling the
//! presigned STS URL on the emulator, which checks the signature). End states are checked
//! with the real kubectl, itself using `berth eks-token` as its exec plugin.

mod support;

use std::time::{Duration, Instant, SystemTime};

use support::{KubeCluster, Project, Rig, http_status, now};

/// A Deployment + Service + ConfigMap app, the kind of manifest set people write. `fail` is
/// the rig's failure injection for the pods (`crashloop`, `never-ready`); `deadline` is the
/// Deployment's progressDeadlineSeconds.
fn app(image: &str, fail: &str, deadline: u32) -> String {
    // No `annotations: {}` when there is none: the API server drops empty maps, and kubectl
    // would then see a difference on every apply (as it does with a real cluster).
    let template_annotations = if fail.is_empty() {
        String::new()
    } else {
        format!("      annotations: {{rig.berth.dev/fail: {fail}}}")
    };
    format!(
        r#"# the app's configuration
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  GREETING: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: 2
  progressDeadlineSeconds: {deadline}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
{template_annotations}
    spec:
      initContainers:
        - name: migrate
          image: {image}
          command: [/bin/true]
      containers:
        - name: web
          image: {image}
          envFrom: [{{configMapRef: {{name: web-config}}}}]
          ports: [{{containerPort: 8080}}]
        - name: proxy
          image: envoyproxy/envoy:v1.30.1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
"#
    )
}

/// A StatefulSet and a DaemonSet, which berth waits for with kubectl's rules too.
const STATEFUL: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: web}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "busybox:stable"}]
"#;

const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";

/// A project whose `app` target applies `k8s/` to `cluster`, namespace shop. The image `web`
/// lives in repository `e2e/web`; deploys pass `--image` so no build is needed.
fn project(cluster: &KubeCluster, extra: &str) -> Project {
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: e2e/web, tags: [v1] }}\ntargets:\n  app:\n    eks:\n      cluster: {}\n      namespace: shop\n      manifests: [k8s]\n{extra}",
            cluster.name
        ),
    );
    p.write("k8s/00-namespace.yaml", NS);
    p
}

fn digest(n: u8) -> String {
    format!(
        "sha256:{}",
        format!("{n:x}")
            .repeat(64)
            .chars()
            .take(64)
            .collect::<String>()
    )
}

fn image_ref(rig: &Rig, n: u8) -> String {
    format!("{}/e2e/web@{}", rig.registry, digest(n))
}

fn deploy(p: &Project, rig: &Rig, n: u8) -> support::Run {
    p.berth(&[
        "deploy",
        "-o",
        "json",
        "--image",
        &format!("web={}", image_ref(rig, n)),
    ])
}

/// A cluster of its own and a project whose first deploy (image 1) rolled out.
fn first_deploy(target_settings: &str) -> (Rig, KubeCluster, Project) {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = project(&c, target_settings);
    p.write("k8s/app.yaml", &app("web", "", 600));
    deploy(&p, &rig, 1).assert_code(0);
    (rig, c, p)
}

/// `kubectl rollout status` says the web Deployment rolled out.
fn rolled_out(c: &KubeCluster) {
    let status = [
        "-n",
        "shop",
        "rollout",
        "status",
        "deploy/web",
        "--timeout",
        "30s",
    ];
    let out = c.kubectl_ok(&status);
    assert!(out.contains("successfully rolled out"), "{out}");
}

/// The image of the web Deployment's first container, as kubectl reads it.
fn web_image(c: &KubeCluster) -> String {
    jsonpath(c, "deploy/web", "{.spec.template.spec.containers[0].image}")
}

fn jsonpath(c: &KubeCluster, what: &str, path: &str) -> String {
    c.kubectl_ok(&["-n", "shop", "get", what, "-o", &format!("jsonpath={path}")])
}

#[test]
fn manifests_apply_with_images_substituted_then_a_rerun_writes_nothing() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = project(&c, "      timeout: 1m\n");
    p.write("k8s/app.yaml", &app("web:latest", "", 600));

    let plan = p.berth(&["plan", "--image", &format!("web={}", image_ref(&rig, 1))]);
    plan.assert_code(0);
    assert!(
        plan.stdout.contains("create Deployment/web"),
        "{}",
        plan.stdout
    );
    assert!(
        c.writes_since(0.0).is_empty(),
        "plan wrote: {:?}",
        c.writes_since(0.0)
    );

    let run = deploy(&p, &rig, 1);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "deployed");
    assert_eq!(doc["targets"][0]["kind"], "eks");
    assert_eq!(doc["targets"][0]["after"], "web:1");

    // Checked with kubectl: images replaced by digest, others left alone, all objects there.
    let want = image_ref(&rig, 1);
    assert_eq!(web_image(&c), want);
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.spec.template.spec.initContainers[0].image}"
        ),
        want
    );
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.spec.template.spec.containers[1].image}"
        ),
        "envoyproxy/envoy:v1.30.1"
    );
    assert_eq!(
        jsonpath(&c, "configmap/web-config", "{.data.GREETING}"),
        "hello"
    );
    assert_eq!(jsonpath(&c, "service/web", "{.spec.ports[0].port}"), "80");
    assert_eq!(jsonpath(&c, "deploy/web", "{.status.readyReplicas}"), "2");
    let managers = jsonpath(&c, "deploy/web", "{.metadata.managedFields[*].manager}");
    assert!(
        managers.split(' ').any(|m| m == "berth"),
        "field manager: {managers}"
    );

    // Nothing changed: no write, `unchanged`.
    let since = now();
    let again = deploy(&p, &rig, 1);
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["status"], "unchanged");
    assert_eq!(c.writes_since(since), Vec::<String>::new());

    // A new image: only the Deployment is written, under the target's lock (a Lease taken
    // before and given back after).
    let since = now();
    deploy(&p, &rig, 2).assert_code(0);
    let writes = c.writes_since(since);
    assert_eq!(writes.len(), 3, "{writes:?}");
    assert!(
        writes[0].starts_with("POST ") && writes[0].ends_with("/namespaces/shop/leases"),
        "{writes:?}"
    );
    assert!(writes[1].ends_with("/deployments/web"), "{writes:?}");
    assert!(
        writes[2].starts_with("DELETE ") && writes[2].ends_with("/leases/berth-app"),
        "{writes:?}"
    );
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "2"
    );
}

#[test]
fn patch_mode_changes_only_the_images_of_an_existing_deployment() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = project(&c, "");
    p.write("k8s/app.yaml", &app("busybox:1", "", 600));
    // Someone else created it (kubectl, client-side apply).
    c.kubectl_ok(&[
        "apply",
        "-f",
        p.path().join("k8s/00-namespace.yaml").to_str().unwrap(),
    ]);
    c.kubectl_ok(&[
        "-n",
        "shop",
        "apply",
        "-f",
        p.path().join("k8s/app.yaml").to_str().unwrap(),
    ]);
    rolled_out(&c);
    let patch = Project::new();
    patch.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: e2e/web, tags: [v1] }}\ntargets:\n  app:\n    eks:\n      cluster: {}\n      namespace: shop\n      deployment: web\n      containers: {{ web: web }}\n      timeout: 1m\n",
            c.name
        ),
    );
    let run = deploy(&patch, &rig, 3);
    run.assert_code(0);
    assert_eq!(web_image(&c), image_ref(&rig, 3));
    // The other container, the init container and the env stay as kubectl left them.
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.spec.template.spec.initContainers[0].image}"
        ),
        "busybox:1"
    );
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.spec.template.spec.containers[1].image}"
        ),
        "envoyproxy/envoy:v1.30.1"
    );
    let since = now();
    deploy(&patch, &rig, 3).assert_code(0);
    assert!(c.writes_since(since).is_empty());

    // A container the Deployment does not have: an error naming the real ones, no write.
    patch.write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: e2e/web, tags: [v1] }}\ntargets:\n  app:\n    eks:\n      cluster: {}\n      namespace: shop\n      deployment: web\n      containers: {{ wbe: web }}\n",
            c.name
        ),
    );
    let since = now();
    let bad = deploy(&patch, &rig, 4);
    bad.assert_code(1);
    bad.assert_stderr(&["Deployment web has no container `wbe`"]);
    bad.assert_stderr(&["did you mean `web`?"]);
    assert!(c.writes_since(since).is_empty());
}

#[test]
fn a_crash_loop_fails_well_before_the_deadline_and_auto_rollback_restores_the_last_revision() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n      rollback: auto\n");

    p.write("k8s/app.yaml", &app("web", "crashloop", 600));
    let started = Instant::now();
    let run = deploy(&p, &rig, 2);
    let took = started.elapsed();
    run.assert_code(3);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["status"], "rolled_back");
    let err = t["error"].as_str().unwrap();
    assert!(
        err.contains("CrashLoopBackOff") && err.contains("container web"),
        "{err}"
    );
    assert!(err.contains("last exit code 1"), "{err}");
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}; the deadline was 600 s"
    );
    // Back on the first image, with a new revision, as `kubectl rollout undo` does it.
    assert_eq!(web_image(&c), image_ref(&rig, 1));
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "3"
    );
    rolled_out(&c);
}

#[test]
fn an_image_that_cannot_be_pulled_fails_the_deploy_naming_the_pod() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n");
    p.write("k8s/app.yaml", &app("web", "image-pull", 600));
    let started = Instant::now();
    let run = deploy(&p, &rig, 2);
    run.assert_code(1);
    run.assert_stderr(&["ImagePull", "container web", "pod web-"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    // Not rolled back (rollback: never): the new revision stays for a look.
    assert_eq!(web_image(&c), image_ref(&rig, 2));
}

#[test]
fn a_progress_deadline_fails_and_a_timeout_exits_4() {
    let (rig, c, p) = first_deploy("      timeout: 1m\n");

    // Pods that never get ready, and a 2 s progress deadline: the controller gives up.
    p.write("k8s/app.yaml", &app("web", "never-ready", 2));
    let run = deploy(&p, &rig, 2);
    run.assert_code(1);
    run.assert_stderr(&["exceeded its progress deadline"]);
    run.assert_stderr(&["berth rollback app"]);

    // The same with a long deadline and a short timeout: berth stops waiting, exit 4.
    let p = project(&c, "      timeout: 3s\n");
    p.write("k8s/app.yaml", &app("web", "never-ready", 600));
    let run = deploy(&p, &rig, 3);
    run.assert_code(4);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "timed_out");
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("may still complete")
    );
}

#[test]
fn berth_rollback_and_status() {
    let (rig, c, p) = first_deploy("      timeout: 1m\n");
    deploy(&p, &rig, 2).assert_code(0);

    let status = p.berth(&["status", "-o", "json"]);
    status.assert_code(0);
    let s = &status.json()["targets"][0]["state"];
    assert_eq!(s["revision"], "web:2");
    assert_eq!(s["rollout"], "complete");
    // Every image the Deployment runs, init containers included.
    let images: Vec<&str> = s["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(images.len(), 3, "{s}");
    assert!(images[0].starts_with("web/migrate (init): "), "{s}");
    assert!(
        images[0].ends_with(&digest(2)) && images[1].ends_with(&digest(2)),
        "{s}"
    );
    assert!(images[2].starts_with("web/proxy: envoyproxy/envoy"), "{s}");

    let run = p.berth(&["rollback", "app", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["before"], "web:2");
    assert_eq!(doc["targets"][0]["after"], "web:3");
    assert_eq!(web_image(&c), image_ref(&rig, 1));
    let human = p.berth(&["status"]);
    assert!(human.stdout.contains("web:3  complete"), "{}", human.stdout);
}

#[test]
fn tokens_are_verified_forged_or_expired_ones_get_401() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let base = std::env::var("BERTH_RIG_KUBE").unwrap();
    let ca = format!("{}/kube/ca.crt", std::env::var("BERTH_RIG_DIR").unwrap());
    let url = format!("{base}/c/{}/api/v1/namespaces", c.name);
    let code = |token: &str| {
        http_status(&[
            "--cacert",
            &ca,
            "-H",
            &format!("Authorization: Bearer {token}"),
            &url,
        ])
    };
    let make = |cluster: &str, secret: &str, at: SystemTime| {
        let creds = aws_credential_types::Credentials::new(
            std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
            secret,
            None,
            None,
            "test",
        );
        berth::eks::token::make(&creds.into(), "us-east-1", &rig.endpoint, cluster, at)
            .unwrap()
            .value
    };
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    assert_eq!(code(&make(&c.name, &secret, SystemTime::now())), "200");
    assert_eq!(
        code(&make(&c.name, "not-the-secret", SystemTime::now())),
        "401",
        "forged"
    );
    assert_eq!(
        code(&make("another-cluster", &secret, SystemTime::now())),
        "401",
        "other cluster"
    );
    let old = SystemTime::now() - Duration::from_secs(16 * 60);
    assert_eq!(code(&make(&c.name, &secret, old)), "401", "expired");
    assert_eq!(code("k8s-aws-v1.bm90IGEgdXJs"), "401");

    // berth with credentials the cluster refuses: a clear error, exit 1.
    let p = project(&c, "");
    p.write("k8s/app.yaml", &app("web", "", 600));
    let run = p.berth_env(
        &["deploy", "--image", &format!("web={}", image_ref(&rig, 1))],
        &[("AWS_SECRET_ACCESS_KEY", "wrong")],
    );
    run.assert_code(1);
    run.assert_stderr(&["401 Unauthorized"]);
}

#[test]
fn unmapped_identity_forbidden_verbs_and_missing_namespaces_are_clear_errors_and_write_nothing() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let key = format!("AKIARIG{}", std::process::id());
    let arn = format!("arn:aws:iam::123456789012:user/{key}");
    let p = project(&c, "");
    p.write("k8s/app.yaml", &app("web", "", 600));
    let image = format!("web={}", image_ref(&rig, 1));

    c.access(&[&arn], &[]);
    let run = p.berth_env(
        &["deploy", "--image", &image],
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("the IAM identity {arn} is not mapped")),
        "{}",
        run.stderr
    );
    run.assert_stderr(&["aws eks create-access-entry"]);

    c.access(&[], &[&arn]);
    let run = p.berth_env(
        &["deploy", "--image", &image],
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    run.assert_code(1);
    run.assert_stderr(&["403 Forbidden"]);
    run.assert_stderr(&["cannot patch resource \"namespaces\""]);

    // No Namespace manifest and no such namespace: stopped before any write.
    c.access(&[], &[]);
    std::fs::remove_file(p.path().join("k8s/00-namespace.yaml")).unwrap();
    let since = now();
    let run = p.berth(&["deploy", "--image", &image]);
    run.assert_code(1);
    run.assert_stderr(&["namespace shop does not exist"]);
    run.assert_stderr(&["kubectl create namespace shop"]);
    assert!(
        c.writes_since(since).is_empty(),
        "{:?}",
        c.writes_since(since)
    );
    assert_eq!(c.kubectl(&["get", "namespace", "shop"]).code, Some(1));
}

#[test]
fn a_kubeconfig_context_works_and_its_connection_errors_are_named() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n");
    p.write("k8s/app.yaml", &format!("{NS}---\n{}---\n{STATEFUL}", app("web", "", 600))).write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: e2e/web, tags: [v1] }}\ntargets:\n  app:\n    eks: {{ context: {}, namespace: shop, manifests: [k8s/app.yaml], timeout: 1m }}\n",
            c.name
        ),
    );
    let image = format!("web={}", image_ref(&rig, 1));
    let kubeconfig = c.kubeconfig();
    let kc = kubeconfig.to_str().unwrap();
    // The context's user is an exec plugin (berth eks-token), as with `aws eks get-token`.
    p.berth_env(&["deploy", "--image", &image], &[("KUBECONFIG", kc)])
        .assert_code(0);
    assert_eq!(jsonpath(&c, "deploy/web", "{.status.readyReplicas}"), "2");
    assert_eq!(
        jsonpath(
            &c,
            "statefulset/db",
            "{.spec.template.spec.containers[0].image}"
        ),
        image_ref(&rig, 1)
    );
    assert_eq!(
        jsonpath(&c, "daemonset/agent", "{.status.numberAvailable}"),
        "1"
    );

    let run = p.berth_env(
        &["deploy", "--image", &image],
        &[("KUBECONFIG", "/nonexistent")],
    );
    run.assert_code(1);
    run.assert_stderr(&["kubeconfig"]);

    // A CA that did not sign the server's certificate, then nothing listening.
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let other_ca = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap();
    use base64::Engine;
    doc["clusters"][0]["cluster"]["certificate-authority-data"] =
        base64::engine::general_purpose::STANDARD
            .encode(other_ca)
            .into();
    p.write("bad-ca.json", &doc.to_string());
    let run = p.berth_env(
        &["deploy", "--image", &image],
        &[("KUBECONFIG", "bad-ca.json")],
    );
    run.assert_code(1);
    run.assert_stderr(&["certificate"]);
    doc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9".into();
    p.write("down.json", &doc.to_string());
    let run = p.berth_env(
        &["deploy", "--image", &image],
        &[("KUBECONFIG", "down.json")],
    );
    run.assert_code(1);
    run.assert_stderr(&["could not be reached"]);
}

/// The test server is only worth something if it behaves as Kubernetes does where berth
/// depends on it: the real kubectl (1.32) applies, reads, waits for and undoes a rollout.
#[test]
fn kube_server_is_faithful_to_kubectl() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = Project::new();
    p.write("ns.yaml", NS)
        .write("v1.yaml", &app("busybox:1", "", 600))
        .write("v2.yaml", &app("busybox:2", "", 600));
    let f = |n: &str| p.path().join(n).to_str().unwrap().to_string();
    c.kubectl_ok(&["apply", "-f", &f("ns.yaml")]);
    let out = c.kubectl_ok(&["-n", "shop", "apply", "-f", &f("v1.yaml")]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    rolled_out(&c);
    let out = c.kubectl_ok(&["-n", "shop", "apply", "-f", &f("v1.yaml")]);
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    let out = c.kubectl_ok(&["-n", "shop", "apply", "-f", &f("v2.yaml")]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    rolled_out(&c);
    let history = c.kubectl_ok(&["-n", "shop", "rollout", "history", "deploy/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    let out = c.kubectl_ok(&["-n", "shop", "rollout", "undo", "deploy/web"]);
    assert!(out.contains("rolled back"), "{out}");
    rolled_out(&c);
    assert_eq!(web_image(&c), "busybox:1");
    assert_eq!(
        jsonpath(
            &c,
            "deploy/web",
            "{.metadata.annotations.deployment\\.kubernetes\\.io/revision}"
        ),
        "3"
    );
    // Two ReplicaSets: undo reused the first one.
    let rs = c.kubectl_ok(&["-n", "shop", "get", "rs", "-o", "name"]);
    assert_eq!(rs.lines().count(), 2, "{rs}");
    // Server-side apply takes over as kubectl's field manager.
    let out = c.kubectl_ok(&[
        "-n",
        "shop",
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &f("v2.yaml"),
    ]);
    assert!(out.contains("serverside-applied"), "{out}");
    assert_eq!(web_image(&c), "busybox:2");
    let names = c.kubectl_ok(&["-n", "shop", "get", "deploy,svc,cm", "-o", "name"]);
    for n in ["deployment.apps/web", "service/web", "configmap/web-config"] {
        assert!(names.contains(n), "{names}");
    }
    let missing = c.kubectl(&["-n", "shop", "get", "deploy/nope"]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing
            .stderr
            .contains("deployments.apps \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

/// A re-run while the wanted revision is still rolling out is not `unchanged`: it follows the
/// rollout to its end and reports how it ended (a crash loop: failed, exit 1), writing nothing.
#[test]
fn a_rerun_during_a_rollout_follows_it_to_its_end() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n");
    p.write("k8s/app.yaml", &app("web", "crashloop", 600));
    let image = format!("web={}", image_ref(&rig, 2));
    support::interrupt_at(&p, &["deploy", "--image", &image], "waiting for");
    let since = now();
    let run = deploy(&p, &rig, 2);
    run.assert_code(1);
    run.assert_stderr(&["the rollout of `app` failed", "CrashLoopBackOff"]);
    assert_eq!(run.json()["targets"][0]["status"], "failed");
    assert!(
        c.writes_since(since).is_empty(),
        "{:?}",
        c.writes_since(since)
    );
}

/// Manifests are interpolated like task definition templates: static references when the
/// pipeline is loaded, `${images.…}` when the target deploys, `$${` for a literal `${`.
#[test]
fn manifests_are_interpolated_like_templates() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = project(&c, "      timeout: 1m\n");
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("version: 1\n", "version: 1\nvars:\n  mode: blue\n");
    p.write("berth.yaml", &text);
    p.write("k8s/app.yaml", &app("web", "", 600)).write(
        "k8s/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: \"${vars.mode}\"\n  image: \"${images.web.ref}\"\n  script: \"echo $${HOME}\"\n",
    );
    deploy(&p, &rig, 5).assert_code(0);
    let data = |k: &str| jsonpath(&c, "configmap/settings", &format!("{{.data.{k}}}"));
    assert_eq!(data("mode"), "blue");
    assert_eq!(data("image"), image_ref(&rig, 5));
    assert_eq!(data("script"), "echo ${HOME}");
    // A rerun renders the same and writes nothing.
    let since = now();
    deploy(&p, &rig, 5).assert_code(0);
    assert!(
        c.writes_since(since).is_empty(),
        "{:?}",
        c.writes_since(since)
    );
}

/// A Lease in namespace shop held by `holder` (`TOKEN OWNER`) until `renewed` + 300 s,
/// written with the real kubectl.
fn hold_lease(c: &KubeCluster, p: &Project, holder: &str, renewed: &str) {
    p.write(
        "lease.yaml",
        &format!(
            "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: berth-app, namespace: shop}}\nspec: {{holderIdentity: \"{holder}\", leaseDurationSeconds: 300, renewTime: \"{renewed}\"}}\n"
        ),
    );
    let file = p.path().join("lease.yaml");
    c.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
}

/// Two runs deploying one EKS target at once take turns through a Lease: one waits (naming
/// the holder), then deploys on top of what the other deployed; the Lease is given back.
#[test]
fn concurrent_deploys_of_one_cluster_target_take_turns() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n");
    let start = |n: u8| {
        let image = format!("web={}", image_ref(&rig, n));
        p.spawn(&["deploy", "-o", "json", "--image", &image])
    };
    let first = start(2);
    std::thread::sleep(Duration::from_millis(300));
    let second = start(3);
    let (a, b) = (
        support::Run::from(first.wait_with_output().unwrap()),
        support::Run::from(second.wait_with_output().unwrap()),
    );
    a.assert_code(0);
    b.assert_code(0);
    let (waited, other) = if b.stderr.contains("waiting for the lock") {
        (&b, &a)
    } else {
        (&a, &b)
    };
    waited.assert_stderr(&["waiting for the lock", "Lease berth-app in namespace shop"]);
    assert_eq!(
        waited.json()["targets"][0]["before"],
        other.json()["targets"][0]["after"]
    );
    let run = c.kubectl(&["-n", "shop", "get", "lease", "berth-app"]);
    assert!(
        run.stderr.contains("NotFound"),
        "the lock is given back: {run:?}"
    );
    rolled_out(&c);
}

/// `--no-wait-lock` fails at once naming the holder and writes nothing else; a Lease whose
/// time is up (its run died) is taken over.
#[test]
fn a_held_lease_is_named_and_an_expired_one_taken_over() {
    let (rig, c, p) = first_deploy("");
    let live = k8s_time(SystemTime::now());
    hold_lease(&c, &p, "othertoken CodeBuild shop:7", &live);
    let image = format!("web={}", image_ref(&rig, 2));
    let since = now();
    let run = p.berth(&["deploy", "--image", &image, "--no-wait-lock"]);
    run.assert_code(1)
        .assert_stderr(&["locked by CodeBuild shop:7", "--no-wait-lock"]);
    assert!(
        c.writes_since(since).is_empty(),
        "{:?}",
        c.writes_since(since)
    );
    let old = k8s_time(SystemTime::now() - Duration::from_secs(600));
    hold_lease(&c, &p, "deadtoken CodeBuild shop:6", &old);
    let run = p.berth(&["deploy", "--image", &image]);
    run.assert_code(0)
        .assert_stderr(&["expired; taking it over"]);
    assert_eq!(web_image(&c), image_ref(&rig, 2));
}

/// RFC 3339 with microseconds, as Lease times are written.
fn k8s_time(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{secs}"),
            "+%Y-%m-%dT%H:%M:%S.000000Z",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An API server that answers the rollout's watches with 503s for a while is waited out:
/// the deploy logs each failure, keeps watching, and succeeds once the server answers again.
#[test]
fn a_failing_api_server_during_the_wait_is_ridden_out() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n");
    c.faults(r#"{"status": 503, "count": 40, "watches": true}"#);
    let run = deploy(&p, &rig, 2);
    run.assert_code(0);
    run.assert_stderr(&["503", "trying again"]);
    assert_eq!(run.json()["targets"][0]["status"], "deployed");
    // The client's own short retry (5 attempts) gave up, then the wait took over.
    assert!(c.faults_answered() >= 5, "{}", c.faults_answered());
    rolled_out(&c);
}

/// A crash loop explains itself: the failing pod, its container's exit code and the last
/// lines of the crashed (previous) instance's log, and the pod's BackOff event — the same
/// as `kubectl logs --previous` and `kubectl get events` read.
#[test]
fn a_crash_loop_shows_the_crashed_instances_last_log_lines_and_the_pods_events() {
    let (rig, c, p) = first_deploy("      timeout: 2m\n");
    let manifest = app("web", "crashloop", 600).replace(
        "rig.berth.dev/fail: crashloop}",
        "rig.berth.dev/fail: crashloop, rig.berth.dev/log: \"loading config|panic: GREETING is not a number\"}",
    );
    assert!(manifest.contains("rig.berth.dev/log"));
    p.write("k8s/app.yaml", &manifest);
    let run = deploy(&p, &rig, 2);
    run.assert_code(1);
    let doc = run.json();
    let d = &doc["targets"][0]["diagnosis"];
    let u = &d["units"][0];
    assert_eq!(u["kind"], "pod", "{d}");
    assert!(
        u["reason"].as_str().unwrap().contains("CrashLoopBackOff"),
        "{u}"
    );
    let web = u["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "web")
        .expect("container web");
    assert_eq!(web["exit_code"], 1);
    assert_eq!(web["reason"], "CrashLoopBackOff");
    assert_eq!(web["log_source"], "the previous instance's log");
    let log: Vec<&str> = web["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(log.contains(&"panic: GREETING is not a number"), "{log:?}");
    let pod = u["id"].as_str().unwrap();
    let events = d["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.as_str().unwrap().starts_with(&format!(
                "pod {pod}: BackOff: Back-off restarting failed container"
            ))),
        "{events:?}"
    );
    assert_eq!(d["gaps"], serde_json::json!([]), "{d}");
    run.assert_stderr(&["| panic: GREETING is not a number"]);
    // kubectl reads the same.
    let previous = c.kubectl_ok(&[
        "-n",
        "shop",
        "logs",
        pod,
        "-c",
        "web",
        "--previous",
        "--tail",
        "20",
    ]);
    for line in &log {
        assert!(previous.contains(line), "{line} in {previous}");
    }
    let seen = c.kubectl_ok(&[
        "-n",
        "shop",
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.name={pod}"),
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(seen.contains("BackOff"), "{seen}");
}

/// `berth logs` for pods: each container's last lines, as `kubectl logs --tail` reads them;
/// `--follow` streams them.
#[test]
fn logs_shows_each_pods_containers_last_lines() {
    let rig = Rig::get();
    let c = KubeCluster::create(&rig);
    let p = project(&c, "      timeout: 1m\n");
    let manifest = app("web", "", 600).replace(
        "    metadata:\n      labels: {app: web}\n",
        "    metadata:\n      labels: {app: web}\n      annotations: {rig.berth.dev/log: \"booting|serving on :8080\"}\n",
    );
    assert!(manifest.contains("rig.berth.dev/log"));
    p.write("k8s/app.yaml", &manifest);
    deploy(&p, &rig, 1).assert_code(0);
    let run = p.berth(&["logs", "app", "-n", "1", "-o", "json"]);
    run.assert_code(0);
    let logs = run.json()["logs"].as_array().unwrap().clone();
    // 2 pods × (web, proxy), one line each.
    assert_eq!(logs.len(), 4, "{logs:?}");
    assert!(
        logs.iter().all(|l| l["line"] == "serving on :8080"),
        "{logs:?}"
    );
    let pod = logs[0]["unit"].as_str().unwrap();
    let container = logs[0]["container"].as_str().unwrap();
    let kubectl = c.kubectl_ok(&["-n", "shop", "logs", pod, "-c", container, "--tail", "1"]);
    assert_eq!(kubectl.trim(), "serving on :8080");

    let mut child = p.spawn(&["logs", "app", "--follow"]);
    let stdout = child.stdout.take().unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.contains(" | booting") || first.contains(" | serving on :8080"),
        "{first}"
    );
    child.kill().unwrap();
    let _ = child.wait();
}
