//! Helpers for end-to-end tests against the local rig (`scripts/rig`).
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Rig {
    pub registry: String,
    pub endpoint: String,
}

impl Rig {
    /// The running rig, from the environment `scripts/rig env` sets. Fails (does not skip)
    /// when it is missing: a skipped end-to-end test proves nothing.
    pub fn get() -> Rig {
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!("{k} is not set: start the rig with `scripts/rig up` and `eval \"$(scripts/rig env)\"`, or run `scripts/test`")
            })
        };
        Rig {
            registry: var("BERTH_RIG_REGISTRY"),
            endpoint: var("AWS_ENDPOINT_URL"),
        }
    }

    /// A name no other test (or earlier run) uses.
    pub fn unique(&self, prefix: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!(
            "{prefix}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// The user and password ECR's authorization token decodes to.
    pub fn ecr_credentials(&self) -> (String, String) {
        let token = aws_text(&[
            "ecr",
            "get-authorization-token",
            "--query",
            "authorizationData[0].authorizationToken",
        ]);
        let decoded = sh_stdin(&["base64", "-d"], token.trim());
        let (u, p) = decoded.split_once(':').expect("token is user:password");
        (u.to_string(), p.to_string())
    }
}

/// Runs a command, returns its stdout; panics with its stderr when it fails.
/// What the aws CLI's `--query` says of stack `stack` (trimmed).
pub fn stack_field(stack: &str, query: &str) -> String {
    aws_text(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        stack,
        "--query",
        query,
    ])
    .trim()
    .to_string()
}

/// The fault proxy's control URL for the requests signed with `key`.
pub fn faults_url(key: &str) -> String {
    format!(
        "{}/_fault/{key}",
        std::env::var("BERTH_RIG_FAULTS").expect("rig env")
    )
}

/// Sets the fault proxy's faults for the requests signed with `key` (fault_proxy.py).
pub fn set_faults(key: &str, json: &str) {
    sh(&["curl", "-sf", "-X", "PUT", "-d", json, &faults_url(key)]);
}

pub fn sh(args: &[&str]) -> String {
    sh_env(args, &[])
}

/// [`sh`] with extra environment variables (another account's credentials).
pub fn sh_env(args: &[&str], env: &[(String, String)]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An aws CLI call's text output, trimmed (`--output text` is added): how tests check end
/// states in the emulator independently of berth.
pub fn aws_text(args: &[&str]) -> String {
    let mut all = vec!["aws"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--output", "text"]);
    sh(&all).trim().to_string()
}

/// The HTTP status code curl gets for a request (`args` are curl's, the URL last).
pub fn http_status(args: &[&str]) -> String {
    let mut all = vec!["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    sh(&all)
}

pub fn sh_stdin(args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A throwaway project folder with a pipeline file and sources.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    /// Runs berth in the project folder (with the rig's environment, inherited).
    pub fn berth(&self, args: &[&str]) -> Run {
        self.berth_env(args, &[])
    }

    pub fn berth_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("CI", "true");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().expect("berth runs"))
    }

    /// berth running in the project with its output piped (for tests that interrupt or race
    /// it); `Run::from(child.wait_with_output()…)` collects it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_env(args, &[])
    }

    pub fn spawn_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("berth starts")
    }
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts that stderr says each of `needles`, showing all of it when it does not.
    pub fn assert_stderr(&self, needles: &[&str]) -> &Self {
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code; stderr:\n{}\nstdout:\n{}",
            self.stderr,
            self.stdout
        );
        self
    }
}

/// Write requests (PUT, POST, PATCH) the registry logged for a repository: layer uploads and
/// manifest PUTs.
/// The registry writes for `repo` after the first `skip`.
pub fn registry_writes_after(repo: &str, skip: usize) -> Vec<String> {
    registry_writes(repo).into_iter().skip(skip).collect()
}

/// The id of a local image (`docker image inspect`).
pub fn image_id(reference: &str) -> String {
    sh(&["docker", "image", "inspect", "-f", "{{.Id}}", reference])
        .trim()
        .to_string()
}

/// Removes a local image and its untagged build steps, as on a fresh machine.
pub fn forget_image(reference: &str) {
    sh(&["docker", "image", "rm", "-f", &image_id(reference)]);
}

pub fn registry_writes(repo: &str) -> Vec<String> {
    let dir = std::env::var("BERTH_RIG_DIR").expect("rig env");
    let log = std::fs::read_to_string(format!("{dir}/registry/registry.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("response completed"))
        .filter(|l| {
            ["PUT", "POST", "PATCH"]
                .iter()
                .any(|m| l.contains(&format!("http.request.method={m} ")))
        })
        .filter(|l| l.contains(&format!("/v2/{repo}/")))
        .map(|l| {
            l.split("http.request.uri=")
                .nth(1)
                .unwrap_or("")
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// AWS API calls the emulator recorded at or after `since` (seconds since the epoch).
pub fn aws_calls_since(since: f64) -> Vec<(String, String)> {
    aws_calls(|r| r["time"].as_f64().unwrap_or(0.0) >= since)
}

/// AWS API calls made with one access key id (give a test's runs a key of their own, and
/// tests running at the same time do not mix).
pub fn aws_calls_with_key(key: &str) -> Vec<(String, String)> {
    aws_calls(|r| r["key"] == key)
}

fn aws_calls(keep: impl Fn(&serde_json::Value) -> bool) -> Vec<(String, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("rig env");
    let body = sh(&["curl", "-sf", &format!("{endpoint}/_rig/requests")]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&body).expect("request log is JSON");
    all.iter()
        .filter(|r| keep(r))
        .map(|r| {
            (
                r["service"].as_str().unwrap_or("").to_string(),
                r["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Calls that change something (everything but Describe*/Get*/List*/BatchGet*).
pub fn writes(calls: &[(String, String)]) -> Vec<String> {
    calls
        .iter()
        .filter(|(_, a)| {
            !["Describe", "Get", "List", "BatchGet", "GET "]
                .iter()
                .any(|p| a.starts_with(p))
        })
        .map(|(s, a)| format!("{s}:{a}"))
        .collect()
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// An ECS cluster, a task definition family at revision 1 and a service of 2 tasks running
/// it, all with names of their own, made in the rig's emulator with the aws CLI.
pub struct EcsService {
    pub cluster: String,
    pub name: String,
    pub family: String,
}

impl EcsService {
    /// `register` and `create` are extra arguments for register-task-definition and
    /// create-service.
    pub fn create(rig: &Rig, containers: &str, register: &[&str], create: &[&str]) -> EcsService {
        Self::create_as(rig, &[], containers, register, create)
    }

    /// [`EcsService::create`] with the credentials of `env` (another account's).
    pub fn create_as(
        rig: &Rig,
        env: &[(String, String)],
        containers: &str,
        register: &[&str],
        create: &[&str],
    ) -> EcsService {
        let sh = |args: &[&str]| sh_env(args, env);
        let (cluster, name, family) = (rig.unique("c"), rig.unique("svc"), rig.unique("fam"));
        sh(&["aws", "ecs", "create-cluster", "--cluster-name", &cluster]);
        let mut args = vec![
            "aws",
            "ecs",
            "register-task-definition",
            "--family",
            &family,
            "--container-definitions",
            containers,
        ];
        args.extend_from_slice(register);
        sh(&args);
        let revision = format!("{family}:1");
        let mut args = vec![
            "aws",
            "ecs",
            "create-service",
            "--cluster",
            &cluster,
            "--service-name",
            &name,
            "--task-definition",
            &revision,
            "--desired-count",
            "2",
        ];
        args.extend_from_slice(create);
        sh(&args);
        EcsService {
            cluster,
            name,
            family,
        }
    }

    /// The task definition the service runs now.
    pub fn task_definition(&self) -> String {
        aws_text(&[
            "ecs",
            "describe-services",
            "--cluster",
            &self.cluster,
            "--services",
            &self.name,
            "--query",
            "services[0].taskDefinition",
        ])
        .trim()
        .to_string()
    }

    pub fn revision(&self, n: u32) -> String {
        format!(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/{}:{n}",
            self.family
        )
    }
}

/// An EKS cluster of its own in the emulator, served by the rig's Kubernetes API test server,
/// with a kubeconfig that `berth eks-token --kubeconfig` wrote (kubectl gets its tokens from
/// berth: no aws CLI in the loop).
pub struct KubeCluster {
    pub name: String,
    dir: tempfile::TempDir,
}

impl KubeCluster {
    pub fn create(rig: &Rig) -> KubeCluster {
        let name = rig.unique("eks");
        sh(&[
            "aws",
            "eks",
            "create-cluster",
            "--name",
            &name,
            "--role-arn",
            "arn:aws:iam::123456789012:role/eks",
            "--resources-vpc-config",
            "subnetIds=subnet-1",
        ]);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["eks-token", &name, "--kubeconfig"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(dir.path().join("kubeconfig"), &out.stdout).unwrap();
        KubeCluster { name, dir }
    }

    pub fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs the real kubectl against the cluster.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .output()
            .expect("kubectl runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// kubectl's stdout; panics when it fails.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert_eq!(r.code, Some(0), "kubectl {args:?}: {}", r.stderr);
        r.stdout
    }

    fn rig_url(path: &str) -> (String, String) {
        let base = std::env::var("BERTH_RIG_KUBE").expect("rig env");
        let dir = std::env::var("BERTH_RIG_DIR").expect("rig env");
        (format!("{base}{path}"), format!("{dir}/kube/ca.crt"))
    }

    /// Every API request the cluster answered: method, path, query, user.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let (url, ca) = Self::rig_url(&format!("/_rig/clusters/{}/requests", self.name));
        let text = sh(&["curl", "-sf", "--cacert", &ca, &url]);
        serde_json::from_str(&text).unwrap()
    }

    /// Writes (not dry runs) since `since`: `PATCH /apis/apps/v1/…`.
    pub fn writes_since(&self, since: f64) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| r["time"].as_f64().unwrap_or(0.0) >= since)
            .filter(|r| r["method"] != "GET" && r["query"]["dryRun"] != "All")
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Makes the cluster's API server fail reads for a while (see kube_server.py, Faults).
    pub fn faults(&self, json: &str) {
        let (url, ca) = Self::rig_url(&format!("/_rig/clusters/{}", self.name));
        let body = format!(r#"{{"faults": {json}}}"#);
        sh(&[
            "curl", "-sf", "--cacert", &ca, "-X", "PUT", "-d", &body, &url,
        ]);
    }

    /// How many requests the injected faults have failed.
    pub fn faults_answered(&self) -> u64 {
        let (url, ca) = Self::rig_url(&format!("/_rig/clusters/{}", self.name));
        let doc: serde_json::Value =
            serde_json::from_str(&sh(&["curl", "-sf", "--cacert", &ca, &url])).unwrap();
        doc["faults"]["answered"].as_u64().unwrap_or(0)
    }

    /// Sets which IAM identities the cluster does not know (401) or lets only read (403).
    pub fn access(&self, unmapped: &[&str], readonly: &[&str]) {
        let (url, ca) = Self::rig_url(&format!("/_rig/clusters/{}", self.name));
        let body = serde_json::json!({"unmapped": unmapped, "readonly": readonly}).to_string();
        sh(&[
            "curl", "-sf", "--cacert", &ca, "-X", "PUT", "-d", &body, &url,
        ]);
    }
}

/// Starts `berth ARGS` in `p` and presses Ctrl-C as soon as its progress shows `line`.
pub fn interrupt_at(p: &Project, args: &[&str], line: &str) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .current_dir(p.path())
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for l in std::io::BufReader::new(stderr).lines() {
        let l = l.unwrap();
        seen.push_str(&l);
        seen.push('\n');
        if l.contains(line) {
            sh(&["kill", "-INT", &child.id().to_string()]);
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    seen
}

/// A static file server on loopback (GET and HEAD, files under `root`, 404 otherwise), in
/// a thread of the test: what a release download site is to the installer.
pub struct FileServer {
    pub url: String,
}

impl FileServer {
    pub fn start(root: &std::path::Path) -> FileServer {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let root = root.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    // The headers, up to the blank line.
                    let mut h = String::new();
                    while reader.read_line(&mut h).is_ok_and(|n| n > 2) {
                        h.clear();
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("");
                    let path = parts.next().unwrap_or("/").split('?').next().unwrap();
                    let file = root.join(path.trim_start_matches('/'));
                    let body = if path.contains("..") {
                        None
                    } else {
                        std::fs::read(&file).ok()
                    };
                    let _ = match body {
                        Some(b) => {
                            let _ = write!(
                                stream,
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                b.len()
                            );
                            if method == "GET" { stream.write_all(&b) } else { Ok(()) }
                        }
                        None => stream.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        ),
                    };
                });
            }
        });
        FileServer { url }
    }
}

/// The release `scripts/release` built (`BERTH_RELEASE_DIST`, set by scripts/test), laid out
/// as the release site the installer downloads from: `download/vV/…` and
/// `latest/download/LATEST`. Fails (does not skip) without it.
pub fn release_site(into: &std::path::Path) -> (std::path::PathBuf, String) {
    let dist = std::path::PathBuf::from(std::env::var("BERTH_RELEASE_DIST").unwrap_or_else(|_| {
        panic!("BERTH_RELEASE_DIST is not set: build the release with `BERTH_DIST=$PWD/dist scripts/release` and export BERTH_RELEASE_DIST=$PWD/dist, or run `scripts/test`")
    }));
    let version = std::fs::read_to_string(dist.join("LATEST"))
        .unwrap()
        .trim()
        .to_string();
    let download = into.join(format!("download/v{version}"));
    let latest = into.join("latest/download");
    std::fs::create_dir_all(&download).unwrap();
    std::fs::create_dir_all(&latest).unwrap();
    for entry in std::fs::read_dir(&dist).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), download.join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(dist.join("LATEST"), latest.join("LATEST")).unwrap();
    std::fs::copy(dist.join("install.sh"), latest.join("install.sh")).unwrap();
    (dist, version)
}

/// A target group in the emulator's default VPC, for `ip` targets on port 8080.
pub fn target_group(rig: &Rig) -> String {
    let vpc = aws_text(&["ec2", "describe-vpcs", "--query", "Vpcs[0].VpcId"]);
    aws_text(&[
        "elbv2",
        "create-target-group",
        "--name",
        &rig.unique("tg"),
        "--protocol",
        "HTTP",
        "--port",
        "8080",
        "--target-type",
        "ip",
        "--vpc-id",
        vpc.trim(),
        "--query",
        "TargetGroups[0].TargetGroupArn",
    ])
    .trim()
    .to_string()
}

/// An IAM role in another account of the rig, trusting the rig's default account (and, with
/// `external_id`, only callers that give it): what that account's administrator would set up.
/// Returns the role's ARN.
pub fn role(account: &str, name: &str, external_id: Option<&str>) -> String {
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole",
    });
    if let Some(id) = external_id {
        statement["Condition"] = serde_json::json!({"StringEquals": {"sts:ExternalId": id}});
    }
    let doc = serde_json::json!({
        "account": account,
        "name": name,
        "trust": {"Version": "2012-10-17", "Statement": [statement]},
    });
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("rig env");
    let out = sh(&[
        "curl",
        "-sf",
        "-XPOST",
        &format!("{endpoint}/_rig/roles"),
        "-d",
        &doc.to_string(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("role JSON");
    v["arn"].as_str().expect("role arn").to_string()
}

/// Credentials of a role (aws sts assume-role with the rig's key), as environment variables
/// for the aws CLI: how a test acts in another account.
pub fn assume(role_arn: &str, external_id: Option<&str>) -> Vec<(String, String)> {
    let mut args = vec![
        "aws",
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        "berth-test",
        "--query",
        "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]",
        "--output",
        "text",
    ];
    if let Some(id) = external_id {
        args.extend(["--external-id", id]);
    }
    let out = sh(&args);
    let parts: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(parts.len(), 3, "{out}");
    vec![
        ("AWS_ACCESS_KEY_ID".into(), parts[0].into()),
        ("AWS_SECRET_ACCESS_KEY".into(), parts[1].into()),
        ("AWS_SESSION_TOKEN".into(), parts[2].into()),
    ]
}

/// The emulator's request log: (service, action, account) of each call a key made.
pub fn aws_calls_by_account(
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Vec<(String, String, String)> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("rig env");
    let body = sh(&["curl", "-sf", &format!("{endpoint}/_rig/requests")]);
    let all: Vec<serde_json::Value> = serde_json::from_str(&body).expect("request log is JSON");
    all.iter()
        .filter(|r| keep(r))
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s("service"), s("action"), s("account"))
        })
        .collect()
}

/// A stack whose one resource holds the image reference it is given (`ImageUri`).
pub const PARAMETER_STACK: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ImageUri: {Type: String}
Resources:
  ImageParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/e2e/${AWS::StackName}/image"
      Type: String
      Value: !Ref ImageUri
"#;

/// A one-container Deployment `web` whose image is `${images.web.ref}`.
pub const WEB_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: ${images.web.ref}
"#;
