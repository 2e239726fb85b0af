//! Base layers the registry already has: an image built `FROM` an image pulled from the
//! same registry starts with that image's layers, and the base's manifest says under which
//! compressed digests the registry holds them. berth's layer cache cannot know them on a
//! fresh machine (it never compressed them), so without this a first push would compress
//! and upload every base layer again, as new blobs.
//!
//! The daemon remembers what it pulled (an image's `RepoDigests`); the base's manifest maps
//! its layers, in order, to the blobs (an index is resolved by the image id). A layer is
//! then held by the repository (`HEAD`) or mounted from the base's. Only a blob in the
//! compression the push wants stands in for a layer. Anything that cannot be read is no
//! help, never an error: the layer is pushed as any other.

use std::collections::BTreeMap;

use super::codec::compression_of;
use super::layers::{Compressed, LayerCache};
use super::{Dest, RegistryClient};
use crate::engine::ports::{ImageExporter, PulledBase, RegistryReader};
use crate::error::Result;

/// Manifests of an index looked at for the base's platform.
const MAX_CHILDREN: usize = 8;

/// Of the layers `needed` (diff ids of an image with layers `diff_ids`), those a pulled base
/// holds in the registry, now there in the push's repository (mounted where needed), with
/// their blobs.
pub(super) async fn from_bases(
    client: &RegistryClient,
    exporter: &dyn ImageExporter,
    cache: &LayerCache,
    dest: &Dest,
    diff_ids: &[String],
    mut needed: Vec<String>,
) -> Result<Vec<(String, Compressed)>> {
    let mut found = Vec::new();
    if needed.is_empty() {
        return Ok(found);
    }
    for base in exporter.bases(diff_ids, &dest.ep.host).await? {
        if !base.diff_ids.iter().any(|d| needed.contains(d)) {
            continue;
        }
        let Some(blobs) = blobs_of(client, dest, &base).await else {
            continue;
        };
        for (diff_id, (digest, size, media_type)) in base.diff_ids.iter().zip(blobs) {
            if !needed.contains(diff_id)
                || compression_of(&media_type) != Some(dest.format.compression)
            {
                continue;
            }
            let there = client
                .blob_size(&dest.ep, &dest.creds, &dest.repo, &digest)
                .await?
                .is_some()
                || (base.repository != dest.repo
                    && client
                        .mount(&dest.ep, &dest.creds, &dest.repo, &digest, &base.repository)
                        .await?);
            if !there {
                continue;
            }
            // The tar size is learnt when the export is next read past this layer.
            let c = Compressed {
                digest,
                size,
                tar_size: cache
                    .get(diff_id, dest.format.compression)
                    .map_or(0, |c| c.tar_size),
                seen: BTreeMap::new(),
            };
            for repo in [&base.repository, &dest.repo] {
                cache.record(diff_id, dest.format.compression, &c, &dest.ep.host, repo);
            }
            needed.retain(|d| d != diff_id);
            found.push((diff_id.clone(), c));
        }
        if needed.is_empty() {
            break;
        }
    }
    Ok(found)
}

/// The base's layer blobs in order (digest, size, media type), from its manifest, or none
/// when it cannot be read or does not match the base.
async fn blobs_of(
    client: &RegistryClient,
    dest: &Dest,
    base: &PulledBase,
) -> Option<Vec<(String, u64, String)>> {
    let read = |reference: String| async move {
        client
            .manifest(&dest.ep, &dest.creds, &base.repository, &reference)
            .await
            .ok()
            .flatten()
    };
    let mut m = read(base.digest.clone()).await?;
    if m.config_digest.is_none() {
        // An index: the manifest whose config is the local image.
        let index: serde_json::Value = serde_json::from_slice(&m.body).ok()?;
        let children: Vec<String> = index
            .get("manifests")?
            .as_array()?
            .iter()
            .filter_map(|c| Some(c.get("digest")?.as_str()?.to_string()))
            .take(MAX_CHILDREN)
            .collect();
        let mut chosen = None;
        for child in children {
            if let Some(c) = read(child).await
                && c.config_digest.as_deref() == Some(base.id.as_str())
            {
                chosen = Some(c);
                break;
            }
        }
        m = chosen?;
    }
    if m.config_digest.as_deref() != Some(base.id.as_str()) {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&m.body).ok()?;
    let blobs: Vec<(String, u64, String)> = json
        .get("layers")?
        .as_array()?
        .iter()
        .filter_map(|l| {
            Some((
                l.get("digest")?.as_str()?.to_string(),
                l.get("size")?.as_u64()?,
                l.get("mediaType")?.as_str()?.to_string(),
            ))
        })
        .collect();
    (blobs.len() == base.diff_ids.len()).then_some(blobs)
}
