//! `berth build`, `push` and `login` against the rig: the Docker daemon, the registry and the
//! AWS emulator. End states are checked independently of berth, with the aws CLI, `docker`
//! and the registry's own log.

mod support;

use support::{Project, Rig, aws_calls_with_key, aws_text, registry_writes, sh, sh_stdin, writes};

/// A project with one image `app` in a repository of its own.
fn project(rig: &Rig, extra_ecr: &str, tags: &str) -> (Project, String) {
    let repo = rig.unique("e2e/app");
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\nCOPY . /app\nCMD [\"ls\", \"-A\", \"/app\"]\n")
        // Content of its own, so no other test's image has the same content digest.
        .write("app/main.sh", &format!("echo hello from {repo}\n"))
        .write("app/secret.txt", "do not ship\n")
        .write("app/debug.log", "noise\n")
        .write("app/keep.log", "kept\n")
        .write("app/.dockerignore", "secret.txt\n*.log\n!keep.log\n")
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  app:\n    context: app\n    repository: {repo}\n    tags: {tags}\n    ecr:\n      scan_on_push: true\n      tags: {{ team: e2e }}\n{extra_ecr}"
            ),
        );
    (p, repo)
}

#[test]
fn push_is_verifiable_independently_and_a_second_push_changes_nothing() {
    let rig = Rig::get();
    let policy = "      lifecycle_policy:\n        rules:\n          - rulePriority: 1\n            selection: { tagStatus: untagged, countType: sinceImagePushed, countUnit: days, countNumber: 3 }\n            action: { type: expire }\n";
    let (p, repo) = project(&rig, policy, "[t1, stable]");

    let run = p.berth(&["push", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "succeeded");
    let img = &doc["images"][0];
    assert_eq!(img["built"], true);
    assert_eq!(img["pushed"], true);
    let uri = img["repository_uri"].as_str().unwrap().to_string();
    assert_eq!(
        uri,
        format!("{}/{repo}", rig.registry),
        "the URI is ECR's answer"
    );
    let digest = img["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"));

    // ECR (the emulator) lists the image with the same digest under both tags.
    let listed = sh(&[
        "aws",
        "ecr",
        "describe-images",
        "--repository-name",
        &repo,
        "--output",
        "json",
    ]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let details = &listed["imageDetails"][0];
    assert_eq!(details["imageDigest"], digest.as_str());
    let mut tags: Vec<&str> = details["imageTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["stable", "t1"]);

    // Repository settings as the pipeline asked.
    let r = aws_text(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        &repo,
        "--query",
        "repositories[0].imageScanningConfiguration.scanOnPush",
    ]);
    assert_eq!(r.trim(), "True");
    let lp = aws_text(&[
        "ecr",
        "get-lifecycle-policy",
        "--repository-name",
        &repo,
        "--query",
        "lifecyclePolicyText",
    ]);
    assert!(lp.contains("sinceImagePushed"), "{lp}");
    let arn = aws_text(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        &repo,
        "--query",
        "repositories[0].repositoryArn",
    ]);
    let t = aws_text(&[
        "ecr",
        "list-tags-for-resource",
        "--resource-arn",
        arn.trim(),
        "--query",
        "tags[?Key=='team'].Value",
    ]);
    assert_eq!(t.trim(), "e2e");

    // Pull by digest from the registry into a clean daemon state, logged in by `berth login`.
    let docker_config = tempfile::tempdir().unwrap();
    let dc = docker_config.path().to_str().unwrap();
    p.berth_env(&["login"], &[("DOCKER_CONFIG", dc)])
        .assert_code(0);
    let config = std::fs::read_to_string(docker_config.path().join("config.json")).unwrap();
    assert!(config.contains(&rig.registry), "{config}");
    for tag in ["t1", "stable"] {
        let _ = std::process::Command::new("docker")
            .args([
                "rmi",
                "-f",
                &format!("{uri}:{tag}"),
                &format!("{repo}:{tag}"),
            ])
            .output();
    }
    let by_digest = format!("{uri}@{digest}");
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &by_digest])
        .output();
    sh(&["docker", "--config", dc, "pull", "-q", &by_digest]);
    // .dockerignore was honoured: secret.txt and debug.log stayed out, keep.log came in.
    let files = sh(&["docker", "run", "--rm", "--network", "none", &by_digest]);
    let files: Vec<&str> = files.lines().collect();
    assert_eq!(
        files,
        [".dockerignore", "Dockerfile", "keep.log", "main.sh"]
    );

    // Second push: nothing built, no layer uploaded, no manifest PUT, no ECR write.
    let writes_before = registry_writes(&repo);
    let key = format!("AKIAUNCHANGED{}", std::process::id());
    let run = p.berth_env(&["push", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "unchanged");
    assert_eq!(doc["images"][0]["built"], false);
    assert_eq!(doc["images"][0]["pushed"], false);
    assert_eq!(doc["images"][0]["digest"], digest.as_str());
    assert_eq!(
        registry_writes(&repo),
        writes_before,
        "no upload and no manifest PUT"
    );
    let ecr_writes = writes(&aws_calls_with_key(&key));
    assert!(ecr_writes.is_empty(), "no ECR write calls: {ecr_writes:?}");
}

#[test]
fn a_new_tag_for_the_same_content_is_added_without_moving_layers() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "", "[v1]");
    p.berth(&["push"]).assert_code(0);
    // Same content, one more tag (what a new commit that does not touch the image gives).
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("tags: [v1]", "tags: [v1, v2]");
    p.write("berth.yaml", &text);
    let before = registry_writes(&repo);
    let run = p.berth(&["push", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["images"][0]["built"], false);
    assert_eq!(doc["images"][0]["pushed"], true);
    let new = support::registry_writes_after(&repo, before.len());
    assert_eq!(
        new,
        [format!("/v2/{repo}/manifests/v2")],
        "exactly one manifest PUT, no blob upload"
    );
    let tags = aws_text(&[
        "ecr",
        "describe-images",
        "--repository-name",
        &repo,
        "--query",
        "imageDetails[0].imageTags",
    ]);
    let mut tags: Vec<&str> = tags.split_whitespace().collect();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
}

#[test]
fn an_immutable_tag_that_points_elsewhere_is_an_error_naming_both() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "      immutable_tags: true\n", "[release]");
    let first = p.berth(&["push", "-o", "json"]);
    first.assert_code(0);
    let old = first.json()["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    p.write("app/main.sh", "echo changed\n");
    let run = p.berth(&["push"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("tag `release` of {repo} is immutable")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&old),
        "names the digest in the repository:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("this build:        image sha256:"),
        "names this build's image:\n{}",
        run.stderr
    );
    let still = aws_text(&[
        "ecr",
        "describe-images",
        "--repository-name",
        &repo,
        "--query",
        "imageDetails[0].imageDigest",
    ]);
    assert_eq!(still.trim(), old, "the repository is left as it was");
}

#[test]
fn existing_repository_settings_are_brought_in_line() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "", "[v1]");
    sh(&[
        "aws",
        "ecr",
        "create-repository",
        "--repository-name",
        &repo,
        "--image-scanning-configuration",
        "scanOnPush=false",
    ]);
    let run = p.berth(&["push"]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains(&format!("repository {repo}: scan on push: off → on")),
        "{}",
        run.stderr
    );
    let r = aws_text(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        &repo,
        "--query",
        "repositories[0].imageScanningConfiguration.scanOnPush",
    ]);
    assert_eq!(r.trim(), "True");
}

#[test]
fn a_missing_repository_without_create_is_a_clear_error() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "      create: false\n", "[v1]");
    let run = p.berth(&["push"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("ECR repository `{repo}` does not exist")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn a_failing_build_names_the_step_and_its_output() {
    Rig::get();
    let p = Project::new();
    p.write(
        "Dockerfile",
        "FROM busybox:stable\nRUN echo about to fail && exit 3\n",
    )
    .write(
        "berth.yaml",
        "version: 1\nproject: e2e\nimages:\n  broken: { tags: [x] }\n",
    );
    let run = p.berth(&["build", "-o", "json"]);
    run.assert_code(1);
    // The daemon counts berth's LABEL instructions as steps too, hence `2/…`.
    assert!(
        run.stderr
            .contains("image `broken` failed to build at `Step 2/"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(" : RUN echo about to fail && exit 3`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("| about to fail"),
        "shows the last output lines:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("returned a non-zero code: 3"),
        "{}",
        run.stderr
    );
    let doc = run.json();
    assert_eq!(doc["status"], "failed");
    assert!(
        doc["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("failed to build")
    );
}

#[test]
fn a_dockerfile_outside_the_context_builds() {
    Rig::get();
    let p = Project::new();
    p.write("docker/app.Dockerfile", "FROM busybox:stable\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n")
        .write("src/hello.txt", "from outside\n")
        .write("berth.yaml", "version: 1\nproject: e2e\nimages:\n  out:\n    context: src\n    dockerfile: ../docker/app.Dockerfile\n    tags: [x]\n");
    p.berth(&["build"]).assert_code(0);
    let out = sh(&["docker", "run", "--rm", "--network", "none", "e2e/out:x"]);
    assert_eq!(out.trim(), "from outside");
}

#[test]
fn no_docker_daemon_is_a_clear_error() {
    let p = Project::new();
    p.write("Dockerfile", "FROM busybox:stable\n")
        .write("berth.yaml", "version: 1\nimages:\n  a: { tags: [x] }\n");
    let run = p.berth_env(
        &["build"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("no Docker daemon answers at unix:///nonexistent/docker.sock"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: start the Docker daemon"),
        "{}",
        run.stderr
    );
}

#[test]
fn login_can_print_the_password() {
    let rig = Rig::get();
    let (p, _) = project(&rig, "", "[v1]");
    let run = p.berth(&["login", "--print-password"]);
    run.assert_code(0);
    let (_, password) = rig.ecr_credentials();
    assert_eq!(run.stdout.trim(), password);
    // Without the flag the secret never reaches stdout or stderr.
    let dc = tempfile::tempdir().unwrap();
    let run = p.berth_env(
        &["login"],
        &[("DOCKER_CONFIG", dc.path().to_str().unwrap())],
    );
    run.assert_code(0);
    assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
}

#[test]
fn the_scan_gate_stops_on_findings_at_or_above_its_severity() {
    let rig = Rig::get();
    // The emulator's scan reports one HIGH finding, CVE-9999-9999, for any scanned image.
    let (p, _) = project(
        &rig,
        "      scan_gate: { fail_on: HIGH, timeout: 1m }\n",
        "[v1]",
    );
    let run = p.berth(&["push", "-o", "json"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("image `app` is stopped by its scan gate: 1 finding at or above HIGH"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("CVE-9999-9999"), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["images"][0]["pushed"], true, "the push itself happened");
    assert_eq!(doc["images"][0]["findings"][0]["name"], "CVE-9999-9999");
    assert_eq!(doc["images"][0]["findings"][0]["severity"], "HIGH");

    // Accepting the finding by name lets the gate pass.
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("timeout: 1m }", "timeout: 1m, ignore: [CVE-9999-9999] }");
    p.write("berth.yaml", &text);
    let run = p.berth(&["push", "-o", "json"]);
    run.assert_code(0);
    assert_eq!(run.json()["images"][0]["findings"], serde_json::json!([]));
}

#[test]
fn the_scan_gate_passes_findings_below_its_severity() {
    let rig = Rig::get();
    let (p, _) = project(
        &rig,
        "      scan_gate: { fail_on: CRITICAL, timeout: 1m }\n",
        "[v1]",
    );
    let run = p.berth(&["push"]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("scan gate passed: nothing at or above CRITICAL"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dockerfile_syntax_error_points_at_its_line() {
    Rig::get();
    let p = Project::new();
    p.write("Dockerfile", "FROM busybox:stable\nCOPYY a /a\n")
        .write(
            "berth.yaml",
            "version: 1\nproject: e2e\nimages:\n  bad: { tags: [x] }\n",
        );
    let run = p.berth(&["build"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("image `bad`: the Dockerfile has a syntax error"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Dockerfile:2"), "{}", run.stderr);
    assert!(run.stderr.contains("COPYY a /a"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown instruction: COPYY"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_aws_credentials_are_named_as_such() {
    let rig = Rig::get();
    let (p, _) = project(&rig, "", "[v1]");
    let run = p.berth_env(
        &["push"],
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
            ("AWS_CONFIG_FILE", "/nonexistent"),
        ],
    );
    run.assert_code(1);
    assert!(
        run.stderr.contains("no usable AWS credentials"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: set AWS_PROFILE"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_token_per_registry_and_several_regions() {
    let rig = Rig::get();
    let p = Project::new();
    let (a, b, c) = (
        rig.unique("e2e/east-a"),
        rig.unique("e2e/east-b"),
        rig.unique("e2e/west"),
    );
    p.write("a/Dockerfile", &format!("FROM busybox:stable\nLABEL which={a}\n"))
        .write("b/Dockerfile", &format!("FROM busybox:stable\nLABEL which={b}\n"))
        .write("c/Dockerfile", &format!("FROM busybox:stable\nLABEL which={c}\n"))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\ndefaults: {{ region: us-east-1, tags: [v1] }}\nimages:\n  a: {{ context: a, repository: {a} }}\n  b: {{ context: b, repository: {b} }}\n  c: {{ context: c, repository: {c}, region: eu-west-1 }}\n"
            ),
        );
    let key = format!("AKIA{}", std::process::id());
    p.berth_env(&["push"], &[("AWS_ACCESS_KEY_ID", &key)])
        .assert_code(0);
    let tokens = aws_calls_with_key(&key)
        .into_iter()
        .filter(|(_, a)| a == "GetAuthorizationToken")
        .count();
    assert_eq!(tokens, 2, "one token per region, not per image");
    let west = aws_text(&[
        "ecr",
        "describe-images",
        "--region",
        "eu-west-1",
        "--repository-name",
        &c,
        "--query",
        "imageDetails[0].imageTags[0]",
    ]);
    assert_eq!(west.trim(), "v1");
    // The east repositories were made in us-east-1 only.
    let other = std::process::Command::new("aws")
        .args([
            "ecr",
            "describe-repositories",
            "--region",
            "eu-west-1",
            "--repository-names",
            &a,
        ])
        .output()
        .unwrap();
    assert!(!other.status.success());
}

#[test]
fn repository_creation_denied_is_a_clear_error_and_nothing_is_pushed() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "", "[v1]");
    // The rig refuses ECR writes to keys starting AKIARIGDENY (moto checks no permissions).
    let key = format!("AKIARIGDENY{}", std::process::id());
    let run = p.berth_env(&["push"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("creating ECR repository `{repo}`")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("AccessDeniedException"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ecr:CreateRepository"),
        "{}",
        run.stderr
    );
    assert!(registry_writes(&repo).is_empty());
    // Nothing half-made: a run with permission finishes the job.
    p.berth(&["push"]).assert_code(0);
}

#[test]
fn a_registry_that_refuses_the_credentials_is_a_clear_error() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "", "[v1]");
    // The rig hands keys starting AKIARIGBADREG an ECR token the registry does not accept.
    let key = format!("AKIARIGBADREG{}", std::process::id());
    let run = p.berth_env(&["push"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(1);
    assert!(
        run.stderr.contains(&rig.registry),
        "names the registry: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("401") || run.stderr.to_lowercase().contains("unauthorized"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert!(
        registry_writes(&repo).is_empty(),
        "{:?}",
        registry_writes(&repo)
    );
}

#[test]
fn build_secrets_reach_run_steps_but_not_the_image_its_history_or_the_output() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/secrets");
    let p = Project::new();
    p.write(
        "app/Dockerfile",
        "FROM busybox:stable\nRUN --mount=type=secret,id=token sha256sum /run/secrets/token | cut -c1-64 > /token.sha256\nRUN --mount=type=secret,id=api wc -c < /run/secrets/api > /api.len\nCMD [\"cat\", \"/token.sha256\"]\n",
    )
    .write("app/unique.txt", &repo)
    .write("token.txt", "swordfish-file-secret")
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  app:\n    context: app\n    repository: {repo}\n    tags: [v1]\n    network: none\n    secrets:\n      token: {{ file: token.txt }}\n      api: {{ env: E2E_API_KEY }}\n"
        ),
    );
    // The environment variable is checked before anything is built.
    let run = p.berth(&["build"]);
    run.assert_code(1);
    run.assert_stderr(&[
        "build secret `api` comes from the environment variable E2E_API_KEY, which is not set",
    ]);

    let run = p.berth_env(&["push", "-v"], &[("E2E_API_KEY", "swordfish-env-secret")]);
    run.assert_code(0);
    // BuildKit's steps are followed live, as the classic builder's are.
    run.assert_stderr(&[
        "building with BuildKit, secrets: token (from token.txt), api (from $E2E_API_KEY)",
        "[2/3] RUN --mount=type=secret,id=token",
    ]);
    for out in [&run.stdout, &run.stderr] {
        assert!(
            !out.contains("swordfish"),
            "a secret value reached berth's output"
        );
    }
    // The RUN steps saw the values: the file's hash and the variable's length are in the image.
    let image = format!("{}/{repo}:v1", rig.registry);
    let hash = sh(&["docker", "run", "--rm", "--network", "none", &image]);
    let want = sh_stdin(&["sha256sum"], "swordfish-file-secret");
    assert_eq!(hash.trim(), &want[..64]);
    let len = sh(&[
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "cat",
        &image,
        "/api.len",
    ]);
    assert_eq!(len.trim(), "20");
    // …and nothing else has them: not the history, not any layer.
    let history = sh(&["docker", "history", "--no-trunc", &image]);
    assert!(!history.contains("swordfish"), "{history}");
    let saved = std::process::Command::new("docker")
        .args(["save", &image])
        .output()
        .unwrap();
    assert!(saved.status.success());
    assert!(
        !saved.stdout.windows(9).any(|w| w == b"swordfish"),
        "a layer holds a secret"
    );
    // Content-addressed like any build: nothing changed, nothing rebuilt or pushed.
    let again = p.berth_env(
        &["push", "-o", "json"],
        &[("E2E_API_KEY", "swordfish-env-secret")],
    );
    again.assert_code(0);
    assert_eq!(again.json()["status"], "unchanged");
}

#[test]
fn a_failing_buildkit_step_is_named_with_its_last_output() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/secret-fail");
    let p = Project::new();
    p.write(
        "app/Dockerfile",
        "FROM busybox:stable\nRUN --mount=type=secret,id=token echo checking; wc -c < /run/secrets/token; echo giving up; exit 3\n",
    )
    .write("app/unique.txt", &repo)
    .write("token.txt", "swordfish")
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  app:\n    context: app\n    repository: {repo}\n    tags: [v1]\n    network: none\n    secrets: {{ token: {{ file: token.txt }} }}\n"
        ),
    );
    let run = p.berth(&["build"]);
    run.assert_code(1);
    run.assert_stderr(&[
        "image `app`: step `[2/2] RUN --mount=type=secret,id=token",
        "exit code: 3",
        "last output:",
        "    checking\n    9\n    giving up",
    ]);
    assert!(!run.stderr.contains("swordfish"));
}

/// A daemon that speaks only an old API (a stand-in answering every request as Docker 1.0
/// would answer /version): refused with the versions named, before anything is sent.
#[test]
fn a_daemon_too_old_is_a_clear_error() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = r#"{"Version":"1.0.0","ApiVersion":"1.12","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.12\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let p = Project::new();
    p.write("Dockerfile", "FROM busybox:stable\n")
        .write("berth.yaml", "version: 1\nimages:\n  a: { tags: [x] }\n");
    let host = format!("tcp://127.0.0.1:{port}");
    let run = p.berth_env(&["build"], &[("DOCKER_HOST", &host)]);
    run.assert_code(1);
    run.assert_stderr(&[
        &format!("the Docker daemon at {host} is too old (API 1.12; berth needs 1.24 or newer)"),
        "hint: upgrade Docker Engine",
    ]);
}

#[test]
fn expired_aws_credentials_are_named_as_such() {
    let rig = Rig::get();
    let (p, repo) = project(&rig, "", "[v1]");
    // The rig answers keys starting AKIARIGEXPIRED as AWS answers an expired session.
    let key = format!("AKIARIGEXPIRED{}", std::process::id());
    let run = p.berth_env(&["push"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(1);
    run.assert_stderr(&[
        "ExpiredTokenException",
        "hint: the AWS credentials have expired",
    ]);
    assert!(registry_writes(&repo).is_empty());
}

/// A build arg whose name says it is a secret is warned about: build args stay in the
/// image's history, where `docker history` shows them.
#[test]
fn a_secret_looking_build_arg_is_warned_about() {
    let rig = Rig::get();
    let p = Project::new();
    let repo = rig.unique("e2e/args");
    p.write("app/Dockerfile", "FROM busybox:stable\nARG DB_PASSWORD\nARG VERSION\nRUN true\n")
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  app:\n    context: app\n    repository: {repo}\n    tags: [v1]\n    build_args: {{ DB_PASSWORD: hunter2, VERSION: \"1\" }}\n"
            ),
        );
    let run = p.berth(&["build"]);
    run.assert_code(0)
        .assert_stderr(&["build arg `DB_PASSWORD` looks like a secret", "secrets:"]);
    assert!(
        !run.stderr.contains("`VERSION` looks like"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
}

/// A sparse file in the build context (a preallocated database, a copied binary) builds:
/// the daemon's classic builder refuses GNU sparse tar entries, so berth sends it whole.
#[test]
fn a_sparse_file_in_the_context_builds() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/sparse");
    let p = Project::new();
    p.write(
        "Dockerfile",
        "FROM busybox:stable\nCOPY sparse.bin /sparse.bin\n",
    )
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  app: {{ repository: {repo}, tags: [v1] }}\n"
        ),
    );
    // 8 MiB with one byte at the end: a hole the file system does not store.
    let f = std::fs::File::create(p.path().join("sparse.bin")).unwrap();
    f.set_len(8 << 20).unwrap();
    use std::io::{Seek, Write};
    let mut f = f;
    f.seek(std::io::SeekFrom::End(-1)).unwrap();
    f.write_all(b"x").unwrap();
    drop(f);
    p.berth(&["build"]).assert_code(0);
    let size = sh(&[
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        &format!("{repo}:v1"),
        "wc",
        "-c",
        "/sparse.bin",
    ]);
    assert!(size.trim().starts_with(&(8u64 << 20).to_string()), "{size}");
}
