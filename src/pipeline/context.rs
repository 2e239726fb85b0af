//! The values static `${…}` references expand to: git, build id, timestamp, environment.
//!
//! Git is asked lazily (only when a file uses `${git.*}`), from the pipeline file's folder.
//! CI systems often check out a detached HEAD or no `.git` at all, so the branch and commit
//! fall back to the variables CodeBuild, Jenkins and GitHub Actions set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[derive(Clone, Debug, PartialEq)]
pub struct GitInfo {
    pub sha: String,
    pub short_sha: String,
    pub branch: String,
    pub dirty: bool,
}

/// Everything static interpolation can read. Tests build it with fixed values.
#[derive(Debug)]
pub struct Context {
    dir: PathBuf,
    env: HashMap<String, String>,
    git: OnceLock<Result<GitInfo, String>>,
    timestamp: String,
}

impl Context {
    /// The real context: this process's environment and the git repository around `dir`.
    pub fn from_process(dir: &Path) -> Self {
        Context::new(dir, std::env::vars().collect(), now_stamp())
    }

    pub fn new(dir: &Path, env: HashMap<String, String>, timestamp: String) -> Self {
        Context {
            dir: dir.to_path_buf(),
            env,
            git: OnceLock::new(),
            timestamp,
        }
    }

    /// A context whose git answers are given (for tests).
    pub fn with_git(self, git: Result<GitInfo, String>) -> Self {
        let _ = self.git.set(git);
        self
    }

    pub fn env(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    pub fn git(&self) -> Result<&GitInfo, &str> {
        self.git
            .get_or_init(|| read_git(&self.dir, &self.env))
            .as_ref()
            .map_err(String::as_str)
    }

    /// `${build.id}`: the CI build number, else the timestamp.
    pub fn build_id(&self) -> String {
        [
            "CODEBUILD_BUILD_NUMBER",
            "BUILD_NUMBER",
            "GITHUB_RUN_NUMBER",
        ]
        .iter()
        .find_map(|v| self.env(v).filter(|s| !s.is_empty()))
        .map(str::to_string)
        .unwrap_or_else(|| self.timestamp.clone())
    }

    /// `${timestamp}`: UTC, in a form that is valid in an image tag (`20261122T031500Z`).
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }
}

fn now_stamp() -> String {
    let t = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    t.replace(['-', ':'], "")
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn read_git(dir: &Path, env: &HashMap<String, String>) -> Result<GitInfo, String> {
    let ci = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| env.get(*n).filter(|v| !v.is_empty()).cloned())
    };
    let sha = git(dir, &["rev-parse", "HEAD"])
        .or_else(|| {
            ci(&[
                "CODEBUILD_RESOLVED_SOURCE_VERSION",
                "GIT_COMMIT",
                "GITHUB_SHA",
            ])
        })
        .ok_or_else(|| format!("{} is not in a git repository with a commit", dir.display()))?;
    let branch = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"])
        .or_else(|| {
            ci(&[
                "CODEBUILD_WEBHOOK_HEAD_REF",
                "GIT_BRANCH",
                "BRANCH_NAME",
                "GITHUB_REF_NAME",
            ])
            .map(|b| {
                b.trim_start_matches("refs/heads/")
                    .trim_start_matches("origin/")
                    .to_string()
            })
        })
        .unwrap_or_else(|| "HEAD".to_string());
    // Untracked files count: they go into the build context just like modified ones.
    let dirty = git(dir, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let short_sha = sha.chars().take(7).collect();
    Ok(GitInfo {
        sha,
        short_sha,
        branch,
        dirty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_prefers_ci_numbers() {
        let env = HashMap::from([("BUILD_NUMBER".to_string(), "42".to_string())]);
        let c = Context::new(Path::new("."), env, "T".into());
        assert_eq!(c.build_id(), "42");
        let c = Context::new(Path::new("."), HashMap::new(), "T".into());
        assert_eq!(c.build_id(), "T");
    }

    #[test]
    fn timestamp_is_tag_safe() {
        let t = now_stamp();
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()), "{t}");
    }

    #[test]
    fn outside_git_falls_back_to_ci_variables() {
        let dir = tempfile::tempdir().unwrap();
        let env = HashMap::from([("GITHUB_SHA".to_string(), "0123456789abcdef".to_string())]);
        let c = Context::new(dir.path(), env, "T".into());
        let g = c.git().unwrap();
        assert_eq!(g.short_sha, "0123456");
    }
}
