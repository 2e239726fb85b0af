//! Builds beyond one machine, against real engines: the rig's own dockerd, a second one as
//! a remote builder (TCP with TLS client certificates, and over SSH through the rig's sshd),
//! and, for the builder that dies mid-build, a dockerd this test starts and kills.
//!
//! The arm64 builder of the multi-platform test is the remote amd64 engine declared
//! `linux/arm64`: this machine cannot run arm64 code, and the Dockerfile needs none (FROM
//! scratch), so the engine writes a true arm64 image config without emulation.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{PARAMETER_STACK, Project, Rig, sh};

fn remote() -> String {
    std::env::var("BERTH_RIG_REMOTE_DOCKER").expect("rig env (BERTH_RIG_REMOTE_DOCKER)")
}

fn certs(which: &str) -> String {
    format!(
        "{}/remote/{which}",
        std::env::var("BERTH_RIG_DIR").expect("rig env")
    )
}

/// A `builders:` entry for the remote engine over TLS.
fn tls_builder(name: &str, platform: &str, certs_dir: &str, concurrency: u32) -> String {
    format!(
        "  {name}:\n    host: {}\n    tls: {certs_dir}\n    platform: {platform}\n    concurrency: {concurrency}\n",
        remote()
    )
}

/// Six images of one context, told apart by a build arg; each build waits in a RUN step
/// (as a build that fetches or compiles would), so two engines finish sooner than one.
fn six_images(p: &Project, repo: &str, seed: &str, builder: &str) -> String {
    p.write(
        "app/Dockerfile",
        "FROM busybox:stable\nARG N\nRUN sleep 2 && echo \"$N\" > /n\nCOPY hello.txt /hello.txt\n",
    )
    .write("app/hello.txt", seed);
    (1..=6)
        .map(|i| {
            format!(
                "  i{i}: {{ context: app, repository: {repo}-{i}, tags: [v1], builder: {builder}, build_args: {{ N: \"{seed}-{i}\" }} }}\n"
            )
        })
        .collect()
}

fn builders_of(doc: &serde_json::Value) -> Vec<String> {
    doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["builds"].as_array().unwrap().clone())
        .map(|b| b["builder"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn six_images_are_spread_over_two_engines_and_pushed_from_each() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/pool");
    let p = Project::new();
    let images = six_images(&p, &repo, &rig.unique("seed"), "both");
    let file = format!(
        "version: 1\nproject: e2e\nbuilders:\n  default:\n    concurrency: 1\n{}pools:\n  both: [default, remote]\nimages:\n{images}",
        tls_builder("remote", "linux/amd64", &certs("client"), 1)
    );
    p.write("berth.yaml", &file);
    let started = Instant::now();
    let run = p.berth(&["push", "-o", "json"]);
    let two = started.elapsed();
    run.assert_code(0);
    let doc = run.json();
    let used = builders_of(&doc);
    assert_eq!(used.len(), 6, "{used:?}");
    for b in ["default", "remote"] {
        assert!(used.iter().any(|u| u == b), "builder {b} unused: {used:?}");
    }
    // Each image went to the registry, whichever engine built it (berth's own push reads
    // the layers from that engine).
    for i in doc["images"].as_array().unwrap() {
        assert_eq!(i["pushed"], true, "{i}");
        assert!(i["digest"].as_str().unwrap().starts_with("sha256:"));
    }
    run.assert_stderr(&[
        "building on `remote` (tcp://127.0.0.1",
        "building on `default`",
    ]);

    // The same six builds (new content) on one engine, for the log: the figure to compare
    // is in benches/builders.sh, not asserted here.
    let one = Project::new();
    let images = six_images(&one, &rig.unique("e2e/one"), &rig.unique("seed"), "default");
    one.write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nbuilders:\n  default:\n    concurrency: 1\nimages:\n{images}"
        ),
    );
    let started = Instant::now();
    one.berth(&["build"]).assert_code(0);
    eprintln!(
        "six builds and pushes: {:.1}s on two engines; six builds on one engine: {:.1}s",
        two.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_daemon_push_works_from_a_remote_engine() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/remote-daemon");
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\nCOPY hello.txt /hello.txt\n")
        .write("app/hello.txt", &repo)
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nbuilders:\n{}images:\n  app: {{ context: app, repository: {repo}, tags: [v1], builder: remote, push_via: daemon }}\n",
                tls_builder("remote", "linux/amd64", &certs("client"), 1)
            ),
        );
    let run = p.berth(&["push", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(builders_of(&doc), ["remote"]);
    assert_eq!(doc["images"][0]["pushed"], true);
    // The image is on the remote engine, not on the local one.
    let uri = format!("{}/{repo}:v1", rig.registry);
    let remote_sock = std::env::var("BERTH_RIG_REMOTE_SOCK").unwrap();
    sh(&["docker", "-H", &remote_sock, "image", "inspect", &uri]);
    let local = Command::new("docker")
        .args(["image", "inspect", &uri])
        .output()
        .unwrap();
    assert!(!local.status.success(), "the local engine has {uri}");
}

#[test]
fn an_engine_over_ssh_builds_and_pushes() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/ssh");
    let p = Project::new();
    p.write(
        "app/Dockerfile",
        &format!("FROM busybox:stable\nRUN echo {repo} > /how\n"),
    )
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nbuilders:\n  tunnel:\n    host: ssh://berth-rig-ssh\n    platform: linux/amd64\nimages:\n  app: {{ context: app, repository: {repo}, tags: [v1], builder: tunnel }}\n"
            ),
        );
    let ssh = format!(
        "ssh -F {}",
        std::env::var("BERTH_RIG_SSH_CONFIG").expect("rig env")
    );
    let run = p.berth_env(&["push", "-o", "json"], &[("BERTH_SSH_COMMAND", &ssh)]);
    run.assert_code(0);
    assert_eq!(builders_of(&run.json()), ["tunnel"]);
    assert_eq!(run.json()["images"][0]["builds"][0]["built"], true);
    // Without the rig's ssh config the host is unknown to ssh: a clear error, not a hang.
    let run = p.berth_env(&["build"], &[("BERTH_SSH_COMMAND", "ssh -F /dev/null")]);
    run.assert_code(1).assert_stderr(&[
        "no Docker daemon answers at ssh://berth-rig-ssh (builder `tunnel`)",
        "ssh said:",
    ]);

    // A build secret goes through a BuildKit session over the same ssh bridge; a TLS
    // builder cannot open one and says so.
    p.write(
        "sec/Dockerfile",
        &format!("FROM busybox:stable\nRUN --mount=type=secret,id=tok echo {repo} && wc -c < /run/secrets/tok > /len\n"),
    )
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nbuilders:\n  tunnel:\n    host: ssh://berth-rig-ssh\n    platform: linux/amd64\n{}images:\n  sec: {{ context: sec, repository: {repo}-sec, tags: [v1], builder: tunnel, network: none, secrets: {{ tok: {{ env: TOK }} }} }}\n  tls: {{ context: sec2, repository: {repo}-tls, tags: [v1], builder: remote, network: none, secrets: {{ tok: {{ env: TOK }} }} }}\n",
            tls_builder("remote", "linux/amd64", &certs("client"), 1)
        ),
    );
    // (The TLS builder is the same engine: its image is of other content, or it would be
    // found there.)
    p.write(
        "sec2/Dockerfile",
        &format!("FROM busybox:stable\nRUN --mount=type=secret,id=tok echo {repo} tls\n"),
    );
    let env = [("BERTH_SSH_COMMAND", ssh.as_str()), ("TOK", "abcdef")];
    p.berth_env(&["build", "sec"], &env).assert_code(0);
    let remote_sock = std::env::var("BERTH_RIG_REMOTE_SOCK").unwrap();
    let len = sh(&[
        "docker",
        "-H",
        &remote_sock,
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{repo}-sec:v1"),
        "cat",
        "/len",
    ]);
    assert_eq!(len.trim(), "6");
    p.berth_env(&["build", "tls"], &env)
        .assert_code(1)
        .assert_stderr(&["builds with secrets cannot use the engine at tcp://127.0.0.1"]);
}

/// GET on the rig's registry with ECR's credentials.
fn registry_get(rig: &Rig, path: &str, accept: &str) -> serde_json::Value {
    let (user, pass) = rig.ecr_credentials();
    let out = sh(&[
        "curl",
        "-sf",
        "-u",
        &format!("{user}:{pass}"),
        "-H",
        &format!("Accept: {accept}"),
        &format!("http://{}/v2/{path}", rig.registry),
    ]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
}

#[test]
fn a_two_platform_image_is_one_index_with_a_manifest_per_platform() {
    let rig = Rig::get();
    let (repo, stack) = (rig.unique("e2e/multi"), rig.unique("multi-stack"));
    let p = Project::new();
    p.write("app/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n")
        .write("app/hello.txt", &repo)
        .write("infra.yaml", PARAMETER_STACK)
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nbuilders:\n{}images:\n  app: {{ context: app, repository: {repo}, tags: [v1, latest], platforms: [linux/amd64, linux/arm64] }}\ntargets:\n  infra:\n    cloudformation: {{ stack: {stack}, template: infra.yaml, parameters: {{ ImageUri: \"${{images.app.ref}}\" }}, timeout: 1m }}\n",
                tls_builder("graviton", "linux/arm64", &certs("client"), 1)
            ),
        );
    // docker push cannot write an index: refused before anything is built.
    p.berth(&["push", "--push-via", "daemon"])
        .assert_code(2)
        .assert_stderr(&["cannot push image(s) `app` (an image index of 2 platforms)"]);
    let run = p.berth(&["ship", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    let img = &doc["images"][0];
    let builds = img["builds"].as_array().unwrap();
    let on = |platform: &str| {
        builds
            .iter()
            .find(|b| b["platform"] == platform)
            .map(|b| b["builder"].as_str().unwrap().to_string())
    };
    assert_eq!(on("linux/amd64").as_deref(), Some("default"), "{builds:?}");
    assert_eq!(on("linux/arm64").as_deref(), Some("graviton"), "{builds:?}");
    let digest = img["digest"].as_str().unwrap();

    // Pulled back: both tags hold the index the result names, and it names one image per
    // platform whose config says that platform.
    let list = "application/vnd.docker.distribution.manifest.list.v2+json";
    let index = registry_get(&rig, &format!("{repo}/manifests/v1"), list);
    assert_eq!(index["mediaType"], list);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index}");
    let (user, pass) = rig.ecr_credentials();
    let head = sh(&[
        "curl",
        "-sfI",
        "-u",
        &format!("{user}:{pass}"),
        "-H",
        &format!("Accept: {list}"),
        &format!("http://{}/v2/{repo}/manifests/latest", rig.registry),
    ]);
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("docker-content-digest: {digest}")),
        "{head}"
    );
    for (arch, entry) in [("amd64", &manifests[0]), ("arm64", &manifests[1])] {
        assert_eq!(entry["platform"]["architecture"], arch);
        let m = registry_get(
            &rig,
            &format!("{repo}/manifests/{}", entry["digest"].as_str().unwrap()),
            "application/vnd.docker.distribution.manifest.v2+json",
        );
        let config = registry_get(
            &rig,
            &format!("{repo}/blobs/{}", m["config"]["digest"].as_str().unwrap()),
            "*/*",
        );
        assert_eq!(config["architecture"], arch, "{config}");
    }

    // The target deploys the index, by digest.
    let deployed = support::aws_text(&[
        "ssm",
        "get-parameter",
        "--name",
        &format!("/e2e/{stack}/image"),
        "--query",
        "Parameter.Value",
    ]);
    assert!(
        deployed.trim().ends_with(&format!("@{digest}")),
        "{deployed}"
    );

    // Nothing changed on any platform: the plan says so, and nothing is built or pushed.
    let plan = p.berth(&["plan", "-o", "json"]);
    plan.assert_code(0);
    assert_eq!(
        plan.json()["images"][0]["plan"],
        "unchanged",
        "{}",
        plan.stdout
    );
    let again = p.berth(&["push", "-o", "json"]);
    again.assert_code(0);
    let doc = again.json();
    assert_eq!(doc["status"], "unchanged", "{}", again.stderr);
    assert_eq!(doc["images"][0]["digest"], digest);
    assert_eq!(doc["images"][0]["builds"], serde_json::json!([]));
    // One platform changed: a new index.
    p.write("app/hello.txt", "changed");
    let changed = p.berth(&["push", "-o", "json"]).json();
    assert_eq!(changed["status"], "succeeded");
    assert_ne!(changed["images"][0]["digest"], digest);
    let new_index = changed["images"][0]["digest"].as_str().unwrap().to_string();

    // gc keeps or deletes an index whole. The stack runs the newest index and was
    // recorded at the one before (its rollback point): both are kept with their images;
    // the first index, which nothing names any more, goes with its two images.
    p.berth(&["deploy"]).assert_code(0);
    p.write("app/hello.txt", "changed again");
    p.berth(&["ship"]).assert_code(0);
    let gc = p.berth(&[
        "gc",
        "-o",
        "json",
        "--keep-newest",
        "1",
        "--keep-younger-than",
        "0s",
        "--delete",
    ]);
    gc.assert_code(0);
    let doc = gc.json();
    let listed = doc["gc"][0]["images"].as_array().unwrap().clone();
    let action = |d: &str| {
        listed
            .iter()
            .find(|i| i["digest"] == d)
            .map(|i| i["action"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{d} not listed: {doc}"))
    };
    assert_eq!(action(digest), "deleted", "{doc}");
    assert_eq!(action(&new_index), "keep", "{doc}");
    let reasons: Vec<String> = listed
        .iter()
        .filter(|i| i["action"] == "keep")
        .map(|i| i["keep"]["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| *r == "part_of").count(),
        4,
        "{doc}"
    );
    assert_eq!(
        reasons.iter().filter(|r| *r == "in_use").count(),
        2,
        "{doc}"
    );
    for entry in manifests {
        assert_eq!(
            action(entry["digest"].as_str().unwrap()),
            "deleted",
            "{doc}"
        );
    }
    assert_eq!(doc["gc"][0]["deleted"], 3, "{doc}");
    let status = |reference: &str| {
        support::http_status(&[
            "-u",
            &format!("{user}:{pass}"),
            "-H",
            &format!("Accept: {list}"),
            &format!("http://{}/v2/{repo}/manifests/{reference}", rig.registry),
        ])
    };
    assert_eq!(status(digest), "404");
    assert_eq!(status(&new_index), "200");
}

#[test]
fn a_wrong_client_certificate_is_refused_with_a_clear_error() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/wrong-cert");
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nbuilders:\n{}images:\n  app: {{ context: app, repository: {repo}, tags: [v1], builder: remote }}\n",
            tls_builder("remote", "linux/amd64", &certs("wrong"), 1)
        ),
    );
    let run = p.berth(&["build"]);
    run.assert_code(1).assert_stderr(&[
        &format!(
            "error: no Docker daemon answers at {} (builder `remote`)",
            remote()
        ),
        "BadCertificate",
        "hint: the TLS handshake failed",
    ]);
    // `doctor` says the same of that builder (the only one the pipeline uses).
    let doctor = p.berth(&["doctor", "-o", "json"]);
    let doc = doctor.json();
    let check = |name: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {doc}"))
            .clone()
    };
    assert_eq!(check("builder remote")["status"], "failed", "{doc}");
    assert!(
        check("builder remote")["detail"]
            .as_str()
            .unwrap()
            .contains("BadCertificate")
    );
    assert!(
        check("builder remote")["fix"]
            .as_str()
            .unwrap()
            .contains("TLS handshake")
    );
}

/// A dockerd of the test's own (vfs storage: nothing to unmount), killed with its
/// containerd when dropped.
struct DoomedEngine {
    dir: tempfile::TempDir,
    exec: String,
    child: std::process::Child,
}

impl DoomedEngine {
    fn start() -> DoomedEngine {
        let dir = tempfile::tempdir().unwrap();
        // containerd's socket lives under the exec root: keep the path short.
        let exec = format!(
            "/tmp/berth-doomed-{}-{}",
            std::process::id(),
            dir.path().file_name().unwrap().to_string_lossy()
        );
        let sock = format!("unix://{}/d.sock", dir.path().display());
        let child = Command::new("dockerd")
            .args([
                "--host",
                &sock,
                "--data-root",
                &format!("{}/data", dir.path().display()),
                "--exec-root",
                &exec,
                "--pidfile",
                &format!("{}/d.pid", dir.path().display()),
                "--storage-driver",
                "vfs",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("dockerd starts");
        let e = DoomedEngine { dir, exec, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Command::new("docker")
            .args(["-H", &e.sock(), "version"])
            .output()
            .unwrap()
            .status
            .success()
        {
            assert!(
                Instant::now() < deadline,
                "the test's dockerd did not come up"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        let local = std::env::var("DOCKER_HOST").expect("rig env");
        sh(&[
            "sh",
            "-c",
            &format!(
                "docker -H {local} save busybox:stable | docker -H {} load",
                e.sock()
            ),
        ]);
        e
    }

    fn sock(&self) -> String {
        format!("unix://{}/d.sock", self.dir.path().display())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("pkill")
            .args(["-9", "-f", &self.exec])
            .status();
    }
}

impl Drop for DoomedEngine {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.exec);
    }
}

#[test]
fn a_builder_killed_mid_build_is_replaced_by_another_of_its_pool() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/killed");
    let mut doomed = DoomedEngine::start();
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\nARG N\nRUN echo \"$N\" && sleep 6\n").write(
        "berth.yaml",
        &format!(
            // The doomed engine has more free slots, so it is picked first.
            "version: 1\nproject: e2e\nbuilders:\n  default:\n    concurrency: 1\n  doomed:\n    host: {}\n    platform: linux/amd64\n    concurrency: 2\npools:\n  pool: [doomed, default]\nimages:\n  app: {{ context: app, repository: {repo}, tags: [v1], builder: pool, build_args: {{ N: {repo} }} }}\n",
            doomed.sock()
        ),
    );
    let child = p.spawn(&["build", "-o", "json"]);
    // Killed while its RUN step runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ps = Command::new("docker")
            .args(["-H", &doomed.sock(), "ps", "-q"])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&ps.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no build started on the doomed engine"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    doomed.kill();
    let run = support::Run::from(child.wait_with_output().unwrap());
    run.assert_code(0).assert_stderr(&[
        "building on `doomed`",
        "builder `doomed` is unreachable",
        "building `app` on another builder",
        "building on `default`",
    ]);
    assert_eq!(builders_of(&run.json()), ["default"]);
}

#[test]
fn a_docker_context_made_by_the_docker_cli_names_an_engine() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/context");
    let p = Project::new();
    // The docker CLI's own store, in a folder of this test's.
    let config = p.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let dir = certs("client");
    let out = Command::new("docker")
        .env("DOCKER_CONFIG", &config)
        .args([
            "context",
            "create",
            "rig-remote",
            "--docker",
            &format!(
                "host={},ca={dir}/ca.pem,cert={dir}/cert.pem,key={dir}/key.pem",
                remote()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.write(
        "app/Dockerfile",
        &format!("FROM busybox:stable\nRUN echo {repo} > /how\n"),
    )
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nbuilders:\n  ctx:\n    context: rig-remote\n    platform: linux/amd64\nimages:\n  app: {{ context: app, repository: {repo}, tags: [v1], builder: ctx }}\n"
            ),
        );
    let config = config.to_str().unwrap();
    let run = p.berth_env(&["push", "-o", "json"], &[("DOCKER_CONFIG", config)]);
    run.assert_code(0)
        .assert_stderr(&["building on `ctx` (docker context rig-remote)"]);
    assert_eq!(builders_of(&run.json()), ["ctx"]);
    assert_eq!(run.json()["images"][0]["builds"][0]["built"], true);
    // A context that does not exist is named, with where berth looked.
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("context: rig-remote", "context: nope");
    p.write("berth.yaml", &text);
    p.berth_env(&["build"], &[("DOCKER_CONFIG", config)])
        .assert_code(1)
        .assert_stderr(&["there is no docker context `nope`", "docker context ls"]);
}

#[test]
fn two_runs_pushing_one_two_platform_image_at_once_both_succeed_and_agree() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/multi-race");
    let p = Project::new();
    p.write("app/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n")
        .write("app/hello.txt", &repo)
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nbuilders:\n{}images:\n  app: {{ context: app, repository: {repo}, tags: [v1], platforms: [linux/amd64, linux/arm64] }}\n",
                tls_builder("graviton", "linux/arm64", &certs("client"), 1)
            ),
        );
    // Two CI runs of one commit: both build (or find) each platform and push an index;
    // neither fails, and the tag ends on the index one of them reports.
    let a = p.spawn(&["push", "-o", "json"]);
    let b = p.spawn(&["push", "-o", "json"]);
    let runs = [a, b].map(|c| support::Run::from(c.wait_with_output().unwrap()));
    let mut digests = Vec::new();
    for r in &runs {
        r.assert_code(0);
        digests.push(
            r.json()["images"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let list = "application/vnd.docker.distribution.manifest.list.v2+json";
    let (user, pass) = rig.ecr_credentials();
    let head = sh(&[
        "curl",
        "-sfI",
        "-u",
        &format!("{user}:{pass}"),
        "-H",
        &format!("Accept: {list}"),
        &format!("http://{}/v2/{repo}/manifests/v1", rig.registry),
    ])
    .to_ascii_lowercase();
    assert!(
        digests
            .iter()
            .any(|d| head.contains(&format!("docker-content-digest: {d}"))),
        "{head} {digests:?}"
    );
    // A third run finds the content in the registry, whichever index won.
    let again = p.berth(&["push", "-o", "json"]);
    again.assert_code(0);
    assert_eq!(again.json()["status"], "unchanged", "{}", again.stderr);
}
