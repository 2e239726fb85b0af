//! ECR replication, for images deployed in other regions or accounts (`ecr.replicate: ecr`):
//! where a registry is, whether its replication rules carry a repository to another
//! registry, and whether a replica of a digest has arrived there.

use aws_sdk_ecr::types::{ImageIdentifier, RepositoryFilterType};

use super::{Ecr, describe_repository};
use crate::aws::sdk_error;
use crate::engine::ports::{RegistryId, RepositorySpec};
use crate::error::{Error, ErrorKind, Result};

impl Ecr {
    pub(super) async fn registry_id(&self, spec: &RepositorySpec) -> Result<RegistryId> {
        // The configuration is built (and a role assumed) first; who it is is asked once.
        self.configs.get(&spec.aws).await?;
        let id = self.configs.identity(&spec.aws).await.ok_or_else(|| {
            Error::failed("cannot tell which account the credentials act in")
                .with_kind(ErrorKind::Credentials)
                .with_hint("STS GetCallerIdentity must answer for these credentials")
        })?;
        Ok(RegistryId {
            account: id.account,
            region: id.region,
        })
    }

    pub(super) async fn replication_covers(
        &self,
        spec: &RepositorySpec,
        to: &RegistryId,
    ) -> Result<bool> {
        let client = self.client(spec).await?;
        let out = client
            .describe_registry()
            .send()
            .await
            .map_err(|e| sdk_error("reading the registry's replication configuration", e))?;
        let rules = out
            .replication_configuration()
            .map(|c| c.rules())
            .unwrap_or_default();
        Ok(rules.iter().any(|r| {
            let filtered_in = r.repository_filters().is_empty()
                || r.repository_filters().iter().any(|f| {
                    f.filter_type() == &RepositoryFilterType::PrefixMatch
                        && spec.name.starts_with(f.filter())
                });
            filtered_in
                && r.destinations()
                    .iter()
                    .any(|d| d.region() == to.region && d.registry_id() == to.account)
        }))
    }

    /// The repository URI of the replica when `digest` is in `spec`'s repository.
    pub(super) async fn replica(
        &self,
        spec: &RepositorySpec,
        digest: &str,
    ) -> Result<Option<String>> {
        let client = self.client(spec).await?;
        let Some(repo) = describe_repository(&client, spec).await? else {
            return Ok(None);
        };
        match client
            .describe_images()
            .repository_name(&spec.name)
            .image_ids(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await
        {
            Ok(out) if !out.image_details().is_empty() => {
                Ok(repo.repository_uri().map(str::to_string))
            }
            Ok(_) => Ok(None),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_image_not_found_exception() || s.is_repository_not_found_exception()
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error(
                format!("looking for {digest} in `{}`", spec.name),
                e,
            )),
        }
    }
}
