//! Reaching a cluster: either an EKS cluster by name (DescribeCluster for the endpoint and CA,
//! a token berth signs itself from the same AWS credentials as everything else; nothing else
//! installed), or a kubeconfig context (any Kubernetes; exec plugins work as kubectl runs
//! them).
//!
//! The EKS token lives 15 minutes. Instead of a custom tower layer, the connection hands out
//! a client whose token is fresh: callers ask for `client()` before each request or watch
//! (watches are bounded well under the token's life), and a token older than 14 minutes is
//! replaced. Errors from the API server become berth errors that say what to do: a 401 names
//! the IAM identity that is not mapped in the cluster, a 403 the verb and resource.

use std::time::SystemTime;

use aws_config::SdkConfig;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Mutex;

use super::token::{self, Token};
use crate::aws::{self, AwsConfigs};
use crate::engine::ports::On;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::model::{EksConnection, EksTarget};

enum Via {
    Eks {
        config: Box<SdkConfig>,
        cluster: String,
        endpoint: String,
        ca_der: Vec<u8>,
    },
    Context(Box<kube::Config>),
}

pub struct Connection {
    via: Via,
    namespace: String,
    /// The client and the token it carries (EKS), replaced when the token gets old.
    current: Mutex<Option<(kube::Client, Option<Token>)>>,
}

impl Connection {
    pub async fn open(configs: &AwsConfigs, on: On<'_, EksTarget>) -> Result<Self> {
        let (target, e, namespace) = (on.target, on.spec, &on.spec.namespace);
        let via = match &e.connection {
            EksConnection::Cluster(cluster) => {
                let config = configs.get(&target.aws).await?;
                let (endpoint, ca_pem) = describe(&config, cluster).await?;
                let ca_der = pem_to_der(&ca_pem).ok_or_else(|| {
                    Error::failed(format!(
                        "the CA certificate of EKS cluster {cluster} is not PEM"
                    ))
                })?;
                Via::Eks {
                    config: Box::new(config),
                    cluster: cluster.clone(),
                    endpoint,
                    ca_der,
                }
            }
            EksConnection::Context(ctx) => Via::Context(Box::new(from_kubeconfig(ctx).await?)),
        };
        Ok(Connection {
            via,
            namespace: namespace.to_string(),
            current: Mutex::new(None),
        })
    }

    /// `EKS cluster shop-eks` / `kubeconfig context kind-dev`, for messages.
    pub fn describe(&self) -> String {
        match &self.via {
            Via::Eks { cluster, .. } => format!("EKS cluster {cluster}"),
            Via::Context(c) => format!("the cluster at {}", c.cluster_url),
        }
    }

    /// A client with a token good for at least another minute.
    pub async fn client(&self) -> Result<kube::Client> {
        let mut current = self.current.lock().await;
        if let Some((client, token)) = current.as_ref()
            && !token.as_ref().is_some_and(Token::stale)
        {
            return Ok(client.clone());
        }
        let (mut config, token) = match &self.via {
            Via::Eks {
                config,
                cluster,
                endpoint,
                ca_der,
            } => {
                let token = eks_token(config, cluster).await?;
                let uri: http::Uri = endpoint.parse().map_err(|e| {
                    Error::failed(format!(
                        "EKS cluster {cluster} has an endpoint berth cannot use: {endpoint}"
                    ))
                    .with_causes(vec![format!("{e}")])
                })?;
                let mut c = kube::Config::new(uri);
                c.root_cert = Some(vec![ca_der.clone()]);
                c.auth_info.token = Some(secrecy::SecretString::from(token.value.clone()));
                (c, Some(token))
            }
            Via::Context(c) => ((**c).clone(), None),
        };
        // The AWS SDK and kube-rs bring different rustls crypto backends; with both compiled
        // in, rustls cannot pick one by itself, so the process default is set once here.
        let _ = rustls::crypto::ring::default_provider().install_default();
        config.default_namespace = self.namespace.clone();
        config.connect_timeout = Some(std::time::Duration::from_secs(10));
        // kube-rs retries 429/503/504 by itself up to 15 times with delays growing to 1000 s:
        // a deploy would overrun its timeout silently. A short retry here (about 6 s at
        // most) takes a blip; the waits ride out longer trouble until their own deadline,
        // saying so, and anything else fails as what it is.
        config.default_retry = false;
        let setup_error = |e: &dyn std::error::Error| {
            Error::failed(format!("cannot set up a client for {}", self.describe()))
                .with_causes(vec![e.to_string()])
        };
        let retry = kube::client::retry::RetryPolicy::new(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(3),
            4,
            true,
        )
        .map_err(|e| setup_error(&e))?;
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| setup_error(&e))?
            .with_layer(
                &tower::ServiceBuilder::new()
                    .layer(tower::retry::RetryLayer::new(retry))
                    .buffer(64),
            )
            .build();
        *current = Some((client.clone(), token));
        Ok(client)
    }

    /// The IAM identity berth authenticates as (for 401 messages), when it is an EKS cluster.
    pub async fn identity(&self) -> Option<String> {
        let Via::Eks { config, .. } = &self.via else {
            return None;
        };
        let sts = aws_sdk_sts::Client::new(config);
        let out = sts.get_caller_identity().send().await.ok()?;
        out.arn().map(str::to_string)
    }

    /// A kube error as a berth error, with the hint that fits.
    pub async fn error(&self, doing: impl Into<String>, err: kube::Error) -> Error {
        let doing = doing.into();
        match &err {
            kube::Error::Api(status) if status.code == 401 => {
                let who = self.identity().await;
                let mut e = Error::failed(doing).with_kind(ErrorKind::Credentials).with_causes(vec![format!(
                    "{} refused the credentials (401 Unauthorized){}",
                    self.describe(),
                    who.as_deref()
                        .map(|a| format!(": the IAM identity {a} is not mapped to a Kubernetes user"))
                        .unwrap_or_default()
                )]);
                e = match (&self.via, who) {
                    (Via::Eks { cluster, .. }, Some(arn)) => e.with_hint(format!(
                        "give it access: `aws eks create-access-entry --cluster-name {cluster} --principal-arn {arn}` plus an access policy, or a mapping in the aws-auth ConfigMap"
                    )),
                    _ => e.with_hint("the kubeconfig's credentials were refused; log in again (the exec plugin or token in the context)"),
                };
                e
            }
            kube::Error::Api(status) if status.code == 403 => Error::failed(doing)
                .with_kind(ErrorKind::AccessDenied)
                .with_causes(vec![format!("403 Forbidden: {}", status.message)])
                .with_hint("the identity is known to the cluster but RBAC does not allow this; bind it a Role or ClusterRole that grants the verb on that resource"),
            kube::Error::Api(status) => Error::failed(doing)
                .with_kind(match status.code {
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::Conflict,
                    429 => ErrorKind::Throttled,
                    c if c >= 500 => ErrorKind::ServerError,
                    _ => ErrorKind::Other,
                })
                .with_causes(vec![format!(
                    "{} {}: {}",
                    status.code, status.reason, status.message
                )]),
            _ => {
                let e = Error::from_chain(doing, &err).with_kind(ErrorKind::Unreachable);
                let text = format!("{e:?}");
                if text.contains("certificate") || text.contains("UnknownIssuer") {
                    e.with_hint(format!("the TLS certificate of {} is not signed by the cluster's CA as berth knows it; for a kubeconfig context check certificate-authority-data", self.describe()))
                } else {
                    e.with_hint(format!(
                        "{} could not be reached: check the network path to its endpoint (a private endpoint needs a VPN or a runner inside the VPC)",
                        self.describe()
                    ))
                }
            }
        }
    }
}

/// Endpoint and CA certificate (PEM) of an EKS cluster.
pub async fn describe(config: &SdkConfig, cluster: &str) -> Result<(String, Vec<u8>)> {
    let eks = aws_sdk_eks::Client::new(config);
    let out = eks
        .describe_cluster()
        .name(cluster)
        .send()
        .await
        .map_err(|e| {
            let not_found = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            let err = aws::sdk_error(format!("cannot read EKS cluster {cluster}"), e);
            if not_found {
                err.with_hint("check the cluster name and the region (`aws eks list-clusters`)")
            } else {
                err
            }
        })?;
    let c = out
        .cluster()
        .ok_or_else(|| Error::failed(format!("EKS cluster {cluster} was not described")))?;
    if let Some(status) = c.status()
        && status.as_str() != "ACTIVE"
        && status.as_str() != "UPDATING"
    {
        return Err(Error::failed(format!(
            "EKS cluster {cluster} is {}, not ACTIVE",
            status.as_str()
        )));
    }
    let endpoint = c
        .endpoint()
        .ok_or_else(|| Error::failed(format!("EKS cluster {cluster} has no endpoint yet")))?
        .to_string();
    let pem = c
        .certificate_authority()
        .and_then(|a| a.data())
        .and_then(|d| STANDARD.decode(d).ok())
        .ok_or_else(|| Error::failed(format!("EKS cluster {cluster} has no CA certificate")))?;
    Ok((endpoint, pem))
}

fn pem_to_der(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body).ok()
}

/// A fresh token for `cluster`, signed with the configuration's credentials.
pub async fn eks_token(config: &SdkConfig, cluster: &str) -> Result<Token> {
    let identity = aws::identity(config).await?;
    let region = config
        .region()
        .map(|r| r.as_ref().to_string())
        .unwrap_or_else(|| "us-east-1".into());
    token::make(
        &identity,
        &region,
        &aws::endpoint(config, "sts"),
        cluster,
        SystemTime::now(),
    )
}

async fn from_kubeconfig(context: &str) -> Result<kube::Config> {
    let kubeconfig = kube::config::Kubeconfig::read().map_err(|e| {
        Error::from_chain("cannot read the kubeconfig", &e)
            .with_hint("set KUBECONFIG or create ~/.kube/config, or use `cluster:` for EKS")
    })?;
    let known: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    if !known.iter().any(|c| c == context) {
        let hint = crate::error::suggest(context, known.iter().map(String::as_str))
            .unwrap_or_else(|| format!("contexts in the kubeconfig: {}", known.join(", ")));
        return Err(
            Error::failed(format!("the kubeconfig has no context `{context}`")).with_hint(hint),
        );
    }
    let options = kube::config::KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| Error::from_chain(format!("cannot use kubeconfig context `{context}`"), &e))
}

/// For `berth doctor`: connects as a deploy would, asks the API server its version and
/// lists the workload's kind in its namespace (what a deploy reads first).
pub async fn check_access(configs: &AwsConfigs, on: On<'_, EksTarget>) -> Result<String> {
    let namespace = on.spec.namespace.clone();
    let conn = Connection::open(configs, on).await?;
    let client = conn.client().await?;
    let version = match client.apiserver_version().await {
        Ok(v) => v,
        Err(e) => return Err(conn.error("asking the API server its version", e).await),
    };
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(client, &namespace);
    if let Err(e) = deployments
        .list(&kube::api::ListParams::default().limit(1))
        .await
    {
        return Err(conn
            .error(format!("listing Deployments in namespace {namespace}"), e)
            .await);
    }
    Ok(format!(
        "{} answers (Kubernetes {}.{}); Deployments in namespace {namespace} can be read",
        conn.describe(),
        version.major,
        version.minor
    ))
}
