//! Multi-platform images (`platforms:`): one image per platform, each built natively on a
//! builder of that platform, pushed under its digest only, then an image index naming them
//! all is pushed under the tags. Deploys get the index's digest; each runtime pulls the
//! manifest of its own platform from it.
//!
//! "Unchanged" covers every platform: the registry holds this content when a tag (or a
//! recent image) is an index whose entry for each wanted platform is an image carrying
//! that platform's content digest — and no other entries. The index is written in the
//! family of the image manifests (a Docker manifest list for Docker manifests, an OCI
//! index for OCI ones), as registries and runtimes expect.

use std::sync::Arc;

use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};

use super::executor::Outcome;
use super::images::{
    Built, Found, ImageSteps, LabelCache, PlatformImage, Pushed, Wanted, push_format, short,
};
use super::ports::*;
use super::step::StepCtx;
use crate::error::{Error, Result};
use crate::pipeline::model::{Image, same_platform};

pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// One content digest for the whole set: each platform's, in order.
pub fn combined_digest(pairs: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (p, d) in pairs {
        h.update(format!("{p}={d}\n"));
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// `linux/arm64/v8` → the index entry's platform object.
fn platform_json(p: &str) -> serde_json::Value {
    let mut parts = p.split('/');
    let os = parts.next().unwrap_or("linux");
    let arch = parts.next().unwrap_or("");
    let mut v = serde_json::json!({ "architecture": arch, "os": os });
    if let Some(variant) = parts.next() {
        v["variant"] = serde_json::Value::String(variant.to_string());
    }
    v
}

/// `os/arch[/variant]` of an index entry.
fn entry_platform(e: &serde_json::Value) -> Option<String> {
    let p = e.get("platform")?;
    let os = p.get("os")?.as_str()?;
    let arch = p.get("architecture")?.as_str()?;
    Some(match p.get("variant").and_then(|v| v.as_str()) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    })
}

/// The index naming `images` (platform, manifest), in the family of their manifests.
pub fn index_manifest(images: &[(String, RemoteManifest)]) -> RemoteManifest {
    let oci = images
        .iter()
        .any(|(_, m)| m.media_type == "application/vnd.oci.image.manifest.v1+json");
    let media_type = if oci { OCI_INDEX } else { DOCKER_LIST };
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|(p, m)| {
            serde_json::json!({
                "mediaType": m.media_type,
                "digest": m.digest,
                "size": m.body.len(),
                "platform": platform_json(p),
            })
        })
        .collect();
    let body = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": manifests,
    }))
    .expect("an index serializes");
    RemoteManifest {
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&body))),
        media_type: media_type.to_string(),
        body,
        config_digest: None,
    }
}

impl ImageSteps {
    /// Whether `m` holds the wanted content (in the form `img` wants).
    pub(super) async fn holds_content(
        &self,
        img: &Image,
        repo: &RepositoryInfo,
        creds: &RegistryCredentials,
        m: &RemoteManifest,
        wanted: &Wanted<'_>,
        labels: &mut LabelCache,
    ) -> Result<bool> {
        match wanted {
            Wanted::One(digest) => Ok(super::images::in_format(img, m)
                && labels.content(self, repo, creds, m).await?.as_deref() == Some(*digest)),
            Wanted::Platforms(pairs) => {
                if m.media_type != DOCKER_LIST && m.media_type != OCI_INDEX {
                    return Ok(false);
                }
                let json: serde_json::Value = match serde_json::from_slice(&m.body) {
                    Ok(j) => j,
                    Err(_) => return Ok(false),
                };
                let entries = json["manifests"].as_array().cloned().unwrap_or_default();
                if entries.len() != pairs.len() {
                    return Ok(false);
                }
                for (platform, digest) in pairs.iter() {
                    let Some(entry) = entries
                        .iter()
                        .find(|e| entry_platform(e).is_some_and(|p| same_platform(&p, platform)))
                    else {
                        return Ok(false);
                    };
                    let Some(child) = entry["digest"].as_str() else {
                        return Ok(false);
                    };
                    let Some(cm) = self
                        .registry
                        .manifest(&repo.endpoint, creds, &repo.name, child)
                        .await?
                    else {
                        return Ok(false);
                    };
                    if !Box::pin(self.holds_content(
                        img,
                        repo,
                        creds,
                        &cm,
                        &Wanted::One(digest),
                        labels,
                    ))
                    .await?
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// The build step of a multi-platform image: the registry asked first (for a push),
    /// then one image per platform, built at once on builders of each platform.
    pub(super) async fn build_platforms(
        &self,
        img: &Image,
        for_push: bool,
        ctx: &StepCtx,
    ) -> Result<(Outcome, Built)> {
        let mut wanted: Vec<(String, BuildRequest, String)> = Vec::new();
        ctx.progress("hashing the build context");
        for p in &img.platforms {
            let mut req = self.request(img);
            req.platform = Some(p.clone());
            let digest = self.builders.content_digest(&req).await?;
            wanted.push((p.clone(), req, digest));
        }
        let pairs: Vec<(String, String)> = wanted
            .iter()
            .map(|(p, _, d)| (p.clone(), d.clone()))
            .collect();
        let done = |found| Built {
            image: img.name.clone(),
            content_digest: combined_digest(&pairs),
            found,
        };
        let registry = match self
            .registry_first(img, &Wanted::Platforms(&pairs), for_push, ctx)
            .await?
        {
            Ok(found) => return Ok((Outcome::Unchanged, done(found))),
            Err(registry) => registry,
        };
        let registry_ref = registry.as_ref();
        let images = try_join_all(wanted.into_iter().map(|(p, req, digest)| async move {
            let (image, built) = self
                .local_image(img, req, &digest, registry_ref, Some(&p), ctx)
                .await?;
            ctx.progress(format!(
                "{p}: {} image {} on builder `{}`",
                if built { "built" } else { "found" },
                short(&image.id),
                image.builder
            ));
            Ok::<_, Error>(PlatformImage {
                platform: p,
                image,
                built,
            })
        }))
        .await?;
        let outcome = if images.iter().any(|i| i.built) {
            Outcome::Done
        } else {
            Outcome::Unchanged
        };
        Ok((outcome, done(Found::Platforms { images, registry })))
    }

    /// What `push` would do for a multi-platform image (`plan`), reading only.
    pub(super) async fn probe_platforms(&self, img: &Image) -> Result<super::images::ImagePlan> {
        use super::images::ImagePlan;
        let mut pairs = Vec::new();
        for p in &img.platforms {
            let mut req = self.request(img);
            req.platform = Some(p.clone());
            pairs.push((p.clone(), self.builders.content_digest(&req).await?));
        }
        if self.options.no_cache {
            return Ok(ImagePlan::Build);
        }
        if let Some(plan) = self.probe_registry(img, &Wanted::Platforms(&pairs)).await? {
            return Ok(plan);
        }
        for (p, digest) in &pairs {
            let candidates = self.builders.candidates(img, Some(p));
            let found = futures_util::future::join_all(
                candidates.iter().map(|e| e.builder.find_local(digest)),
            )
            .await;
            if !found.iter().any(|f| matches!(f, Ok(Some(_)))) {
                return Ok(ImagePlan::Build);
            }
        }
        Ok(ImagePlan::Local)
    }

    /// Pushes each platform's image under its digest, then the index under every tag that
    /// does not hold it yet.
    pub(super) async fn push_platforms(
        &self,
        img: &Image,
        images: &[PlatformImage],
        registry: &Option<(RepositoryInfo, RegistryCredentials)>,
        ctx: &StepCtx,
    ) -> Result<(Outcome, Pushed)> {
        let spec = super::images::repository_spec(img);
        let (repo, creds) = match registry.clone() {
            Some(r) => r,
            None => {
                let repo = self.repositories.ensure(&spec, ctx).await?;
                let creds = self.repositories.credentials(&spec, &repo.endpoint).await?;
                (repo, creds)
            }
        };
        let (repo, creds) = (Arc::new(repo), Arc::new(creds));
        let children = try_join_all(images.iter().map(|pi| {
            let (repo, creds) = (repo.clone(), creds.clone());
            async move {
                let engine = self.builders.of(&pi.image)?;
                ctx.progress(format!(
                    "pushing the {} image from builder `{}`",
                    pi.platform, engine.name
                ));
                let digest = engine
                    .pusher
                    .push(&pi.image, &repo, None, &creds, push_format(img), ctx)
                    .await?
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "the push of the {} image did not say its digest",
                            pi.platform
                        ))
                    })?;
                let m = self
                    .registry
                    .manifest(&repo.endpoint, &creds, &repo.name, &digest)
                    .await?
                    .ok_or_else(|| {
                        Error::failed(format!(
                            "{}@{digest} is not in the registry after the push",
                            repo.name
                        ))
                    })?;
                Ok::<_, Error>((pi.platform.clone(), m))
            }
        }))
        .await?;
        let index = index_manifest(&children);
        let mut wrote = false;
        for tag in &img.tags {
            let now = self
                .registry
                .manifest(&repo.endpoint, &creds, &repo.name, tag)
                .await?;
            match now {
                Some(m) if m.digest == index.digest => continue,
                Some(m) if repo.immutable_tags => {
                    return Err(Error::failed(format!(
                        "tag `{tag}` of {} is immutable and already points at another image",
                        repo.name
                    ))
                    .with_causes(vec![
                        format!("in the repository: {}", m.digest),
                        format!("this build's index: {}", index.digest),
                    ])
                    .with_hint(
                        "use a tag that changes with the content, such as `${git.short_sha}`",
                    ));
                }
                _ => {}
            }
            ctx.progress(format!(
                "pushing the index {} ({} platforms) as {tag}",
                short(&index.digest),
                children.len()
            ));
            self.registry
                .put_manifest(&repo.endpoint, &creds, &repo.name, tag, &index)
                .await?;
            wrote = true;
        }
        let outcome = if wrote {
            Outcome::Done
        } else {
            Outcome::Unchanged
        };
        Ok((
            outcome,
            Pushed {
                image: img.name.clone(),
                repository: (*repo).clone(),
                digest: index.digest,
                pushed: wrote,
                findings: Vec::new(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(media_type: &str, body: &str) -> RemoteManifest {
        RemoteManifest {
            digest: format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes()))),
            media_type: media_type.into(),
            body: body.as_bytes().to_vec(),
            config_digest: None,
        }
    }

    #[test]
    fn an_index_names_each_platform_in_the_family_of_its_manifests() {
        let amd = manifest(
            "application/vnd.docker.distribution.manifest.v2+json",
            "{\"a\":1}",
        );
        let arm = manifest(
            "application/vnd.docker.distribution.manifest.v2+json",
            "{\"b\":22}",
        );
        let index = index_manifest(&[
            ("linux/amd64".into(), amd.clone()),
            ("linux/arm64/v8".into(), arm.clone()),
        ]);
        assert_eq!(index.media_type, DOCKER_LIST);
        let json: serde_json::Value = serde_json::from_slice(&index.body).unwrap();
        let m = json["manifests"].as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["digest"], amd.digest.as_str());
        assert_eq!(m[0]["size"], 7);
        assert_eq!(m[1]["platform"]["variant"], "v8");
        assert_eq!(entry_platform(&m[1]).as_deref(), Some("linux/arm64/v8"));
        assert_eq!(
            index.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&index.body)))
        );
        let oci = manifest("application/vnd.oci.image.manifest.v1+json", "{}");
        assert_eq!(
            index_manifest(&[("linux/amd64".into(), oci)]).media_type,
            OCI_INDEX
        );
    }

    #[test]
    fn the_combined_digest_changes_with_any_platform() {
        let a = combined_digest(&[
            ("linux/amd64".into(), "sha256:1".into()),
            ("linux/arm64".into(), "sha256:2".into()),
        ]);
        let b = combined_digest(&[
            ("linux/amd64".into(), "sha256:1".into()),
            ("linux/arm64".into(), "sha256:3".into()),
        ]);
        assert_ne!(a, b);
    }
}
