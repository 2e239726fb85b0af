//! berth's own registry push against the rig's registry and daemon: what it uploads, what it
//! does not upload again, mounts across repositories, and how it checks out with `docker pull`.
//! Writes are counted in the registry's own log.

mod support;

use support::{Project, Rig, registry_writes, sh};

/// A five-layer image (busybox, then four COPY layers, two of them of the same size) in a repository of its own, with a
/// layer cache of its own (so no other test's layers count).
fn project(rig: &Rig, extra_images: &str) -> (Project, String, String) {
    let repo = rig.unique("e2e/own-push");
    let p = Project::new();
    let mut noise = Vec::with_capacity(3 << 20);
    let mut x: u32 = std::process::id();
    for _ in 0..(3 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((x >> 16) as u8);
    }
    std::fs::create_dir_all(p.path().join("app")).unwrap();
    std::fs::write(p.path().join("app/noise.bin"), &noise).unwrap();
    // A second layer of exactly the same size: layers of an export are not always told
    // apart by their size.
    noise.reverse();
    std::fs::write(p.path().join("app/noise2.bin"), &noise).unwrap();
    let text: String = (0..50_000)
        .map(|i| format!("line {i} of {repo}\n"))
        .collect();
    p.write("app/text.txt", &text)
        .write("app/top.txt", "first\n")
        .write(
            "app/Dockerfile",
            "FROM busybox:stable\nCOPY noise.bin /noise.bin\nCOPY noise2.bin /noise2.bin\nCOPY text.txt /text.txt\nCOPY top.txt /top.txt\nCMD [\"cat\", \"/top.txt\"]\n",
        )
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  app: {{ context: app, repository: {repo}, tags: [v1] }}\n{extra_images}"
            ),
        );
    let cache = p.path().join("cache").to_str().unwrap().to_string();
    (p, repo, cache)
}

fn count(writes: &[String], pattern: &str) -> usize {
    writes.iter().filter(|w| w.contains(pattern)).count()
}

/// Writes after the first `skip`, as `METHOD uri` is not in the log: PATCHes are uploads,
/// `mount=` POSTs are mounts.
fn new_writes(repo: &str, skip: usize) -> Vec<String> {
    support::registry_writes_after(repo, skip)
}

fn patches(repo: &str, skip: usize) -> usize {
    let dir = std::env::var("BERTH_RIG_DIR").expect("rig env");
    let log = std::fs::read_to_string(format!("{dir}/registry/registry.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("response completed"))
        .filter(|l| l.contains("http.request.method=PATCH "))
        .filter(|l| l.contains(&format!("/v2/{repo}/")))
        .skip(skip)
        .count()
}

#[test]
fn pushed_layers_pull_by_digest_as_the_daemon_built_them_and_a_re_push_writes_nothing() {
    let rig = Rig::get();
    let (p, repo, cache) = project(&rig, "");
    let env = [("XDG_CACHE_HOME", cache.as_str())];
    let run = p.berth_env(&["push", "-o", "json"], &env);
    run.assert_code(0);
    let doc = run.json();
    let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
    let uri = doc["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    // Every layer went up as one streaming PATCH each; nothing was mounted.
    assert_eq!(patches(&repo, 0), 5, "{:?}", registry_writes(&repo));
    assert_eq!(count(&registry_writes(&repo), "mount="), 0);
    let local = support::image_id(&format!("{repo}:v1"));

    // Pulled into a daemon that no longer has the image: the daemon checks every layer
    // against the config's diff ids, so a pull that works means the same file trees, and
    // the same image id means the same config.
    let docker_config = tempfile::tempdir().unwrap();
    let dc = docker_config.path().to_str().unwrap();
    p.berth_env(&["login"], &[("DOCKER_CONFIG", dc)])
        .assert_code(0);
    sh(&["docker", "image", "rm", "-f", &local]);
    let by_digest = format!("{uri}@{digest}");
    sh(&["docker", "--config", dc, "pull", "-q", &by_digest]);
    assert_eq!(support::image_id(&by_digest), local);
    let out = sh(&["docker", "run", "--rm", "--network", "none", &by_digest]);
    assert_eq!(out, "first\n");

    // Again, from the pulled image: nothing built, nothing written.
    let before = registry_writes(&repo).len();
    let again = p.berth_env(&["push", "-o", "json"], &env);
    again.assert_code(0);
    assert_eq!(again.json()["images"][0]["pushed"], false);
    assert_eq!(new_writes(&repo, before), Vec::<String>::new());
}

#[test]
fn a_top_layer_change_uploads_one_layer_and_another_repository_mounts_them() {
    let rig = Rig::get();
    let copy = rig.unique("e2e/own-push-copy");
    let (p, repo, cache) = project(
        &rig,
        &format!("  copy: {{ context: app, repository: {copy}, tags: [v1] }}\n"),
    );
    let env = [("XDG_CACHE_HOME", cache.as_str())];
    p.berth_env(&["push", "app"], &env).assert_code(0);
    assert_eq!(patches(&repo, 0), 5);

    // Only the top layer changes: one layer compressed and uploaded, then the config and
    // the manifest.
    p.write("app/top.txt", "second\n");
    let (writes, uploads) = (registry_writes(&repo).len(), patches(&repo, 0));
    let run = p.berth_env(&["push", "app", "-o", "json"], &env);
    run.assert_code(0);
    let app_digest = run.json()["images"][0]["digest"].clone();
    assert_eq!(
        patches(&repo, uploads),
        1,
        "{:?}",
        new_writes(&repo, writes)
    );
    let new = new_writes(&repo, writes);
    assert_eq!(count(&new, "/manifests/v1"), 1, "{new:?}");

    // The same image in another repository of the registry: every layer is mounted from
    // the first one, none uploaded.
    let run = p.berth_env(&["push", "copy", "-o", "json"], &env);
    run.assert_code(0);
    let writes = registry_writes(&copy);
    assert_eq!(patches(&copy, 0), 0, "{writes:?}");
    assert_eq!(count(&writes, "mount="), 5, "{writes:?}");
    assert!(
        writes.iter().any(|w| w.contains(&format!("from={repo}"))),
        "{writes:?}"
    );
    // The same blobs and config make the same manifest.
    assert_eq!(run.json()["images"][0]["digest"], app_digest);
}

#[test]
fn an_immutable_repository_takes_pushes_of_new_tags() {
    let rig = Rig::get();
    let (p, repo, cache) = project(&rig, "");
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace(
            "tags: [v1] }",
            "tags: [v1], ecr: { immutable_tags: true } }",
        );
    p.write("berth.yaml", &text);
    let env = [("XDG_CACHE_HOME", cache.as_str())];
    p.berth_env(&["push"], &env).assert_code(0);
    let mutability = support::aws_text(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        &repo,
        "--query",
        "repositories[0].imageTagMutability",
    ]);
    assert_eq!(mutability.trim(), "IMMUTABLE");
    // A new commit's image under a new tag: one layer goes up, the old tag stays.
    p.write("app/top.txt", "second\n");
    p.write("berth.yaml", &text.replace("tags: [v1]", "tags: [v2]"));
    let uploads = patches(&repo, 0);
    p.berth_env(&["push"], &env).assert_code(0);
    assert_eq!(patches(&repo, uploads), 1);
}

/// The registry's fault proxy for `repo` (registry_proxy.py).
fn registry_faults(repo: &str) -> String {
    format!(
        "{}/_fault/{}",
        std::env::var("BERTH_RIG_REGISTRY_FAULTS").expect("rig env"),
        repo.replace('/', "%2F")
    )
}

#[test]
fn a_registry_cut_off_mid_upload_is_retried_then_named_and_a_rerun_finishes() {
    let rig = Rig::get();
    let (p, repo, cache) = project(&rig, "");
    // This key's registry is the fault proxy in front of the rig's registry.
    let key = format!("AKIARIGREGFAULT{}", std::process::id());
    let env = [
        ("XDG_CACHE_HOME", cache.as_str()),
        ("AWS_ACCESS_KEY_ID", key.as_str()),
    ];

    // One upload cut off after 256 KiB: the push starts again by itself and finishes.
    sh(&[
        "curl",
        "-sf",
        "-X",
        "PUT",
        "-d",
        r#"{"drop_upload_after": 262144, "count": 1}"#,
        &registry_faults(&repo),
    ]);
    let run = p.berth_env(&["push", "-o", "ndjson"], &env);
    run.assert_code(0);
    assert!(
        run.stdout.contains("trying again in"),
        "the retry is shown: {}",
        run.stdout
    );
    let stats: serde_json::Value =
        serde_json::from_str(&sh(&["curl", "-sf", &registry_faults(&repo)])).unwrap();
    // (Uploads that run at the same time may each have been cut.)
    assert!(stats["dropped"].as_u64().unwrap() >= 1, "{stats}");

    // A registry that cuts every upload off: a clear failure, in bounded time, that says
    // what to do; then, the registry back, a re-run finishes and uploads only what is missing.
    p.write("app/top.txt", "second\n");
    sh(&[
        "curl",
        "-sf",
        "-X",
        "PUT",
        "-d",
        r#"{"drop_upload_after": 64, "count": 100}"#,
        &registry_faults(&repo),
    ]);
    let started = std::time::Instant::now();
    let run = p.berth_env(&["push"], &env);
    run.assert_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(run.stderr.contains("uploading layer"), "{}", run.stderr);
    assert!(run.stderr.contains("run again"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    sh(&["curl", "-sf", "-X", "DELETE", &registry_faults(&repo)]);
    let uploads = patches(&repo, 0);
    let run = p.berth_env(&["push", "-o", "json"], &env);
    run.assert_code(0);
    assert_eq!(run.json()["images"][0]["pushed"], true);
    // Only the changed top layer was missing.
    assert_eq!(patches(&repo, uploads), 1);
}

#[test]
fn a_registry_cache_lets_a_fresh_machine_reuse_the_branchs_layers() {
    let rig = Rig::get();
    let repo = rig.unique("e2e/reg-cache");
    let p = Project::new();
    p.write(
        "app/Dockerfile",
        "FROM busybox:stable\nRUN date +%s%N > /stamp\nCOPY top.txt /top.txt\nCMD [\"cat\", \"/stamp\"]\n",
    )
    .write("app/top.txt", &format!("{repo} one\n"))
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  app: {{ context: app, repository: {repo}, tags: [v1], registry_cache: \"cache-${{git.branch}}\" }}\n"
        ),
    );
    let cache = p.path().join("cache").to_str().unwrap().to_string();
    let env = [
        ("XDG_CACHE_HOME", cache.as_str()),
        ("GIT_BRANCH", "feature/x"),
        ("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
    ];
    let first = p.berth_env(&["push", "-o", "json"], &env);
    first.assert_code(0);
    let uri = first.json()["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let digest = first.json()["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    // The cache tag (made a valid tag) points at what was pushed.
    let cached = support::aws_text(&[
        "ecr",
        "describe-images",
        "--repository-name",
        &repo,
        "--image-ids",
        "imageTag=cache-feature-x",
        "--query",
        "imageDetails[0].imageDigest",
    ]);
    assert_eq!(cached.trim(), digest);
    let stamp = sh(&["docker", "run", "--rm", &format!("{repo}:v1")]);

    // A fresh machine: the image and its build steps are gone from the daemon.
    support::forget_image(&format!("{repo}:v1"));
    p.write("app/top.txt", &format!("{repo} two\n"));
    p.write(
        "berth.yaml",
        &std::fs::read_to_string(p.path().join("berth.yaml"))
            .unwrap()
            .replace("[v1]", "[v2]"),
    );
    let second = p.berth_env(&["push", "-o", "ndjson"], &env);
    second.assert_code(0);
    assert!(
        second
            .stdout
            .contains(&format!("pulling the build cache {uri}:cache-feature-x")),
        "{}",
        second.stdout
    );
    // The RUN step came from the cache: the same stamp.
    assert_eq!(sh(&["docker", "run", "--rm", &format!("{repo}:v2")]), stamp);
}
