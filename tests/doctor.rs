//! `berth doctor` against the rig: every check of the quick start pipeline passes, and on a
//! runner with no Docker daemon and no AWS credentials each missing piece is named with a
//! fix, exit 1.

mod support;

use support::{Project, Rig, sh};

fn quickstart() -> String {
    format!(
        "{}/examples/quickstart/berth.yaml",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn the_quick_start_passes_every_check() {
    let _rig = Rig::get();
    sh(&[concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/rig.d/seed-example.sh"
    )]);
    let p = Project::new();
    let run = p.berth(&["-f", &quickstart(), "doctor", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["command"], "doctor");
    assert_eq!(doc["status"], "succeeded");
    let checks = doc["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    let aws = |s: &str| format!("aws {s} ({region})");
    assert_eq!(
        names,
        [
            "berth",
            "pipeline",
            "docker",
            "aws identity",
            &aws("ECR"),
            &aws("ECS"),
            &aws("CloudFormation"),
            &aws("EKS"),
            "kubernetes web-k8s"
        ]
    );
    for c in checks {
        assert_eq!(c["status"], "ok", "{c}");
        assert!(c.get("fix").is_none(), "{c}");
    }
    let detail = |name: &str| {
        checks.iter().find(|c| c["name"] == name).unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        detail("docker").starts_with("Docker Engine 20.10"),
        "{}",
        detail("docker")
    );
    assert!(detail("aws identity").contains("(account 123456789012)"));
    assert!(detail("kubernetes web-k8s").contains("Deployments in namespace"));
}

#[test]
fn a_runner_without_docker_or_credentials_is_told_what_to_fix() {
    let _rig = Rig::get();
    let p = Project::new();
    let empty = p.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let env = [
        ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_CONFIG_FILE", empty),
        ("AWS_SHARED_CREDENTIALS_FILE", empty),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let run = p.berth_env(&["doctor", "-o", "json"], &env);
    run.assert_code(1);
    let doc = run.json();
    assert_eq!(doc["status"], "failed");
    let checks = doc["checks"].as_array().unwrap();
    let get = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap().clone();
    // No pipeline file here: skipped, not failed.
    assert_eq!(get("pipeline")["status"], "skipped");
    let docker = get("docker");
    assert_eq!(docker["status"], "failed");
    assert!(
        docker["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/docker.sock")
    );
    assert!(docker["fix"].as_str().unwrap().contains("privileged mode"));
    let identity = get("aws identity");
    assert_eq!(identity["status"], "failed");
    assert!(
        identity["detail"]
            .as_str()
            .unwrap()
            .contains("no usable AWS credentials")
    );
    assert!(identity["fix"].as_str().unwrap().contains("AWS_PROFILE"));
    // Without an identity, the services are not asked (each would fail the same way).
    assert!(
        !checks
            .iter()
            .any(|c| c["name"].as_str().unwrap().starts_with("aws ECR"))
    );
    // The human form: one line per check, the fix under a failed one, a count.
    let human = p.berth_env(&["doctor"], &env);
    human.assert_code(1);
    assert!(
        human.stdout.contains("✗ docker: no Docker daemon answers"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("    fix: "), "{}", human.stdout);
    assert!(
        human.stdout.contains("2 of 4 checks failed"),
        "{}",
        human.stdout
    );
}
