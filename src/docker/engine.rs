//! Reaching one Docker Engine, the way the docker CLI does: `unix://` sockets, `tcp://` with
//! TLS client certificates, `ssh://` (through [`super::ssh`]), and docker CLI contexts.
//!
//! The default engine follows the CLI's order: `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` and
//! `DOCKER_CERT_PATH`), else `DOCKER_CONTEXT`, else the CLI's current context, else the
//! local socket. A context is read from the CLI's own store (`~/.docker/contexts`), so a
//! builder set up with `docker context create` needs nothing more.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::config::config_dir;
use super::ssh::SshBridge;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::model::EngineEndpoint;

/// Seconds bollard waits for an answer before a request fails (as the docker CLI's
/// default client, long enough for a slow `docker save` to start).
const TIMEOUT: u64 = 120;

/// An engine address with what it takes to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    /// The folder with `ca.pem`, `cert.pem` and `key.pem`, for `tcp://` with TLS.
    pub tls: Option<PathBuf>,
}

/// A connected engine.
pub struct Connected {
    pub client: bollard::Docker,
    /// Where a raw connection goes (a BuildKit session): a `unix://` or plain `tcp://`
    /// address; none for TLS.
    pub raw: Option<String>,
    /// Keeps the ssh bridge (and its socket) alive as long as the client.
    bridge: Option<SshBridge>,
}

impl Connected {
    /// What ssh said on its error output, for an ssh engine that failed.
    pub fn ssh_said(&self) -> Option<String> {
        self.bridge.as_ref().and_then(SshBridge::last_error)
    }
}

/// The address of an endpoint (reading the context store for a context).
pub fn address(endpoint: &EngineEndpoint) -> Result<Address> {
    match endpoint {
        EngineEndpoint::Host { host, tls } => Ok(Address {
            host: host.clone(),
            tls: tls.clone(),
        }),
        EngineEndpoint::Context(name) => context(&config_dir(), name),
        EngineEndpoint::Default => default_address(&config_dir()),
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn default_address(dir: &Path) -> Result<Address> {
    if let Some(host) = env("DOCKER_HOST") {
        let tls = (env("DOCKER_TLS_VERIFY").is_some() && host.starts_with("tcp://")).then(|| {
            env("DOCKER_CERT_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.to_path_buf())
        });
        return Ok(Address { host, tls });
    }
    let current = env("DOCKER_CONTEXT").or_else(|| {
        let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        v.get("currentContext")?.as_str().map(str::to_string)
    });
    match current {
        Some(c) if c != "default" => context(dir, &c),
        _ => Ok(Address {
            host: "unix:///var/run/docker.sock".into(),
            tls: None,
        }),
    }
}

/// A docker CLI context: `contexts/meta/<sha256 of name>/meta.json` holds the host, and
/// `contexts/tls/<same>/docker/` the certificates, if any.
pub fn context(dir: &Path, name: &str) -> Result<Address> {
    let id = hex::encode(Sha256::digest(name.as_bytes()));
    let meta = dir.join("contexts/meta").join(&id).join("meta.json");
    let hint = "list contexts with `docker context ls`; create one with `docker context create NAME --docker host=…`";
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        Error::from_chain(format!("there is no docker context `{name}`"), &e)
            .with_hint(format!("{hint} (looked in {})", meta.display()))
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::from_chain(
            format!(
                "the docker context `{name}` ({}) is not valid JSON",
                meta.display()
            ),
            &e,
        )
    })?;
    let docker = &v["Endpoints"]["docker"];
    let host = docker["Host"]
        .as_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::failed(format!(
                "the docker context `{name}` has no Docker endpoint host"
            ))
            .with_hint(hint)
        })?;
    let tls_dir = dir.join("contexts/tls").join(&id).join("docker");
    let tls = (host.starts_with("tcp://") && tls_dir.join("cert.pem").is_file()).then_some(tls_dir);
    Ok(Address {
        host: host.to_string(),
        tls,
    })
}

/// Whether a bollard error means the engine could not be reached or the connection broke
/// (worth building elsewhere), rather than the engine answering with an error.
pub fn kind_of(e: &bollard::errors::Error) -> ErrorKind {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError { status_code, .. } if *status_code >= 500 => {
            ErrorKind::ServerError
        }
        B::DockerResponseServerError { .. }
        | B::DockerStreamError { .. }
        | B::JsonDataError { .. }
        | B::JsonSerdeError { .. } => ErrorKind::Other,
        _ => ErrorKind::Unreachable,
    }
}

/// Connects (no request yet; the caller asks the version next).
pub async fn connect(addr: &Address, label: &str) -> Result<Connected> {
    let refused = |e: &dyn std::error::Error| -> Error {
        Error::failed(format!("no Docker daemon answers at {label}"))
            .with_causes(vec![e.to_string()])
            .with_kind(ErrorKind::Unreachable)
    };
    let version = bollard::API_DEFAULT_VERSION;
    let host = addr.host.as_str();
    if let Some(path) = host.strip_prefix("unix://") {
        let client =
            bollard::Docker::connect_with_unix(path, TIMEOUT, version).map_err(|e| refused(&e))?;
        return Ok(Connected {
            client,
            raw: Some(host.to_string()),
            bridge: None,
        });
    }
    if host.starts_with("ssh://") {
        let bridge = SshBridge::start(host).await?;
        let client = bollard::Docker::connect_with_unix(&bridge.socket_path(), TIMEOUT, version)
            .map_err(|e| refused(&e))?;
        return Ok(Connected {
            client,
            raw: Some(format!("unix://{}", bridge.socket_path())),
            bridge: Some(bridge),
        });
    }
    if host.starts_with("tcp://") || host.starts_with("http://") || host.starts_with("https://") {
        if let Some(dir) = &addr.tls {
            // rustls needs a process-wide provider when more than one is compiled in.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tcp = host.replacen("https://", "tcp://", 1);
            let client = bollard::Docker::connect_with_ssl(
                &tcp,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                TIMEOUT,
                version,
            )
            .map_err(|e| refused(&e))?;
            return Ok(Connected {
                client,
                raw: None,
                bridge: None,
            });
        }
        let client =
            bollard::Docker::connect_with_http(host, TIMEOUT, version).map_err(|e| refused(&e))?;
        return Ok(Connected {
            client,
            raw: Some(host.to_string()),
            bridge: None,
        });
    }
    Err(
        Error::failed(format!("berth cannot reach an engine at `{host}`"))
            .with_hint("use a unix://, tcp:// or ssh:// address"),
    )
}

/// What to try when an engine does not answer, from what the connection said.
pub fn unreachable_hint(addr: &Address, causes: &str) -> String {
    let c = causes.to_ascii_lowercase();
    if addr.tls.is_some()
        && (c.contains("certificate")
            || c.contains("alert")
            || c.contains("tls")
            || c.contains("handshake"))
    {
        return format!(
            "the TLS handshake failed: the engine must trust the CA that signed {}/cert.pem (dockerd --tlsverify --tlscacert), and {}/ca.pem must be the CA that signed the engine's certificate",
            addr.tls
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            addr.tls
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
    }
    if addr.host.starts_with("ssh://") {
        return "check that `ssh` reaches the host without a prompt (keys or agent, known host key) and that the remote user can run `docker system dial-stdio`".into();
    }
    if addr.host.starts_with("tcp://") && addr.tls.is_none() {
        return "start the engine, or check the address; an engine on tcp:// usually wants TLS (`tls:` with the client certificates)".into();
    }
    "start the Docker daemon (for the local rig: `scripts/rig up`), or point DOCKER_HOST at one"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_is_read_from_the_cli_store() {
        let dir = tempfile::tempdir().unwrap();
        let id = hex::encode(Sha256::digest(b"farm"));
        let meta = dir.path().join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"farm","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let tls = dir.path().join("contexts/tls").join(&id).join("docker");
        std::fs::create_dir_all(&tls).unwrap();
        std::fs::write(tls.join("cert.pem"), "x").unwrap();
        let a = context(dir.path(), "farm").unwrap();
        assert_eq!(a.host, "tcp://10.0.0.5:2376");
        assert_eq!(a.tls, Some(tls));
        let e = context(dir.path(), "nope").unwrap_err().to_string();
        assert!(e.contains("no docker context `nope`"), "{e}");
    }

    #[test]
    fn the_current_context_is_the_default_engine_without_docker_host() {
        let dir = tempfile::tempdir().unwrap();
        let id = hex::encode(Sha256::digest(b"remote"));
        let meta = dir.path().join("contexts/meta").join(&id);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"remote","Endpoints":{"docker":{"Host":"ssh://me@build1"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"remote"}"#,
        )
        .unwrap();
        // Only when DOCKER_HOST and DOCKER_CONTEXT are unset, as in the docker CLI.
        if env("DOCKER_HOST").is_none() && env("DOCKER_CONTEXT").is_none() {
            assert_eq!(default_address(dir.path()).unwrap().host, "ssh://me@build1");
        }
    }
}
