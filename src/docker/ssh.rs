//! `ssh://` engines, as the docker CLI reaches them: each connection is an `ssh` process
//! running `docker system dial-stdio` on the remote host, which joins its stdin and stdout
//! to the remote engine's socket. berth puts a local unix socket in front (the bridge), so
//! the HTTP client and BuildKit sessions treat the engine like a local one.
//!
//! `ssh` is the system's, with the user's config, keys and agent; `BERTH_SSH_COMMAND`
//! (like git's `GIT_SSH_COMMAND`) replaces it, e.g. `ssh -F ./ssh_config`. One master
//! connection per bridge (`ControlMaster`) carries every stream, so only the first pays
//! the handshake. `BatchMode` makes a missing key an error, not a prompt that hangs CI.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::process::Command;

use crate::error::{Error, ErrorKind, Result};

/// How much of ssh's error output is kept to explain a failure.
const STDERR_KEPT: usize = 2048;

static BRIDGES: AtomicUsize = AtomicUsize::new(0);

/// `ssh://[user@]host[:port]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshDest {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshDest {
    pub fn parse(address: &str) -> Result<SshDest> {
        let bad = || {
            Error::failed(format!("`{address}` is not an ssh address"))
                .with_hint("write ssh://[user@]host[:port]")
        };
        let rest = address.strip_prefix("ssh://").ok_or_else(bad)?;
        let rest = rest.trim_end_matches('/');
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
            None => (hostport, None),
        };
        if host.is_empty() || host.contains('/') || host.starts_with('-') {
            return Err(bad());
        }
        Ok(SshDest {
            user,
            host: host.to_string(),
            port,
        })
    }
}

/// The ssh program and its leading arguments.
fn ssh_command() -> (String, Vec<String>) {
    let text = std::env::var("BERTH_SSH_COMMAND")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "ssh".into());
    let mut words = text.split_whitespace().map(str::to_string);
    let program = words.next().unwrap_or_else(|| "ssh".into());
    (program, words.collect())
}

/// A local socket in front of a remote engine.
pub struct SshBridge {
    dir: PathBuf,
    dest: SshDest,
    stderr: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl SshBridge {
    pub async fn start(address: &str) -> Result<SshBridge> {
        let dest = SshDest::parse(address)?;
        let n = BRIDGES.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("berth-ssh-{}-{n}", std::process::id()));
        let fail = |e: std::io::Error| {
            Error::from_chain(format!("cannot make a local socket for {address}"), &e)
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
        let listener = UnixListener::bind(dir.join("docker.sock")).map_err(fail)?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let args = Arc::new(stream_args(&dest, &dir));
        let kept = stderr.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(pipe(conn, args.clone(), kept.clone()));
            }
        });
        Ok(SshBridge {
            dir,
            dest,
            stderr,
            task,
        })
    }

    pub fn socket_path(&self) -> String {
        self.dir.join("docker.sock").display().to_string()
    }

    /// What ssh said last on its error output (why a connection failed).
    pub fn last_error(&self) -> Option<String> {
        let s = self.stderr.lock().ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    }
}

impl Drop for SshBridge {
    fn drop(&mut self) {
        self.task.abort();
        // The master connection outlives its streams by design; close it with the bridge.
        let (program, mut args) = ssh_command();
        args.extend(control_args(&self.dir));
        args.extend(["-O".into(), "exit".into()]);
        args.extend(dest_args(&self.dest));
        let _ = std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn control_args(dir: &std::path::Path) -> Vec<String> {
    vec![
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        format!("ControlPath={}/cm-%C", dir.display()),
        "-o".into(),
        "ControlPersist=60".into(),
    ]
}

fn dest_args(d: &SshDest) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(u) = &d.user {
        a.extend(["-l".into(), u.clone()]);
    }
    if let Some(p) = d.port {
        a.extend(["-p".into(), p.to_string()]);
    }
    a.extend(["--".into(), d.host.clone()]);
    a
}

/// The arguments of one stream: batch mode, the shared master, the remote command.
fn stream_args(d: &SshDest, dir: &std::path::Path) -> Vec<String> {
    let (_, mut args) = ssh_command();
    args.extend(["-o".into(), "BatchMode=yes".into()]);
    args.extend(control_args(dir));
    args.extend(dest_args(d));
    args.extend(["docker".into(), "system".into(), "dial-stdio".into()]);
    args
}

/// Joins one local connection to one `ssh … docker system dial-stdio`.
async fn pipe(conn: UnixStream, args: Arc<Vec<String>>, kept: Arc<Mutex<String>>) {
    let (program, _) = ssh_command();
    let child = Command::new(&program)
        .args(args.iter())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            if let Ok(mut k) = kept.lock() {
                *k = format!("cannot run `{program}`: {e}");
            }
            return;
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut err)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return;
    };
    let (mut from_client, mut to_client) = conn.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut from_client, &mut stdin).await;
        drop(stdin);
    };
    let down = async {
        let _ = tokio::io::copy(&mut stdout, &mut to_client).await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut to_client).await;
    };
    let errors = async {
        let mut buf = Vec::new();
        let _ = (&mut err).take(64 * 1024).read_to_end(&mut buf).await;
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if !text.is_empty()
            && let Ok(mut k) = kept.lock()
        {
            let start = text.len().saturating_sub(STDERR_KEPT);
            let start = (start..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            *k = text[start..].to_string();
        }
    };
    // The stream is over when the engine's side is: the client may keep its half open.
    tokio::select! {
        _ = async { tokio::join!(down, errors) } => {}
        _ = async { up.await; std::future::pending::<()>().await } => {}
    }
    let _ = child.kill().await;
}

/// An ssh failure as an error of the engine.
pub fn unreachable(label: &str, said: Option<String>) -> Error {
    let mut e = Error::failed(format!("no Docker daemon answers at {label}"))
        .with_kind(ErrorKind::Unreachable);
    if let Some(s) = said {
        e = e.with_causes(vec![format!("ssh said: {s}")]);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_addresses_parse_like_the_docker_cli() {
        assert_eq!(
            SshDest::parse("ssh://builder@10.0.0.7:2222").unwrap(),
            SshDest {
                user: Some("builder".into()),
                host: "10.0.0.7".into(),
                port: Some(2222)
            }
        );
        assert_eq!(
            SshDest::parse("ssh://build1").unwrap(),
            SshDest {
                user: None,
                host: "build1".into(),
                port: None
            }
        );
        assert!(SshDest::parse("ssh://-oProxyCommand=x").is_err());
        assert!(SshDest::parse("ssh://host:notaport").is_err());
        assert!(SshDest::parse("tcp://host").is_err());
    }
}
