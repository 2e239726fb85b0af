//! The command line as a user meets it: help texts, validation errors, JSON documents and
//! exit codes, checked by running the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn berth(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("CI", "true")
        .env("COLUMNS", "100");
    for (k, _) in std::env::vars() {
        if k.starts_with("BERTH_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("berth runs")
}

/// The ids of a plan document's steps, in order.
fn step_ids(doc: &serde_json::Value) -> Vec<&str> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const SUBCOMMANDS: [&str; 11] = [
    "validate",
    "plan",
    "build",
    "push",
    "deploy",
    "ship",
    "rollback",
    "status",
    "login",
    "eks-token",
    "completions",
];

#[test]
fn help_texts() {
    let out = berth(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!("help", text(&out.stdout));
    for sub in SUBCOMMANDS {
        let out = berth(&[sub, "--help"]);
        assert!(out.status.success(), "{sub} --help failed");
        insta::assert_snapshot!(format!("help_{sub}"), text(&out.stdout));
    }
}

#[test]
fn usage_errors_exit_2() {
    let out = berth(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let out = berth(&["plan", "--output", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every broken fixture exits 2, prints nothing on stdout, and points at a line and column.
#[test]
fn invalid_fixtures() {
    let dir = Path::new("tests/fixtures/invalid");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 15,
        "at least 15 broken variants, found {}",
        names.len()
    );
    for name in names {
        let path = dir.join(&name);
        let out = berth(&["-f", path.to_str().unwrap(), "validate"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: stdout must stay empty");
        let located = stderr.lines().any(|l| {
            l.trim_start().starts_with("--> ")
                && l.rsplit(':')
                    .take(2)
                    .all(|n| n.parse::<u32>().is_ok_and(|n| n > 0))
        });
        assert!(located, "{name}: no file:line:column in\n{stderr}");
        assert!(
            !stderr.contains("NOT-A-REAL-TOKEN"),
            "{name}: a referenced file's content was shown: {stderr}"
        );
        insta::assert_snapshot!(
            format!("invalid_{}", name.trim_end_matches(".yaml")),
            stderr
        );
    }
}

#[test]
fn invalid_file_as_json_lists_errors_with_positions() {
    let out = berth(&[
        "-f",
        "tests/fixtures/invalid/unknown_key.yaml",
        "validate",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["errors"][0]["message"], "unknown key `dockerfle`");
    assert_eq!(doc["errors"][0]["line"], 5);
    assert_eq!(doc["errors"][0]["column"], 5);
    assert_eq!(doc["errors"][0]["hint"], "did you mean `dockerfile`?");
}

#[test]
fn missing_pipeline_file() {
    let out = berth(&["-f", "tests/fixtures/nope.yaml", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pipeline file `tests/fixtures/nope.yaml` not found"));
}

/// Files that are not regular files (a device that never ends, a FIFO that blocks) are
/// refused at once, the pipeline file included: nothing hangs or grows.
#[test]
fn devices_and_pipes_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("template.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::write(
        dir.path().join("berth.yaml"),
        "version: 1\ntargets:\n  s:\n    cloudformation: { stack: s, template: template.yaml }\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    let f = dir.path().join("berth.yaml");
    let out = berth(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a regular file"),
        "{}",
        text(&out.stderr)
    );
    let out = berth(&["-f", "/dev/zero", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a regular file"));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn valid_fixture_and_example_validate() {
    for f in [
        "tests/fixtures/valid/berth.yaml",
        "examples/quickstart/berth.yaml",
    ] {
        let out = berth(&["-f", f, "validate"]);
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("is valid"));
    }
}

/// An image no target uses is a warning (built, pushed, never deployed); not an error.
#[test]
fn an_image_no_target_uses_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(
        dir.path().join("t.yaml"),
        "Parameters: {I: {Type: String}}\nResources: {P: {Type: AWS::SSM::Parameter, Properties: {Type: String, Value: x}}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("berth.yaml"),
        "version: 1\nimages:\n  web: { context: app, tags: [v1] }\n  wrker: { context: app, tags: [v1] }\ntargets:\n  s:\n    cloudformation: { stack: s, template: t.yaml, parameters: { I: \"${images.web.ref}\" } }\n",
    )
    .unwrap();
    let f = dir.path().join("berth.yaml");
    let out = berth(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("image `wrker` is used by no target"), "{err}");
    assert!(!err.contains("image `web`"), "{err}");
}

/// Pins every field of the JSON document (the contract scripts rely on).
#[test]
fn plan_json_document_fields() {
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "-e",
        "prod",
        "plan",
        "--static",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("one JSON document");
    let ms = doc["duration_ms"]
        .as_u64()
        .expect("duration_ms is a number");
    assert!(ms < 60_000);
    doc["duration_ms"] = 0.into();
    insta::assert_json_snapshot!("plan_json", doc);
}

#[test]
fn plan_selects_dependencies_and_only_their_images() {
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "plan",
        "--static",
        "-o",
        "json",
        "k8s",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let targets: Vec<&str> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["stack", "k8s"]);
    let images: Vec<&str> = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(images, ["web", "worker"]);
    let steps = step_ids(&doc);
    let pos = |id: &str| steps.iter().position(|s| *s == id).unwrap();
    assert!(pos("push:worker") < pos("deploy:stack"));
    assert!(pos("deploy:stack") < pos("deploy:k8s"));
    assert!(pos("push:web") < pos("deploy:k8s"));
}

/// `plan --static --image NAME=REF` plans as `ship --image` runs: that image is neither
/// built nor pushed.
#[test]
fn a_static_plan_takes_image_overrides_into_account() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "plan",
        "--static",
        "-o",
        "json",
        "--image",
        &format!("web=1.dkr.ecr.eu-west-1.amazonaws.com/shop/web@{digest}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = step_ids(&doc);
    assert!(
        !steps.contains(&"build:web") && !steps.contains(&"push:web"),
        "{steps:?}"
    );
    assert!(steps.contains(&"push:worker"), "{steps:?}");
    let bad = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "plan",
        "--static",
        "--image",
        "nope=x:1",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn plan_human_output() {
    let out = berth(&["-f", "tests/fixtures/valid/berth.yaml", "plan", "--static"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("plan_human", text(&out.stdout));
}

#[test]
fn unknown_target_or_environment_exits_2() {
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "plan",
        "--static",
        "servce",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown target `servce`"));
    assert!(text(&out.stderr).contains("did you mean `service`?"));
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "-e",
        "staging",
        "plan",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown environment `staging`"));
}

#[test]
fn environment_changes_values() {
    let out = berth(&[
        "-f",
        "tests/fixtures/valid/berth.yaml",
        "-e",
        "prod",
        "plan",
        "--static",
        "-o",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["environment"], "prod");
    assert_eq!(doc["images"][0]["tags"], serde_json::json!(["v1", "prod"]));
}

#[test]
fn completions_are_printed() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = berth(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(text(&out.stdout).contains("berth"), "{shell}");
    }
}

#[test]
fn generated_files_are_current() {
    let out = berth(&["generate-docs", "--check", env!("CARGO_MANIFEST_DIR")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
