//! The write side of the distribution API, as ECR takes it.
//!
//! A blob goes up in one of two ways only: a monolithic `POST` + `PUT ?digest=` with the whole
//! body (small blobs: configs), or `POST`, one streaming `PATCH` with the whole body, then an
//! empty `PUT ?digest=`. Never several `PATCH` chunks: ECR breaks on them. A blob the
//! registry holds is never sent (`HEAD` first); one in another repository of the registry is
//! mounted, where a `202` answer means "mounting is off here, upload instead".

use bytes::Bytes;
use futures_util::Stream;
use reqwest::StatusCode;

use super::{RegistryClient, failure};
use crate::engine::ports::{RegistryCredentials, RegistryEndpoint};
use crate::error::{Error, ErrorKind, Result};

/// A manifest as berth writes it.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

impl RegistryClient {
    /// Where an upload continues: the registry's `Location`, made absolute.
    fn location(ep: &RegistryEndpoint, resp: &reqwest::Response, what: &str) -> Result<String> {
        let loc = resp
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::failed(format!("{what}: the registry gave no upload location"))
                    .with_kind(ErrorKind::ServerError)
            })?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                format!("{}{loc}", ep.base_url.trim_end_matches('/'))
            },
        )
    }

    fn with_digest(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }

    /// The size of `digest` in `repo`, or None when the registry does not have it there.
    pub async fn blob_size(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        digest: &str,
    ) -> Result<Option<u64>> {
        let what = format!("looking for {digest} in {repo}");
        let req = self
            .http
            .head(Self::url(ep, repo, "blobs", digest))
            .basic_auth(&creds.username, Some(&creds.password));
        let resp = self.send(req, &what, ep).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get("Content-Length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            _ => Err(failure(&what, resp).await),
        }
    }

    /// Mounts `digest` from repository `from` into `repo`; false when the registry would
    /// rather have it uploaded (202: the session it opened is given back).
    pub async fn mount(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        digest: &str,
        from: &str,
    ) -> Result<bool> {
        let what = format!("mounting {digest} from {from} into {repo}");
        let query = format!("?mount={digest}&from={from}");
        let resp = self.post_upload(ep, creds, repo, &query, &what).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                if let Ok(loc) = Self::location(ep, &resp, &what) {
                    let cancel = self
                        .http
                        .delete(loc)
                        .basic_auth(&creds.username, Some(&creds.password));
                    // An abandoned session expires by itself; giving it back is a courtesy.
                    let _ = cancel.send().await;
                }
                Ok(false)
            }
            _ => Err(failure(&what, resp).await),
        }
    }

    /// `POST /v2/<repo>/blobs/uploads/<query>`: opens an upload session, or mounts.
    async fn post_upload(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        query: &str,
        what: &str,
    ) -> Result<reqwest::Response> {
        let url = format!(
            "{}/v2/{repo}/blobs/uploads/{query}",
            ep.base_url.trim_end_matches('/')
        );
        let req = self
            .http
            .post(url)
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Length", "0");
        self.send(req, what, ep).await
    }

    /// Opens an upload session; its location.
    async fn start_upload(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        what: &str,
    ) -> Result<String> {
        let resp = self.post_upload(ep, creds, repo, "", what).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(failure(what, resp).await);
        }
        Self::location(ep, &resp, what)
    }

    /// Uploads a small blob whole (`POST`, then `PUT` with the body).
    pub async fn put_blob(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        digest: &str,
        body: Bytes,
    ) -> Result<()> {
        let what = format!("uploading {digest} to {repo}");
        let loc = self.start_upload(ep, creds, repo, &what).await?;
        let req = self
            .upload
            .put(Self::with_digest(&loc, digest))
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Type", "application/octet-stream")
            .body(body);
        let resp = self.send(req, &what, ep).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(&what, resp).await);
        }
        Ok(())
    }

    /// Uploads a blob as it is produced: one streaming `PATCH`, then `PUT ?digest=` with the
    /// digest `digest` gives once the stream has ended (it is only known then).
    pub async fn stream_blob<S>(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        what: &str,
        body: S,
        digest: impl std::future::Future<Output = Result<String>>,
    ) -> Result<String>
    where
        S: Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let loc = self.start_upload(ep, creds, repo, what).await?;
        let req = self
            .upload
            .patch(&loc)
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body));
        let resp = self.send(req, what, ep).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(failure(what, resp).await);
        }
        let loc = Self::location(ep, &resp, what)?;
        let digest = digest.await?;
        let req = self
            .upload
            .put(Self::with_digest(&loc, &digest))
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Length", "0");
        let resp = self.send(req, what, ep).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(failure(what, resp).await);
        }
        Ok(digest)
    }

    /// Writes a manifest under `reference`.
    pub async fn put_manifest_bytes(
        &self,
        ep: &RegistryEndpoint,
        creds: &RegistryCredentials,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: Vec<u8>,
    ) -> Result<()> {
        let what = format!("writing the manifest of {repo}:{reference}");
        let req = self
            .http
            .put(Self::url(ep, repo, "manifests", reference))
            .basic_auth(&creds.username, Some(&creds.password))
            .header("Content-Type", media_type)
            .body(body);
        let resp = self.send(req, &what, ep).await?;
        if !resp.status().is_success() {
            return Err(failure(&what, resp).await);
        }
        Ok(())
    }
}
