//! The deploy step: which image references a target gets, the values its templates may use,
//! and the hand-off to the deployer for its kind.
//!
//! Image references come, in this order, from `--image NAME=REF`, from this run's push (by
//! digest, so a deploy pins exactly what was pushed), or — for `berth deploy` — from what ECR
//! holds under the image's first tag now. Outputs of deployed targets are kept for the
//! targets that depend on them (`${targets.NAME.outputs.KEY}`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::executor::Outcome;
use super::images::{ImageSteps, repository_spec};
use super::ports::{DeployRequest, Deployed, Deployer, ImageRef, Repositories};
use super::step::StepCtx;
use crate::error::{Diagnostic, Error, Result};
use crate::pipeline::Pipeline;
use crate::pipeline::interpolate::RuntimeValues;
use crate::pipeline::model::{Target, TargetKind};

pub struct DeploySteps {
    pub pipeline: Arc<Pipeline>,
    /// This run's builds and pushes (`ship`), if any.
    pub images: Option<Arc<ImageSteps>>,
    /// `--image NAME=REF`.
    pub overrides: BTreeMap<String, ImageRef>,
    /// Looks up tags in ECR (for `deploy`).
    pub repositories: Option<Arc<dyn Repositories>>,
    pub ecs: Option<Arc<dyn Deployer>>,
    pub cloudformation: Option<Arc<dyn Deployer>>,
    pub eks: Option<Arc<dyn Deployer>>,
    pub results: Mutex<HashMap<String, Deployed>>,
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
        let hint = crate::error::did_you_mean(name, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
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
    async fn image_ref(&self, name: &str) -> Result<ImageRef> {
        if let Some(r) = self.overrides.get(name) {
            return Ok(r.clone());
        }
        let img = &self.pipeline.images[name];
        if let Some(steps) = &self.images {
            let st = steps.state(name);
            if let (Some(repo), Some(digest)) = (st.repository, st.digest) {
                return Ok(ImageRef {
                    uri: repo.uri,
                    tag: img.tags.first().cloned(),
                    digest: Some(digest),
                });
            }
        }
        let repos = self.repositories.as_ref().ok_or_else(|| {
            Error::failed(format!("internal error: no way to find image `{name}`"))
        })?;
        let tag = img
            .tags
            .first()
            .ok_or_else(|| Error::failed(format!("image `{name}` has no tags")))?;
        repos.resolve(&repository_spec(img), tag).await
    }

    fn deployer(&self, t: &Target) -> Result<&Arc<dyn Deployer>> {
        let d = match t.kind {
            TargetKind::Ecs(_) => &self.ecs,
            TargetKind::CloudFormation(_) => &self.cloudformation,
            TargetKind::Eks(_) => &self.eks,
        };
        d.as_ref().ok_or_else(|| {
            Error::failed(format!(
                "deploying {} targets (`{}`) is not implemented in this version of berth",
                t.kind.name(),
                t.name
            ))
        })
    }

    /// The deployer's request for a target. For a plan, an image that is not in ECR yet is
    /// shown by the name and tag it will be pushed under.
    async fn request(&self, t: &Target, planning: bool) -> Result<DeployRequest> {
        let mut images = BTreeMap::new();
        let mut values = RuntimeValues {
            placeholders: planning,
            ..Default::default()
        };
        for img in &t.images {
            let r = match self.image_ref(img).await {
                Ok(r) => r,
                Err(_) if planning => {
                    let i = &self.pipeline.images[img];
                    ImageRef {
                        uri: i.repository.clone(),
                        tag: i.tags.first().cloned(),
                        digest: None,
                    }
                }
                Err(e) => return Err(e),
            };
            let first = r
                .tag
                .clone()
                .or_else(|| self.pipeline.images[img].tags.first().cloned());
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
            if let Some(tag) = &first {
                attrs.insert("tag".to_string(), tag.clone());
            }
            values.images.insert(img.clone(), attrs);
            images.insert(img.clone(), r);
        }
        {
            let results = self.results.lock().expect("results lock");
            for (other, d) in results.iter() {
                values.outputs.insert(other.clone(), d.outputs.clone());
            }
        }
        if planning {
            // A dependency not deployed in this run: its current outputs are what this
            // target would get if it stays as it is (anything else shows as a placeholder).
            for dep in &t.depends_on {
                if values.outputs.contains_key(dep) {
                    continue;
                }
                let Ok(d) = self.target(dep) else { continue };
                if let Ok(deployer) = self.deployer(d)
                    && let Ok(outputs) = deployer.outputs(d).await
                    && !outputs.is_empty()
                {
                    values.outputs.insert(dep.clone(), outputs);
                }
            }
        }
        Ok(DeployRequest {
            target: t.clone(),
            images,
            values,
        })
    }

    fn target(&self, name: &str) -> Result<&Target> {
        self.pipeline
            .targets
            .get(name)
            .ok_or_else(|| Error::failed(format!("internal error: unknown target `{name}`")))
    }

    pub async fn deploy(&self, name: &str, ctx: &StepCtx) -> Result<Outcome> {
        let t = self.target(name)?;
        let deployer = self.deployer(t)?;
        let req = self.request(t, false).await?;
        let deployed = deployer.deploy(&req, ctx).await?;
        let outcome = deployed.outcome.clone();
        self.results
            .lock()
            .expect("results lock")
            .insert(name.to_string(), deployed);
        Ok(outcome)
    }

    /// What deploying `name` would do (read-only).
    pub async fn plan(&self, name: &str) -> Result<Vec<String>> {
        let t = self.target(name)?;
        let deployer = self.deployer(t)?;
        let req = self.request(t, true).await?;
        deployer.plan(&req).await
    }

    pub fn result(&self, name: &str) -> Option<Deployed> {
        self.results
            .lock()
            .expect("results lock")
            .get(name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        let src = crate::pipeline::source::SourceFile::new(
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
