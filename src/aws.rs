//! AWS SDK configuration and error reporting: the one place that decides profile, region,
//! endpoint, retries and timeouts, and turns SDK errors into berth errors.
//!
//! Credentials come from the standard chain (environment, profile, SSO, web identity,
//! container credentials as in CodeBuild, IMDS). `AWS_ENDPOINT_URL` is honoured by the SDK
//! itself, which is how the local rig is reached. One `SdkConfig` is built per
//! (region, profile, role) and shared, so credentials are resolved once per run; a role is
//! assumed with its (region, profile)'s credentials.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Mutex;

use crate::error::{Diagnostic, Error, ErrorKind, Result};
use crate::pipeline::model::{AssumeRole, AwsAccess};

/// Region and profile given on the command line (or `BERTH_REGION`/`BERTH_PROFILE`); they
/// override what the pipeline file says.
#[derive(Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// An image's or target's access with the CLI's region and profile applied: the key of one
/// shared SDK configuration.
type ConfigKey = AwsAccess;

#[derive(Debug, Default)]
pub struct AwsConfigs {
    overrides: AwsSettings,
    cache: Mutex<HashMap<ConfigKey, SdkConfig>>,
    /// Who each configuration's credentials are, asked once (GetCallerIdentity).
    identities: Mutex<HashMap<ConfigKey, Identity>>,
}

/// The account and ARN behind a configuration's credentials, and its region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub region: String,
}

impl AwsConfigs {
    pub fn new(overrides: AwsSettings) -> Self {
        AwsConfigs {
            overrides,
            cache: Mutex::new(HashMap::new()),
            identities: Mutex::new(HashMap::new()),
        }
    }

    /// The access in effect for a pipeline's settings: CLI region and profile win; the role
    /// is the pipeline's (the CLI's profile is what assumes it).
    pub fn effective(&self, access: &AwsAccess) -> AwsAccess {
        AwsAccess {
            region: self.overrides.region.clone().or(access.region.clone()),
            profile: self.overrides.profile.clone().or(access.profile.clone()),
            role: access.role.clone(),
        }
    }

    /// Checks a region and profile before any work starts: neither is empty, and a profile
    /// exists in the shared config files (exit 2, nothing changed, otherwise).
    pub fn check(&self, access: &AwsAccess) -> Result<()> {
        let a = self.effective(access);
        check_settings(a.region.as_deref(), a.profile.as_deref())
    }

    /// The SDK configuration for an image's or target's access (CLI values win). With a
    /// role, the credentials are the role's, assumed with the profile's (or environment's)
    /// credentials once, and again five minutes before they run out ([`Cached`]).
    pub async fn get(&self, access: &AwsAccess) -> Result<SdkConfig> {
        let key = self.effective(access);
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.get(&key) {
            return Ok(c.clone());
        }
        let base_key = AwsAccess {
            role: None,
            ..key.clone()
        };
        let base = match cache.get(&base_key) {
            Some(c) => c.clone(),
            None => {
                let c = load(&base_key).await?;
                cache.insert(base_key, c.clone());
                c
            }
        };
        let Some(role) = &key.role else {
            return Ok(base);
        };
        let config = assume(&base, role).await?;
        cache.insert(key, config.clone());
        Ok(config)
    }

    /// Who an access's credentials are (account, ARN) and its region: STS
    /// GetCallerIdentity, once per access and run. Only asked of an access already in use,
    /// so that a run that made no AWS call makes none for this either.
    pub async fn identity(&self, access: &AwsAccess) -> Option<Identity> {
        let key = self.effective(access);
        if let Some(i) = self.identities.lock().await.get(&key) {
            return Some(i.clone());
        }
        let config = self.cache.lock().await.get(&key).cloned()?;
        let out = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .ok()?;
        let identity = Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        };
        self.identities.lock().await.insert(key, identity.clone());
        Some(identity)
    }
}

/// The SDK configuration of a region and profile: one retry policy and timeouts for every
/// call berth makes.
async fn load(key: &AwsAccess) -> Result<SdkConfig> {
    let (region, profile) = (&key.region, &key.profile);
    // Checked once per (region, profile), when its configuration is built: the check reads
    // the shared config files.
    check_settings(region.as_deref(), profile.as_deref())?;
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(5))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(p) = profile {
        // A profile berth was told to use wins over credentials in the environment, as
        // `aws --profile` does (the SDK's default chain would put the environment first).
        loader = loader.profile_name(p).credentials_provider(
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(p)
                .build(),
        );
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.clone()));
    }
    let mut config = loader.load().await;
    if let Some(provider) = config.credentials_provider() {
        let cached = Cached::new(provider, None);
        config = config
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(cached),
            )
            .build();
    }
    if crate::trace::enabled(2) {
        // The SDK's default client, as the clients would make it themselves.
        let http = config.http_client().unwrap_or_else(|| {
            use aws_smithy_http_client::tls;
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::AwsLc,
                ))
                .build_https()
        });
        config = config.to_builder().http_client(Traced(http)).build();
    }
    if config.region().is_none() {
        return Err(Error::invalid(
            Diagnostic::new("no AWS region is set").hint(
                "set `defaults.region` in the pipeline file, pass `--region`, or set AWS_REGION",
            ),
        ));
    }
    Ok(config)
}

/// `base` with the role's credentials. The role is assumed here, once, so that a role that
/// cannot be assumed is that error (with the trust-policy hint) and not a vague credential
/// failure of whichever call came first; [`Cached`] assumes it again before the credentials
/// expire, for runs longer than the session.
async fn assume(base: &SdkConfig, role: &AssumeRole) -> Result<SdkConfig> {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(&role.arn)
        .session_name(&role.session_name)
        .session_length(role.duration)
        .configure(base);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    let first = provider
        .provide_credentials()
        .await
        .map_err(|e| assume_error(role, &e))?;
    let provider = Cached::new(SharedCredentialsProvider::new(provider), Some(first));
    Ok(base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .build())
}

/// Credentials kept until five minutes before they expire, for every configuration: the
/// SDK's identity cache does this for its own clients, but berth's raw calls (task
/// definition documents, S3 uploads, EKS tokens) ask the provider directly, and without this
/// each would assume the role (or read the SSO cache) again.
#[derive(Debug)]
struct Cached {
    inner: aws_credential_types::provider::SharedCredentialsProvider,
    current: Mutex<Option<aws_credential_types::Credentials>>,
}

impl Cached {
    fn new(
        inner: aws_credential_types::provider::SharedCredentialsProvider,
        first: Option<aws_credential_types::Credentials>,
    ) -> Self {
        Cached {
            inner,
            current: Mutex::new(first),
        }
    }
}

impl aws_credential_types::provider::ProvideCredentials for Cached {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let mut current = self.current.lock().await;
            let fresh = |c: &aws_credential_types::Credentials| {
                c.expiry()
                    .is_none_or(|at| at > std::time::SystemTime::now() + Duration::from_secs(300))
            };
            if let Some(c) = current.as_ref().filter(|c| fresh(c)) {
                return Ok(c.clone());
            }
            let c = self.inner.provide_credentials().await?;
            *current = Some(c.clone());
            Ok(c)
        })
    }
}

/// Why a role could not be assumed, with AWS's code when it gave one.
fn assume_error(
    role: &AssumeRole,
    e: &aws_credential_types::provider::error::CredentialsError,
) -> Error {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let doing = format!("cannot assume the role {}", role.arn);
    let trust = format!(
        "the role's trust policy must allow these credentials to call sts:AssumeRole{}; docs/accounts.md shows one",
        if role.external_id.is_some() {
            " with this external id"
        } else {
            ""
        }
    );
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(se) = c.downcast_ref::<aws_sdk_sts::error::SdkError<AssumeRoleError>>()
            && let Some(code) = se.code()
        {
            let err = service_error(doing, code, se.message(), None);
            return match err.kind() {
                ErrorKind::AccessDenied => err.with_hint(trust),
                _ => err,
            };
        }
        cur = c.source();
    }
    Error::from_chain(doing, e)
        .with_kind(ErrorKind::Credentials)
        .with_hint(hint_for(ErrorKind::Credentials, None))
}

/// The profile names in the shared AWS config and credentials files (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/config` and `~/.aws/credentials`).
pub fn profile_names() -> Vec<String> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
    };
    let mut names = Vec::new();
    for (path, is_config) in [
        (file("AWS_CONFIG_FILE", "config"), true),
        (file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), false),
    ] {
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        for line in text.lines() {
            let Some(section) = line
                .trim()
                .strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
            else {
                continue;
            };
            let section = section.trim();
            let name = match (is_config, section.split_once(char::is_whitespace)) {
                (true, Some(("profile", n))) => n.trim(),
                (true, None) if section == "default" => section,
                (false, None) => section,
                _ => continue,
            };
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

fn check_settings(region: Option<&str>, profile: Option<&str>) -> Result<()> {
    if region.is_some_and(|r| r.trim().is_empty()) {
        return Err(Error::invalid(
            Diagnostic::new("the AWS region is empty")
                .hint("pass a region such as `--region eu-west-1`, or leave the setting out to use the default"),
        ));
    }
    match profile {
        Some(p) if p.trim().is_empty() => Err(Error::invalid(
            Diagnostic::new("the AWS profile is empty").hint(
                "pass a profile name, or leave the setting out to use the default credentials",
            ),
        )),
        Some(p) => check_profile(p),
        None => Ok(()),
    }
}

/// An explicit profile must exist: the SDK would otherwise fail later with a vague error
/// (or, worse, fall back to other credentials).
fn check_profile(name: &str) -> Result<()> {
    let known = profile_names();
    if known.iter().any(|n| n == name) {
        return Ok(());
    }
    let hint = crate::error::suggest(name, known.iter().map(String::as_str)).unwrap_or_else(|| {
        if known.is_empty() {
            "no AWS config or credentials file defines a profile (see `aws configure --profile NAME`)".into()
        } else {
            format!("profiles: {}", known.join(", "))
        }
    });
    Err(Error::invalid(
        Diagnostic::new(format!("unknown AWS profile `{name}`")).hint(hint),
    ))
}

/// An SDK error as a berth error: what berth was doing, AWS's code and message, its
/// [`ErrorKind`], and the hint for that kind.
pub fn sdk_error<E, R>(doing: impl Into<String>, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let doing = doing.into();
    if let SdkError::ServiceError(se) = &err
        && let Some(code) = se.err().code()
    {
        return service_error(doing, code, se.err().message(), None);
    }
    // Dispatch and timeout errors: the chain says what happened (connection refused…).
    let mut causes = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = cur {
        let t = e.to_string();
        if causes.last() != Some(&t) {
            causes.push(t);
        }
        cur = e.source();
    }
    // Credential problems surface as dispatch failures with a long chain; say what they are.
    if causes
        .iter()
        .any(|c| c.contains("provided credentials") || c.contains("credential provider"))
    {
        let detail = causes
            .iter()
            .rev()
            .find(|c| c.contains("credential"))
            .cloned()
            .unwrap_or_default();
        return Error::failed(doing)
            .with_kind(ErrorKind::Credentials)
            .with_causes(vec![format!("no usable AWS credentials: {detail}")])
            .with_hint(hint_for(ErrorKind::Credentials, None));
    }
    let kind = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => ErrorKind::Unreachable,
        SdkError::ResponseError(_) => ErrorKind::ServerError,
        SdkError::ServiceError(_) => ErrorKind::Other,
        _ => ErrorKind::InvalidRequest,
    };
    let e = Error::failed(doing).with_kind(kind).with_causes(causes);
    match kind {
        ErrorKind::InvalidRequest => {
            e.with_hint("check the AWS credentials and region configuration")
        }
        k => e.with_hint(hint_for(k, None)),
    }
}

/// An error answer from an AWS service (typed SDK, raw JSON call or S3), by its code.
pub fn service_error(
    doing: impl Into<String>,
    code: &str,
    message: Option<&str>,
    status: Option<u16>,
) -> Error {
    let kind = kind_of(code, status);
    let cause = match message {
        Some(m) if !m.is_empty() => format!("{code}: {m}"),
        _ => code.to_string(),
    };
    let e = Error::failed(doing)
        .with_kind(kind)
        .with_causes(vec![cause]);
    match hint_for(kind, Some(code)) {
        h if h.is_empty() => e,
        h => e.with_hint(h),
    }
}

/// The kind of an AWS error code (and HTTP status, where known).
pub fn kind_of(code: &str, status: Option<u16>) -> ErrorKind {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedException" => ErrorKind::AccessDenied,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken" => ErrorKind::Credentials,
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "SlowDown"
        | "PriorRequestNotComplete"
        | "ProvisionedThroughputExceededException"
        | "BandwidthLimitExceeded"
        | "EC2ThrottledException" => ErrorKind::Throttled,
        "InternalFailure"
        | "InternalError"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServerException" => ErrorKind::ServerError,
        "ConflictException"
        | "ResourceInUseException"
        | "ConcurrentModificationException"
        | "OperationInProgressException"
        | "InvalidChangeSetStatus" => ErrorKind::Conflict,
        c if c.ends_with("NotFoundException") || c.starts_with("NoSuch") || c == "NotFound" => {
            ErrorKind::NotFound
        }
        _ => match status {
            Some(s) if s >= 500 => ErrorKind::ServerError,
            Some(429) => ErrorKind::Throttled,
            Some(403) => ErrorKind::AccessDenied,
            _ => ErrorKind::Other,
        },
    }
}

/// The one table of hints for AWS errors, by kind (and code where the kind is too coarse).
/// Empty when there is nothing useful to add.
pub fn hint_for(kind: ErrorKind, code: Option<&str>) -> String {
    match (kind, code) {
        (ErrorKind::Credentials, Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired")) => {
            "the AWS credentials have expired: refresh them (e.g. `aws sso login`) and run again".into()
        }
        (ErrorKind::Credentials, Some(_)) => {
            "the AWS credentials were rejected: check AWS_PROFILE / AWS_ACCESS_KEY_ID and that the key is active".into()
        }
        (ErrorKind::Credentials, None) => {
            "set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; in CodeBuild and ECS the task role is used".into()
        }
        (ErrorKind::AccessDenied, _) => {
            "the identity lacks a permission this needs; docs/iam.md lists what berth calls".into()
        }
        (ErrorKind::Throttled, _) => {
            "AWS is throttling this account: berth retried with backoff; run again later, or lower `--jobs`".into()
        }
        (ErrorKind::Unreachable, _) => {
            "AWS could not be reached: check the network, the region, and AWS_ENDPOINT_URL if you set one".into()
        }
        (ErrorKind::ServerError, _) => {
            "AWS answered with a server error; berth retried it: run again in a few minutes".into()
        }
        _ => String::new(),
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
    endpoint_with(config, prefix, |k| std::env::var(k).ok())
}

/// [`endpoint`] with the environment given: a service's own `AWS_ENDPOINT_URL_<SERVICE>`
/// wins over the configuration's endpoint (`AWS_ENDPOINT_URL`), as the SDK does for its
/// own calls, unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is set.
fn endpoint_with(config: &SdkConfig, prefix: &str, env: impl Fn(&str) -> Option<String>) -> String {
    match configured_endpoint(config, prefix, env) {
        Some(url) => url,
        None => {
            let region = config.region().map(|r| r.as_ref()).unwrap_or("us-east-1");
            format!("https://{prefix}.{region}.amazonaws.com")
        }
    }
}

/// The endpoint configured for a service, if any: its own `AWS_ENDPOINT_URL_<SERVICE>`,
/// else the configuration's.
fn configured_endpoint(
    config: &SdkConfig,
    prefix: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v == "true");
    let own = env(&format!("AWS_ENDPOINT_URL_{}", prefix.to_ascii_uppercase()))
        .filter(|u| !ignore && !u.is_empty());
    own.or_else(|| config.endpoint_url().map(str::to_string))
        .map(|u| u.trim_end_matches('/').to_string())
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
///
/// It goes through the same retry policy as the SDK's calls: the configured number of
/// attempts, with exponential backoff and jitter, for throttling, server errors and
/// connections that fail.
pub async fn json_call(
    config: &SdkConfig,
    signing_name: &str,
    prefix: &str,
    target: &str,
    body: &serde_json::Value,
    doing: &str,
) -> Result<serde_json::Value> {
    let policy = config
        .retry_config()
        .cloned()
        .unwrap_or_else(RetryConfig::standard);
    let mut attempt = 1;
    loop {
        match json_call_once(config, signing_name, prefix, target, body, doing).await {
            Err(e) if e.kind().is_transient() && attempt < policy.max_attempts() => {
                tokio::time::sleep(backoff(
                    policy.initial_backoff(),
                    policy.max_backoff(),
                    attempt,
                ))
                .await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The pause before retry `attempt` (1-based): exponential from `initial`, capped, with full
/// jitter (as the SDK's standard retry strategy does) so that parallel callers spread out.
pub fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = initial.saturating_mul(1u32 << attempt.min(16)).min(max);
    // Jitter without a random number crate: the clock's nanoseconds are random enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    ceiling.mul_f64(f64::from(nanos % 1000) / 1000.0)
}

async fn json_call_once(
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
    let started = std::time::Instant::now();
    let sent = req.send().await;
    trace_call(
        &format!("{signing_name} {target}"),
        sent.as_ref().map(|r| r.status().as_u16()),
        started,
    );
    let resp = sent.map_err(|e| {
        Error::from_chain(doing.to_string(), &e)
            .with_kind(ErrorKind::Unreachable)
            .with_hint(hint_for(ErrorKind::Unreachable, None))
    })?;
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
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
        .unwrap_or_else(|| status.as_u16().to_string());
    let message = value
        .get("message")
        .or_else(|| value.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or(&text);
    Err(service_error(
        doing,
        &code,
        Some(message),
        Some(status.as_u16()),
    ))
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
    let url = match configured_endpoint(config, "s3", |k| std::env::var(k).ok()) {
        Some(e) => format!("{e}/{bucket}/{key}"),
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
        .map_err(|e| Error::from_chain(doing.clone(), &e).with_kind(ErrorKind::Unreachable))?;
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|t| t.split("</Code>").next())
            .unwrap_or("")
            .to_string();
        let code = if code.is_empty() {
            status.as_u16().to_string()
        } else {
            code
        };
        let e = service_error(doing, &code, None, Some(status.as_u16()));
        return Err(if code == "NoSuchBucket" {
            e.with_hint(format!(
                "create the bucket `{bucket}` first, or name another in `s3_bucket`"
            ))
        } else {
            e
        });
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_map_to_kinds_that_code_can_match() {
        assert_eq!(
            kind_of("AccessDeniedException", None),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            kind_of("ExpiredTokenException", None),
            ErrorKind::Credentials
        );
        assert_eq!(kind_of("Throttling", None), ErrorKind::Throttled);
        assert_eq!(kind_of("ThrottlingException", None), ErrorKind::Throttled);
        assert_eq!(
            kind_of("ServiceNotFoundException", None),
            ErrorKind::NotFound
        );
        assert_eq!(kind_of("NoSuchBucket", Some(404)), ErrorKind::NotFound);
        assert_eq!(kind_of("Whatever", Some(503)), ErrorKind::ServerError);
        assert_eq!(kind_of("Whatever", Some(400)), ErrorKind::Other);
        assert!(ErrorKind::Throttled.is_transient());
        assert!(!ErrorKind::AccessDenied.is_transient());
    }

    #[test]
    fn a_service_error_names_the_code_and_gets_the_hint_of_its_kind() {
        let e = service_error("reading x", "AccessDenied", Some("not allowed"), None);
        assert_eq!(e.kind(), ErrorKind::AccessDenied);
        let text = e.render(false);
        assert!(text.contains("AccessDenied: not allowed"), "{text}");
        assert!(text.contains("docs/iam.md"), "{text}");
        let e = service_error("reading x", "ExpiredToken", None, None);
        assert!(e.render(false).contains("have expired"));
    }

    #[test]
    fn a_services_own_endpoint_variable_wins() {
        let config = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:1")
            .behavior_version(BehaviorVersion::latest())
            .build();
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            endpoint_with(&config, "sts", env(&[])),
            "http://127.0.0.1:1"
        );
        assert_eq!(
            endpoint_with(
                &config,
                "sts",
                env(&[("AWS_ENDPOINT_URL_STS", "http://sts.local/")])
            ),
            "http://sts.local"
        );
        assert_eq!(
            endpoint_with(
                &config,
                "ecs",
                env(&[("AWS_ENDPOINT_URL_STS", "http://sts.local")])
            ),
            "http://127.0.0.1:1"
        );
        let plain = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .behavior_version(BehaviorVersion::latest())
            .build();
        assert_eq!(
            endpoint_with(&plain, "sts", env(&[])),
            "https://sts.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_its_cap() {
        let (initial, max) = (Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..20 {
            assert!(backoff(initial, max, attempt) <= max);
        }
        assert!(backoff(initial, max, 1) <= Duration::from_millis(200));
    }
}

/// The SDK's HTTP client with every request traced (`-vv`): service host, operation, answer
/// and time, one line per attempt (retries show as repeated lines).
#[derive(Debug)]
struct Traced(aws_smithy_runtime_api::client::http::SharedHttpClient);

#[derive(Debug)]
struct TracedConnector(aws_smithy_runtime_api::client::http::SharedHttpConnector);

impl aws_smithy_runtime_api::client::http::HttpClient for Traced {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(TracedConnector(
            self.0.http_connector(settings, components),
        ))
    }
}

impl aws_smithy_runtime_api::client::http::HttpConnector for TracedConnector {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        let what = describe_request(&request);
        let started = std::time::Instant::now();
        let call = self.0.call(request);
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
            let answer = call.await;
            trace_call(&what, answer.as_ref().map(|r| r.status().as_u16()), started);
            answer
        })
    }
}

/// The `-vv` line of one AWS request: what, the HTTP status (or why there was none), time.
fn trace_call<E: std::fmt::Display>(
    what: &str,
    status: std::result::Result<u16, E>,
    started: std::time::Instant,
) {
    crate::trace::emit(2, || {
        let answer = match status {
            Ok(code) => code.to_string(),
            Err(e) => format!("no answer ({e})"),
        };
        format!(
            "aws {what} → {answer} in {} ms",
            started.elapsed().as_millis()
        )
    });
}

/// `HOST OPERATION` of an AWS request: the operation from `X-Amz-Target` (JSON protocols)
/// or the `Action=` of a query-protocol body; the method and path otherwise (REST).
fn describe_request(r: &aws_smithy_runtime_api::client::orchestrator::HttpRequest) -> String {
    let host = r
        .uri()
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    if let Some(t) = r.headers().get("x-amz-target") {
        return format!("{host} {}", t.rsplit('.').next().unwrap_or(t));
    }
    let body = r.body().bytes().unwrap_or_default();
    if let Some(action) = std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.split('&').find_map(|kv| kv.strip_prefix("Action=")))
    {
        return format!("{host} {action}");
    }
    let path = r
        .uri()
        .split("://")
        .nth(1)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]));
    format!(
        "{host} {} {}",
        r.method(),
        path.unwrap_or("/").split('?').next().unwrap_or("/")
    )
}

/// An AWS service berth calls, for `berth doctor`'s reachability checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Ecr,
    Ecs,
    CloudFormation,
    Eks,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::Ecr,
        Service::Ecs,
        Service::CloudFormation,
        Service::Eks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Ecr => "ECR",
            Service::Ecs => "ECS",
            Service::CloudFormation => "CloudFormation",
            Service::Eks => "EKS",
        }
    }

    /// The service's endpoint prefix (`ecs` in `ecs.us-east-1.amazonaws.com`).
    pub fn endpoint_prefix(self) -> &'static str {
        match self {
            Service::Ecr => "ecr",
            Service::Ecs => "ecs",
            Service::CloudFormation => "cloudformation",
            Service::Eks => "eks",
        }
    }
}

/// Who the credentials are: the caller's ARN and account (STS GetCallerIdentity, which
/// needs no permission).
pub async fn caller(config: &SdkConfig) -> Result<String> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| sdk_error("asking STS who the credentials are", e))?;
    Ok(format!(
        "{} (account {})",
        out.arn().unwrap_or("?"),
        out.account().unwrap_or("?")
    ))
}

/// One small read-only call to `service`, the kind berth makes: the endpoint answers, and the
/// identity may read there.
pub async fn reach(config: &SdkConfig, service: Service) -> Result<()> {
    let doing = format!("calling {}", service.name());
    match service {
        Service::Ecr => answered(
            doing,
            aws_sdk_ecr::Client::new(config)
                .describe_repositories()
                .max_results(1)
                .send()
                .await,
        ),
        Service::Ecs => answered(
            doing,
            aws_sdk_ecs::Client::new(config)
                .list_clusters()
                .max_results(1)
                .send()
                .await,
        ),
        Service::CloudFormation => answered(
            doing,
            aws_sdk_cloudformation::Client::new(config)
                .list_stacks()
                .send()
                .await,
        ),
        Service::Eks => answered(
            doing,
            aws_sdk_eks::Client::new(config)
                .list_clusters()
                .max_results(1)
                .send()
                .await,
        ),
    }
}

/// Whether a call was answered (its output is not needed), as a berth error if not.
fn answered<O, E, R>(doing: String, r: std::result::Result<O, SdkError<E, R>>) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    r.map(drop).map_err(|e| sdk_error(doing, e))
}
