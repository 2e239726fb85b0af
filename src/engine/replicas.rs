//! Images deployed in another region or account than their repository's (`ecr.replicate`):
//! the deploy uses the replica in the target's own registry, never a digest the target's
//! registry does not have. With `ecr`, the source registry's replication rules must cover
//! the target's registry (else the deploy fails at once, with the rule to add), and berth
//! waits for the replica, bounded by `replication_timeout`, with progress, riding out
//! transient errors. With `push`, berth copies the image there itself first.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::deploy::DeploySteps;
use super::images::repository_spec;
use super::ports::{ImageRef, RegistryId, RegistryPlace, RepositoryInfo, RepositorySpec};
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
            let Some(mode) = img.ecr.replicate else {
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
            let tag = r.tag.clone().or_else(|| img.tags.first().cloned());
            let uri = match mode {
                Replicate::Ecr => {
                    self.replicated(
                        name,
                        &source,
                        &dest,
                        &digest,
                        (&from, &to),
                        img.ecr.replication_timeout,
                        ctx,
                    )
                    .await?
                }
                Replicate::Push => {
                    self.copied(name, &source, &dest, &digest, tag.as_deref(), &to, ctx)
                        .await?
                }
            };
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

impl DeploySteps {
    /// `replicate: ecr`: the rules must carry the repository to `to`; then the replica is
    /// waited for.
    #[allow(clippy::too_many_arguments)]
    async fn replicated(
        &self,
        name: &str,
        source: &RepositorySpec,
        dest: &RepositorySpec,
        digest: &str,
        (from, to): (&RegistryId, &RegistryId),
        timeout: Duration,
        ctx: &StepCtx,
    ) -> Result<String> {
        if !self.repositories.replication_covers(source, to).await? {
            return Err(Error::failed(format!(
                "the registry of image `{name}` (account {}, {}) does not replicate `{}` to account {}, {}",
                from.account, from.region, source.name, to.account, to.region
            ))
            .with_hint(format!(
                "add a replication rule with the destination {} / {} (ECR → Private registry → Replication), set `ecr.replicate: push`, or deploy this target from the image's region",
                to.region, to.account
            )));
        }
        let look = || self.repositories.replica(dest, digest);
        wait(look, name, digest, &to.region, (timeout, POLL), ctx).await
    }

    /// `replicate: push`: berth copies the image to the target's registry (the repository
    /// made there with the image's settings), unless it is there already.
    #[allow(clippy::too_many_arguments)]
    async fn copied(
        &self,
        name: &str,
        source: &RepositorySpec,
        dest: &RepositorySpec,
        digest: &str,
        tag: Option<&str>,
        to: &RegistryId,
        ctx: &StepCtx,
    ) -> Result<String> {
        if let Some(uri) = self.repositories.replica(dest, digest).await? {
            return Ok(uri);
        }
        let src = self.repositories.lookup(source).await?.ok_or_else(|| {
            Error::failed(format!("repository `{}` does not exist", source.name))
                .with_kind(ErrorKind::NotFound)
        })?;
        let dst = self.repositories.ensure(dest, ctx).await?;
        let place = |info: &RepositoryInfo, credentials| RegistryPlace {
            endpoint: info.endpoint.clone(),
            credentials,
            repository: info.name.clone(),
        };
        let from = place(
            &src,
            self.repositories.credentials(source, &src.endpoint).await?,
        );
        let into = place(
            &dst,
            self.repositories.credentials(dest, &dst.endpoint).await?,
        );
        ctx.progress(format!(
            "copying {name} to {} (account {})",
            to.region, to.account
        ));
        let sent = self.registry.copy(&from, &into, digest, tag).await?;
        ctx.log(format!(
            "{name}: copied to {} (account {}), {sent} bytes sent",
            to.region, to.account
        ));
        Ok(dst.uri)
    }
}

/// Waits until `look` finds the replica; its repository URI. `within`: the timeout and the
/// time between looks.
async fn wait<F, Fut>(
    mut look: F,
    name: &str,
    digest: &str,
    region: &str,
    (timeout, poll): (Duration, Duration),
    ctx: &StepCtx,
) -> Result<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>>>,
{
    let started = Instant::now();
    let mut last_error: Option<Error>;
    loop {
        match look().await {
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
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::engine::events::Event;
    use crate::engine::step::EventSink;

    struct Quiet;
    impl EventSink for Quiet {
        fn emit(&self, _: Event) {}
    }

    fn ctx() -> StepCtx {
        StepCtx::new("deploy:eu", "eu", Arc::new(Quiet))
    }

    /// A look that answers from a script, one answer per call (the last one repeats).
    fn scripted(
        answers: Vec<Result<Option<String>>>,
    ) -> impl FnMut() -> std::future::Ready<Result<Option<String>>> {
        let answers = Arc::new(Mutex::new(answers));
        move || {
            let mut a = answers.lock().unwrap();
            let next = if a.len() > 1 {
                a.remove(0)
            } else {
                match &a[0] {
                    Ok(v) => Ok(v.clone()),
                    Err(e) => Err(Error::failed(e.one_line()).with_kind(e.kind())),
                }
            };
            std::future::ready(next)
        }
    }

    const QUICK: (Duration, Duration) = (Duration::from_millis(300), Duration::from_millis(5));

    #[tokio::test]
    async fn a_throttled_look_is_ridden_out_until_the_replica_arrives() {
        let throttled = Error::failed("Rate exceeded").with_kind(ErrorKind::Throttled);
        let look = scripted(vec![
            Ok(None),
            Err(throttled),
            Ok(None),
            Ok(Some("eu/shop/web".into())),
        ]);
        let uri = wait(look, "web", "sha256:1", "eu-west-1", QUICK, &ctx()).await;
        assert_eq!(uri.unwrap(), "eu/shop/web");
    }

    #[tokio::test]
    async fn a_refused_look_is_that_error_not_a_timeout() {
        let denied = Error::failed("AccessDeniedException").with_kind(ErrorKind::AccessDenied);
        let look = scripted(vec![Ok(None), Err(denied)]);
        let e = wait(look, "web", "sha256:1", "eu-west-1", QUICK, &ctx())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
    }

    #[tokio::test]
    async fn only_time_running_out_is_a_timeout_and_it_says_the_last_error() {
        let throttled = Error::failed("Rate exceeded").with_kind(ErrorKind::Throttled);
        let look = scripted(vec![Err(throttled)]);
        let e = wait(look, "web", "sha256:1", "eu-west-1", QUICK, &ctx())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        let text = e.render(false);
        assert!(text.contains("did not arrive in eu-west-1"), "{text}");
        assert!(text.contains("Rate exceeded"), "{text}");
    }
}
