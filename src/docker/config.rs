//! Writing a registry login the way `docker login` does: into the credential helper named by
//! `credsStore` when there is one, else as `auths.<host>.auth` in `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`), written atomically with mode 0600.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::engine::ports::RegistryCredentials;
use crate::error::{Error, Result};

/// Where the docker CLI keeps its configuration (`DOCKER_CONFIG`, else `~/.docker`).
pub fn config_dir() -> PathBuf {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".docker")
        })
}

pub fn config_path() -> PathBuf {
    config_dir().join("config.json")
}

/// Stores the login; returns where it went (a file, or `credential helper NAME`).
pub fn store_login(host: &str, creds: &RegistryCredentials) -> Result<String> {
    let path = config_path();
    let mut config: serde_json::Value = match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t)
            .map_err(|e| Error::from_chain(format!("{} is not valid JSON", path.display()), &e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => {
            return Err(Error::from_chain(
                format!("cannot read {}", path.display()),
                &e,
            ));
        }
    };
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.get(host))
        .or_else(|| config.get("credsStore"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    if let Some(helper) = helper {
        let program = format!("docker-credential-{helper}");
        let mut child = Command::new(&program)
            .arg("store")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::from_chain(
                    format!(
                        "cannot run the credential helper {program} named in {}",
                        path.display()
                    ),
                    &e,
                )
            })?;
        let payload = serde_json::json!({"ServerURL": host, "Username": creds.username, "Secret": creds.password});
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(payload.to_string().as_bytes())
            .map_err(|e| Error::from_chain(format!("{program} store"), &e))?;
        let out = child
            .wait_with_output()
            .map_err(|e| Error::from_chain(format!("{program} store"), &e))?;
        if !out.status.success() {
            return Err(
                Error::failed(format!("{program} could not store the login for {host}"))
                    .with_causes(vec![
                        String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    ]),
            );
        }
        return Ok(format!("credential helper {helper}"));
    }
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.username, creds.password));
    if !config.get("auths").is_some_and(|a| a.is_object()) {
        config["auths"] = serde_json::json!({});
    }
    config["auths"][host] = serde_json::json!({ "auth": auth });
    let dir = path.parent().expect("config path has a folder");
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::from_chain(format!("cannot create {}", dir.display()), &e))?;
    let tmp = dir.join(".config.json.berth-tmp");
    {
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| Error::from_chain(format!("cannot write {}", tmp.display()), &e))?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::from_chain(format!("cannot protect {}", tmp.display()), &e))?;
        f.write_all(
            serde_json::to_string_pretty(&config)
                .expect("json")
                .as_bytes(),
        )
        .map_err(|e| Error::from_chain(format!("cannot write {}", tmp.display()), &e))?;
    }
    std::fs::rename(&tmp, &path)
        .map_err(|e| Error::from_chain(format!("cannot replace {}", path.display()), &e))?;
    Ok(path.display().to_string())
}
