//! Which credentials an image's or target's calls use: region and profile inherited from
//! `defaults`, and the role to assume. A role is taken whole from the nearest place that
//! sets `role_arn` (the image's `ecr`, the target, then `defaults`): mixing one level's ARN
//! with another level's external id would assume a role with settings meant for another.

use std::time::Duration;

use super::Validator;
use crate::pipeline::model::{AssumeRole, AwsAccess};
use crate::pipeline::raw;
use crate::pipeline::spanned::Spanned;

/// The role settings as written at one level of the file.
#[derive(Clone, Copy)]
pub(super) struct RoleInput<'a> {
    pub arn: &'a Option<Spanned<String>>,
    pub external_id: &'a Option<Spanned<String>>,
    pub session_name: &'a Option<Spanned<String>>,
    pub duration: &'a Option<Spanned<String>>,
}

/// The four role keys, which `defaults`, an image's `ecr` and a target spell alike.
macro_rules! role_input {
    ($($t:ty),*) => {$(
        impl $t {
            pub(super) fn role(&self) -> RoleInput<'_> {
                RoleInput {
                    arn: &self.role_arn,
                    external_id: &self.external_id,
                    session_name: &self.session_name,
                    duration: &self.duration,
                }
            }
        }
    )*};
}

role_input!(raw::Defaults, raw::EcrDef, raw::TargetDef);

/// STS's limits on a role session.
const MIN_SESSION: Duration = Duration::from_secs(15 * 60);
const MAX_SESSION: Duration = Duration::from_secs(12 * 3600);

impl Validator<'_> {
    /// The access of an image or target: its own region/profile/role over the defaults'.
    pub(super) fn access(
        &mut self,
        region: &Option<Spanned<String>>,
        profile: &Option<Spanned<String>>,
        role: RoleInput<'_>,
        defaults: &AwsAccess,
        project: &str,
    ) -> AwsAccess {
        let own = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.value.clone());
        let role = match self.role(role, project) {
            Some(r) => Some(r),
            None => defaults.role.clone(),
        };
        AwsAccess {
            region: own(region).or_else(|| defaults.region.clone()),
            profile: own(profile).or_else(|| defaults.profile.clone()),
            role,
        }
    }

    /// The role one level of the file sets, checked as STS would check it.
    pub(super) fn role(&mut self, r: RoleInput<'_>, project: &str) -> Option<AssumeRole> {
        let Some(arn) = r.arn else {
            for (key, v) in [
                ("external_id", r.external_id),
                ("session_name", r.session_name),
                ("duration", r.duration),
            ] {
                if let Some(v) = v {
                    self.err(
                        format!("`{key}` is set without `role_arn`"),
                        self.at(v, v.value.chars().count()),
                        Some(format!("set `role_arn` next to `{key}`, or remove `{key}`")),
                    );
                }
            }
            return None;
        };
        if !valid_role_arn(&arn.value) {
            self.err(
                format!("`{}` is not an IAM role ARN", arn.value),
                self.at(arn, arn.value.chars().count()),
                Some("write it as `arn:aws:iam::123456789012:role/NAME`".into()),
            );
        }
        if let Some(id) = r.external_id
            && !(2..=1224).contains(&id.value.len())
        {
            self.err(
                "`external_id` must be 2 to 1224 characters",
                self.at(id, id.value.chars().count()),
                None,
            );
        }
        let session_name = match r.session_name {
            Some(s) if !valid_session_name(&s.value) => {
                self.err(
                    format!("`{}` is not a valid role session name", s.value),
                    self.at(s, s.value.chars().count()),
                    Some("use 2 to 64 letters, digits and `+=,.@-_`".into()),
                );
                s.value.clone()
            }
            Some(s) => s.value.clone(),
            None => session_name_for(project),
        };
        let duration = self.duration(r.duration, Duration::from_secs(3600));
        if let Some(d) = r.duration
            && !(MIN_SESSION..=MAX_SESSION).contains(&duration)
        {
            self.err(
                format!("a role session lasts 15m to 12h, not `{}`", d.value),
                self.at(d, d.value.chars().count()),
                Some("STS refuses other durations; the role's own maximum may be lower".into()),
            );
        }
        Some(AssumeRole {
            arn: arn.value.clone(),
            external_id: r.external_id.as_ref().map(|e| e.value.clone()),
            session_name,
            duration,
        })
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`.
fn valid_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty() && !n.ends_with('/'))
    )
}

fn valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c))
}

/// `berth-<project>`, made a valid session name.
fn session_name_for(project: &str) -> String {
    let mut name: String = format!("berth-{project}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(64);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_and_session_names_are_checked_as_sts_does() {
        assert!(valid_role_arn("arn:aws:iam::222222222222:role/deploy"));
        assert!(valid_role_arn(
            "arn:aws-cn:iam::222222222222:role/path/deploy"
        ));
        assert!(!valid_role_arn("arn:aws:iam::2222:role/deploy"));
        assert!(!valid_role_arn("arn:aws:iam::222222222222:user/deploy"));
        assert!(!valid_role_arn("arn:aws:sts::222222222222:role/deploy"));
        assert!(!valid_role_arn("deploy"));
        assert!(valid_session_name("berth-ci@main"));
        assert!(!valid_session_name("x"));
        assert!(!valid_session_name("has space"));
        assert_eq!(session_name_for("my shop"), "berth-my-shop");
    }
}
