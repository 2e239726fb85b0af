//! `berth ship` across target kinds: one dependency graph, independent branches, CI output.

mod support;

use support::{EcsService, Project, Rig, sh};

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
    let image = sh(&[
        "aws",
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        &stack,
        "--query",
        "Stacks[0].Outputs[0].OutputValue",
        "--output",
        "text",
    ]);
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
