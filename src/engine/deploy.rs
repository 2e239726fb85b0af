//! The deploy step: which image references a target gets, the values its templates may use,
//! and the hand-off to the deployer for its kind.
//!
//! Image references come, in this order, from `--image NAME=REF`, from this run's push (by
//! digest, so a deploy pins exactly what was pushed), or — for `berth deploy` — from what ECR
//! holds under the image's first tag now. Outputs of deployed targets are kept for the
//! targets that depend on them (`${targets.NAME.outputs.KEY}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::executor::Ran;
use super::images::{Pushed, repository_spec};
use super::ports::{
    DeployRequest, Deployer, Held, ImageRef, InUse, LockRequest, On, RegistryReader, Repositories,
    Rollout, TargetState,
};
use super::rollback::{Deployed, settle};
use super::step::StepCtx;
use crate::error::{Diagnostic, Error, Result};
use crate::pipeline::Pipeline;
use crate::pipeline::interpolate::RuntimeValues;
use crate::pipeline::model::{CfnTarget, EcsTarget, EksTarget, Target, TargetKind};

/// One deployer per kind of target. Which one a target gets is decided by its kind, here
/// and only here, so a deployer only ever sees targets of its own kind.
pub struct Deployers {
    pub ecs: Arc<dyn Deployer<EcsTarget>>,
    pub cloudformation: Arc<dyn Deployer<CfnTarget>>,
    pub eks: Arc<dyn Deployer<EksTarget>>,
}

/// Runs `$body` with `$d` the deployer for `$t`'s kind and `$on` the target as it sees it.
macro_rules! on_kind {
    ($self:ident, $t:expr, |$d:ident, $on:ident| $body:expr) => {
        match &$t.kind {
            TargetKind::Ecs(spec) => {
                let ($d, $on) = (&$self.ecs, On { target: $t, spec });
                $body
            }
            TargetKind::CloudFormation(spec) => {
                let ($d, $on) = (&$self.cloudformation, On { target: $t, spec });
                $body
            }
            TargetKind::Eks(spec) => {
                let ($d, $on) = (&$self.eks, On { target: $t, spec });
                $body
            }
        }
    };
}

impl Deployers {
    pub async fn plan(
        &self,
        t: &Target,
        images: BTreeMap<String, ImageRef>,
        values: RuntimeValues,
    ) -> Result<Vec<String>> {
        on_kind!(self, t, |d, on| {
            d.plan(&DeployRequest { on, images, values }).await
        })
    }

    pub async fn deploy(
        &self,
        t: &Target,
        images: BTreeMap<String, ImageRef>,
        values: RuntimeValues,
        ctx: &StepCtx,
    ) -> Result<Rollout> {
        on_kind!(self, t, |d, on| {
            d.deploy(&DeployRequest { on, images, values }, ctx).await
        })
    }

    pub async fn rollback(&self, t: &Target, ctx: &StepCtx) -> Result<Rollout> {
        on_kind!(self, t, |d, on| d.rollback(on, ctx).await)
    }

    pub async fn logs(
        &self,
        t: &Target,
        req: super::ports::LogRequest,
        sink: super::ports::LogSink<'_>,
        ctx: &StepCtx,
    ) -> Result<()> {
        on_kind!(self, t, |d, on| d.logs(on, req, sink, ctx).await)
    }

    pub async fn resume(&self, t: &Target, ctx: &StepCtx) -> Result<Rollout> {
        on_kind!(self, t, |d, on| d.resume(on, ctx).await)
    }

    pub async fn status(&self, t: &Target) -> Result<TargetState> {
        on_kind!(self, t, |d, on| d.status(on).await)
    }

    pub async fn outputs(&self, t: &Target) -> Result<BTreeMap<String, String>> {
        on_kind!(self, t, |d, on| d.outputs(on).await)
    }

    pub async fn changes(
        &self,
        t: &Target,
        images: BTreeMap<String, ImageRef>,
        values: RuntimeValues,
    ) -> Result<bool> {
        on_kind!(self, t, |d, on| {
            d.changes(&DeployRequest { on, images, values }).await
        })
    }

    /// The image references a target depends on now (`berth gc`).
    pub async fn in_use(&self, t: &Target, history: usize) -> Result<Vec<InUse>> {
        on_kind!(self, t, |d, on| d.in_use(on, history).await)
    }

    pub async fn lock(
        &self,
        t: &Target,
        req: &LockRequest,
        ctx: &StepCtx,
    ) -> Result<Option<Box<dyn Held>>> {
        on_kind!(self, t, |d, on| d.lock(on, req, ctx).await)
    }
}

/// The deploy steps of a run (and the live part of `plan`).
pub struct DeploySteps {
    pub pipeline: Arc<Pipeline>,
    /// `--image NAME=REF`.
    pub overrides: BTreeMap<String, ImageRef>,
    /// Looks up tags in ECR (for `deploy`, which pushes nothing).
    pub repositories: Arc<dyn Repositories>,
    /// Copies images between registries (`ecr.replicate: push`).
    pub registry: Arc<dyn RegistryReader>,
    pub deployers: Arc<Deployers>,
    /// The lock every deploy takes on its target, held through the rollback policy.
    pub lock: LockRequest,
}

/// Parses `--image NAME=REF` (REF: `uri@sha256:…` or `uri:tag`).
/// Parses every `--image NAME=REF`.
pub fn parse_overrides(p: &Pipeline, args: &[String]) -> Result<BTreeMap<String, ImageRef>> {
    args.iter().map(|a| parse_override(p, a)).collect()
}

pub fn parse_override(p: &Pipeline, arg: &str) -> Result<(String, ImageRef)> {
    let bad = |msg: String| {
        Error::invalid(Diagnostic::new(msg).hint(
            "write `--image NAME=REPOSITORY_URI@sha256:…` or `--image NAME=REPOSITORY_URI:TAG`",
        ))
    };
    let (name, reference) = arg
        .split_once('=')
        .ok_or_else(|| bad(format!("`--image {arg}` has no `=`")))?;
    if !p.images.contains_key(name) {
        let known: Vec<&str> = p.images.keys().map(String::as_str).collect();
        let hint = crate::error::suggest(name, known.iter().copied())
            .unwrap_or_else(|| format!("images: {}", known.join(", ")));
        return Err(Error::invalid(
            Diagnostic::new(format!("`--image {arg}`: unknown image `{name}`")).hint(hint),
        ));
    }
    let r = if let Some((uri, digest)) = reference.split_once('@') {
        if !digest.starts_with("sha256:") || digest.len() != 71 {
            return Err(bad(format!(
                "`--image {arg}`: `{digest}` is not a sha256 digest"
            )));
        }
        ImageRef {
            uri: uri.to_string(),
            tag: None,
            digest: Some(digest.to_string()),
        }
    } else {
        let slash = reference.rfind('/').unwrap_or(0);
        match reference[slash..].rfind(':') {
            Some(i) => ImageRef {
                uri: reference[..slash + i].to_string(),
                tag: Some(reference[slash + i + 1..].to_string()),
                digest: None,
            },
            None => return Err(bad(format!("`--image {arg}`: give a tag or a digest"))),
        }
    };
    if r.uri.is_empty() {
        return Err(bad(format!("`--image {arg}` has no repository")));
    }
    Ok((name.to_string(), r))
}

impl DeploySteps {
    /// What to deploy for image `name`: `--image`, else this run's push (by digest), else
    /// what ECR holds under the image's first tag.
    async fn image_ref(
        &self,
        name: &str,
        pushed: &[&Pushed],
        planned: &BTreeMap<String, ImageRef>,
    ) -> Result<ImageRef> {
        if let Some(r) = self.overrides.get(name).or_else(|| planned.get(name)) {
            return Ok(r.clone());
        }
        let img = &self.pipeline.images[name];
        if let Some(p) = pushed.iter().find(|p| p.image == name) {
            return Ok(ImageRef {
                uri: p.repository.uri.clone(),
                tag: img.tags.first().cloned(),
                digest: Some(p.digest.clone()),
            });
        }
        let tag = img
            .tags
            .first()
            .ok_or_else(|| Error::failed(format!("image `{name}` has no tags")))?;
        self.repositories.resolve(&repository_spec(img), tag).await
    }

    /// The images a target gets and the values its templates may use. For a plan,
    /// `planned` are the images a push would leave in ECR as they are now (found by
    /// content), and an image that is not in ECR yet is shown by the name and tag it will be
    /// pushed under.
    async fn inputs(
        &self,
        t: &Target,
        pushed: &[&Pushed],
        planned: Option<&BTreeMap<String, ImageRef>>,
        outputs: BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<(BTreeMap<String, ImageRef>, RuntimeValues)> {
        let planning = planned.is_some();
        let none = BTreeMap::new();
        let planned = planned.unwrap_or(&none);
        let mut images = BTreeMap::new();
        let mut values = RuntimeValues {
            placeholders: planning,
            outputs,
            ..Default::default()
        };
        for img in &t.images {
            let i = &self.pipeline.images[img];
            let r = match self.image_ref(img, pushed, planned).await {
                Ok(r) => r,
                Err(_) if planning => ImageRef {
                    uri: i.repository.clone(),
                    tag: i.tags.first().cloned(),
                    digest: None,
                },
                Err(e) => return Err(e),
            };
            values
                .images
                .insert(img.clone(), attributes(&r, i.tags.first()));
            images.insert(img.clone(), r);
        }
        Ok((images, values))
    }

    /// The deploy step, with this run's pushes of its images and the outputs of the
    /// targets it depends on.
    pub async fn deploy(
        &self,
        t: &Target,
        pushed: &[&Pushed],
        outputs: BTreeMap<String, BTreeMap<String, String>>,
        ctx: &StepCtx,
    ) -> Ran<Deployed> {
        let (mut images, mut values) = match self.inputs(t, pushed, None, outputs).await {
            Ok(x) => x,
            Err(e) => return Ran::failed(e),
        };
        if let Err(e) = self.replicas(t, &mut images, &mut values, ctx).await {
            return Ran::failed(e);
        }
        // The lock is held from before the change until the rollback policy is done, so
        // that no other run changes the target in between and an automatic rollback only
        // ever undoes this run's own deployment.
        // A deploy that changes nothing takes no lock (and so writes nothing); one that
        // does re-reads the target once it holds the lock, so it sees what a run that held
        // the lock before it did.
        let held = match self
            .deployers
            .changes(t, images.clone(), values.clone())
            .await
        {
            Ok(false) => None,
            Ok(true) => match self.deployers.lock(t, &self.lock, ctx).await {
                Ok(h) => h,
                Err(e) => return Ran::failed(e),
            },
            Err(e) => return Ran::failed(e),
        };
        let ran = match self.deployers.deploy(t, images, values, ctx).await {
            Ok(r) => {
                let (outcome, deployed) = settle(&t.name, t.kind.rollback_policy(), r, ctx).await;
                Ran::new(outcome, Some(deployed))
            }
            Err(e) => Ran::failed(e),
        };
        release(held, ctx).await;
        ran
    }

    /// What deploying `t` would do (read-only), with the images `planned` a push would
    /// leave in ECR (see [`Self::inputs`]).
    pub async fn plan(
        &self,
        t: &Target,
        planned: &BTreeMap<String, ImageRef>,
    ) -> Result<Vec<String>> {
        // The dependencies' current outputs are what this target would get if they stay as
        // they are (anything else shows as a placeholder).
        let mut outputs = BTreeMap::new();
        for dep in &t.depends_on {
            if let Some(d) = self.pipeline.targets.get(dep)
                && let Ok(o) = self.deployers.outputs(d).await
                && !o.is_empty()
            {
                outputs.insert(dep.clone(), o);
            }
        }
        let (images, values) = self.inputs(t, &[], Some(planned), outputs).await?;
        self.deployers.plan(t, images, values).await
    }
}

/// Gives a lock back; a lock that cannot be given back expires by itself, so that is a
/// warning, not a failure of the deploy.
pub async fn release(held: Option<Box<dyn Held>>, ctx: &StepCtx) {
    if let Some(h) = held
        && let Err(e) = h.release().await
    {
        ctx.warn(format!(
            "the lock could not be given back ({e}); it expires by itself"
        ));
    }
}

/// `${images.NAME.*}` for one image: `uri` (with the first tag), `ref`, `digest`, `tag`.
pub(super) fn attributes(r: &ImageRef, first_tag: Option<&String>) -> BTreeMap<String, String> {
    let first = r.tag.clone().or_else(|| first_tag.cloned());
    let mut attrs = BTreeMap::new();
    attrs.insert(
        "uri".to_string(),
        match &first {
            Some(tag) => format!("{}:{tag}", r.uri),
            None => r.uri.clone(),
        },
    );
    attrs.insert("ref".to_string(), r.reference());
    if let Some(d) = &r.digest {
        attrs.insert("digest".to_string(), d.clone());
    }
    if let Some(tag) = first {
        attrs.insert("tag".to_string(), tag);
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        let src = crate::source::SourceFile::new(
            dir.path().join("berth.yaml"),
            "version: 1\nimages:\n  web: { tags: [v1] }\n",
        );
        let ctx = crate::pipeline::Context::new(dir.path(), Default::default(), "T".into());
        crate::pipeline::load(&src, None, &ctx).unwrap()
    }

    #[test]
    fn image_overrides_parse_digests_and_tags() {
        let p = pipeline();
        let d = format!("sha256:{}", "a".repeat(64));
        let (n, r) =
            parse_override(&p, &format!("web=1.dkr.ecr.x.amazonaws.com/shop/web@{d}")).unwrap();
        assert_eq!(n, "web");
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(
            r.reference(),
            format!("1.dkr.ecr.x.amazonaws.com/shop/web@{d}")
        );
        let (_, r) = parse_override(&p, "web=localhost:5000/shop/web:v2").unwrap();
        assert_eq!(
            (r.uri.as_str(), r.tag.as_deref()),
            ("localhost:5000/shop/web", Some("v2"))
        );
        assert!(
            parse_override(&p, "wbe=x:1")
                .unwrap_err()
                .render(false)
                .contains("did you mean `web`?")
        );
        assert!(parse_override(&p, "web=localhost:5000/shop/web").is_err());
        assert!(parse_override(&p, "web=r@sha256:short").is_err());
    }
}
