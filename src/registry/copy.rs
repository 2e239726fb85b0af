//! Copying an image from one registry to another (`ecr.replicate: push`): the manifest, an
//! index's children, and each blob the destination does not have yet, streamed from the
//! source to the destination without touching the disk. The destination checks each blob's
//! digest as it takes it, and the manifest is written last, so a copy cut off part-way
//! leaves no image that names a missing blob.

use futures_util::TryStreamExt;
use reqwest::StatusCode;

use super::{RegistryClient, failure};
use crate::engine::ports::{RegistryPlace, RegistryReader};
use crate::error::{Error, ErrorKind, Result};

/// An index names at most this many manifests (a guard against a malformed one).
const MAX_CHILDREN: usize = 256;

impl RegistryClient {
    pub(super) async fn copy_image(
        &self,
        from: &RegistryPlace,
        to: &RegistryPlace,
        digest: &str,
        tag: Option<&str>,
    ) -> Result<u64> {
        let mut copied = 0;
        let top = self.read(from, digest).await?;
        let json: serde_json::Value = serde_json::from_slice(&top.body).unwrap_or_default();
        let children: Vec<String> = json["manifests"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m["digest"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if children.len() > MAX_CHILDREN {
            return Err(Error::failed(format!(
                "{digest} names {} manifests; berth copies indexes of at most {MAX_CHILDREN}",
                children.len()
            )));
        }
        for child in &children {
            let m = self.read(from, child).await?;
            copied += self.copy_blobs(from, to, &m.body).await?;
            self.put_manifest_bytes(
                &to.endpoint,
                &to.credentials,
                &to.repository,
                child,
                &m.media_type,
                m.body,
            )
            .await?;
        }
        copied += self.copy_blobs(from, to, &top.body).await?;
        for reference in std::iter::once(digest).chain(tag) {
            self.put_manifest_bytes(
                &to.endpoint,
                &to.credentials,
                &to.repository,
                reference,
                &top.media_type,
                top.body.clone(),
            )
            .await?;
        }
        Ok(copied)
    }

    async fn read(
        &self,
        at: &RegistryPlace,
        digest: &str,
    ) -> Result<crate::engine::ports::RemoteManifest> {
        self.manifest(&at.endpoint, &at.credentials, &at.repository, digest)
            .await?
            .ok_or_else(|| {
                Error::failed(format!("{}@{digest} is not in the registry", at.repository))
                    .with_kind(ErrorKind::NotFound)
            })
    }

    /// The config and layers of an image manifest the destination lacks; bytes sent.
    async fn copy_blobs(
        &self,
        from: &RegistryPlace,
        to: &RegistryPlace,
        manifest: &[u8],
    ) -> Result<u64> {
        let json: serde_json::Value = serde_json::from_slice(manifest).unwrap_or_default();
        let blobs = json
            .get("config")
            .into_iter()
            .chain(json["layers"].as_array().into_iter().flatten());
        let mut sent = 0;
        for b in blobs {
            let Some(d) = b["digest"].as_str() else {
                continue;
            };
            if self
                .blob_size(&to.endpoint, &to.credentials, &to.repository, d)
                .await?
                .is_some()
            {
                continue;
            }
            let what = format!("copying {d} to {}", to.repository);
            let req = self
                .upload
                .get(Self::url(&from.endpoint, &from.repository, "blobs", d))
                .basic_auth(&from.credentials.username, Some(&from.credentials.password));
            let resp = self.send(req, &what, &from.endpoint).await?;
            if resp.status() != StatusCode::OK {
                return Err(failure(&what, resp).await);
            }
            sent += resp.content_length().unwrap_or(0);
            let body = resp.bytes_stream().map_err(std::io::Error::other);
            let digest = d.to_string();
            self.stream_blob(
                &to.endpoint,
                &to.credentials,
                &to.repository,
                &what,
                body,
                async { Ok(digest) },
            )
            .await?;
        }
        Ok(sent)
    }
}
