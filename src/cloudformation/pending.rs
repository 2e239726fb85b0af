//! The rollback point of a deploy that has not finished, kept on this machine.
//!
//! The version a deploy replaces is recorded on the stack ([`super::PREVIOUS`]) only once
//! the stack has finished changing: CloudFormation deletes a stack's change sets when one is
//! executed, so nothing recorded on the stack before can survive. In between — a Ctrl-C, a
//! killed CI job, a timeout — the rollback point lives here, written before the change set
//! is executed: `$XDG_STATE_HOME/berth/cloudformation/` (or `~/.local/state/…`), one file
//! per stack, readable by its owner only. The next `berth deploy` or `berth rollback` of the
//! stack on this machine records it on the stack, if the stack then runs exactly the
//! template that deploy was putting in place (so a stale point is never used).

use std::path::PathBuf;

use aws_sdk_cloudformation::types::Parameter;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Serialize, Deserialize)]
struct Record {
    stack_id: String,
    /// sha256 of the template the interrupted deploy was putting in place.
    deploying: String,
    template: String,
    parameters: Vec<(String, String)>,
}

/// A rollback point read back: the template and parameters to return to.
pub(super) struct Pending {
    pub deploying: String,
    pub template: String,
    pub parameters: Vec<Parameter>,
}

pub(super) fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn path(stack_id: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    let name = &digest(stack_id)[..24];
    Some(
        base.join("berth/cloudformation")
            .join(format!("{name}.json")),
    )
}

/// Keeps the rollback point of stack `stack_id` before a change set that puts `deploying`
/// in place is executed.
pub(super) fn save(
    stack_id: &str,
    deploying: &str,
    template: &str,
    parameters: &[Parameter],
) -> std::io::Result<()> {
    let Some(p) = path(stack_id) else {
        return Ok(());
    };
    let record = Record {
        stack_id: stack_id.to_string(),
        deploying: digest(deploying),
        template: template.to_string(),
        parameters: parameters
            .iter()
            .filter_map(|x| {
                Some((
                    x.parameter_key()?.to_string(),
                    x.parameter_value().unwrap_or("").to_string(),
                ))
            })
            .collect(),
    };
    let dir = p.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir)?;
    let tmp = p.with_extension("tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec(&record).unwrap_or_default())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &p)
}

/// The rollback point kept for stack `stack_id`, if any.
pub(super) fn load(stack_id: &str) -> Option<Pending> {
    let text = crate::source::read_text(&path(stack_id)?).ok()?;
    let r: Record = serde_json::from_str(&text).ok()?;
    (r.stack_id == stack_id).then(|| Pending {
        deploying: r.deploying,
        template: r.template,
        parameters: r
            .parameters
            .into_iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect(),
    })
}

/// Forgets the rollback point of stack `stack_id` (recorded on the stack, or moot).
pub(super) fn clear(stack_id: &str) {
    if let Some(p) = path(stack_id) {
        let _ = std::fs::remove_file(p);
    }
}
