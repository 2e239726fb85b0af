//! `berth ship` across target kinds: one dependency graph, independent branches, CI output.

mod support;

use support::{
    EcsService, KubeCluster, Project, Rig, aws_calls_with_key, aws_text, registry_writes,
    stack_field, writes,
};

#[test]
fn a_failing_branch_stops_its_dependents_while_an_independent_branch_completes() {
    let rig = Rig::get();
    let svc = EcsService::create(
        &rig,
        r#"[{"name":"web","image":"busybox:stable","memory":128}]"#,
        &[],
        &[],
    );
    let (cluster, service, family) = (svc.cluster.clone(), svc.name.clone(), svc.family.clone());
    let stack = rig.unique("stack");
    let later = rig.unique("later");
    let p = Project::new();
    p.write("app/Dockerfile", &format!("FROM busybox:stable\nLABEL unique={family}\n"))
        .write("infra/stack.yaml", "Parameters:\n  Image: {Type: String}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref Image}\nOutputs:\n  Image: {Value: !Ref Image}\n")
        // The ECS branch fails: its revision never gets healthy tasks, and there is no
        // circuit breaker, so berth gives up at the failure threshold.
        .write("ecs/web.json", &format!(r#"{{"family": "{family}", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128, "environment": [{{"name": "BERTH_RIG_FAIL", "value": "1"}}]}}]}}"#))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{family} }}\ntargets:\n  service:\n    ecs: {{ cluster: {cluster}, service: {service}, containers: {{ web: web }}, task_definition: ecs/web.json, poll_interval: 1s }}\n  stack:\n    cloudformation: {{ stack: {stack}, template: infra/stack.yaml, parameters: {{ Image: \"${{images.web.ref}}\" }} }}\n  after-service:\n    cloudformation: {{ stack: {later}, template: infra/stack.yaml, parameters: {{ Image: x }} }}\n    depends_on: [service]\n"
            ),
        );
    let run = p.berth(&["ship", "-o", "json"]);
    run.assert_code(1);
    let doc = run.json();
    let status = |name: &str| {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("service"), "failed");
    assert_eq!(
        status("stack"),
        "deployed",
        "the independent branch completed"
    );
    assert_eq!(
        status("after-service"),
        "skipped",
        "what depends on the failure does not run"
    );
    let skipped = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "after-service")
        .unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        skipped.contains("deploy:service did not succeed"),
        "{skipped}"
    );
    // The stack got the pushed image by digest.
    let image = stack_field(&stack, "Stacks[0].Outputs[0].OutputValue");
    assert!(image.trim().contains("@sha256:"), "{image}");
    let exists = std::process::Command::new("aws")
        .args(["cloudformation", "describe-stacks", "--stack-name", &later])
        .output()
        .unwrap();
    assert!(
        !exists.status.success(),
        "the skipped target's stack was never created"
    );
    // CI mode: plain lines, no escape codes, each prefixed with its image or target.
    assert!(!run.stderr.contains('\x1b'), "no escape codes in CI output");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains(" stack ") && l.contains("| ")),
        "{}",
        run.stderr
    );
}

const K8S: &str = r#"apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web}]
"#;

/// Seconds since the epoch of an ndjson event's RFC 3339 time.
fn at(event: &serde_json::Value) -> std::time::SystemTime {
    humantime::parse_rfc3339(event["time"].as_str().unwrap()).unwrap()
}

#[test]
fn a_mixed_pipeline_deploys_in_dependency_order_then_writes_nothing_and_promotes_by_image() {
    let rig = Rig::get();
    // A key of its own: the emulator's log then shows this test's calls only.
    let key = format!("AKIASHIP{}", std::process::id());
    let env = [("AWS_ACCESS_KEY_ID", key.as_str())];
    let svc = EcsService::create(
        &rig,
        r#"[{"name":"web","image":"busybox:stable","memory":128}]"#,
        &[],
        &[],
    );
    let k8s = KubeCluster::create(&rig);
    let stack = rig.unique("stack");
    let family = svc.family.clone();
    let p = Project::new();
    p.write("web/Dockerfile", &format!("FROM busybox:stable\nLABEL unique={family}-web\n"))
        .write("api/Dockerfile", &format!("FROM busybox:stable\nLABEL unique={family}-api\n"))
        .write("infra/api.yaml", "Parameters:\n  Image: {Type: String}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref Image}\nOutputs:\n  Url: {Value: !Sub \"http://${AWS::StackName}.internal\"}\n")
        .write("ecs/web.json", &format!(r#"{{"family": "{family}", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128, "environment": [{{"name": "API_URL", "value": "${{targets.api.outputs.Url}}"}}, {{"name": "MODE", "value": "${{vars.mode}}"}}]}}]}}"#))
        .write("k8s/app.yaml", K8S)
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nvars: {{ mode: fast }}\nimages:\n  web: {{ context: web, tags: [v1], repository: e2e/{family}-web }}\n  api: {{ context: api, tags: [v1], repository: e2e/{family}-api }}\ntargets:\n  api:\n    cloudformation: {{ stack: {stack}, template: infra/api.yaml, parameters: {{ Image: \"${{images.api.ref}}\" }} }}\n  service:\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, task_definition: ecs/web.json, poll_interval: 1s }}\n    depends_on: [api]\n  k8s:\n    eks: {{ cluster: {}, namespace: shop, manifests: [k8s], timeout: 1m }}\n    depends_on: [api]\nenvironments:\n  prod:\n    targets:\n      k8s: {{ eks: {{ namespace: prod }} }}\n",
                svc.cluster, svc.name, k8s.name
            ),
        );

    let run = p.berth_env(&["ship", "-o", "ndjson"], &env);
    run.assert_code(0);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let event = |kind: &str, step: &str| {
        lines
            .iter()
            .find(|e| e["event"] == kind && e["step"] == step)
            .unwrap_or_else(|| panic!("no {kind} for {step}"))
    };
    // Order from the events: the stack after its image; both deploys after the stack and
    // the web image, and at the same time as each other.
    let stack_done = at(event("step_finished", "deploy:api"));
    assert!(at(event("step_started", "deploy:api")) >= at(event("step_finished", "push:api")));
    for t in ["deploy:service", "deploy:k8s"] {
        assert!(
            at(event("step_started", t)) >= stack_done,
            "{t} started before the stack"
        );
        assert!(at(event("step_started", t)) >= at(event("step_finished", "push:web")));
    }
    let (s_start, k_end) = (
        at(event("step_started", "deploy:service")),
        at(event("step_finished", "deploy:k8s")),
    );
    assert!(s_start <= k_end, "the ECS and EKS deploys overlapped");
    let doc = lines.last().unwrap();
    assert_eq!(doc["status"], "succeeded");
    for t in doc["targets"].as_array().unwrap() {
        assert_eq!(t["status"], "deployed", "{t}");
    }
    // The stack's output reached the ECS task definition; the web image reached Kubernetes.
    let td = svc.task_definition();
    let td_env = |name: &str| {
        aws_text(&[
            "ecs",
            "describe-task-definition",
            "--task-definition",
            &td,
            "--query",
            &format!(
                "taskDefinition.containerDefinitions[0].environment[?name=='{name}'].value | [0]"
            ),
        ])
        .trim()
        .to_string()
    };
    assert_eq!(td_env("API_URL"), format!("http://{stack}.internal"));
    let mode = td_env("MODE");
    assert_eq!(mode, "fast", "a static reference in the template");
    let web = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "web")
        .unwrap();
    let web_ref = format!(
        "{}@{}",
        web["repository_uri"].as_str().unwrap(),
        web["digest"].as_str().unwrap()
    );
    let k8s_image = k8s.kubectl_ok(&[
        "-n",
        "shop",
        "get",
        "deploy/web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(k8s_image, web_ref);

    // Again, nothing changed: every target unchanged, and no write anywhere.
    let aws_before = writes(&aws_calls_with_key(&key)).len();
    let reg_before = registry_writes(&format!("e2e/{family}-web")).len()
        + registry_writes(&format!("e2e/{family}-api")).len();
    let since = support::now();
    let again = p.berth_env(&["ship", "-o", "json"], &env);
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(doc["status"], "unchanged", "{doc:#}");
    for t in doc["targets"].as_array().unwrap() {
        assert_eq!(t["status"], "unchanged", "{t}");
    }
    let aws_after = writes(&aws_calls_with_key(&key));
    assert_eq!(
        aws_after.len(),
        aws_before,
        "AWS writes: {:?}",
        &aws_after[aws_before..]
    );
    let reg_after = registry_writes(&format!("e2e/{family}-web")).len()
        + registry_writes(&format!("e2e/{family}-api")).len();
    assert_eq!(reg_after, reg_before, "registry writes");
    assert_eq!(
        k8s.writes_since(since),
        Vec::<String>::new(),
        "Kubernetes writes"
    );

    // Promotion: what runs in shop goes to prod as it is, by reference, with no build.
    let promote = p.berth_env(
        &[
            "deploy",
            "-e",
            "prod",
            "k8s",
            "--image",
            &format!("web={web_ref}"),
            "-o",
            "json",
        ],
        &env,
    );
    promote.assert_code(0);
    let doc = promote.json();
    let status = |name: &str| {
        let t = doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name);
        t.map(|t| t["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("k8s").as_deref(), Some("deployed"));
    assert_eq!(
        status("api").as_deref(),
        Some("unchanged"),
        "its dependency, as it is"
    );
    assert_eq!(status("service"), None, "not selected");
    assert!(
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["built"] == false && i["pushed"] == false)
    );
    let prod_image = k8s.kubectl_ok(&[
        "-n",
        "prod",
        "get",
        "deploy/web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(prod_image, web_ref);
}

/// Ctrl-C in each phase of `ship` — while building, while pushing, while the stack changes
/// — then a re-run: each re-run ends `succeeded` with the stack running exactly the image it
/// reports, whatever the interrupted run had done.
#[test]
fn ctrl_c_in_each_phase_then_a_rerun_converges() {
    let rig = Rig::get();
    let repo = rig.unique("phases");
    let stack = rig.unique("phases");
    let p = Project::new();
    // A slow step keeps the build going; a few MB of noise keep the push going.
    p.write(
        "app/Dockerfile",
        "FROM busybox:stable\nRUN sleep 3\nCOPY noise /noise\nCOPY marker /marker\n",
    )
    .write(
        "infra/stack.yaml",
        "Parameters:\n  Image: {Type: String}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref Image}\nOutputs:\n  Image: {Value: !Ref Image}\n",
    )
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{repo} }}\ntargets:\n  stack:\n    cloudformation: {{ stack: {stack}, template: infra/stack.yaml, parameters: {{ Image: \"${{images.web.ref}}\" }} }}\n"
        ),
    );
    let noise: Vec<u8> = (0..8_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(p.path().join("app/noise"), noise).unwrap();
    for (n, phase) in [
        "sending build context",
        "pushing ",
        "executing the change set",
    ]
    .into_iter()
    .enumerate()
    {
        p.write("app/marker", &format!("{repo} {n}"));
        support::interrupt_at(&p, &["ship"], phase);
        let run = p.berth(&["ship", "-o", "json"]);
        run.assert_code(0);
        let doc = run.json();
        // `unchanged` when the interrupted run had already got as far as it could (a
        // signal that lands after the step it was meant for, on a loaded machine).
        assert!(
            doc["status"] == "succeeded" || doc["status"] == "unchanged",
            "after Ctrl-C at {phase}: {doc}"
        );
        let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
        let output = stack_field(&stack, "Stacks[0].Outputs[0].OutputValue");
        assert!(
            output.trim().ends_with(&format!("@{digest}")),
            "after Ctrl-C at {phase}: the stack runs {output}, the re-run pushed {digest}\n{doc}\n{}",
            run.stderr
        );
    }
}

/// A new commit that leaves an image's content as it was (a new `${git.short_sha}` tag, say)
/// on a runner without the earlier build: `plan` predicts what `ship` then does — no build,
/// no upload, the tag added to the image ECR holds, every target unchanged.
#[test]
fn a_moved_commit_with_the_same_content_retags_and_plan_predicts_it() {
    let rig = Rig::get();
    let k8s = KubeCluster::create(&rig);
    let repo = rig.unique("e2e/moved");
    let p = Project::new();
    let pipeline = |tag: &str| {
        format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: web, tags: [{tag}], repository: {repo} }}\ntargets:\n  k8s:\n    eks: {{ cluster: {}, namespace: shop, manifests: [k8s], timeout: 1m }}\n",
            k8s.name
        )
    };
    p.write(
        "web/Dockerfile",
        &format!("FROM busybox:stable\nLABEL unique={repo}\n"),
    )
    .write("k8s/app.yaml", K8S)
    .write("berth.yaml", &pipeline("c0ffee1"));
    let first = p.berth(&["ship", "-o", "json"]);
    first.assert_code(0);
    let digest = first.json()["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    // The next commit: another tag, the same content, and a fresh machine (no local image).
    p.write("berth.yaml", &pipeline("beef002"));
    support::forget_image(&format!("{repo}:c0ffee1"));

    let plan = p.berth(&["plan", "-o", "json"]);
    plan.assert_code(0);
    let doc = plan.json();
    assert_eq!(doc["images"][0]["plan"], "tag", "{doc:#}");
    assert_eq!(doc["images"][0]["digest"], digest.as_str());
    let lines = doc["targets"][0]["plan"].as_array().unwrap();
    assert!(
        lines.len() == 1 && lines[0].as_str().unwrap().starts_with("no change"),
        "{lines:?}"
    );

    let before = registry_writes(&repo);
    let since = support::now();
    let ship = p.berth(&["ship", "-o", "json"]);
    ship.assert_code(0);
    let doc = ship.json();
    assert_eq!(doc["images"][0]["built"], false, "{doc:#}");
    assert_eq!(doc["images"][0]["digest"], digest.as_str());
    assert_eq!(doc["targets"][0]["status"], "unchanged");
    let new = support::registry_writes_after(&repo, before.len());
    assert_eq!(
        new,
        [format!("/v2/{repo}/manifests/beef002")],
        "one manifest PUT, no blob"
    );
    assert_eq!(k8s.writes_since(since), Vec::<String>::new());
}
