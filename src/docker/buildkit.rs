//! BuildKit builds with build secrets, through the daemon's own endpoints and a session of
//! berth's.
//!
//! A build secret reaches a `RUN --mount=type=secret` step through a BuildKit *session*: the
//! client opens `POST /session` (upgraded to HTTP/2), serves gRPC on it (health and
//! `moby.buildkit.secrets.v1.Secrets`), and names the session in the build request. The daemon
//! asks for a secret when a step mounts it; the value is never part of the request, a layer or
//! the image history. bollard's session serves no secrets on this path, so berth runs its own
//! (bollard-buildkit-proto for the service definitions, tonic to serve them).
//!
//! The build itself is the ordinary `POST /build` with `version=2`: the context streams as the
//! request body, and the daemon streams progress back as BuildKit status messages, which
//! become step progress and log lines here, with the last lines kept for a failure.

use std::collections::VecDeque;

use base64::Engine;
use bollard_buildkit_proto::health::{HealthCheckRequest, HealthCheckResponse};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::{Secrets, SecretsServer};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use futures_util::StreamExt;
use prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::ports::SecretSource;
use crate::engine::step::StepCtx;
use crate::error::{Error, Result};

/// A connection to the daemon, as the gRPC server's transport.
trait Conn: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Conn for T {}

struct Io(Box<dyn Conn>);

impl AsyncRead for Io {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Io {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Opens a new connection to the daemon at `host` (`unix://…` or `tcp://…`).
async fn connect(host: &str) -> Result<Box<dyn Conn>> {
    let fail = |e: std::io::Error| {
        Error::from_chain(format!("cannot connect to the Docker daemon at {host}"), &e)
    };
    if let Some(path) = host.strip_prefix("unix://") {
        Ok(Box::new(
            tokio::net::UnixStream::connect(path).await.map_err(fail)?,
        ))
    } else if let Some(addr) = host.strip_prefix("tcp://").or(host.strip_prefix("http://")) {
        Ok(Box::new(
            tokio::net::TcpStream::connect(addr).await.map_err(fail)?,
        ))
    } else {
        Err(Error::failed(format!(
            "builds with secrets need a unix:// or tcp:// DOCKER_HOST, not {host}"
        )))
    }
}

/// Reads an HTTP response head (status line and headers) byte by byte, so that nothing after
/// it is consumed: after a 101, what follows belongs to HTTP/2.
async fn read_head(io: &mut Box<dyn Conn>) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if io.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the daemon closed the connection",
            ));
        }
        head.push(byte[0]);
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other("response head too long"));
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, headers))
}

/// Serves secrets to the daemon. Values are read when a step asks, and go nowhere else.
struct SecretStore(Vec<(String, SecretSource)>);

#[tonic::async_trait]
impl Secrets for SecretStore {
    async fn get_secret(
        &self,
        request: tonic::Request<GetSecretRequest>,
    ) -> std::result::Result<tonic::Response<GetSecretResponse>, tonic::Status> {
        let id = &request.get_ref().id;
        let Some((_, source)) = self.0.iter().find(|(k, _)| k == id) else {
            return Err(tonic::Status::not_found(format!(
                "no build secret `{id}` in the pipeline file"
            )));
        };
        let data = match source {
            SecretSource::Env(var) => std::env::var_os(var)
                .map(|v| v.as_encoded_bytes().to_vec())
                .ok_or_else(|| tonic::Status::not_found(format!("{var} is not set")))?,
            SecretSource::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || crate::source::read_bytes(&path))
                    .await
                    .map_err(|e| tonic::Status::internal(e.to_string()))?
                    .map_err(|e| tonic::Status::not_found(e.to_string()))?
            }
        };
        Ok(tonic::Response::new(GetSecretResponse { data }))
    }
}

/// A running session; ends when dropped.
pub struct Session {
    pub id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Opens a session on the daemon that serves `secrets`.
pub async fn open_session(
    host: &str,
    api: &str,
    name: &str,
    secrets: Vec<(String, SecretSource)>,
) -> Result<Session> {
    let id = random_id();
    let mut io = connect(host).await?;
    let methods = [
        "/grpc.health.v1.Health/Check",
        "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    ];
    let mut request = format!(
        "POST /v{api}/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\nX-Docker-Expose-Session-Uuid: {id}\r\nX-Docker-Expose-Session-Name: {name}\r\nX-Docker-Expose-Session-Sharedkey: {}\r\n",
        random_id()
    );
    for m in methods {
        request.push_str(&format!("X-Docker-Expose-Session-Grpc-Method: {m}\r\n"));
    }
    request.push_str("\r\n");
    let failed = |e: std::io::Error| Error::from_chain("cannot open a BuildKit session", &e);
    io.write_all(request.as_bytes()).await.map_err(failed)?;
    let (status, _) = read_head(&mut io).await.map_err(failed)?;
    if status != 101 {
        return Err(Error::failed(format!(
            "the Docker daemon at {host} refused a BuildKit session (HTTP {status})"
        ))
        .with_hint("build secrets need BuildKit: Docker Engine 18.09 or newer"));
    }
    let router = tonic::transport::Server::builder()
        .add_service(bollard_buildkit_proto::health::health_server::HealthServer::new(Health))
        .add_service(SecretsServer::new(SecretStore(secrets)));
    let incoming = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Io(io))]);
    let server = tokio::spawn(async move {
        let _ = router.serve_with_incoming(incoming).await;
    });
    Ok(Session { id, server })
}

/// Answers the daemon's health checks on the session.
pub struct Health;

#[tonic::async_trait]
impl bollard_buildkit_proto::health::health_server::Health for Health {
    async fn check(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> std::result::Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        Ok(tonic::Response::new(HealthCheckResponse { status: 1 }))
    }

    async fn list(
        &self,
        _: tonic::Request<bollard_buildkit_proto::health::HealthListRequest>,
    ) -> std::result::Result<
        tonic::Response<bollard_buildkit_proto::health::HealthListResponse>,
        tonic::Status,
    > {
        Ok(tonic::Response::new(Default::default()))
    }

    type WatchStream =
        futures_util::stream::Empty<std::result::Result<HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> std::result::Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("watch"))
    }
}

fn random_id() -> String {
    use sha2::{Digest, Sha256};
    let seed = format!(
        "{:?}{}{:?}",
        std::time::SystemTime::now(),
        std::process::id(),
        std::thread::current().id()
    );
    hex::encode(&Sha256::digest(seed.as_bytes())[..12])
}

/// What a BuildKit build request carries besides its context.
pub struct BuildParams {
    pub api: String,
    pub session: String,
    pub tag: String,
    pub dockerfile: String,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub network: Option<crate::pipeline::model::BuildNetwork>,
    pub cache_from: Vec<String>,
    pub no_cache: bool,
    pub pull: bool,
}

impl BuildParams {
    fn query(&self) -> String {
        let map = |v: &[(String, String)]| {
            serde_json::to_string(
                &v.iter()
                    .cloned()
                    .collect::<std::collections::BTreeMap<String, String>>(),
            )
            .expect("json")
        };
        let mut q = vec![
            ("version", "2".to_string()),
            ("session", self.session.clone()),
            ("t", self.tag.clone()),
            ("dockerfile", self.dockerfile.clone()),
            ("buildargs", map(&self.build_args)),
            ("labels", map(&self.labels)),
            ("rm", "1".into()),
        ];
        if let Some(t) = &self.target {
            q.push(("target", t.clone()));
        }
        if let Some(p) = &self.platform {
            q.push(("platform", p.clone()));
        }
        if let Some(n) = self.network {
            q.push(("networkmode", n.as_str().to_string()));
        }
        if !self.cache_from.is_empty() {
            q.push((
                "cachefrom",
                serde_json::to_string(&self.cache_from).expect("json"),
            ));
        }
        if self.no_cache {
            q.push(("nocache", "1".into()));
        }
        if self.pull {
            q.push(("pull", "1".into()));
        }
        q.iter()
            .map(|(k, v)| format!("{k}={}", crate::encode::query_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The outcome of a build's output stream.
pub struct Outcome {
    pub image_id: Option<String>,
    /// The failing step and the last lines of output, when it failed.
    pub error: Option<(String, String, Vec<String>)>,
}

/// Runs a build: streams `context` (a tar) to `POST /build` and follows BuildKit's status.
pub async fn build(
    host: &str,
    params: &BuildParams,
    mut context: impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
    ctx: &StepCtx,
) -> Result<Outcome> {
    let mut io = connect(host).await?;
    let failed = |e: std::io::Error| Error::from_chain("the BuildKit build request failed", &e);
    let head = format!(
        "POST /v{}/build?{} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
        params.api,
        params.query()
    );
    io.write_all(head.as_bytes()).await.map_err(failed)?;
    while let Some(chunk) = context.next().await {
        let chunk = chunk.map_err(|e| Error::from_chain("cannot read the build context", &e))?;
        if chunk.is_empty() {
            continue;
        }
        io.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .map_err(failed)?;
        io.write_all(&chunk).await.map_err(failed)?;
        io.write_all(b"\r\n").await.map_err(failed)?;
    }
    io.write_all(b"0\r\n\r\n").await.map_err(failed)?;
    io.flush().await.map_err(failed)?;

    let (status, headers) = read_head(&mut io).await.map_err(failed)?;
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let mut body = BodyReader {
        io,
        chunked,
        left: 0,
        done: false,
    };
    let mut follow = Follow::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut raw = Vec::new();
    while let Some(bytes) = body.next().await.map_err(failed)? {
        if status >= 300 {
            raw.extend_from_slice(&bytes);
            continue;
        }
        buf.extend_from_slice(&bytes);
        // Each message is one JSON object; take every complete one.
        let mut consumed = 0;
        let mut stream =
            serde_json::Deserializer::from_slice(&buf).into_iter::<serde_json::Value>();
        while let Some(Ok(v)) = stream.next() {
            consumed = stream.byte_offset();
            follow.message(&v, ctx);
        }
        buf.drain(..consumed);
    }
    if status >= 300 {
        let text = String::from_utf8_lossy(&raw).to_string();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or(text);
        return Err(Error::failed(format!(
            "the Docker daemon refused the build (HTTP {status})"
        ))
        .with_causes(vec![message]));
    }
    Ok(Outcome {
        image_id: follow.image_id,
        error: follow
            .error
            .map(|(step, msg)| (step, msg, follow.last.into_iter().collect())),
    })
}

/// Reads a response body, chunked or not, a piece at a time.
struct BodyReader {
    io: Box<dyn Conn>,
    chunked: bool,
    left: usize,
    done: bool,
}

impl BodyReader {
    async fn line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            if self.io.read(&mut byte).await? == 0 {
                break;
            }
            line.push(byte[0]);
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }

    async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        if !self.chunked {
            let mut buf = vec![0u8; 16 * 1024];
            let n = self.io.read(&mut buf).await?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            buf.truncate(n);
            return Ok(Some(buf));
        }
        if self.left == 0 {
            let size = self.line().await?;
            let size =
                usize::from_str_radix(size.split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                self.done = true;
                return Ok(None);
            }
            self.left = size;
        }
        let mut buf = vec![0u8; self.left.min(16 * 1024)];
        let n = self.io.read(&mut buf).await?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        buf.truncate(n);
        self.left -= n;
        if self.left == 0 {
            self.line().await?; // the CRLF after the chunk
        }
        Ok(Some(buf))
    }
}

/// Turns the daemon's build messages into progress, logs and an outcome.
#[derive(Default)]
struct Follow {
    image_id: Option<String>,
    /// Vertex digest -> name, for naming the step a log line or an error belongs to.
    names: std::collections::HashMap<String, String>,
    started: std::collections::HashSet<String>,
    last: VecDeque<String>,
    error: Option<(String, String)>,
}

impl Follow {
    fn message(&mut self, v: &serde_json::Value, ctx: &StepCtx) {
        if let Some(text) = v["stream"].as_str() {
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                ctx.log(l.to_string());
            }
        }
        if let Some(m) = v["errorDetail"]["message"].as_str().or(v["error"].as_str())
            && self.error.is_none()
        {
            let step = self.failing_step();
            self.error = Some((step, m.to_string()));
        }
        match v["id"].as_str() {
            Some("moby.image.id") => {
                self.image_id = v["aux"]["ID"].as_str().map(str::to_string);
            }
            Some("moby.buildkit.trace") => {
                let Some(b64) = v["aux"].as_str() else { return };
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                    return;
                };
                if let Ok(status) = StatusResponse::decode(bytes.as_slice()) {
                    self.status(status, ctx);
                }
            }
            _ => {}
        }
    }

    fn status(&mut self, s: StatusResponse, ctx: &StepCtx) {
        for vx in s.vertexes {
            self.names.insert(vx.digest.clone(), vx.name.clone());
            if vx.started.is_some()
                && self.started.insert(vx.digest.clone())
                && !vx.name.starts_with("[internal]")
            {
                ctx.progress(vx.name.clone());
            }
            if !vx.error.is_empty() && self.error.is_none() {
                self.error = Some((vx.name.clone(), vx.error.clone()));
            }
        }
        for log in s.logs {
            let text = String::from_utf8_lossy(&log.msg).to_string();
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                ctx.log(l.to_string());
                self.last.push_back(l.to_string());
                if self.last.len() > 10 {
                    self.last.pop_front();
                }
            }
        }
    }

    fn failing_step(&self) -> String {
        self.started
            .iter()
            .filter_map(|d| self.names.get(d))
            .filter(|n| !n.starts_with("[internal]"))
            .max()
            .cloned()
            .unwrap_or_default()
    }
}

/// Where secrets of a build come from, for messages (never the values).
pub fn describe(secrets: &[(String, SecretSource)]) -> String {
    secrets
        .iter()
        .map(|(id, s)| match s {
            SecretSource::Env(v) => format!("{id} (from ${v})"),
            SecretSource::File(p) => format!("{id} (from {})", p.display()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
