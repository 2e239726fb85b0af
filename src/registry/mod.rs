//! A small OCI distribution client: read manifests and image configs, re-tag a manifest.
//!
//! berth uses it to decide what is already in the registry before building or pushing (the
//! Docker daemon cannot answer that), and to learn the digest of what was pushed (bollard's
//! push stream does not carry it). ECR takes HTTP Basic auth with the user and password that
//! its authorization token decodes to; blob reads may redirect to S3, which is followed
//! without the credentials.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::engine::ports::{
    RegistryCredentials, RegistryEndpoint, RegistryPlace, RegistryReader, RemoteManifest,
};
use crate::error::{Error, ErrorKind, Result};

const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

mod bases;
mod codec;
mod copy;
pub mod gzip;
pub mod layers;
pub mod push;
mod spool;
mod upload;

/// Where one push goes.
#[derive(Clone)]
struct Dest {
    ep: RegistryEndpoint,
    creds: RegistryCredentials,
    repo: String,
    format: crate::engine::ports::PushFormat,
}

pub struct RegistryClient {
    http: reqwest::Client,
    /// For blob uploads: no limit on the whole request (a layer may take minutes), but on
    /// a registry that stops answering.
    upload: reqwest::Client,
}

impl RegistryClient {
    pub fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Error::from_chain("cannot set up an HTTP client", &e))?;
        let upload = reqwest::Client::builder()
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Error::from_chain("cannot set up an HTTP client", &e))?;
        Ok(RegistryClient { http, upload })
    }

    fn url(ep: &RegistryEndpoint, repo: &str, kind: &str, reference: &str) -> String {
        format!(
            "{}/v2/{repo}/{kind}/{reference}",
            ep.base_url.trim_end_matches('/')
        )
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
        ep: &RegistryEndpoint,
    ) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| {
            let how = if e.is_connect() {
                "could not be reached"
            } else if e.is_timeout() {
                "did not answer in time"
            } else {
                "dropped the connection"
            };
            // The URL says nothing the message does not, and an upload's carries state.
            let e = e.without_url();
            Error::from_chain(format!("{what}: the registry {} {how}", ep.host), &e)
                .with_kind(ErrorKind::Unreachable)
        })?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            return Err(Error::failed(format!("{what}: the registry {} refused the credentials ({})", ep.host, resp.status())).with_kind(ErrorKind::Credentials)
                .with_hint("the credentials come from ECR's GetAuthorizationToken; check that the identity may read and push this repository"));
        }
        Ok(resp)
    }
}

async fn failure(what: &str, resp: reqwest::Response) -> Error {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    let kind = if status.is_server_error() {
        ErrorKind::ServerError
    } else if status == StatusCode::NOT_FOUND {
        ErrorKind::NotFound
    } else {
        ErrorKind::InvalidRequest
    };
    Error::failed(format!("{what}: the registry answered {status}"))
        .with_causes(vec![body])
        .with_kind(kind)
}

#[async_trait]
impl RegistryReader for RegistryClient {
    async fn manifest(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        reference: &str,
    ) -> Result<Option<RemoteManifest>> {
        let what = format!("reading {repo}:{reference}");
        let req = self
            .http
            .get(Self::url(ep, repo, "manifests", reference))
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Accept", MANIFEST_TYPES);
        let resp = self.send(req, &what, ep).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(failure(&what, resp).await);
        }
        let header_digest = resp
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let media_type = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp
            .bytes()
            .await
            .map_err(|e| Error::from_chain(what.clone(), &e))?
            .to_vec();
        // The digest is the hash of the bytes; trust the bytes over the header.
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
        if let Some(h) = header_digest.filter(|h| h != &digest) {
            return Err(Error::failed(format!(
                "{what}: the registry says {h} but the manifest hashes to {digest}"
            )));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let config_digest = json
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(|d| d.as_str())
            .map(str::to_string);
        let media_type = json
            .get("mediaType")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or(media_type);
        Ok(Some(RemoteManifest {
            digest,
            media_type,
            body,
            config_digest,
        }))
    }

    async fn labels(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        config_digest: &str,
    ) -> Result<BTreeMap<String, String>> {
        let what = format!("reading the image config {config_digest} in {repo}");
        let req = self
            .http
            .get(Self::url(ep, repo, "blobs", config_digest))
            .basic_auth(&creds.username, Some(&creds.password));
        let resp = self.send(req, &what, ep).await?;
        if !resp.status().is_success() {
            return Err(failure(&what, resp).await);
        }
        let json: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| Error::from_chain(what.clone(), &e))?;
        let labels = json
            .get("config")
            .and_then(|c| c.get("Labels"))
            .and_then(|l| l.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(labels)
    }

    async fn copy(
        &self,
        from: &RegistryPlace,
        to: &RegistryPlace,
        digest: &str,
        tag: Option<&str>,
    ) -> Result<u64> {
        self.copy_image(from, to, digest, tag).await
    }

    async fn put_manifest(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        tag: &str,
        m: &RemoteManifest,
    ) -> Result<()> {
        let what = format!("tagging {repo}@{} as {tag}", m.digest);
        let req = self
            .http
            .put(Self::url(ep, repo, "manifests", tag))
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Type", &m.media_type)
            .body(m.body.clone());
        let resp = self.send(req, &what, ep).await?;
        if !resp.status().is_success() {
            return Err(failure(&what, resp).await);
        }
        Ok(())
    }
}
