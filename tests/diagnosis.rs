//! A failed deploy explains itself: the evidence berth gathers before it exits (stopped
//! tasks and their exit codes, the last log lines from CloudWatch Logs, load balancer target
//! health, a crash-looping pod's events and previous log), in the output and in
//! `targets[].diagnosis`. Checked against what the aws CLI and kubectl read.

mod support;

use support::{EcsService, Project, Rig, aws_text, sh, target_group};

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A service of 2 tasks with the circuit breaker (and its rollback), optionally behind a
/// target group; and a project whose task definition template logs to `group` with awslogs
/// and carries `env` (the simulator's switches).
fn ecs_project(rig: &Rig, group: &str, env: &str, create: &[&str]) -> (EcsService, Project) {
    let mut args = vec![
        "--deployment-configuration",
        "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100",
    ];
    args.extend_from_slice(create);
    let s = EcsService::create(
        rig,
        r#"[{"name":"web","image":"busybox:stable","memory":128,"portMappings":[{"containerPort":8080}]}]"#,
        &[],
        &args,
    );
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{} }}\ntargets:\n  svc:\n    ecs:\n      cluster: {}\n      service: {}\n      containers: {{ web: web }}\n      task_definition: ecs/web.json\n      poll_interval: 1s\n      timeout: 1m\n",
            s.family, s.cluster, s.name
        ),
    );
    p.write(
        "ecs/web.json",
        &format!(
            r#"{{"family": "{}", "containerDefinitions": [{{"name": "web", "image": "x", "memory": 128,
                "portMappings": [{{"containerPort": 8080}}],
                "logConfiguration": {{"logDriver": "awslogs", "options": {{"awslogs-group": "{group}", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "shop"}}}},
                "environment": [{env}]}}]}}"#,
            s.family
        ),
    );
    (s, p)
}

/// A CloudWatch Logs group of its own, created with the aws CLI.
fn log_group(rig: &Rig) -> String {
    let group = format!("/e2e/{}", rig.unique("logs"));
    sh(&[
        "aws",
        "logs",
        "create-log-group",
        "--log-group-name",
        &group,
    ]);
    group
}

/// The messages of a log stream, as the aws CLI reads them (whitespace-separated text).
fn stream_messages(group: &str, stream: &str) -> String {
    aws_text(&[
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--query",
        "events[].message",
    ])
}

fn image(rig: &Rig) -> String {
    format!("web={}/e2e/web@{DIGEST}", rig.registry)
}

const CRASH_ENV: &str = r#"{"name": "BERTH_RIG_FAIL", "value": "1"}, {"name": "BERTH_RIG_LOG", "value": "connecting to db.internal:5432|FATAL: password authentication failed for user shop"}"#;

#[test]
fn a_crashing_task_is_explained_by_its_exit_code_and_last_log_lines() {
    let rig = Rig::get();
    let group = log_group(&rig);
    let (s, p) = ecs_project(&rig, &group, CRASH_ENV, &[]);
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    let t = &doc["targets"][0];
    assert_eq!(t["status"], "rolled_back");
    let d = &t["diagnosis"];
    let units = d["units"].as_array().expect("units");
    assert!(!units.is_empty() && units.len() <= 3, "{d}");
    let u = &units[0];
    assert_eq!(u["kind"], "task");
    assert_eq!(u["reason"], "Essential container in task exited");
    let c = &u["containers"][0];
    assert_eq!(c["name"], "web");
    assert_eq!(c["exit_code"], 1);
    let stream = format!("shop/web/{}", u["id"].as_str().unwrap());
    assert_eq!(
        c["log_source"],
        format!("CloudWatch Logs {group} {stream}").as_str()
    );
    let log: Vec<&str> = c["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        log.contains(&"FATAL: password authentication failed for user shop"),
        "{log:?}"
    );
    assert_eq!(d["gaps"], serde_json::json!([]), "{d}");
    // The same, for people, under the target in the summary.
    run.assert_stderr(&[
        "container web: exited 1",
        "| FATAL: password authentication failed for user shop",
    ]);
    // What the AWS CLI reads is what berth reported.
    let task_arn = format!(
        "arn:aws:ecs:us-east-1:123456789012:task/{}/{}",
        s.cluster,
        u["id"].as_str().unwrap()
    );
    let exit = aws_text(&[
        "ecs",
        "describe-tasks",
        "--cluster",
        &s.cluster,
        "--tasks",
        &task_arn,
        "--query",
        "tasks[0].containers[0].exitCode",
    ]);
    assert_eq!(exit.trim(), "1");
    let events = stream_messages(&group, &stream);
    assert!(
        events.contains("FATAL: password authentication failed"),
        "{events}"
    );
}

#[test]
fn logs_that_may_not_be_read_are_one_line_naming_the_permission() {
    let rig = Rig::get();
    let group = log_group(&rig);
    let (_s, p) = ecs_project(&rig, &group, CRASH_ENV, &[]);
    let key = format!("AKIARIGNOLOGS{}", std::process::id());
    let run = p.berth_env(
        &["deploy", "--image", &image(&rig), "-o", "json"],
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    // The deploy's own verdict stands: a rollback, not an error about logs.
    run.assert_code(3);
    let doc = run.json();
    let d = &doc["targets"][0]["diagnosis"];
    assert_eq!(d["units"][0]["containers"][0]["exit_code"], 1, "{d}");
    assert_eq!(d["units"][0]["containers"][0]["log"], serde_json::json!([]));
    let gaps = d["gaps"].as_array().unwrap();
    assert!(
        gaps.iter().any(|g| {
            let g = g.as_str().unwrap();
            g.contains("logs:GetLogEvents") && g.contains("AccessDenied")
        }),
        "{gaps:?}"
    );
    assert_eq!(doc["errors"].as_array().map(Vec::len), Some(0), "{doc}");
    run.assert_stderr(&["not gathered: the log stream shop/web/"]);
}

#[test]
fn tasks_failing_load_balancer_health_checks_are_named_with_the_reason() {
    let rig = Rig::get();
    let group = log_group(&rig);
    let tg = target_group(&rig);
    let lb = format!("targetGroupArn={tg},containerName=web,containerPort=8080");
    let (s, p) = ecs_project(
        &rig,
        &group,
        r#"{"name": "BERTH_RIG_UNHEALTHY", "value": "1"}"#,
        &["--load-balancers", &lb],
    );
    // Before the deploy, the load balancer sees the service's 2 tasks healthy.
    let healthy = aws_text(&[
        "elbv2",
        "describe-target-health",
        "--target-group-arn",
        &tg,
        "--query",
        "TargetHealthDescriptions[].TargetHealth.State",
    ]);
    assert_eq!(
        healthy
            .split_whitespace()
            .filter(|w| *w == "healthy")
            .count(),
        2,
        "{healthy}"
    );
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    let d = &doc["targets"][0]["diagnosis"];
    let th = d["target_health"].as_array().expect("target_health");
    assert!(!th.is_empty(), "{d}");
    assert_eq!(th[0]["state"], "unhealthy");
    assert_eq!(th[0]["reason"], "Target.ResponseCodeMismatch");
    assert!(
        th[0]["target"].as_str().unwrap().ends_with(":8080"),
        "{}",
        th[0]
    );
    assert!(tg.ends_with(th[0]["target_group"].as_str().unwrap()));
    let reason = d["units"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Task failed ELB health checks in (target-group arn:"),
        "{reason}"
    );
    assert_eq!(d["units"][0]["containers"][0]["exit_code"], 143);
    run.assert_stderr(&[
        "unhealthy (Target.ResponseCodeMismatch): Health checks failed with these codes: [404]",
    ]);
    assert_eq!(
        s.task_definition(),
        s.revision(1),
        "ECS put revision 1 back"
    );
}

/// `berth logs`: the last lines of each running task's containers from CloudWatch Logs (what
/// `aws logs get-log-events` reads), in every output mode; `--follow` shows new lines as
/// they are logged.
#[test]
fn logs_shows_the_running_tasks_last_lines_and_follows_new_ones() {
    let rig = Rig::get();
    let group = log_group(&rig);
    let env = r#"{"name": "BERTH_RIG_LOG", "value": "listening on :8080|ready to serve"}"#;
    let (_s, p) = ecs_project(&rig, &group, env, &[]);
    p.berth(&["deploy", "--image", &image(&rig)]).assert_code(0);

    let run = p.berth(&["logs", "svc", "-n", "1"]);
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "one line of each of the 2 tasks:\n{}",
        run.stdout
    );
    assert!(
        lines.iter().all(|l| l.ends_with("/web | ready to serve")),
        "{lines:?}"
    );

    let doc = p.berth(&["logs", "svc", "-o", "json"]).json();
    assert_eq!(doc["command"], "logs");
    let logs = doc["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 4, "{doc}");
    let task = logs[0]["unit"].as_str().unwrap();
    assert_eq!(logs[0]["container"], "web");
    assert_eq!(logs[0]["line"], "listening on :8080");
    let stream = format!("shop/web/{task}");
    let cli = stream_messages(&group, &stream);
    assert_eq!(
        cli.split_whitespace().collect::<Vec<_>>().join(" "),
        "listening on :8080 ready to serve"
    );

    let bad = p.berth(&["logs", "svc", "--follow", "-o", "json"]);
    bad.assert_code(2);
    bad.assert_stderr(&["-o ndjson"]);

    // Following: a line logged after berth started shows up.
    let mut child = p.spawn(&["logs", "svc", "--follow", "-o", "ndjson"]);
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut seen = Vec::new();
    let mut line = String::new();
    use std::io::BufRead;
    while seen.len() < 4 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "{seen:?}");
        if line.contains("\"line\"") {
            seen.push(line.clone());
        }
    }
    let now_ms = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis())
    .to_string();
    sh(&[
        "aws",
        "logs",
        "put-log-events",
        "--log-group-name",
        &group,
        "--log-stream-name",
        &stream,
        "--log-events",
        &format!("timestamp={now_ms},message=GET /health 200"),
    ]);
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "{seen:?}");
        if line.contains("GET /health 200") {
            let l: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(l["unit"], task);
            break;
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
}
