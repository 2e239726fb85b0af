//! The CI recipes in `examples/ci/` (and shown in docs/ci.md) work as written: their commands
//! run against the rig on a copy of the quick start example, with berth on PATH as the
//! recipes' install step expects it to be.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{FileServer, Rig, release_site, sh};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The quick start example in a git repository of its own (for `${git.short_sha}`), with
/// its ECS service and EKS cluster seeded in the rig.
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sh(&[
        "cp",
        "-r",
        &format!("{}/examples/quickstart/.", repo().display()),
        dir.path().to_str().unwrap(),
    ]);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&[
        "-c",
        "user.name=ci",
        "-c",
        "user.email=ci@example.com",
        "commit",
        "-qm",
        "app",
    ]);
    sh(&[&format!(
        "{}/scripts/rig.d/seed-example.sh",
        repo().display()
    )]);
    dir
}

/// Where the recipes install berth from and to: a local HTTP server laid out as the release
/// site (serving what `scripts/release` built), and a prefix of the test's.
struct Install {
    _site: tempfile::TempDir,
    server: FileServer,
    prefix: tempfile::TempDir,
    version: String,
}

impl Install {
    fn new() -> Install {
        let site = tempfile::tempdir().unwrap();
        let (_, version) = release_site(site.path());
        let server = FileServer::start(site.path());
        Install {
            _site: site,
            server,
            prefix: tempfile::tempdir().unwrap(),
            version,
        }
    }

    fn bin(&self) -> PathBuf {
        self.prefix.path().join("bin")
    }
}

/// Runs one recipe command the way a CI agent does: `bash -c` in the checkout, with the
/// recipes' variables pointed at the local release site; only the berth the recipe
/// installed is on PATH.
fn run(dir: &Path, install: &Install, command: &str) -> (i32, String, String) {
    let path = format!(
        "{}:{}",
        install.bin().display(),
        std::env::var("PATH").unwrap()
    );
    assert!(
        !path.contains(
            Path::new(env!("CARGO_BIN_EXE_berth"))
                .parent()
                .unwrap()
                .to_str()
                .unwrap()
        ),
        "the test's own berth must not be on PATH"
    );
    let out = Command::new("bash")
        .args(["-eo", "pipefail", "-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("CI", "true")
        .env("CODEBUILD_BUILD_ID", "bench:1")
        .env("BERTH_VERSION", &install.version)
        .env("BERTH_DOWNLOAD_URL", &install.server.url)
        .env("BERTH_PREFIX", install.prefix.path())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_buildspec_the_jenkinsfile_and_the_report_script_run_as_written() {
    let _rig = Rig::get();
    let dir = example();
    let install = Install::new();

    // buildspec.yml: every phase's commands, in order.
    let text = std::fs::read_to_string(repo().join("examples/ci/buildspec.yml")).unwrap();
    let spec: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(spec["version"], 0.2);
    for var in ["BERTH_VERSION", "BERTH_DOWNLOAD_URL", "BERTH_PREFIX"] {
        assert!(spec["env"]["variables"][var].is_string(), "{var}");
    }
    let mut outputs = Vec::new();
    for phase in ["install", "build", "post_build"] {
        for cmd in spec["phases"][phase]["commands"].as_array().unwrap() {
            let (code, out, err) = run(dir.path(), &install, cmd.as_str().unwrap());
            assert_eq!(code, 0, "{phase}: {cmd}\n{err}");
            assert!(
                !err.contains('\u{1b}'),
                "no escape codes in CI output: {err}"
            );
            outputs.push(out);
        }
        if phase == "install" {
            assert!(
                install.bin().join("berth").is_file(),
                "the install phase installed no berth"
            );
        }
    }
    let report = outputs.last().unwrap();
    for target in ["web-service", "api-stack", "web-k8s"] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with(&format!("{target}\t"))),
            "{report}"
        );
    }
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("berth-result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["command"], "ship");
    assert_eq!(spec["artifacts"]["files"][0], "berth-result.json");

    // Jenkinsfile: the `sh '…'` steps, in order.
    let jenkinsfile = std::fs::read_to_string(repo().join("examples/ci/Jenkinsfile")).unwrap();
    let steps: Vec<&str> = jenkinsfile
        .split("sh '")
        .skip(1)
        .map(|rest| rest.split('\'').next().unwrap())
        .collect();
    assert_eq!(steps.len(), 4, "{steps:?}");
    // A fresh agent: the first step installs berth again, into an empty prefix.
    std::fs::remove_dir_all(install.bin()).unwrap();
    for cmd in steps {
        let (code, _, err) = run(dir.path(), &install, cmd);
        assert_eq!(code, 0, "{cmd}\n{err}");
    }

    // The report script: nothing changed since, so every target is unchanged.
    let script = repo().join("examples/ci/ship-and-report.sh");
    let (code, out, err) = run(dir.path(), &install, script.to_str().unwrap());
    assert_eq!(code, 0, "{err}");
    for target in ["web-service", "api-stack", "web-k8s"] {
        assert!(out.contains(&format!("{target}\tunchanged\t")), "{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("web\t") && l.contains("@sha256:")),
        "{out}"
    );
}

/// docs/ci.md shows the recipes as they are in examples/ci/, so what people copy is what
/// the test above runs.
#[test]
fn the_docs_show_the_recipes_verbatim() {
    let doc = std::fs::read_to_string(repo().join("docs/ci.md")).unwrap();
    for f in ["buildspec.yml", "Jenkinsfile", "ship-and-report.sh"] {
        let text = std::fs::read_to_string(repo().join("examples/ci").join(f)).unwrap();
        assert!(
            doc.contains(text.trim_end()),
            "docs/ci.md does not show examples/ci/{f} as it is"
        );
    }
}
