//! berth under faults: the rig's fault proxy (scripts/rig.d/fault_proxy.py) sits in front of
//! the AWS emulator and throttles, fails or drops the requests of one access key, so each
//! test's faults touch only its own calls.

mod support;

use std::io::BufRead;
use std::time::{Duration, Instant};

use support::{EcsService, Project, Rig, faults_url, set_faults, sh};

const CONTAINERS: &str =
    r#"[{"name":"web","image":"busybox:stable","memory":128,"essential":true}]"#;

/// What the proxy did to `key`'s requests.
fn fault_stats(key: &str) -> serde_json::Value {
    serde_json::from_str(&sh(&["curl", "-sf", &faults_url(key)])).unwrap()
}

/// A service running revision 1, and a project that deploys the image `web` to it.
fn project(rig: &Rig) -> (EcsService, Project) {
    let s = EcsService::create(
        rig,
        CONTAINERS,
        &["--cpu", "256", "--memory", "512"],
        &[
            "--deployment-configuration",
            "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100",
        ],
    );
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\nCOPY marker /marker\n")
        .write("app/marker", &rig.unique("faults"))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: e2e/{} }}\ntargets:\n  svc:\n    ecs:\n      cluster: {}\n      service: {}\n      containers: {{ web: web }}\n      poll_interval: 1s\n      timeout: 2m\n",
                s.family, s.cluster, s.name
            ),
        );
    (s, p)
}

fn env(key: &str) -> [(&'static str, String); 2] {
    [
        ("AWS_ACCESS_KEY_ID", key.to_string()),
        (
            "AWS_ENDPOINT_URL",
            std::env::var("BERTH_RIG_FAULTS").expect("rig env"),
        ),
    ]
}

/// With 30 % of AWS requests throttled (ECR, ECS, the raw task definition calls alike),
/// `ship` still builds, pushes and deploys: every call goes through the retry policy.
#[test]
fn ship_succeeds_with_30_percent_of_requests_throttled() {
    let rig = Rig::get();
    let (s, p) = project(&rig);
    let key = format!("AKIARIGTHROTTLE{}", std::process::id());
    set_faults(&key, r#"{"throttle": 0.3}"#);
    let env = env(&key);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = p.berth_env(&["ship", "-o", "json"], &env);
    run.assert_code(0);
    assert_eq!(run.json()["targets"][0]["status"], "deployed");
    assert_eq!(s.task_definition(), s.revision(2));
    let stats = fault_stats(&key);
    assert!(
        stats["throttled"].as_u64().unwrap() >= 3,
        "the proxy throttled some of berth's calls: {stats}"
    );
}

/// An outage of 10 s while berth waits for the rollout (every request dropped) is ridden
/// out: the wait goes on once AWS answers again, and the deploy succeeds.
#[test]
fn a_10_second_outage_during_the_wait_is_ridden_out() {
    let rig = Rig::get();
    let (s, p) = project(&rig);
    let key = format!("AKIARIGOUTAGE{}", std::process::id());
    let image = format!("web={}/e2e/web@sha256:{}", rig.registry, "2".repeat(64));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(["deploy", "--image", &image])
        .current_dir(p.path())
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env(&key) {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut outage_at = None;
    let mut seen = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if outage_at.is_none() && line.contains("started (") {
            set_faults(&key, r#"{"outage_s": 10}"#);
            outage_at = Some(Instant::now());
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{seen}");
    let outage_at = outage_at.expect("the rollout was watched");
    assert!(
        outage_at.elapsed() >= Duration::from_secs(9),
        "berth finished during the outage: {seen}"
    );
    assert!(fault_stats(&key)["dropped"].as_u64().unwrap() >= 1);
    assert_eq!(s.task_definition(), s.revision(2));
    assert!(started.elapsed() < Duration::from_secs(120));
}
