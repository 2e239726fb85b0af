//! Starting a deploy: plan a change set, then execute it — again, on what the stack is then,
//! if another operation got in between.
//!
//! CloudFormation serializes a stack's operations itself, and it removes all of a stack's
//! change sets when one is executed. So when two runs (two CI runners) deploy one stack at
//! once, the second one's change set is gone (`ChangeSetNotFound`) or can no longer run
//! (`InvalidChangeSetStatus`) by the time it executes it. That is not a failure of the
//! second deploy: it waits for the stack to settle and plans again on top of what the first
//! one did, until its timeout. No change set planned against an older stack ever runs, and
//! CloudFormation's own rollback of a failed update only ever undoes that update, so no run
//! reverts another's deployment.

use std::time::Instant;

use aws_sdk_cloudformation::types::Parameter;

use super::change_set::{Planned, unique};
use super::status::{Phase, parameter_summary, phase_of};
use super::{CloudFormation, pending};
use crate::aws::sdk_error;
use crate::engine::ports::DeployRequest;
use crate::engine::step::StepCtx;
use crate::error::Result;
use crate::pipeline::model::CfnTarget;

/// What a deploy started.
pub(super) enum Started {
    /// The stack is as the pipeline wants it: nothing was executed.
    UpToDate(Planned),
    /// A change set is executing with ClientRequestToken `token`; `previous` is the template
    /// and parameters the stack had before (for `berth rollback`).
    Executing {
        planned: Planned,
        previous: Option<(String, Vec<Parameter>)>,
        token: String,
    },
}

impl CloudFormation {
    pub(super) async fn start(
        &self,
        req: &DeployRequest<'_, CfnTarget>,
        ctx: &StepCtx,
        deadline: Instant,
    ) -> Result<Started> {
        let c = req.on.spec;
        loop {
            let p = self.change_set(req, ctx, deadline).await?;
            let Some(change_set) = p
                .change_set
                .clone()
                .filter(|_| !p.changes.is_empty() || p.stack.is_none())
            else {
                if let Some(id) = &p.change_set {
                    let _ = p
                        .client
                        .delete_change_set()
                        .change_set_name(id)
                        .stack_name(&c.stack)
                        .send()
                        .await;
                }
                return Ok(Started::UpToDate(p));
            };
            for line in Self::describe_changes(&p.changes) {
                ctx.log(line);
            }
            let previous = Self::current_version(&p, c).await?;
            // The rollback point, kept before anything changes: if this run is interrupted
            // or times out, the next run on this machine records it on the stack.
            if let (Some((template, parameters)), Some(id)) =
                (&previous, p.stack.as_ref().and_then(|s| s.stack_id()))
                && let Err(e) = Self::template(c)
                    .map_err(|e| std::io::Error::other(e.to_string()))
                    .and_then(|new| pending::save(id, &new, template, parameters))
            {
                ctx.warn(format!(
                    "the rollback point of stack {} could not be kept on this machine: {e}",
                    c.stack
                ));
            }
            let token = unique("berth-exec");
            let before = p.stack.as_ref().map(parameter_summary);
            ctx.changing(
                before.filter(|s| !s.is_empty()).as_deref(),
                Some(&change_set),
            );
            ctx.progress(format!("executing the change set on {}", c.stack));
            let sent = p
                .client
                .execute_change_set()
                .change_set_name(&change_set)
                .stack_name(&c.stack)
                .client_request_token(&token)
                .send()
                .await;
            match sent {
                Ok(_) => {
                    return Ok(Started::Executing {
                        planned: p,
                        previous,
                        token,
                    });
                }
                Err(e)
                    if e.as_service_error().is_some_and(|x| {
                        x.is_change_set_not_found_exception()
                            || x.is_invalid_change_set_status_exception()
                    }) && Instant::now() < deadline =>
                {
                    ctx.log(format!(
                        "stack {} changed after this run planned its change set (another run or user executed one); planning again on what it is now",
                        c.stack
                    ));
                }
                Err(e) => {
                    return Err(sdk_error(
                        format!("executing the change set on stack `{}`", c.stack),
                        e,
                    ));
                }
            }
        }
    }

    /// The template and parameters the stack runs now, kept so that `berth rollback` can put
    /// them back (see `record_previous`).
    async fn current_version(
        p: &Planned,
        c: &CfnTarget,
    ) -> Result<Option<(String, Vec<Parameter>)>> {
        let Some(stack) = p.stack.as_ref().filter(|s| phase_of(s) != Phase::Review) else {
            return Ok(None);
        };
        let tpl = p
            .client
            .get_template()
            .stack_name(&c.stack)
            .send()
            .await
            .map_err(|e| sdk_error(format!("reading the template of stack `{}`", c.stack), e))?;
        Ok(tpl
            .template_body()
            .map(|b| (b.to_string(), stack.parameters().to_vec())))
    }
}
