//! The step runner for every command: builds and pushes go to [`ImageSteps`], deploys to
//! [`DeploySteps`].

use std::sync::Arc;

use async_trait::async_trait;

use super::deploy::DeploySteps;
use super::executor::{Outcome, StepRunner};
use super::images::ImageSteps;
use super::plan::{Step, StepKind};
use super::step::StepCtx;
use crate::error::{Error, Result};

pub struct PipelineRunner {
    pub images: Option<Arc<ImageSteps>>,
    pub deploys: Option<Arc<DeploySteps>>,
    /// Whether builds are followed by pushes (so the registry is asked first).
    pub push: bool,
}

#[async_trait]
impl StepRunner for PipelineRunner {
    fn describe(&self, step: &Step) -> String {
        match step.kind {
            StepKind::Build => "building".into(),
            StepKind::Push => "pushing".into(),
            StepKind::Deploy => "deploying".into(),
        }
    }

    async fn run(&self, step: &Step, ctx: &StepCtx) -> Result<Outcome> {
        let missing = || {
            Error::failed(format!(
                "internal error: nothing runs {} steps here",
                step.kind.name()
            ))
        };
        match step.kind {
            StepKind::Build => {
                self.images
                    .as_ref()
                    .ok_or_else(missing)?
                    .build(&step.subject, self.push, ctx)
                    .await
            }
            StepKind::Push => {
                self.images
                    .as_ref()
                    .ok_or_else(missing)?
                    .push(&step.subject, ctx)
                    .await
            }
            StepKind::Deploy => {
                self.deploys
                    .as_ref()
                    .ok_or_else(missing)?
                    .deploy(&step.subject, ctx)
                    .await
            }
        }
    }
}
