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

/// `by_digest` pulled into a daemon that no longer has image `local` (logged in by berth):
/// the same image id.
fn assert_pulls_back_as(p: &Project, by_digest: &str, local: &str) {
    let docker_config = tempfile::tempdir().unwrap();
    let dc = docker_config.path().to_str().unwrap();
    p.berth_env(&["login"], &[("DOCKER_CONFIG", dc)])
        .assert_code(0);
    sh(&["docker", "image", "rm", "-f", local]);
    sh(&["docker", "--config", dc, "pull", "-q", by_digest]);
    assert_eq!(support::image_id(by_digest), local);
}

/// `berth push` again: nothing pushed, no registry write.
fn assert_a_push_writes_nothing(p: &Project, repo: &str, env: &[(&str, &str)]) {
    let before = registry_writes(repo).len();
    let again = p.berth_env(&["push", "-o", "json"], env);
    again.assert_code(0);
    assert_eq!(again.json()["images"][0]["pushed"], false);
    assert_eq!(new_writes(repo, before), Vec::<String>::new());
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
    let by_digest = format!("{uri}@{digest}");
    assert_pulls_back_as(&p, &by_digest, &local);
    let out = sh(&["docker", "run", "--rm", "--network", "none", &by_digest]);
    assert_eq!(out, "first\n");

    // Again, from the pulled image: nothing built, nothing written.
    assert_a_push_writes_nothing(&p, &repo, &env);
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

/// `GET` of a registry path with the rig's ECR credentials, as bytes (via a file: layers are
/// binary).
fn registry_get(rig: &Rig, path: &str, accept: &str) -> Vec<u8> {
    let (user, password) = rig.ecr_credentials();
    let out = tempfile::NamedTempFile::new().unwrap();
    let url = format!("http://{}/v2/{path}", rig.registry);
    sh(&[
        "curl",
        "-sfL",
        "-u",
        &format!("{user}:{password}"),
        "-H",
        &format!("Accept: {accept}"),
        "-o",
        out.path().to_str().unwrap(),
        &url,
    ]);
    std::fs::read(out.path()).unwrap()
}

#[test]
fn zstd_layers_go_up_under_an_oci_manifest_and_decode_to_the_images_diff_ids() {
    use sha2::Digest;
    let rig = Rig::get();
    let (p, repo, cache) = project(&rig, "");
    let env = [("XDG_CACHE_HOME", cache.as_str())];
    p.berth_env(&["push"], &env).assert_code(0);
    assert_eq!(patches(&repo, 0), 5);

    // The same image, wanted with zstd layers: the tag holds it with gzip ones, so it is
    // pushed again (every layer compressed anew; the config is there already).
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("tags: [v1] }", "tags: [v1], compression: zstd }");
    p.write("berth.yaml", &text);
    let run = p.berth_env(&["push", "-o", "json"], &env);
    run.assert_code(0).assert_stderr(&[
        "as gzip layers, docker manifest; pushing it as zstd layers, oci manifest",
    ]);
    assert_eq!(patches(&repo, 5), 5);
    let digest = run.json()["images"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();

    let oci = "application/vnd.oci.image.manifest.v1+json";
    let body = registry_get(&rig, &format!("{repo}/manifests/{digest}"), oci);
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&body))),
        digest
    );
    let m: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(m["mediaType"], oci);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let config_digest = m["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(&registry_get(
        &rig,
        &format!("{repo}/blobs/{config_digest}"),
        "*/*",
    ))
    .unwrap();
    let diff_ids = config["rootfs"]["diff_ids"].as_array().unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), diff_ids.len());
    // Each layer is a zstd stream (several frames) that decodes to the layer's tar.
    for (layer, diff_id) in layers.iter().zip(diff_ids) {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let blob = registry_get(
            &rig,
            &format!("{repo}/blobs/{}", layer["digest"].as_str().unwrap()),
            "*/*",
        );
        assert_eq!(layer["size"], blob.len());
        let tar = zstd::stream::decode_all(&blob[..]).unwrap();
        let got = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar)));
        assert_eq!(got, diff_id.as_str().unwrap());
    }

    // containerd (what EKS and ECS run images with; the rig's daemon runs one) pulls it by
    // digest and unpacks it, which checks every layer it decodes against the config's diff
    // ids. Docker Engine 20.10 itself cannot pull zstd layers (23.0 can).
    let uri = run.json()["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, password) = rig.ecr_credentials();
    let socket = format!(
        "{}/docker/exec/containerd/containerd.sock",
        std::env::var("BERTH_RIG_DIR").unwrap()
    );
    let namespace = rig.unique("zstd").replace(['/', '-'], "_");
    let ctr = |args: &[&str]| {
        let mut all = vec!["ctr", "-a", &socket, "-n", &namespace];
        all.extend_from_slice(args);
        sh(&all)
    };
    let by_digest = format!("{uri}@{digest}");
    let auth = format!("{user}:{password}");
    ctr(&["image", "pull", "--plain-http", "--user", &auth, &by_digest]);
    let snapshots = ctr(&["snapshot", "ls"]);
    assert_eq!(snapshots.matches("Committed").count(), 5, "{snapshots}");
    ctr(&["image", "rm", "--sync", &by_digest]);

    // Pushed again as it is: nothing written (the zstd forms are in the layer cache).
    assert_a_push_writes_nothing(&p, &repo, &env);
}

#[test]
fn an_oci_manifest_on_request_pulls_as_the_same_image_and_daemon_pushes_refuse_zstd() {
    let rig = Rig::get();
    let zstd_repo = rig.unique("e2e/own-push-zstd");
    let (p, repo, cache) = project(
        &rig,
        &format!(
            "  z: {{ context: app, repository: {zstd_repo}, tags: [v1], compression: zstd }}\n"
        ),
    );
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("tags: [v1] }", "tags: [v1], manifest: oci }");
    p.write("berth.yaml", &text);
    let env = [("XDG_CACHE_HOME", cache.as_str())];

    // `--push-via daemon` cannot write zstd layers: refused before anything is built.
    let refused = p.berth_env(&["push", "--push-via", "daemon"], &env);
    refused.assert_code(2).assert_stderr(&[
        "cannot push image(s) `app` (gzip layers, oci manifest), `z` (zstd layers, oci manifest)",
    ]);
    assert_eq!(registry_writes(&repo), Vec::<String>::new());

    let run = p.berth_env(&["push", "app", "-o", "json"], &env);
    run.assert_code(0);
    let doc = run.json();
    let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
    let uri = doc["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let m: serde_json::Value = serde_json::from_slice(&registry_get(
        &rig,
        &format!("{repo}/manifests/{digest}"),
        oci,
    ))
    .unwrap();
    assert_eq!(m["mediaType"], oci);
    let types: Vec<&str> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["application/vnd.oci.image.layer.v1.tar+gzip"; 5]);

    // Docker Engine 20.10 pulls OCI manifests with gzip layers: the same image.
    let local = support::image_id(&format!("{repo}:v1"));
    assert_pulls_back_as(&p, &format!("{uri}@{digest}"), &local);
}

#[test]
fn base_layers_pulled_from_the_registry_are_mounted_not_uploaded_on_a_fresh_machine() {
    let rig = Rig::get();
    let base_repo = rig.unique("e2e/own-push-base");
    let app_repo = rig.unique("e2e/own-push-on-base");
    let p = Project::new();
    let docker_config = tempfile::tempdir().unwrap();
    let dc = docker_config.path().to_str().unwrap();
    // The base: busybox and 3 MiB of noise, pushed by `docker push` (so no berth layer cache
    // knows its blobs), then pulled back: the daemon now knows where it came from.
    let noise: Vec<u8> = (0..(3u32 << 20))
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::create_dir_all(p.path().join("base")).unwrap();
    std::fs::write(p.path().join("base/noise.bin"), noise).unwrap();
    p.write("base/Dockerfile", "FROM busybox:stable\nCOPY noise.bin /noise.bin\n")
        .write("app/top.txt", "first\n")
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  app: {{ context: app, repository: {app_repo}, tags: [v1] }}\n"
            ),
        );
    let base = format!("{}/{base_repo}:v1", rig.registry);
    p.write(
        "app/Dockerfile",
        &format!("FROM {base}\nCOPY top.txt /top.txt\nCMD [\"cat\", \"/top.txt\"]\n"),
    );
    sh(&[
        "docker",
        "build",
        "-q",
        "-t",
        &base,
        p.path().join("base").to_str().unwrap(),
    ]);
    support::aws_text(&["ecr", "create-repository", "--repository-name", &base_repo]);
    p.berth_env(&["login"], &[("DOCKER_CONFIG", dc)])
        .assert_code(0);
    sh(&["docker", "--config", dc, "push", "-q", &base]);
    let base_id = support::image_id(&base);
    sh(&["docker", "image", "rm", "-f", &base_id]);
    sh(&["docker", "--config", dc, "pull", "-q", &base]);

    // A machine with an empty layer cache: the two base layers are mounted from the base's
    // repository; only the app's own layer is uploaded.
    let cache = tempfile::tempdir().unwrap();
    let env = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let run = p.berth_env(&["push", "-o", "json"], &env);
    run.assert_code(0)
        .assert_stderr(&["2 base layer(s) already in the registry"]);
    let writes = registry_writes(&app_repo);
    assert_eq!(patches(&app_repo, 0), 1, "{writes:?}");
    assert_eq!(
        count(&writes, &format!("from={base_repo}")),
        2,
        "{writes:?}"
    );
    let doc = run.json();
    let by_digest = format!(
        "{}@{}",
        doc["images"][0]["repository_uri"].as_str().unwrap(),
        doc["images"][0]["digest"].as_str().unwrap()
    );
    let local = support::image_id(&format!("{app_repo}:v1"));
    assert_pulls_back_as(&p, &by_digest, &local);

    // The push learnt the base layers' sizes in the export: the cache has every layer, in
    // full, and the next change again uploads one layer.
    let entries: Vec<serde_json::Value> = std::fs::read_dir(cache.path().join("berth/layers"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(
        entries.iter().all(|e| e["tar_size"].as_u64() > Some(0)),
        "{entries:?}"
    );
    p.write("app/top.txt", "second\n");
    p.berth_env(&["push"], &env).assert_code(0);
    assert_eq!(patches(&app_repo, 1), 1);
}
