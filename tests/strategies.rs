//! ECS services with the BLUE_GREEN, LINEAR and CANARY deployment strategies, against the
//! rig's ECS simulator, which rolls service deployments out stage by stage and answers the
//! service-deployment API as AWS does. End states are read back with the aws CLI.

mod support;

use std::io::BufRead;

use serde_json::{Value, json};
use support::{EcsService, Project, Rig, aws_calls_with_key, aws_text, sh, target_group, writes};

const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

const STAGES: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// A service of 2 tasks behind a blue and a green target group, with `config` as its
/// deploymentConfiguration; and a project deploying image `web` to it (`extra` goes into the
/// target's `ecs:` mapping).
fn staged(rig: &Rig, config: Value, extra: &str) -> (EcsService, Project) {
    let (blue, green) = (target_group(rig), target_group(rig));
    let lb = json!([{
        "targetGroupArn": blue, "containerName": "web", "containerPort": 8080,
        "advancedConfiguration": {
            "alternateTargetGroupArn": green,
            "productionListenerRule": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1/2/3",
            "roleArn": "arn:aws:iam::123456789012:role/ecs-infrastructure"
        }
    }]);
    let s = EcsService::create(
        rig,
        r#"[{"name":"web","image":"busybox:stable","memory":128,"portMappings":[{"containerPort":8080}]}]"#,
        &[],
        &[
            "--deployment-configuration",
            &config.to_string(),
            "--load-balancers",
            &lb.to_string(),
        ],
    );
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{} }}\ntargets:\n  svc:\n    ecs:\n      cluster: {}\n      service: {}\n      containers: {{ web: web }}\n      poll_interval: 200ms\n      timeout: 1m\n{extra}",
            s.family, s.cluster, s.name
        ),
    );
    (s, p)
}

fn image(rig: &Rig) -> String {
    format!("web={}/e2e/web@{DIGEST}", rig.registry)
}

/// The service's current service deployment, as the aws CLI reads it.
fn service_deployment(s: &EcsService) -> Value {
    let arn = aws_text(&[
        "ecs",
        "describe-services",
        "--cluster",
        &s.cluster,
        "--services",
        &s.name,
        "--query",
        "services[0].currentServiceDeployment",
    ]);
    let out = sh(&[
        "aws",
        "ecs",
        "describe-service-deployments",
        "--service-deployment-arns",
        arn.trim(),
        "--output",
        "json",
    ]);
    serde_json::from_str::<Value>(&out).unwrap()["serviceDeployments"][0].clone()
}

/// The stages a run's log says were entered, in order, each once.
fn stages_seen(stderr: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for l in stderr.lines() {
        let logged = l.split_once('|').map(|(_, r)| r.trim_start());
        if let Some(rest) = logged.and_then(|r| r.strip_prefix("stage ")) {
            let stage = rest.split(':').next().unwrap().trim().to_string();
            if seen.last() != Some(&stage) {
                seen.push(stage);
            }
        }
    }
    seen
}

#[test]
fn a_blue_green_service_deploys_through_its_stages_in_order() {
    let rig = Rig::get();
    let config = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1,
        "deploymentCircuitBreaker": {"enable": true, "rollback": true}});
    let (s, p) = staged(&rig, config, "");
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "deployed");
    assert_eq!(doc["targets"][0]["after"], s.revision(2));
    assert_eq!(stages_seen(&run.stderr), STAGES, "{}", run.stderr);
    run.assert_stderr(&[
        "service deployment ",
        "BLUE_GREEN",
        "stage PRODUCTION_TRAFFIC_SHIFT: production traffic 100%",
    ]);
    let sd = service_deployment(&s);
    assert_eq!(sd["status"], "SUCCESSFUL", "{sd}");
    assert_eq!(s.task_definition(), s.revision(2));
    // A rerun changes nothing and knows it.
    let again = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["status"], "unchanged");
}

#[test]
fn the_rig_refuses_a_blue_green_load_balancer_without_advanced_configuration() {
    let rig = Rig::get();
    let tg = target_group(&rig);
    let cluster = rig.unique("c");
    let family = rig.unique("fam");
    sh(&["aws", "ecs", "create-cluster", "--cluster-name", &cluster]);
    sh(&[
        "aws",
        "ecs",
        "register-task-definition",
        "--family",
        &family,
        "--container-definitions",
        r#"[{"name":"web","image":"x","memory":128}]"#,
    ]);
    let out = std::process::Command::new("aws")
        .args([
            "ecs",
            "create-service",
            "--cluster",
            &cluster,
            "--service-name",
            "web",
            "--task-definition",
            &format!("{family}:1"),
            "--deployment-configuration",
            r#"{"strategy": "BLUE_GREEN"}"#,
            "--load-balancers",
            &format!(
                r#"[{{"targetGroupArn": "{tg}", "containerName": "web", "containerPort": 8080}}]"#
            ),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InvalidParameterException") && err.contains("advancedConfiguration"),
        "{err}"
    );
}

#[test]
fn wait_until_pauses_at_test_traffic_and_continue_follows_it_to_the_end() {
    let rig = Rig::get();
    let config = json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 2});
    let (s, p) = staged(&rig, config, "      wait_until: TEST_TRAFFIC_SHIFT\n");
    let run = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "paused");
    let t = &doc["targets"][0];
    assert_eq!(t["status"], "paused");
    assert_eq!(t["paused_at"], "TEST_TRAFFIC_SHIFT");
    assert_eq!(t["after"], s.revision(2));
    assert_eq!(
        stages_seen(&run.stderr).last().map(String::as_str),
        Some("TEST_TRAFFIC_SHIFT")
    );
    // ECS goes on: the deployment is still running, berth has stopped watching.
    let sd = service_deployment(&s);
    assert_eq!(sd["status"], "IN_PROGRESS", "{sd}");
    let status = p.berth(&["status", "-o", "json"]).json();
    let state = &status["targets"][0]["state"];
    assert!(
        state["rollout"]
            .as_str()
            .unwrap()
            .starts_with("IN_PROGRESS at "),
        "{state}"
    );
    assert!(
        state["detail"].to_string().contains("service deployment "),
        "{state}"
    );
    // A re-run meanwhile registers nothing: it finds the deployment of this revision still
    // running, follows it, and pauses again where it is.
    let rerun = p.berth(&["deploy", "--image", &image(&rig), "-o", "json"]);
    rerun.assert_code(0);
    rerun.assert_stderr(&["is still IN_PROGRESS", "following it"]);
    assert!(!rerun.stderr.contains("registered "), "{}", rerun.stderr);
    assert_eq!(rerun.json()["targets"][0]["status"], "paused");
    assert_eq!(rerun.json()["targets"][0]["after"], s.revision(2));
    // A person or a test suite checks the green side; then berth follows it to its end.
    let cont = p.berth(&["deploy", "--continue", "svc", "-o", "json"]);
    cont.assert_code(0);
    let doc = cont.json();
    assert_eq!(doc["command"], "deploy");
    assert_eq!(doc["targets"][0]["status"], "deployed", "{doc}");
    assert_eq!(doc["targets"][0]["paused_at"], Value::Null);
    let seen = stages_seen(&cont.stderr);
    assert_eq!(
        seen.last().map(String::as_str),
        Some("CLEAN_UP"),
        "{}",
        cont.stderr
    );
    assert!(seen.contains(&"BAKE_TIME".to_string()), "{seen:?}");
    assert_eq!(service_deployment(&s)["status"], "SUCCESSFUL");
    assert_eq!(s.task_definition(), s.revision(2));
    // --continue needs targets, and takes no images.
    p.berth(&["deploy", "--continue"]).assert_code(2);
}

#[test]
fn a_canary_whose_alarm_goes_off_in_bake_time_is_rolled_back_naming_the_alarm() {
    let rig = Rig::get();
    let alarm = rig.unique("shop-5xx");
    sh(&[
        "aws",
        "cloudwatch",
        "put-metric-alarm",
        "--alarm-name",
        &alarm,
        "--metric-name",
        "HTTPCode_Target_5XX_Count",
        "--namespace",
        "AWS/ApplicationELB",
        "--statistic",
        "Sum",
        "--period",
        "60",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanOrEqualToThreshold",
        "--evaluation-periods",
        "1",
    ]);
    let config = json!({"strategy": "CANARY", "bakeTimeInMinutes": 4,
        "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
        "alarms": {"alarmNames": [alarm], "enable": true, "rollback": true}});
    let (s, p) = staged(&rig, config, "");
    let mut child = p.spawn(&["deploy", "--image", &image(&rig), "-o", "json"]);
    let stderr = child.stderr.take().unwrap();
    let mut log = String::new();
    for l in std::io::BufReader::new(stderr).lines() {
        let l = l.unwrap();
        if l.contains("stage BAKE_TIME") && !log.contains("stage BAKE_TIME") {
            sh(&[
                "aws",
                "cloudwatch",
                "set-alarm-state",
                "--alarm-name",
                &alarm,
                "--state-value",
                "ALARM",
                "--state-reason",
                "5xx from the canary",
            ]);
        }
        log.push_str(&l);
        log.push('\n');
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{log}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &doc["targets"][0];
    assert_eq!(doc["status"], "rolled_back");
    assert_eq!(t["status"], "rolled_back");
    let err = t["error"].as_str().unwrap();
    assert!(
        err.contains(&format!("alarm {alarm} went off during BAKE_TIME")),
        "{err}"
    );
    assert_eq!(t["after"], s.revision(1), "ECS put revision 1 back");
    // The canary share, then all of production, were reported before the bake.
    let canary = log
        .find("stage PRODUCTION_TRAFFIC_SHIFT: production traffic 10%")
        .expect(&log);
    let full = log
        .find("stage PRODUCTION_TRAFFIC_SHIFT: production traffic 100%")
        .expect(&log);
    assert!(
        canary < full && full < log.find("stage BAKE_TIME").unwrap(),
        "{log}"
    );
    // AWS's view: rolled back, by this alarm.
    let mut sd = service_deployment(&s);
    for _ in 0..20 {
        if sd["status"] == "ROLLBACK_SUCCESSFUL" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
        sd = service_deployment(&s);
    }
    assert_eq!(sd["status"], "ROLLBACK_SUCCESSFUL", "{sd}");
    assert_eq!(sd["alarms"]["triggeredAlarmNames"], json!([alarm]));
    assert_eq!(s.task_definition(), s.revision(1));
}

#[test]
fn rollback_during_a_running_service_deployment_stops_it_with_rollback() {
    let rig = Rig::get();
    let config = json!({"strategy": "LINEAR", "bakeTimeInMinutes": 5,
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}});
    let (s, p) = staged(&rig, config, "");
    let key = format!("AKIARIGSTAGES{}", std::process::id());
    let env = [("AWS_ACCESS_KEY_ID", key.as_str())];
    let run = p.berth_env(
        &[
            "deploy",
            "--image",
            &image(&rig),
            "--wait-until",
            "production_traffic_shift",
            "-o",
            "json",
        ],
        &env,
    );
    run.assert_code(0);
    assert_eq!(
        run.json()["targets"][0]["paused_at"],
        "PRODUCTION_TRAFFIC_SHIFT"
    );
    let before = writes(&aws_calls_with_key(&key)).len();
    let rb = p.berth_env(&["rollback", "svc", "-o", "json"], &env);
    rb.assert_code(0);
    let doc = rb.json();
    assert_eq!(doc["targets"][0]["status"], "rolled_back", "{doc}");
    assert_eq!(doc["targets"][0]["after"], s.revision(1));
    rb.assert_stderr(&["asked ECS to stop service deployment"]);
    // One stop with rollback (and the lease's tag writes), no second deployment on top.
    let w = writes(&aws_calls_with_key(&key));
    let new: Vec<&String> = w[before..]
        .iter()
        .filter(|c| !["ecs:TagResource", "ecs:UntagResource"].contains(&c.as_str()))
        .collect();
    assert_eq!(new, [&"ecs:StopServiceDeployment".to_string()], "{w:?}");
    let sd = service_deployment(&s);
    assert_eq!(sd["status"], "ROLLBACK_SUCCESSFUL", "{sd}");
    assert_eq!(s.task_definition(), s.revision(1));
    // Nothing left to continue: --continue reports the rollback as it ended.
    let cont = p.berth_env(&["deploy", "--continue", "svc", "-o", "json"], &env);
    cont.assert_code(3);
    assert_eq!(cont.json()["targets"][0]["status"], "rolled_back");
}

/// `deployment:` settings are brought in line on a service that rolled out with ROLLING:
/// `plan` shows them and changes nothing, the deploy sets them (keeping the circuit breaker)
/// and then follows the BLUE_GREEN service deployment, and a rerun changes nothing.
#[test]
fn deployment_settings_are_planned_brought_in_line_and_then_left_alone() {
    let rig = Rig::get();
    let config = json!({"deploymentCircuitBreaker": {"enable": true, "rollback": true}, "maximumPercent": 200});
    let (s, p) = staged(
        &rig,
        config,
        "      deployment:\n        strategy: BLUE_GREEN\n        bake_time: 1m\n        alarms: [shop-5xx]\n",
    );
    let key = format!("AKIARIGSETTINGS{}", std::process::id());
    let env = [("AWS_ACCESS_KEY_ID", key.as_str())];
    let plan = p.berth_env(&["plan", "--image", &image(&rig), "-o", "json"], &env);
    plan.assert_code(0);
    let lines = plan.json()["targets"][0]["plan"].to_string();
    for want in [
        "deployment setting: strategy: ROLLING → BLUE_GREEN",
        "deployment setting: bake time: 0m → 1m",
        "deployment setting: alarms that roll back: (none) → shop-5xx",
        "with a BLUE_GREEN service deployment",
    ] {
        assert!(lines.contains(want), "{want} in {lines}");
    }
    assert!(
        writes(&aws_calls_with_key(&key)).is_empty(),
        "plan writes nothing"
    );

    let run = p.berth_env(&["deploy", "--image", &image(&rig), "-o", "json"], &env);
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["status"], "deployed");
    run.assert_stderr(&[
        "deployment setting: strategy: ROLLING → BLUE_GREEN",
        "stage BAKE_TIME",
    ]);
    let dc: Value = serde_json::from_str(&sh(&[
        "aws",
        "ecs",
        "describe-services",
        "--cluster",
        &s.cluster,
        "--services",
        &s.name,
        "--query",
        "services[0].deploymentConfiguration",
        "--output",
        "json",
    ]))
    .unwrap();
    assert_eq!(dc["strategy"], "BLUE_GREEN");
    assert_eq!(dc["bakeTimeInMinutes"], 1);
    assert_eq!(
        dc["alarms"],
        json!({"alarmNames": ["shop-5xx"], "enable": true, "rollback": true})
    );
    assert_eq!(dc["deploymentCircuitBreaker"]["enable"], true, "kept: {dc}");
    assert_eq!(service_deployment(&s)["status"], "SUCCESSFUL");

    let before = writes(&aws_calls_with_key(&key)).len();
    let again = p.berth_env(&["deploy", "--image", &image(&rig), "-o", "json"], &env);
    again.assert_code(0);
    assert_eq!(again.json()["targets"][0]["status"], "unchanged");
    let w = writes(&aws_calls_with_key(&key));
    assert!(
        !w[before..].iter().any(|c| c == "ecs:UpdateService"),
        "{w:?}"
    );
}
