//! Installing berth the way CI jobs will: the release tarball `scripts/release` built, served
//! from a local HTTP server laid out as the release site, installed by `scripts/install.sh`
//! into a fresh prefix; a corrupted download and an unknown platform refused. Then the
//! binary's C library needs, and berth's container image, built by berth.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::{FileServer, Project, Rig, release_site, sh};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sh scripts/install.sh ARGS` with `env` set.
fn install(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(repo().join("scripts/install.sh")).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env_remove("BERTH_VERSION").output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_installer_installs_the_release_into_a_fresh_prefix_and_it_validates_the_quick_start() {
    let site = tempfile::tempdir().unwrap();
    let (_, version) = release_site(site.path());
    let server = FileServer::start(site.path());
    let prefix = tempfile::tempdir().unwrap();
    let prefix = prefix.path().join("fresh");
    let started = std::time::Instant::now();
    let out = install(
        &[
            "--base-url",
            &server.url,
            "--prefix",
            prefix.to_str().unwrap(),
        ],
        &[],
    );
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("installed berth {version} (")),
        "{stderr}"
    );
    // Not on PATH: the installer says how to put it there.
    assert!(stderr.contains("is not on PATH"), "{stderr}");
    eprintln!("install from the local server took {} ms", took.as_millis());

    let berth = prefix.join("bin/berth");
    let v = Command::new(&berth).arg("--version").output().unwrap();
    assert!(text(&v.stdout).starts_with(&format!("berth {version} (")));
    let validate = Command::new(&berth)
        .args(["-f", "examples/quickstart/berth.yaml", "validate"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(validate.status.success(), "{}", text(&validate.stderr));
    assert!(text(&validate.stdout).contains("is valid"));
    for f in [
        "share/man/man1/berth.1",
        "share/man/man1/berth-ship.1",
        "share/bash-completion/completions/berth",
        "share/zsh/site-functions/_berth",
        "share/fish/vendor_completions.d/berth.fish",
    ] {
        assert!(prefix.join(f).is_file(), "{f} was not installed");
    }

    // A pinned version, again over the installed one (CI re-runs on a cached machine).
    let again = install(
        &[
            "--base-url",
            &server.url,
            "--prefix",
            prefix.to_str().unwrap(),
            "--version",
            &format!("v{version}"),
        ],
        &[],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    // A version that was never released: named, nothing touched.
    let missing = install(
        &[
            "--base-url",
            &server.url,
            "--prefix",
            prefix.to_str().unwrap(),
            "--version",
            "9.9.9",
        ],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("cannot download"),
        "{}",
        text(&missing.stderr)
    );
    assert!(berth.is_file());
}

#[test]
fn a_corrupted_download_is_refused_and_nothing_is_installed() {
    let site = tempfile::tempdir().unwrap();
    let (_, version) = release_site(site.path());
    let tarball = site.path().join(format!(
        "download/v{version}/berth-{version}-x86_64-unknown-linux-gnu.tar.gz"
    ));
    let mut bytes = std::fs::read(&tarball).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&tarball, bytes).unwrap();
    let server = FileServer::start(site.path());
    let prefix = tempfile::tempdir().unwrap();
    let out = install(
        &[
            "--base-url",
            &server.url,
            "--prefix",
            prefix.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert!(stderr.contains("nothing was installed"), "{stderr}");
    assert!(!prefix.path().join("bin").exists());
}

#[test]
fn an_unknown_platform_gets_a_clear_error() {
    // `uname` answering as a SPARC Solaris machine.
    let fake = tempfile::tempdir().unwrap();
    let uname = fake.path().join("uname");
    std::fs::write(
        &uname,
        "#!/bin/sh\ncase \"$1\" in -s) echo SunOS ;; -m) echo sparc64 ;; esac\n",
    )
    .unwrap();
    sh(&["chmod", "+x", uname.to_str().unwrap()]);
    let path = format!(
        "{}:{}",
        fake.path().display(),
        std::env::var("PATH").unwrap()
    );
    let prefix = tempfile::tempdir().unwrap();
    let out = install(
        &[
            "--base-url",
            "http://127.0.0.1:9",
            "--prefix",
            prefix.path().to_str().unwrap(),
        ],
        &[("PATH", &path)],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("berth has no release for SunOS on sparc64"),
        "{stderr}"
    );
    assert!(stderr.contains("cargo install --locked berth"), "{stderr}");
    assert!(!prefix.path().join("bin").exists());
}

/// The binary the release script built asks nothing newer of the C library than glibc 2.17
/// (Amazon Linux 2 has 2.26), and is stripped.
#[test]
fn the_release_binary_needs_glibc_2_17_at_most() {
    let site = tempfile::tempdir().unwrap();
    let (dist, version) = release_site(site.path());
    let binary = dist.join(format!("berth-{version}-x86_64-unknown-linux-gnu/berth"));
    let symbols = sh(&["objdump", "-T", binary.to_str().unwrap()]);
    let mut versions: Vec<(u32, u32)> = symbols
        .split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = v.split('.');
            Some((
                parts.next()?.parse().ok()?,
                parts.next().unwrap_or("0").parse().ok()?,
            ))
        })
        .collect();
    versions.sort();
    let highest = *versions.last().expect("the binary links glibc");
    assert!(
        highest <= (2, 17),
        "needs GLIBC_{}.{}",
        highest.0,
        highest.1
    );
    let sections = sh(&["objdump", "-h", binary.to_str().unwrap()]);
    assert!(
        !sections.contains(".debug_info"),
        "the release binary is not stripped"
    );
    let size = std::fs::metadata(&binary).unwrap().len();
    eprintln!(
        "release binary: {} bytes, highest GLIBC_{}.{}",
        size, highest.0, highest.1
    );
}

/// berth builds its own image (scripts/image/berth.yaml) on the rig's base, and the image
/// runs berth and git, and `berth doctor` against the rig through the host's Docker socket.
#[test]
fn berth_builds_its_own_image_and_it_runs_against_the_hosts_daemon() {
    let rig = Rig::get();
    let site = tempfile::tempdir().unwrap();
    let (dist, version) = release_site(site.path());
    let repository = rig.unique("berth-image");
    let p = Project::new();
    let env = [
        ("BERTH_DIST", dist.to_str().unwrap()),
        ("BERTH_IMAGE_BASE", "busybox:stable"),
        ("BERTH_VERSION", version.as_str()),
        ("BERTH_IMAGE_REPOSITORY", repository.as_str()),
    ];
    let file = repo().join("scripts/image/berth.yaml");
    let build = p.berth_env(&["-f", file.to_str().unwrap(), "build", "-o", "json"], &env);
    build.assert_code(0);
    let image = format!("{repository}:{version}");
    let run = |args: &[&str]| {
        let mut all = vec!["docker", "run", "--rm", "--network", "host"];
        all.extend_from_slice(args);
        sh(&all)
    };
    let v = run(&[&image, "berth", "--version"]);
    assert!(v.starts_with(&format!("berth {version} (")), "{v}");
    assert!(run(&[&image, "git", "--version"]).starts_with("git version"));
    let size: u64 = sh(&["docker", "image", "inspect", "-f", "{{.Size}}", &image])
        .trim()
        .parse()
        .unwrap();
    eprintln!("berth image: {size} bytes");

    // As a CI step: the host's socket mounted, the rig's AWS endpoint and credentials.
    let socket = std::env::var("DOCKER_HOST").unwrap();
    let socket = socket.trim_start_matches("unix://");
    let mut args: Vec<String> = vec![
        "-v".into(),
        format!("{socket}:/var/run/docker.sock"),
        "-e".into(),
        "DOCKER_HOST=unix:///var/run/docker.sock".into(),
    ];
    for k in [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        if let Ok(v) = std::env::var(k) {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
    }
    args.extend([
        image.clone(),
        "berth".into(),
        "doctor".into(),
        "-o".into(),
        "json".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let doc: serde_json::Value = serde_json::from_str(&run(&args)).unwrap();
    let checks = doc["checks"].as_array().unwrap();
    let docker = checks.iter().find(|c| c["name"] == "docker").unwrap();
    assert_eq!(docker["status"], "ok", "{doc}");
    assert!(checks.iter().all(|c| c["status"] != "failed"), "{doc}");
    sh(&["docker", "image", "rm", "-f", &image]);
}
