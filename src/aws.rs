//! AWS SDK configuration and error reporting: the one place that decides profile, region,
//! endpoint, retries and timeouts, and turns SDK errors into berth errors.
//!
//! Credentials come from the standard chain (environment, profile, SSO, web identity,
//! container credentials as in CodeBuild, IMDS). `AWS_ENDPOINT_URL` is honoured by the SDK
//! itself, which is how the local rig is reached. One `SdkConfig` is built per
//! (region, profile) pair and shared, so credentials are resolved once per run.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;

use crate::error::{Diagnostic, Error, Result};

/// Region and profile given on the command line (or `BERTH_REGION`/`BERTH_PROFILE`); they
/// override what the pipeline file says.
#[derive(Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// (region, profile) as resolved for one image or target.
type ConfigKey = (Option<String>, Option<String>);

#[derive(Debug, Default)]
pub struct AwsConfigs {
    overrides: AwsSettings,
    cache: Mutex<HashMap<ConfigKey, SdkConfig>>,
}

impl AwsConfigs {
    pub fn new(overrides: AwsSettings) -> Self {
        AwsConfigs {
            overrides,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The SDK configuration for a region and profile from the pipeline file (CLI values win).
    pub async fn get(&self, region: Option<&str>, profile: Option<&str>) -> Result<SdkConfig> {
        let region = self.overrides.region.clone().or(region.map(str::to_string));
        let profile = self
            .overrides
            .profile
            .clone()
            .or(profile.map(str::to_string));
        let key = (region.clone(), profile.clone());
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(p) = &profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &region {
            loader = loader.region(Region::new(r.clone()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(Error::invalid(
                Diagnostic::new("no AWS region is set")
                    .hint("set `defaults.region` in the pipeline file, pass `--region`, or set AWS_REGION"),
            ));
        }
        cache.insert(key, config.clone());
        Ok(config)
    }
}

/// An SDK error as a berth error: what berth was doing, AWS's code and message, and a hint
/// for the errors people actually hit (expired credentials, missing permissions, no network).
pub fn sdk_error<E, R>(doing: impl Into<String>, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let doing = doing.into();
    let (code, message) = match &err {
        SdkError::ServiceError(se) => (
            se.err().code().map(str::to_string),
            se.err().message().map(str::to_string),
        ),
        _ => (None, None),
    };
    let hint = hint_for(code.as_deref(), &err);
    let mut causes = Vec::new();
    match (&code, &message) {
        (Some(c), Some(m)) => causes.push(format!("{c}: {m}")),
        (Some(c), None) => causes.push(c.clone()),
        _ => {
            // Dispatch and timeout errors: the chain says what happened (connection refused…).
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = cur {
                let t = e.to_string();
                if causes.last() != Some(&t) {
                    causes.push(t);
                }
                cur = e.source();
            }
        }
    }
    // Credential problems surface as dispatch failures with a long chain; say what they are.
    if code.is_none()
        && causes
            .iter()
            .any(|c| c.contains("provided credentials") || c.contains("credential provider"))
    {
        let detail = causes
            .iter()
            .rev()
            .find(|c| c.contains("credential"))
            .cloned()
            .unwrap_or_default();
        return Error::Failed {
            message: doing,
            causes: vec![format!("no usable AWS credentials: {detail}")],
            hint: Some(
                "set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CodeBuild and ECS the task role is used".into(),
            ),
        };
    }
    Error::Failed {
        message: doing,
        causes,
        hint,
    }
}

fn hint_for<E, R>(code: Option<&str>, err: &SdkError<E, R>) -> Option<String> {
    match code {
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            Some("the AWS credentials have expired: refresh them (e.g. `aws sso login`) and run again".into())
        }
        Some("InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidSignatureException" | "SignatureDoesNotMatch") => {
            Some("the AWS credentials were rejected: check AWS_PROFILE / AWS_ACCESS_KEY_ID and that the key is active".into())
        }
        Some("AccessDenied" | "AccessDeniedException") => {
            Some("the identity lacks a permission this needs; docs/iam.md lists what berth calls".into())
        }
        _ => match err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Some(
                "AWS could not be reached: check the network, the region, and AWS_ENDPOINT_URL if you set one".into(),
            ),
            SdkError::ConstructionFailure(_) => Some("check the AWS credentials and region configuration".into()),
            _ => None,
        },
    }
}

/// One HTTP client for the raw calls (task definition documents, S3 uploads), so that
/// connections and TLS sessions are reused across calls instead of set up for each.
fn http() -> Result<&'static reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| Error::from_chain("cannot set up an HTTP client", &e))?;
    Ok(CLIENT.get_or_init(|| c))
}

/// Where a service's API answers: `AWS_ENDPOINT_URL` (or the profile's endpoint) when set,
/// else the public regional endpoint.
pub fn endpoint(config: &SdkConfig, prefix: &str) -> String {
    match config.endpoint_url() {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let region = config.region().map(|r| r.as_ref()).unwrap_or("us-east-1");
            format!("https://{prefix}.{region}.amazonaws.com")
        }
    }
}

/// The credentials of a configuration, as a signing identity.
pub async fn identity(
    config: &SdkConfig,
) -> Result<aws_smithy_runtime_api::client::identity::Identity> {
    use aws_credential_types::provider::ProvideCredentials;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| Error::failed("no AWS credentials provider is configured"))?;
    let creds = provider.provide_credentials().await.map_err(|e| {
        Error::from_chain("no usable AWS credentials", &e)
            .with_hint("set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    })?;
    Ok(creds.into())
}

/// One call to an AWS JSON-protocol API with a document as the request body, for documents
/// berth passes through unchanged (task definitions written by users), which the typed SDK
/// cannot carry without dropping fields it does not know.
pub async fn json_call(
    config: &SdkConfig,
    signing_name: &str,
    prefix: &str,
    target: &str,
    body: &serde_json::Value,
    doing: &str,
) -> Result<serde_json::Value> {
    let url = format!("{}/", endpoint(config, prefix));
    let region = config
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let identity = identity(config).await?;
    let payload = serde_json::to_vec(body).expect("json");
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let headers = [
        ("content-type", "application/x-amz-json-1.1".to_string()),
        ("x-amz-target", target.to_string()),
        ("host", host),
    ];
    let signed = sign_headers(
        &identity,
        &region,
        signing_name,
        "POST",
        &url,
        &headers,
        &payload,
    )?;
    let client = http()?;
    let mut req = client.post(&url).body(payload);
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        req = req.header(*k, v);
    }
    for (k, v) in &signed {
        req = req.header(k, v);
    }
    let resp = req.send().await.map_err(|e| Error::from_chain(doing.to_string(), &e).with_hint("AWS could not be reached: check the network, the region, and AWS_ENDPOINT_URL if you set one"))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| Error::from_chain(doing.to_string(), &e))?;
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let code = value
        .get("__type")
        .and_then(|t| t.as_str())
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or(&text)
        .to_string();
    let hint = match code.as_deref() {
        Some("ExpiredToken" | "ExpiredTokenException") => Some("the AWS credentials have expired: refresh them (e.g. `aws sso login`) and run again".to_string()),
        Some("AccessDenied" | "AccessDeniedException") => Some("the identity lacks a permission this needs; docs/iam.md lists what berth calls".to_string()),
        Some("UnrecognizedClientException" | "InvalidSignatureException") => Some("the AWS credentials were rejected: check AWS_PROFILE / AWS_ACCESS_KEY_ID and that the key is active".to_string()),
        _ => None,
    };
    Err(Error::Failed {
        message: doing.to_string(),
        causes: vec![format!(
            "{}: {message}",
            code.unwrap_or_else(|| status.to_string())
        )],
        hint,
    })
}

/// SigV4 headers for one request (the ones to add to `headers`).
fn sign_headers(
    identity: &aws_smithy_runtime_api::client::identity::Identity,
    region: &str,
    service: &str,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Error::failed(format!("cannot sign a request: {e}")))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| Error::failed(format!("cannot sign a request: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| Error::failed(format!("cannot sign a request: {e}")))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// Uploads an object to S3 (for templates over CloudFormation's inline limit); returns the
/// object's canonical `https://BUCKET.s3.REGION.amazonaws.com/KEY` URL, which is what
/// CloudFormation reads from.
pub async fn s3_put(config: &SdkConfig, bucket: &str, key: &str, body: Vec<u8>) -> Result<String> {
    use sha2::{Digest, Sha256};
    let region = config
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let canonical = format!("https://{bucket}.s3.{region}.amazonaws.com/{key}");
    // Through AWS_ENDPOINT_URL (path style) when set, else the bucket's own host.
    let url = match config.endpoint_url() {
        Some(e) => format!("{}/{bucket}/{key}", e.trim_end_matches('/')),
        None => canonical.clone(),
    };
    let identity = identity(config).await?;
    let hash = hex::encode(Sha256::digest(&body));
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let headers = [("host", host), ("x-amz-content-sha256", hash)];
    let signed = sign_headers(&identity, &region, "s3", "PUT", &url, &headers, &body)?;
    let client = http()?;
    let mut req = client
        .put(&url)
        .header("x-amz-content-sha256", &headers[1].1)
        .body(body);
    for (k, v) in &signed {
        req = req.header(k, v);
    }
    let doing = format!("uploading s3://{bucket}/{key}");
    let resp = req
        .send()
        .await
        .map_err(|e| Error::from_chain(doing.clone(), &e))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|t| t.split("</Code>").next())
            .unwrap_or("")
            .to_string();
        let hint = if code == "NoSuchBucket" {
            Some(format!(
                "create the bucket `{bucket}` first, or name another in `s3_bucket`"
            ))
        } else {
            None
        };
        return Err(Error::Failed {
            message: doing,
            causes: vec![format!("{status} {code}")],
            hint,
        });
    }
    Ok(canonical)
}
