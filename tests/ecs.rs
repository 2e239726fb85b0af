//! ECS targets against the rig: the emulator's ECS service simulator rolls deployments out
//! over a few seconds, fails them on demand (BERTH_RIG_FAIL), rolls them back with the
//! circuit breaker, and runs one-off tasks with a chosen exit code. End states are checked
//! with the aws CLI.

mod support;

use support::{EcsService, Project, Rig, aws_calls_with_key, aws_text, interrupt_at, sh, writes};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

type Service = EcsService;

const CONTAINERS: &str = r#"[{"name":"web","image":"busybox:stable","memory":128,"essential":true,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/shop/web","awslogs-stream-prefix":"web","awslogs-region":"us-east-1"}}}]"#;

/// A service running revision 1 of a one-container task definition, with or without the
/// deployment circuit breaker (and its rollback).
fn service(rig: &Rig, circuit_breaker: bool) -> Service {
    let config = if circuit_breaker {
        "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100"
    } else {
        "maximumPercent=200,minimumHealthyPercent=100"
    };
    EcsService::create(
        rig,
        CONTAINERS,
        &["--cpu", "256", "--memory", "512"],
        &["--deployment-configuration", config],
    )
}

/// A project with one image `web` and one ECS target `svc` for `s`; `extra` goes into the
/// target's `ecs:` mapping.
fn project(s: &Service, extra: &str) -> Project {
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{} }}\ntargets:\n  svc:\n    ecs:\n      cluster: {}\n      service: {}\n      containers: {{ web: web }}\n      poll_interval: 1s\n      timeout: 1m\n{extra}",
            s.family, s.cluster, s.name
        ),
    );
    p
}

/// A task definition template whose container carries one of the simulator's switches
/// (BERTH_RIG_FAIL, BERTH_RIG_NEVER_READY, BERTH_RIG_EXIT_CODE).
fn rig_template(family: &str, switch: &str, value: &str) -> String {
    format!(
        r#"{{"family": "{family}", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128, "environment": [{{"name": "{switch}", "value": "{value}"}}]}}]}}"#
    )
}

/// A service (with or without the circuit breaker) and a project whose task definition
/// template carries one of the simulator's switches.
fn with_template(
    rig: &Rig,
    circuit_breaker: bool,
    switch: &str,
    value: &str,
) -> (Service, Project) {
    let s = service(rig, circuit_breaker);
    let p = project(&s, "      task_definition: ecs/web.json\n");
    p.write("ecs/web.json", &rig_template(&s.family, switch, value));
    (s, p)
}

fn image(rig: &Rig) -> String {
    format!("web={}/e2e/web@{DIGEST}", rig.registry)
}

#[test]
fn ship_builds_pushes_and_deploys_by_digest_then_changes_nothing() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "");
    p.write("app/marker", &rig.unique("content"));
    let run = p.berth(&["ship", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "succeeded");
    let t = &doc["targets"][0];
    assert_eq!(t["status"], "deployed");
    assert_eq!(t["before"], s.revision(1));
    assert_eq!(t["after"], s.revision(2));
    let pushed = format!(
        "{}@{}",
        doc["images"][0]["repository_uri"].as_str().unwrap(),
        doc["images"][0]["digest"].as_str().unwrap()
    );

    // Independently: the service runs revision 2, which pins the pushed digest and records
    // revision 1 as the one it replaced.
    assert_eq!(s.task_definition(), s.revision(2));
    let img = aws_text(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &s.revision(2),
        "--query",
        "taskDefinition.containerDefinitions[0].image",
    ]);
    assert_eq!(img.trim(), pushed);
    let tag = aws_text(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &s.revision(2),
        "--include",
        "TAGS",
        "--query",
        "tags[?key=='berth:previous-task-definition'].value",
    ]);
    assert_eq!(tag.trim(), s.revision(1));
    let kept = aws_text(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &s.revision(2),
        "--query",
        "[taskDefinition.cpu, taskDefinition.containerDefinitions[0].logConfiguration.options.\"awslogs-group\"]",
    ]);
    assert_eq!(
        kept.split_whitespace().collect::<Vec<_>>(),
        ["256", "/shop/web"],
        "the clone keeps every other field"
    );

    // Again, with nothing changed: no ECS write call at all.
    let key = format!("AKIAECSNOOP{}", std::process::id());
    let run = p.berth_env(&["ship", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "unchanged");
    assert_eq!(doc["targets"][0]["status"], "unchanged");
    let w = writes(&aws_calls_with_key(&key));
    assert!(w.is_empty(), "no write calls: {w:?}");
    assert_eq!(s.task_definition(), s.revision(2));
}

#[test]
fn a_template_task_definition_is_rendered_and_registered() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "      task_definition: ecs/web.json\n");
    p.write(
        "ecs/web.json",
        &format!(
            r#"{{"family": "{}", "cpu": "512", "memory": "1024", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
  "containerDefinitions": [{{"name": "web", "image": "placeholder", "essential": true,
    "environment": [{{"name": "IMAGE_TAG", "value": "${{images.web.tag}}"}}, {{"name": "LITERAL", "value": "$${{not.expanded}}"}}]}}]}}"#,
            s.family
        ),
    );
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(0);
    assert_eq!(s.task_definition(), s.revision(2));
    let got = sh(&[
        "aws",
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &s.revision(2),
        "--output",
        "json",
    ]);
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    let td = &got["taskDefinition"];
    assert_eq!(td["cpu"], "512");
    assert_eq!(
        td["containerDefinitions"][0]["image"],
        format!("{}/e2e/web@{DIGEST}", rig.registry)
    );
    let env = &td["containerDefinitions"][0]["environment"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "LITERAL" && e["value"] == "${not.expanded}"),
        "{env}"
    );
}

#[test]
fn a_circuit_breaker_rollback_is_reported_as_rolled_back() {
    let rig = Rig::get();
    let (s, p) = with_template(&rig, true, "BERTH_RIG_FAIL", "1");
    let started = std::time::Instant::now();
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    assert_eq!(doc["status"], "rolled_back");
    assert_eq!(doc["targets"][0]["status"], "rolled_back");
    assert_eq!(
        doc["targets"][0]["after"],
        s.revision(1),
        "after = what runs now"
    );
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("circuit breaker"),
        "{}",
        doc["targets"][0]["error"]
    );
    // The simulator fails 3 tasks (the threshold) in 3 steps of 1 s and flips to the rollback
    // then; berth polls every second, so it must have stopped well before 10 s.
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
    assert!(
        run.stderr
            .contains("task stopped: Essential container in task exited"),
        "stopped reasons shown:\n{}",
        run.stderr
    );
    assert_eq!(
        s.task_definition(),
        s.revision(1),
        "ECS put revision 1 back"
    );
}

#[test]
fn berth_rolls_back_when_ecs_does_not() {
    let rig = Rig::get();
    let s = service(&rig, false);
    let p = project(
        &s,
        "      task_definition: ecs/web.json\n      rollback: auto\n",
    );
    p.write(
        "ecs/web.json",
        &rig_template(&s.family, "BERTH_RIG_FAIL", "1"),
    );
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "rolled_back");
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("berth rolled back"),
        "{}",
        doc["targets"][0]["error"]
    );
    assert_eq!(s.task_definition(), s.revision(1));
    let ds = aws_text(&[
        "ecs",
        "describe-services",
        "--cluster",
        &s.cluster,
        "--services",
        &s.name,
        "--query",
        "length(services[0].deployments)",
    ]);
    assert_eq!(ds.trim(), "1", "the rollback completed");
}

#[test]
fn a_failure_without_rollback_fails() {
    let rig = Rig::get();
    let (s, p) = with_template(&rig, false, "BERTH_RIG_FAIL", "1");
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(1);
    // A failed deploy still says what it replaced and what it rolled out.
    let doc = run.json();
    assert_eq!(
        doc["targets"][0]["before"].as_str(),
        Some(s.revision(1).as_str())
    );
    assert_eq!(
        doc["targets"][0]["after"].as_str(),
        Some(s.revision(2).as_str())
    );
    assert!(
        run.stderr
            .contains("tasks of the new revision failed to start"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: set `rollback: auto`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rollout_that_never_finishes_times_out() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "      task_definition: ecs/web.json\n");
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("timeout: 1m", "timeout: 3s");
    p.write("berth.yaml", &text);
    p.write(
        "ecs/web.json",
        &rig_template(&s.family, "BERTH_RIG_NEVER_READY", "1"),
    );
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(4);
    let doc = run.json();
    assert_eq!(doc["status"], "timed_out");
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("may still complete")
    );
}

#[test]
fn run_before_gates_the_deploy_on_its_exit_code() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let ok = project(
        &s,
        "      run_before: { container: web, command: [./migrate, --up] }\n",
    );
    let run = ok.berth(&["deploy", "--image", &image(&rig)]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("run_before logs: group /shop/web, stream web/web/"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("exited 0"), "{}", run.stderr);
    assert_eq!(s.task_definition(), s.revision(2));

    // A migration that fails stops the deploy: the service keeps running what it ran.
    let s = service(&rig, true);
    let bad = project(
        &s,
        "      task_definition: ecs/web.json\n      run_before: { container: web, command: [./migrate] }\n",
    );
    bad.write(
        "ecs/web.json",
        &rig_template(&s.family, "BERTH_RIG_EXIT_CODE", "3"),
    );
    let run = bad.berth(&["deploy", "--image", &image(&rig)]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("exited with code 3; the service was not updated"),
        "{}",
        run.stderr
    );
    assert_eq!(s.task_definition(), s.revision(1));
}

#[test]
fn rollback_and_status() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "");
    p.berth(&["deploy", "--image", &image(&rig)]).assert_code(0);
    assert_eq!(s.task_definition(), s.revision(2));

    let run = p.berth(&["status", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["state"]["revision"], s.revision(2));
    assert_eq!(
        doc["targets"][0]["state"]["images"][0],
        format!("web={}/e2e/web@{DIGEST}", rig.registry)
    );
    assert_eq!(doc["targets"][0]["state"]["rollout"], "COMPLETED");

    let run = p.berth(&["rollback", "svc", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["before"], s.revision(2));
    assert_eq!(doc["targets"][0]["after"], s.revision(1));
    assert_eq!(s.task_definition(), s.revision(1));
}

#[test]
fn unknown_container_and_missing_service_are_clear_errors() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "");
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("containers: { web: web }", "containers: { wbe: web }");
    p.write("berth.yaml", &text);
    let run = p.berth(&["deploy", "--image", &image(&rig)]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("has no container `wbe`") && run.stderr.contains("did you mean `web`?"),
        "{}",
        run.stderr
    );
    assert_eq!(s.task_definition(), s.revision(1), "nothing registered");

    let text = text
        .replace("containers: { wbe: web }", "containers: { web: web }")
        .replace(&format!("service: {}", s.name), "service: nope");
    p.write("berth.yaml", &text);
    let run = p.berth(&["deploy", "--image", &image(&rig)]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("ECS service `nope` does not exist"),
        "{}",
        run.stderr
    );
}

/// A CODE_DEPLOY-controlled service behind a load balancer, with its deployment group.
fn code_deploy_service(rig: &Rig, auto_rollback: bool) -> Service {
    let s = EcsService::create(
        rig,
        r#"[{"name":"web","image":"busybox:stable","memory":128,"portMappings":[{"containerPort":8080}]}]"#,
        &[],
        &[
            "--deployment-controller",
            "type=CODE_DEPLOY",
            "--load-balancers",
            "targetGroupArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/1,containerName=web,containerPort=8080",
        ],
    );
    let app = rig.unique("cdapp");
    sh(&[
        "aws",
        "deploy",
        "create-application",
        "--application-name",
        &app,
        "--compute-platform",
        "ECS",
    ]);
    sh(&[
        "aws",
        "deploy",
        "create-deployment-group",
        "--application-name",
        &app,
        "--deployment-group-name",
        "blue-green",
        "--service-role-arn",
        "arn:aws:iam::123456789012:role/codedeploy",
        "--ecs-services",
        &format!("serviceName={},clusterName={}", s.name, s.cluster),
        "--deployment-style",
        "deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL",
        "--auto-rollback-configuration",
        &format!("enabled={auto_rollback},events=DEPLOYMENT_FAILURE"),
    ]);
    s
}

#[test]
fn code_deploy_services_deploy_through_code_deploy() {
    let rig = Rig::get();
    let s = code_deploy_service(&rig, true);
    let p = project(&s, "");
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(0);
    assert!(
        run.stderr.contains("CodeDeploy deployment") && run.stderr.contains("Succeeded"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["targets"][0]["after"], s.revision(2));
    assert_eq!(s.task_definition(), s.revision(2));
}

#[test]
fn a_code_deploy_rollback_is_reported_as_rolled_back() {
    let rig = Rig::get();
    let s = code_deploy_service(&rig, true);
    let p = project(&s, "      task_definition: ecs/web.json\n");
    p.write(
        "ecs/web.json",
        &format!(r#"{{"family": "{}", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128, "portMappings": [{{"containerPort": 8080}}], "environment": [{{"name": "BERTH_RIG_FAIL", "value": "1"}}]}}]}}"#, s.family),
    );
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "rolled_back");
    assert_eq!(doc["targets"][0]["after"], s.revision(1));
    assert_eq!(
        s.task_definition(),
        s.revision(1),
        "the service never left revision 1"
    );
}

#[test]
fn plan_shows_the_task_definition_diff_and_changes_nothing() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "      task_definition: ecs/web.json\n");
    p.write(
        "ecs/web.json",
        &format!(r#"{{"family": "{}", "cpu": "512", "memory": "512", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128, "essential": true, "logConfiguration": {{"logDriver": "awslogs", "options": {{"awslogs-group": "/shop/web", "awslogs-stream-prefix": "web", "awslogs-region": "us-east-1"}}}}}}]}}"#, s.family),
    );
    let key = format!("AKIAPLAN{}", std::process::id());
    let run = p.berth_env(&["plan", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    let doc = run.json();
    let lines: Vec<&str> = doc["targets"][0]["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines[0].starts_with(&format!("register a new revision of {}:1", s.family)),
        "{lines:?}"
    );
    assert!(lines.contains(&"  cpu: 256 → 512"), "{lines:?}");
    let will_push = format!(
        "  containerDefinitions[web].image: busybox:stable → e2e/{}:v1",
        s.family
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&will_push)),
        "the image it will push: {lines:?}"
    );
    assert!(
        writes(&aws_calls_with_key(&key)).is_empty(),
        "plan changes nothing"
    );
    assert_eq!(s.task_definition(), s.revision(1));
}

#[test]
fn ctrl_c_while_waiting_reports_what_was_started() {
    let rig = Rig::get();
    let (s, p) = with_template(&rig, true, "BERTH_RIG_NEVER_READY", "1");
    let child = p.spawn(&["deploy", "--image", &image(&rig), "-o", "json"]);
    // Wait until the rollout is being watched, then press Ctrl-C.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.task_definition() != s.revision(2) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    sh(&["kill", "-INT", &child.id().to_string()]);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("these steps were running and may still be in progress: deploy:svc"),
        "{stderr}"
    );
    assert!(stderr.contains("berth status svc"), "{stderr}");
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the document, also when interrupted");
    assert_eq!(doc["status"], "interrupted");
    // What the run started is in the document: the revision it replaced (the rollback
    // point) and the one it was rolling out.
    let t = &doc["targets"][0];
    assert_eq!(t["before"].as_str(), Some(s.revision(1).as_str()), "{doc}");
    assert_eq!(t["after"].as_str(), Some(s.revision(2).as_str()), "{doc}");
}

/// A re-run while the wanted revision is still rolling out is not `unchanged`: it follows
/// that rollout to its end and reports how it ended (here: ECS's circuit breaker rolls the
/// failing revision back, so exit 3), registering nothing new.
#[test]
fn a_rerun_during_a_rollout_follows_it_to_its_end() {
    let rig = Rig::get();
    let (s, p) = with_template(&rig, true, "BERTH_RIG_FAIL", "1");
    let img = image(&rig);
    interrupt_at(&p, &["deploy", "--image", &img], "started (");
    let run = p.berth(&["deploy", "--image", &img, "-o", "json"]);
    run.assert_code(3)
        .assert_stderr(&["still rolling out", "following it to its end"]);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "rolled_back", "{doc}");
    assert!(
        doc["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("circuit breaker"),
        "{doc}"
    );
    // The re-run registered no revision of its own: :2 is the one being rolled out.
    let revisions = aws_text(&[
        "ecs",
        "list-task-definitions",
        "--family-prefix",
        &s.family,
        "--query",
        "length(taskDefinitionArns)",
    ]);
    assert_eq!(revisions.trim(), "2");
}

fn service_arn(s: &Service) -> String {
    aws_text(&[
        "ecs",
        "describe-services",
        "--cluster",
        &s.cluster,
        "--services",
        &s.name,
        "--query",
        "services[0].serviceArn",
    ])
    .trim()
    .to_string()
}

fn lock_tag(s: &Service) -> String {
    aws_text(&[
        "ecs",
        "list-tags-for-resource",
        "--resource-arn",
        &service_arn(s),
        "--query",
        "tags[?key=='berth:lock'].value",
    ])
    .trim()
    .to_string()
}

/// Two runs deploying the same service at once do not interleave: the second waits for the
/// first's lock (saying who holds it), then deploys on top of what the first deployed.
#[test]
fn concurrent_deploys_of_one_service_take_turns() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "");
    let start = |digit: char| {
        let image = format!(
            "web={}/e2e/web@sha256:{}",
            rig.registry,
            digit.to_string().repeat(64)
        );
        p.spawn(&["deploy", "--image", &image, "-o", "json"])
    };
    let first = start('3');
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = start('4');
    let (a, b) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(a.status.code(), Some(0), "{}", err(&a));
    assert_eq!(b.status.code(), Some(0), "{}", err(&b));
    let (da, db): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    // One of them waited, and the waiter deployed on top of the other's revision.
    let (waited, other) = if err(&b).contains("waiting for the lock") {
        (&db, &da)
    } else {
        (&da, &db)
    };
    assert!(
        err(&a).contains("waiting for the lock") || err(&b).contains("waiting for the lock"),
        "{}\n{}",
        err(&a),
        err(&b)
    );
    assert_eq!(
        waited["targets"][0]["before"], other["targets"][0]["after"],
        "{waited}\n{other}"
    );
    assert_eq!(s.task_definition(), s.revision(3));
    assert_eq!(lock_tag(&s), "", "the lock is given back");
}

/// `--no-wait-lock` fails at once, naming the holder, and changes nothing; a lease that has
/// expired (its run died) is taken over.
#[test]
fn a_held_lock_is_named_and_an_expired_one_taken_over() {
    let rig = Rig::get();
    let s = service(&rig, true);
    let p = project(&s, "");
    let arn = service_arn(&s);
    let tag = |value: &str| {
        sh(&[
            "aws",
            "ecs",
            "tag-resource",
            "--resource-arn",
            &arn,
            "--tags",
            &format!("key=berth:lock,value={value}"),
        ]);
    };
    tag("othertoken 9999999999 CodeBuild shop:7");
    let run = p.berth(&["deploy", "--image", &image(&rig), "--no-wait-lock"]);
    run.assert_code(1)
        .assert_stderr(&["locked by CodeBuild shop:7", "--no-wait-lock"]);
    assert_eq!(s.task_definition(), s.revision(1), "nothing changed");
    tag("deadtoken 1 CodeBuild shop:6");
    let run = p.berth(&["deploy", "--image", &image(&rig)]);
    run.assert_code(0)
        .assert_stderr(&["expired; taking it over"]);
    assert_eq!(s.task_definition(), s.revision(2));
    assert_eq!(lock_tag(&s), "");
}
