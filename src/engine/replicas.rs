//! Images deployed in another region or account than their repository's
//! (`ecr.replicate: ecr`): the deploy uses the replica in the target's own registry, never a
//! digest the target's registry does not have. Before the deploy, the source registry's
//! replication rules must cover the target's registry (else the deploy fails at once, with
//! the rule to add), and the replica must have arrived: berth waits, bounded by
//! `replication_timeout`, with progress, riding out transient errors.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::deploy::DeploySteps;
use super::images::repository_spec;
use super::ports::{ImageRef, RepositorySpec};
use super::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::interpolate::RuntimeValues;
use crate::pipeline::model::{Replicate, Target};

const POLL: Duration = Duration::from_secs(2);

impl DeploySteps {
    /// Swaps each replicated image of `t` for its replica in the target's registry.
    pub(super) async fn replicas(
        &self,
        t: &Target,
        images: &mut BTreeMap<String, ImageRef>,
        values: &mut RuntimeValues,
        ctx: &StepCtx,
    ) -> Result<()> {
        for (name, r) in images.iter_mut() {
            let img = &self.pipeline.images[name];
            let Some(Replicate::Ecr) = img.ecr.replicate else {
                continue;
            };
            let source = repository_spec(img);
            let dest = RepositorySpec {
                aws: t.aws.clone(),
                ..source.clone()
            };
            if dest.aws == source.aws {
                continue;
            }
            let (from, to) = (
                self.repositories.registry_id(&source).await?,
                self.repositories.registry_id(&dest).await?,
            );
            if from == to {
                continue;
            }
            let digest = match &r.digest {
                Some(d) => d.clone(),
                None => {
                    let tag = r.tag.clone().unwrap_or_default();
                    self.repositories
                        .resolve(&source, &tag)
                        .await?
                        .digest
                        .ok_or_else(|| Error::failed(format!("`{name}:{tag}` has no digest")))?
                }
            };
            if !self.repositories.replication_covers(&source, &to).await? {
                return Err(Error::failed(format!(
                    "the registry of image `{name}` (account {}, {}) does not replicate `{}` to account {}, {}",
                    from.account, from.region, source.name, to.account, to.region
                ))
                .with_hint(format!(
                    "add a replication rule with the destination {} / {} (ECR → Private registry → Replication), or deploy this target from the image's region",
                    to.region, to.account
                )));
            }
            let uri = wait(
                self,
                name,
                &dest,
                &digest,
                &to.region,
                img.ecr.replication_timeout,
                ctx,
            )
            .await?;
            ctx.log(format!(
                "{name}: deploying the replica in {} ({uri})",
                to.region
            ));
            *r = ImageRef {
                uri,
                tag: r.tag.clone(),
                digest: Some(digest),
            };
            values
                .images
                .insert(name.clone(), super::deploy::attributes(r, img.tags.first()));
        }
        Ok(())
    }
}

/// Waits until the replica is in `dest`; its repository URI.
async fn wait(
    steps: &DeploySteps,
    name: &str,
    dest: &RepositorySpec,
    digest: &str,
    region: &str,
    timeout: Duration,
    ctx: &StepCtx,
) -> Result<String> {
    let started = Instant::now();
    let mut last_error: Option<Error>;
    loop {
        match steps.repositories.replica(dest, digest).await {
            Ok(Some(uri)) => return Ok(uri),
            Ok(None) => last_error = None,
            Err(e) if e.kind().is_transient() => last_error = Some(e),
            Err(e) => return Err(e),
        }
        if started.elapsed() >= timeout {
            let mut e = Error::failed(format!(
                "{name}: the replica of {digest} did not arrive in {region} within {}",
                humantime::format_duration(timeout)
            ))
            .with_kind(ErrorKind::TimedOut)
            .with_hint("ECR replication usually takes seconds to minutes; raise `ecr.replication_timeout`, or check the replication rule's filters");
            if let Some(last) = last_error {
                e = e.with_causes(vec![format!("the last look failed: {}", last.one_line())]);
            }
            return Err(e);
        }
        ctx.progress(format!(
            "waiting for {name} to be replicated to {region} ({}s)",
            started.elapsed().as_secs()
        ));
        tokio::time::sleep(POLL).await;
    }
}
