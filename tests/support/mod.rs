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
        let token = sh(&[
            "aws",
            "ecr",
            "get-authorization-token",
            "--query",
            "authorizationData[0].authorizationToken",
            "--output",
            "text",
        ]);
        let decoded = sh_stdin(&["base64", "-d"], token.trim());
        let (u, p) = decoded.split_once(':').expect("token is user:password");
        (u.to_string(), p.to_string())
    }
}

/// Runs a command, returns its stdout; panics with its stderr when it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
