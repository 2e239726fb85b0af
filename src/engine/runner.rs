//! The step runner for every command: builds and pushes go to [`ImageSteps`], deploys to
//! [`DeploySteps`], and each step's typed output goes to the steps that need it.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::deploy::DeploySteps;
use super::executor::{Ran, StepRunner};
use super::images::{Built, ImageSteps, Pushed};
use super::plan::{Step, StepKind};
use super::rollback::Deployed;
use super::step::StepCtx;
use crate::error::Error;

/// What a step hands to the steps that need it.
#[derive(Clone, Debug)]
pub enum StepOutput {
    Built(Arc<Built>),
    Pushed(Arc<Pushed>),
    /// A deployed target (by name) and what its deploy came to.
    Deployed(Arc<(String, Deployed)>),
}

pub struct PipelineRunner {
    pub images: Arc<ImageSteps>,
    pub deploys: Arc<DeploySteps>,
    /// Whether builds are followed by pushes (so the registry is asked first).
    pub push: bool,
}

/// A plan whose step names something the pipeline does not have, or a push without its
/// build: the plan is built from the pipeline, so this is a bug in berth, not in the input.
fn plan_bug(step: &Step, what: &str) -> Error {
    Error::failed(format!(
        "berth planned `{}` without {what} (a bug; please report it)",
        step.id()
    ))
}

#[async_trait]
impl StepRunner for PipelineRunner {
    type Output = StepOutput;

    fn describe(&self, step: &Step) -> String {
        match step.kind {
            StepKind::Build => "building".into(),
            StepKind::Push => "pushing".into(),
            StepKind::Deploy => "deploying".into(),
        }
    }

    async fn run(&self, step: &Step, inputs: Vec<StepOutput>, ctx: &StepCtx) -> Ran<StepOutput> {
        let p = &self.images.pipeline;
        match step.kind {
            StepKind::Build => {
                let Some(img) = p.images.get(&step.subject) else {
                    return Ran::failed(plan_bug(step, "its image"));
                };
                let ran = self.images.build(img, self.push, ctx).await;
                Ran::new(
                    ran.result,
                    ran.output.map(|b| StepOutput::Built(Arc::new(b))),
                )
            }
            StepKind::Push => {
                let built = inputs.iter().find_map(|o| match o {
                    StepOutput::Built(b) => Some(b.clone()),
                    _ => None,
                });
                let (Some(img), Some(built)) = (p.images.get(&step.subject), built) else {
                    return Ran::failed(plan_bug(step, "its image and build"));
                };
                let ran = self.images.push(img, &built, ctx).await;
                Ran::new(
                    ran.result,
                    ran.output.map(|p| StepOutput::Pushed(Arc::new(p))),
                )
            }
            StepKind::Deploy => {
                let Some(t) = p.targets.get(&step.subject) else {
                    return Ran::failed(plan_bug(step, "its target"));
                };
                let mut pushed = Vec::new();
                let mut outputs = BTreeMap::new();
                for o in &inputs {
                    match o {
                        StepOutput::Pushed(p) => pushed.push(p.as_ref()),
                        StepOutput::Deployed(d) => {
                            outputs.insert(d.0.clone(), d.1.outputs.clone());
                        }
                        StepOutput::Built(_) => {}
                    }
                }
                let ran = self.deploys.deploy(t, &pushed, outputs, ctx).await;
                let name = step.subject.clone();
                Ran::new(
                    ran.result,
                    ran.output
                        .map(|d| StepOutput::Deployed(Arc::new((name, d)))),
                )
            }
        }
    }
}
