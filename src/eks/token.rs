//! EKS bearer tokens, made the way aws-iam-authenticator makes them: a presigned STS
//! `GetCallerIdentity` URL that also signs the header `x-k8s-aws-id: <cluster>`, base64url
//! without padding, behind `k8s-aws-v1.`. The cluster calls that URL (adding the header) to
//! learn who the caller is, so the token proves the identity without carrying a secret that
//! outlives it: STS accepts it for 15 minutes after it was signed.
//!
//! No `aws` binary and no kubeconfig exec plugin are involved; `berth eks-token` prints the
//! same token for users who want one (as `aws eks get-token` does).

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// The token prefix EKS expects.
pub const PREFIX: &str = "k8s-aws-v1.";
/// The header that binds a token to one cluster.
pub const CLUSTER_HEADER: &str = "x-k8s-aws-id";
/// How long EKS accepts a token after it was signed.
pub const LIFETIME: Duration = Duration::from_secs(15 * 60);
/// When berth makes a new one: a minute before EKS would refuse the old one.
pub const REFRESH_AFTER: Duration = Duration::from_secs(14 * 60);

/// A token and when it was made.
#[derive(Clone)]
pub struct Token {
    pub value: String,
    pub signed_at: SystemTime,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("signed_at", &self.signed_at)
            .finish()
    }
}

impl Token {
    /// When EKS stops accepting it.
    pub fn expires_at(&self) -> SystemTime {
        self.signed_at + LIFETIME
    }

    /// True once it is old enough to replace.
    pub fn stale(&self) -> bool {
        self.signed_at.elapsed().unwrap_or(Duration::MAX) >= REFRESH_AFTER
    }
}

/// Makes a token for `cluster` with `identity`, signed for `region` against the STS endpoint
/// `sts_url` (`https://sts.REGION.amazonaws.com`, or the emulator's address).
pub fn make(
    identity: &aws_smithy_runtime_api::client::identity::Identity,
    region: &str,
    sts_url: &str,
    cluster: &str,
    now: SystemTime,
) -> Result<Token> {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    // What aws-iam-authenticator and `aws eks get-token` put in the URL; the cluster applies
    // its own 15-minute window from X-Amz-Date.
    settings.expires_in = Some(Duration::from_secs(60));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| Error::failed(format!("cannot sign the EKS token: {e}")))?
        .into();
    let base = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts_url.trim_end_matches('/')
    );
    let signable = SignableRequest::new(
        "GET",
        &base,
        [(CLUSTER_HEADER, cluster)].into_iter(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| Error::failed(format!("cannot sign the EKS token: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| Error::failed(format!("cannot sign the EKS token: {e}")))?
        .into_parts();
    let mut url = base;
    for (k, v) in instructions.params() {
        url.push('&');
        url.push_str(&crate::encode::query_component(k));
        url.push('=');
        url.push_str(&crate::encode::query_component(v));
    }
    Ok(Token {
        value: format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(url)),
        signed_at: now,
    })
}

/// The `ExecCredential` document kubectl reads from an exec plugin.
pub fn exec_credential(token: &Token) -> serde_json::Value {
    let expires = humantime::format_rfc3339_seconds(token.expires_at()).to_string();
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": expires, "token": token.value}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    fn decode(token: &str) -> String {
        let b64 = token.strip_prefix(PREFIX).expect("prefix");
        String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(b64)
                .expect("base64url without padding"),
        )
        .unwrap()
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_that_signs_the_cluster_header() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let t = make(
            &creds.into(),
            "eu-west-1",
            "https://sts.eu-west-1.amazonaws.com",
            "shop-eks",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .unwrap();
        assert!(!t.value.contains('='), "no padding");
        let url = decode(&t.value);
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request",
            "X-Amz-Date=20231114T221320Z",
            "X-Amz-Expires=60",
            "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
        let sig = url.split("X-Amz-Signature=").nth(1).unwrap();
        assert_eq!(sig.len(), 64);
        // Another cluster, another signature: the token is bound to its cluster.
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let other = make(
            &creds.into(),
            "eu-west-1",
            "https://sts.eu-west-1.amazonaws.com",
            "other",
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
        .unwrap();
        assert_ne!(other.value, t.value);
    }

    #[test]
    fn session_tokens_travel_in_the_url_and_debug_output_hides_the_token() {
        let creds = Credentials::new("ASIAEXAMPLE", "secret", Some("sess/ion+".into()), None, "t");
        let t = make(
            &creds.into(),
            "us-east-1",
            "http://127.0.0.1:45660",
            "c",
            SystemTime::now(),
        )
        .unwrap();
        assert!(decode(&t.value).contains("X-Amz-Security-Token=sess%2Fion%2B"));
        assert!(!format!("{t:?}").contains(PREFIX));
        assert!(!t.stale());
        let old = Token {
            value: t.value.clone(),
            signed_at: SystemTime::now() - Duration::from_secs(14 * 60 + 1),
        };
        assert!(old.stale(), "replaced a minute before EKS would refuse it");
        let doc = exec_credential(&t);
        assert_eq!(doc["status"]["token"], t.value.as_str());
        assert_eq!(doc["apiVersion"], "client.authentication.k8s.io/v1beta1");
    }
}
