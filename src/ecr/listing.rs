//! Listing a repository's images and deleting them, for `berth gc`.
//!
//! DescribeImages gives digests, tags, push times and sizes; an index's children are not in
//! it, so the indexes (by media type) are read with BatchGetImage, 100 at a time, as ECR
//! allows. Deletes go in batches of 100 (BatchDeleteImage's limit); ECR answers failures
//! per image, and each is reported with its digest.

use aws_sdk_ecr::types::ImageIdentifier;

use super::Ecr;
use crate::aws::sdk_error;
use crate::engine::ports::{RepositorySpec, StoredImage};
use crate::error::{Error, Result};

/// At most this many images are read from one repository (ECR's own limit is 20,000 per
/// repository by default): the listing stays bounded in memory.
const MAX_IMAGES: usize = 100_000;

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

impl Ecr {
    pub(super) async fn list_images(
        &self,
        spec: &RepositorySpec,
    ) -> Result<Option<Vec<StoredImage>>> {
        let client = self.client(spec).await?;
        let mut images = Vec::new();
        let mut indexes = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let Some(out) = images_page(&client, spec, next.take()).await? else {
                return Ok(None);
            };
            for d in out.image_details() {
                let Some(digest) = d.image_digest() else {
                    continue;
                };
                if d.image_manifest_media_type()
                    .is_some_and(|t| INDEX_TYPES.contains(&t))
                {
                    indexes.push(digest.to_string());
                }
                images.push(StoredImage {
                    digest: digest.to_string(),
                    tags: d.image_tags().to_vec(),
                    pushed_at: d.image_pushed_at().map(|t| t.secs()),
                    size: d.image_size_in_bytes().map(|s| s.max(0) as u64),
                    children: Vec::new(),
                });
            }
            next = out.next_token().map(str::to_string);
            if next.is_none() || images.len() >= MAX_IMAGES {
                break;
            }
        }
        for chunk in indexes.chunks(100) {
            let out = client
                .batch_get_image()
                .repository_name(&spec.name)
                .set_image_ids(Some(ids(chunk)))
                .set_accepted_media_types(Some(INDEX_TYPES.map(String::from).to_vec()))
                .send()
                .await
                .map_err(|e| sdk_error(format!("reading the indexes of `{}`", spec.name), e))?;
            for image in out.images() {
                let (Some(digest), Some(body)) = (
                    image.image_id().and_then(|i| i.image_digest()),
                    image.image_manifest(),
                ) else {
                    continue;
                };
                let children = children_of(body);
                if let Some(i) = images.iter_mut().find(|i| i.digest == digest) {
                    i.children = children;
                }
            }
        }
        Ok(Some(images))
    }

    pub(super) async fn delete_images(
        &self,
        spec: &RepositorySpec,
        digests: &[String],
    ) -> Result<Vec<String>> {
        let client = self.client(spec).await?;
        let mut deleted = Vec::new();
        let mut refused = Vec::new();
        for chunk in digests.chunks(100) {
            let out = client
                .batch_delete_image()
                .repository_name(&spec.name)
                .set_image_ids(Some(ids(chunk)))
                .send()
                .await
                .map_err(|e| sdk_error(format!("deleting images of `{}`", spec.name), e))?;
            for id in out.image_ids() {
                if let Some(d) = id.image_digest()
                    && !deleted.iter().any(|x| x == d)
                {
                    deleted.push(d.to_string());
                }
            }
            for f in out.failures() {
                // An image already gone is what was asked for.
                if f.failure_code()
                    .is_some_and(|c| c.as_str() == "ImageNotFound")
                {
                    continue;
                }
                refused.push(format!(
                    "{}: {}",
                    f.image_id().and_then(|i| i.image_digest()).unwrap_or("?"),
                    f.failure_reason().unwrap_or("refused")
                ));
            }
        }
        if !refused.is_empty() {
            return Err(Error::failed(format!(
                "ECR refused to delete {} image(s) of `{}` ({} deleted)",
                refused.len(),
                spec.name,
                deleted.len()
            ))
            .with_causes(refused));
        }
        Ok(deleted)
    }
}

/// One page of DescribeImages (1000 images); None when the repository does not exist.
pub(super) async fn images_page(
    client: &aws_sdk_ecr::Client,
    spec: &RepositorySpec,
    next: Option<String>,
) -> Result<Option<aws_sdk_ecr::operation::describe_images::DescribeImagesOutput>> {
    match client
        .describe_images()
        .repository_name(&spec.name)
        .set_next_token(next)
        .max_results(1000)
        .send()
        .await
    {
        Ok(o) => Ok(Some(o)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_repository_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(
            format!("listing the images of `{}`", spec.name),
            e,
        )),
    }
}

fn ids(digests: &[String]) -> Vec<ImageIdentifier> {
    digests
        .iter()
        .map(|d| ImageIdentifier::builder().image_digest(d).build())
        .collect()
}

/// The manifests an index names.
fn children_of(body: &str) -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v["manifests"].as_array().map(|ms| {
                ms.iter()
                    .filter_map(|m| m["digest"].as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}
