//! The Docker adapter: builds, tags and pushes through the Docker daemon with bollard.
//!
//! The daemon is found the way the docker CLI finds it (`DOCKER_HOST`, else the local
//! socket) and the API version is negotiated, since Debian's Engine 20.10 speaks API 1.41
//! while bollard defaults to a newer one. Builds use the classic builder with the context
//! streamed as a tar (see [`context`]); their output is reported line by line, and a failing
//! build names the step that failed with its last lines of output.

pub mod buildkit;
pub mod config;
pub mod context;
pub mod engine;
pub mod ignore;
pub mod ssh;

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ListImagesOptions, PushImageOptions, TagImageOptions,
};
use futures_util::StreamExt;

use crate::engine::images::CONTENT_LABEL;
use crate::engine::ports::{
    BuildRequest, ImageBuilder, ImageExporter, ImagePusher, LocalImage, PulledBase, PushFormat,
    RegistryCredentials, RepositoryInfo, SecretSource,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::model::{Builder, DEFAULT_BUILDER, EngineEndpoint};
use crate::style::human_bytes;
use context::{BuildContext, DigestInputs};
use engine::Connected;

/// The oldest Engine API berth works with (Docker 1.12).
const MIN_API: (u32, u32) = (1, 24);

/// One Docker Engine (a builder).
pub struct Docker {
    /// The builder's name, carried by the images it holds.
    name: String,
    endpoint: EngineEndpoint,
    /// Connected on first use, so that commands that build nothing never need a daemon.
    client: tokio::sync::OnceCell<Connected>,
    /// Where it is, for messages: the address, and the builder's name unless it is the
    /// default engine.
    host: String,
    /// Contexts scanned for a content digest, kept for the build that may follow, so a
    /// context is walked and hashed once per run, not twice.
    /// Shared by the engines of a run: the scan is local, whichever engine builds.
    scanned: std::sync::Arc<std::sync::Mutex<HashMap<String, BuildContext>>>,
}

/// The scan cache's key: one image can be built for several platforms.
fn scan_key(req: &BuildRequest) -> String {
    format!("{}|{}", req.image, req.platform.as_deref().unwrap_or(""))
}

fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Default for Docker {
    fn default() -> Self {
        Self::new()
    }
}

impl Docker {
    /// The default engine (`DOCKER_HOST`, else the current context, else the local
    /// socket), connected on first use.
    pub fn new() -> Docker {
        Docker::for_builder(&Builder {
            name: DEFAULT_BUILDER.into(),
            endpoint: EngineEndpoint::Default,
            platform: crate::pipeline::model::host_platform(),
            concurrency: 1,
        })
    }

    /// A builder's engine, connected on first use.
    pub fn for_builder(b: &Builder) -> Docker {
        let host = match &b.endpoint {
            EngineEndpoint::Default => engine::address(&b.endpoint)
                .map(|a| a.host)
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
            other => format!("{other} (builder `{}`)", b.name),
        };
        Docker {
            name: b.name.clone(),
            endpoint: b.endpoint.clone(),
            client: tokio::sync::OnceCell::new(),
            host,
            scanned: Default::default(),
        }
    }

    /// Another builder's engine, sharing this one's scans of build contexts.
    pub fn sibling(&self, b: &Builder) -> Docker {
        Docker {
            scanned: self.scanned.clone(),
            ..Docker::for_builder(b)
        }
    }

    /// The builder's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the engine is (its address, or for the default engine `DOCKER_HOST`'s).
    pub fn address(&self) -> String {
        match &self.endpoint {
            EngineEndpoint::Default => self.host.clone(),
            other => other.to_string(),
        }
    }

    fn local(&self, id: String) -> LocalImage {
        LocalImage {
            id,
            builder: self.name.clone(),
        }
    }

    /// Connects now (if not yet), so that a missing daemon is reported before any work.
    pub async fn ready(&self) -> Result<()> {
        self.client().await.map(|_| ())
    }

    fn list_error(&self, e: &bollard::errors::Error) -> Error {
        Error::from_chain(
            format!("cannot list images on the Docker daemon at {}", self.host),
            e,
        )
        .with_kind(engine::kind_of(e))
    }

    /// The daemon, for `berth doctor`: `Docker Engine 20.10.24 (API 1.41, linux/amd64) at …`.
    pub async fn describe(&self) -> Result<String> {
        let v = self.client().await?.version().await.map_err(|e| {
            Error::from_chain(
                format!("cannot ask the Docker daemon at {} its version", self.host),
                &e,
            )
            .with_kind(engine::kind_of(&e))
        })?;
        Ok(format!(
            "Docker Engine {} (API {}, {}/{}) at {}",
            v.version.as_deref().unwrap_or("?"),
            v.api_version.as_deref().unwrap_or("?"),
            v.os.as_deref().unwrap_or("?"),
            v.arch.as_deref().unwrap_or("?"),
            self.host
        ))
    }

    async fn client(&self) -> Result<&bollard::Docker> {
        Ok(&self.connected().await?.client)
    }

    async fn connected(&self) -> Result<&Connected> {
        self.client.get_or_try_init(|| self.connect()).await
    }

    /// Connects to the daemon and agrees on an API version.
    async fn connect(&self) -> Result<Connected> {
        let host = &self.host;
        let addr = engine::address(&self.endpoint)?;
        let mut conn = match engine::connect(&addr, host).await {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::Unreachable => {
                let hint = engine::unreachable_hint(&addr, &format!("{e:?}"));
                return Err(e.with_hint(hint));
            }
            Err(e) => return Err(e),
        };
        let unreachable = |conn: &Connected, e: &bollard::errors::Error| {
            let said = conn.ssh_said();
            let mut err = match said {
                Some(_) => ssh::unreachable(host, said),
                None => Error::from_chain(format!("no Docker daemon answers at {host}"), e)
                    .with_kind(ErrorKind::Unreachable),
            };
            let causes = err.to_string() + &format!("{e:?}");
            err = err.with_hint(engine::unreachable_hint(&addr, &causes));
            err
        };
        let client = match conn.client.clone().negotiate_version().await {
            Ok(c) => c,
            Err(e) => return Err(unreachable(&conn, &e)),
        };
        let version = match client.version().await {
            Ok(v) => v,
            Err(e) => return Err(unreachable(&conn, &e)),
        };
        if let Some(api) = version.api_version.as_deref().and_then(parse_api)
            && api < MIN_API
        {
            return Err(Error::failed(format!(
                "the Docker daemon at {host} is too old (API {}.{}; berth needs {}.{} or newer)",
                api.0, api.1, MIN_API.0, MIN_API.1
            ))
            .with_hint("upgrade Docker Engine (1.12 or newer speaks API 1.24), or point DOCKER_HOST at a newer daemon"));
        }
        conn.client = client;
        Ok(conn)
    }

    /// Walks and hashes the context off the async threads (it reads every file).
    async fn scan_blocking(req: &BuildRequest) -> Result<BuildContext> {
        let owned = req.clone();
        tokio::task::spawn_blocking(move || Docker::scan(&owned))
            .await
            .map_err(|e| {
                Error::failed(format!(
                    "berth crashed while reading the build context of `{}` (a bug; please report it): {e}",
                    req.image
                ))
            })?
    }

    fn scan(req: &BuildRequest) -> Result<BuildContext> {
        let inputs = DigestInputs {
            build_args: req.build_args.clone(),
            target: req.target.clone(),
            platform: req.platform.clone(),
            labels: req
                .labels
                .iter()
                .filter(|(k, _)| k != CONTENT_LABEL)
                .cloned()
                .collect(),
        };
        BuildContext::scan(&req.context, &req.dockerfile, &inputs)
    }
}

/// The name a build is tagged with (and found by, when the output does not say its id).
fn first_tag(req: &BuildRequest) -> Result<&String> {
    req.tags.first().ok_or_else(|| {
        Error::failed(format!("image `{}` has no tag to build under", req.image))
            .with_hint("give the image at least one entry in `tags`")
    })
}

/// What the build output said last, to explain a failure.
struct BuildLog {
    step: Option<String>,
    last: VecDeque<String>,
    /// The engine said the build is over (`Successfully built …`).
    finished: bool,
}

impl BuildLog {
    fn line(&mut self, l: &str) {
        if l.starts_with("Successfully built ") {
            self.finished = true;
        }
        if l.starts_with("Step ") {
            self.step = Some(l.to_string());
        }
        if self.last.len() == 12 {
            self.last.pop_front();
        }
        self.last.push_back(l.to_string());
    }

    fn failure(&self, image: &str, cause: String) -> Error {
        let at = self
            .step
            .as_deref()
            .map(|s| format!(" at `{s}`"))
            .unwrap_or_default();
        let mut message = format!("image `{image}` failed to build{at}");
        if !self.last.is_empty() {
            message.push_str("\n  last output:");
            for l in &self.last {
                message.push_str(&format!("\n    | {l}"));
            }
        }
        Error::failed(message).with_causes(vec![cause])
    }
}

#[async_trait]
impl ImageBuilder for Docker {
    async fn ready(&self) -> Result<()> {
        Docker::ready(self).await
    }

    async fn content_digest(&self, req: &BuildRequest) -> Result<String> {
        let context = Self::scan_blocking(req).await?;
        let digest = context.digest.clone();
        self.scanned
            .lock()
            .expect("scan cache")
            .insert(scan_key(req), context);
        Ok(digest)
    }

    async fn find_local(&self, content_digest: &str) -> Result<Option<LocalImage>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{CONTENT_LABEL}={content_digest}")],
        )]);
        let images = self
            .client()
            .await?
            .list_images(Some(ListImagesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(|e| self.list_error(&e))?;
        Ok(images.into_iter().next().map(|i| self.local(i.id)))
    }

    async fn build(
        &self,
        req: &BuildRequest,
        content_digest: &str,
        ctx: &StepCtx,
    ) -> Result<LocalImage> {
        if !req.secrets.is_empty() {
            check_secrets(req)?;
        }
        // The scan made for the content digest, unless the files changed since (then the
        // digest no longer describes them and the build must not carry it).
        let cached = self
            .scanned
            .lock()
            .expect("scan cache")
            .remove(&scan_key(req))
            .filter(|c| c.digest == content_digest);
        let context = match cached {
            Some(c) => c,
            None => {
                let c = Self::scan_blocking(req).await?;
                if c.digest != content_digest {
                    return Err(Error::failed(format!(
                        "image `{}`: its files changed while berth was working; run again",
                        req.image
                    )));
                }
                c
            }
        };
        ctx.progress(format!(
            "sending build context ({} files, {})",
            context.files,
            human_bytes(context.bytes)
        ));
        let mut labels: HashMap<String, String> = req
            .labels
            .iter()
            .chain(&req.build_labels)
            .cloned()
            .collect();
        labels.insert(CONTENT_LABEL.to_string(), content_digest.to_string());
        if !req.secrets.is_empty() {
            return self.build_with_buildkit(req, &context, labels, ctx).await;
        }
        // Docker's classic builder loses a cache candidate that something else removes
        // mid-probe (`unable to find image "sha256:…"`: another build's clean-up, an image
        // prune); building again starts the probe over.
        let mut attempt = 1;
        loop {
            match self.classic_build(req, &context, &labels, ctx).await {
                Err(e) if attempt == 1 && lost_cache_image(&e) => {
                    ctx.progress("the engine lost an image of its build cache mid-build (removed meanwhile); building again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn tag(&self, image: &LocalImage, repository: &str, tag: &str) -> Result<()> {
        self.client()
            .await?
            .tag_image(
                &image.id,
                Some(TagImageOptions {
                    repo: Some(repository.to_string()),
                    tag: Some(tag.to_string()),
                }),
            )
            .await
            .map_err(|e| {
                Error::from_chain(format!("cannot tag {} as {repository}:{tag}", image.id), &e)
            })
    }

    async fn pull(&self, repository: &str, tag: &str, creds: &RegistryCredentials) -> Result<bool> {
        let host = repository.split('/').next().unwrap_or(repository);
        let credentials = DockerCredentials {
            username: Some(creds.username.clone()),
            password: Some(creds.password.clone()),
            serveraddress: Some(host.to_string()),
            ..Default::default()
        };
        let mut stream = self.client().await?.create_image(
            Some(CreateImageOptions {
                from_image: Some(repository.to_string()),
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            None,
            Some(credentials),
        );
        while let Some(item) = stream.next().await {
            let message = match item {
                Ok(info) => match info.error_detail.and_then(|d| d.message) {
                    Some(m) => m,
                    None => continue,
                },
                Err(bollard::errors::Error::DockerStreamError { error }) => error,
                Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => message,
                Err(e) => {
                    return Err(Error::from_chain(format!("pulling {repository}:{tag}"), &e));
                }
            };
            if message.contains("not found") || message.contains("manifest unknown") {
                return Ok(false);
            }
            return Err(Error::failed(format!(
                "pulling {repository}:{tag}: {message}"
            )));
        }
        Ok(true)
    }
}

#[async_trait]
impl ImageExporter for Docker {
    async fn diff_ids(&self, image: &LocalImage) -> Result<Vec<String>> {
        let info = self
            .client()
            .await?
            .inspect_image(&image.id)
            .await
            .map_err(|e| Error::from_chain(format!("inspecting image {}", image.id), &e))?;
        Ok(info.root_fs.and_then(|r| r.layers).unwrap_or_default())
    }

    async fn bases(&self, diff_ids: &[String], host: &str) -> Result<Vec<PulledBase>> {
        let client = self.client().await?;
        let images = client
            .list_images(None::<ListImagesOptions>)
            .await
            .map_err(|e| self.list_error(&e))?;
        let prefix = format!("{host}/");
        // Only images pulled from this registry, and a bounded number of them: each costs an
        // inspection.
        let pulled: Vec<(String, String, String)> = images
            .into_iter()
            .filter_map(|i| {
                let (repo, digest) = i
                    .repo_digests
                    .iter()
                    .find_map(|r| r.strip_prefix(&prefix)?.split_once('@'))?;
                Some((i.id.clone(), repo.to_string(), digest.to_string()))
            })
            .take(MAX_BASES)
            .collect();
        // Inspected a few at a time: a daemon that pulled many images answers in one round
        // trip's time, not one per image.
        let mut bases: Vec<PulledBase> = futures_util::stream::iter(pulled)
            .map(|(id, repository, digest)| async move {
                let info = client.inspect_image(&id).await.ok()?;
                let layers = info.root_fs.and_then(|r| r.layers).unwrap_or_default();
                (!layers.is_empty()
                    && layers.len() < diff_ids.len()
                    && diff_ids.starts_with(&layers))
                .then_some(PulledBase {
                    repository,
                    digest,
                    id,
                    diff_ids: layers,
                })
            })
            .buffer_unordered(8)
            .filter_map(|b| async move { b })
            .collect()
            .await;
        bases.sort_by_key(|b| std::cmp::Reverse(b.diff_ids.len()));
        Ok(bases)
    }

    async fn export(
        &self,
        image: &LocalImage,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>> {
        let client = self.client().await?.clone();
        let id = image.id.clone();
        // The stream borrows nothing: it owns its client (a cheap handle).
        let stream = export_stream(client, id);
        Ok(stream)
    }
}

/// Local images from the registry looked at as possible bases of an image being pushed.
const MAX_BASES: usize = 64;

/// The daemon's export of image `id` as an owned stream.
fn export_stream(
    client: bollard::Docker,
    id: String,
) -> futures_util::stream::BoxStream<'static, Result<bytes::Bytes>> {
    use futures_util::StreamExt;
    let what = format!("exporting image {id} from the daemon");
    futures_util::stream::once(async move { client.export_image(&id) })
        .flatten()
        .map(move |r| r.map_err(|e| Error::from_chain(what.clone(), &e)))
        .boxed()
}

#[async_trait]
impl ImagePusher for Docker {
    async fn push(
        &self,
        image: &LocalImage,
        repository: &RepositoryInfo,
        tag: Option<&str>,
        creds: &RegistryCredentials,
        format: PushFormat,
        ctx: &StepCtx,
    ) -> Result<Option<String>> {
        let Some(tag) = tag else {
            return Err(Error::failed(
                "docker push needs a tag; one platform of an image index needs berth's own push",
            ));
        };
        if format != PushFormat::default() {
            return Err(Error::failed(format!(
                "docker push writes gzip layers and Docker manifests; {format} needs berth's own push"
            )));
        }
        let repository_uri = repository.uri.as_str();
        self.tag(image, repository_uri, tag).await?;
        let host = repository_uri
            .split('/')
            .next()
            .unwrap_or(repository_uri)
            .to_string();
        let credentials = DockerCredentials {
            username: Some(creds.username.clone()),
            password: Some(creds.password.clone()),
            serveraddress: Some(host.clone()),
            ..Default::default()
        };
        let mut stream = self.client().await?.push_image(
            repository_uri,
            Some(PushImageOptions {
                tag: Some(tag.to_string()),
                ..Default::default()
            }),
            Some(credentials),
        );
        let (mut pushed, mut existed) = (0usize, 0usize);
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(i) => i,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(push_error(repository_uri, tag, &host, error));
                }
                Err(e) => {
                    return Err(Error::from_chain(
                        format!("pushing {repository_uri}:{tag} failed"),
                        &e,
                    )
                    .with_kind(engine::kind_of(&e)));
                }
            };
            if let Some(msg) = info.error_detail.and_then(|d| d.message) {
                return Err(push_error(repository_uri, tag, &host, msg));
            }
            match info.status.as_deref() {
                Some("Pushed") => {
                    pushed += 1;
                    ctx.progress(format!(
                        "{tag}: {pushed} layer(s) uploaded, {existed} already there"
                    ));
                }
                Some("Layer already exists") => existed += 1,
                Some(s) if s.starts_with("Pushing") => {
                    // The daemon's totals are of the uncompressed layer; only the count is honest.
                    if let Some(current) = info.progress_detail.as_ref().and_then(|p| p.current) {
                        ctx.progress(format!(
                            "{tag}: uploading layers, {} sent",
                            human_bytes(current as u64)
                        ));
                    }
                }
                _ => {}
            }
        }
        ctx.log(format!(
            "{repository_uri}:{tag}: {pushed} layer(s) uploaded, {existed} already in the registry"
        ));
        // The engine says the digest in its last status line; the caller asks the registry.
        Ok(None)
    }
}

/// A Dockerfile syntax error, shown at its line: the daemon says `dockerfile parse error
/// line N: …`.
/// The classic builder's cache probe met an image that was removed meanwhile.
fn lost_cache_image(e: &Error) -> bool {
    e.causes()
        .iter()
        .any(|c| c.starts_with("unable to find image \"sha256:"))
}

fn dockerfile_error(image: &str, path: &std::path::Path, message: &str) -> Error {
    let detail = message
        .split("dockerfile parse error")
        .nth(1)
        .unwrap_or(message)
        .trim_start();
    let line: Option<usize> = detail
        .strip_prefix("line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.trim().parse().ok());
    let what = detail.split_once(": ").map(|(_, w)| w).unwrap_or(detail);
    let shown = crate::source::display_path(path);
    let mut msg = format!("image `{image}`: the Dockerfile has a syntax error");
    if let Some(n) = line {
        msg.push_str(&format!("\n  --> {shown}:{n}"));
        if let Some(text) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.lines().nth(n.saturating_sub(1)).map(str::to_string))
        {
            msg.push_str(&format!("\n   |\n{n:>3}| {text}"));
        }
    }
    Error::failed(msg).with_causes(vec![what.to_string()])
}

/// A missing secret source is an error before the build starts, naming the secret (never
/// its value).
fn check_secrets(req: &BuildRequest) -> Result<()> {
    for (id, src) in &req.secrets {
        match src {
            SecretSource::Env(var) if std::env::var_os(var).is_none() => {
                return Err(Error::failed(format!(
                    "image `{}`: build secret `{id}` comes from the environment variable {var}, which is not set",
                    req.image
                ))
                .with_hint(format!("export {var} before running berth (in CI, from the secret store)")));
            }
            SecretSource::File(path) if !path.is_file() => {
                return Err(Error::failed(format!(
                    "image `{}`: build secret `{id}` comes from {}, which does not exist",
                    req.image,
                    path.display()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Docker {
    /// Builds with the daemon's BuildKit, which is what build secrets need: a session of
    /// berth's serves them when a `RUN --mount=type=secret` asks (see [`buildkit`]), so they
    /// never enter a layer, the image history or berth's output. The context streams and the
    /// output is followed live, as on the classic path, which builds without secrets keep.
    /// The id of an image a build just tagged `tag` (when the build output did not say it).
    /// One build with the classic builder.
    async fn classic_build(
        &self,
        req: &BuildRequest,
        context: &BuildContext,
        labels: &HashMap<String, String>,
        ctx: &StepCtx,
    ) -> Result<LocalImage> {
        let labels = labels.clone();
        let options = BuildImageOptions {
            dockerfile: context.dockerfile_name.clone(),
            t: req.tags.first().cloned(),
            buildargs: Some(req.build_args.iter().cloned().collect()),
            labels: Some(labels),
            target: req.target.clone().unwrap_or_default(),
            platform: req.platform.clone().unwrap_or_default(),
            cachefrom: (!req.cache_from.is_empty()).then(|| req.cache_from.clone()),
            nocache: req.no_cache,
            networkmode: req.network.map(|n| n.as_str().to_string()),
            pull: req.pull.then(|| "1".to_string()),
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let body = bollard::body_try_stream(context.tar_stream());
        let mut stream = self.client().await?.build_image(options, None, Some(body));
        let mut log = BuildLog {
            step: None,
            last: VecDeque::new(),
            finished: false,
        };
        let mut id: Option<String> = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(log.failure(&req.image, error));
                }
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("dockerfile parse error") =>
                {
                    return Err(dockerfile_error(&req.image, &req.dockerfile, &message));
                }
                Err(e) => {
                    // The engine went away (or broke the connection) mid-build: the kind
                    // says so, and a pool builds the image elsewhere.
                    return Err(Error::from_chain(
                        format!(
                            "image `{}`: the Docker daemon at {} failed during the build",
                            req.image, self.host
                        ),
                        &e,
                    )
                    .with_kind(engine::kind_of(&e)));
                }
            };
            if let Some(text) = &info.stream {
                for line in text
                    .lines()
                    .map(str::trim_end)
                    .filter(|l| !l.trim().is_empty())
                {
                    log.line(line);
                    // Steps are the build's phases; the rest is its output.
                    if line.starts_with("Step ") {
                        ctx.progress(line.to_string());
                    } else {
                        ctx.log(line.to_string());
                    }
                }
            }
            if let Some(err) = info.error_detail.and_then(|d| d.message) {
                return Err(log.failure(&req.image, err));
            }
            if let Some(aux) = info.aux
                && let Some(i) = aux.id
            {
                id = Some(i);
            }
        }
        let id = match id {
            Some(id) => id,
            // An engine older than API 1.30 says the id in a line; when it said neither,
            // the stream was cut (the engine died): the tag may name an older image.
            None if log.finished => {
                let tag = first_tag(req)?;
                self.built_image_id(&req.image, tag).await?
            }
            None => {
                return Err(Error::failed(format!(
                    "image `{}`: the Docker daemon at {} stopped answering before the build finished",
                    req.image, self.host
                ))
                .with_kind(ErrorKind::Unreachable));
            }
        };
        Ok(self.local(id))
    }

    async fn built_image_id(&self, image: &str, tag: &str) -> Result<String> {
        self.client()
            .await?
            .inspect_image(tag)
            .await
            .map_err(|e| {
                Error::from_chain(format!("image `{image}` was built but cannot be found"), &e)
                    .with_kind(engine::kind_of(&e))
            })?
            .id
            .ok_or_else(|| Error::failed(format!("image `{image}` was built but has no id")))
    }

    async fn build_with_buildkit(
        &self,
        req: &BuildRequest,
        context: &BuildContext,
        labels: HashMap<String, String>,
        ctx: &StepCtx,
    ) -> Result<LocalImage> {
        let conn = self.connected().await?;
        let v = conn.client.client_version();
        let api = format!("{}.{}", v.major_version, v.minor_version);
        let raw = conn.raw.clone().ok_or_else(|| {
            Error::failed(format!(
                "image `{}`: builds with secrets cannot use the engine at {} (a TLS connection)",
                req.image, self.host
            ))
            .with_hint("build it on a builder reached by unix:// or ssh://, or without `secrets`")
        })?;
        let session = buildkit::open_session(&raw, &api, &req.image, req.secrets.clone()).await?;
        let name = first_tag(req)?;
        let mut labels: Vec<(String, String)> = labels.into_iter().collect();
        labels.sort();
        let params = buildkit::BuildParams {
            api,
            session: session.id.clone(),
            tag: name.clone(),
            dockerfile: context.dockerfile_name.clone(),
            build_args: req.build_args.clone(),
            labels,
            target: req.target.clone(),
            platform: req.platform.clone(),
            network: req.network,
            cache_from: req.cache_from.clone(),
            no_cache: req.no_cache,
            pull: req.pull,
        };
        ctx.progress(format!(
            "building with BuildKit, secrets: {}",
            buildkit::describe(&req.secrets)
        ));
        let outcome = buildkit::build(&raw, &params, Box::pin(context.tar_stream()), ctx).await?;
        drop(session);
        if let Some((step, message, last)) = outcome.error {
            let mut causes = vec![message];
            if !last.is_empty() {
                causes.push(format!("last output:\n    {}", last.join("\n    ")));
            }
            return Err(Error::failed(format!(
                "image `{}`: {} failed",
                req.image,
                if step.is_empty() {
                    "the build".to_string()
                } else {
                    format!("step `{step}`")
                }
            ))
            .with_causes(causes));
        }
        let id = match outcome.image_id {
            Some(id) => id,
            None => self.built_image_id(&req.image, name).await?,
        };
        Ok(self.local(id))
    }
}

fn push_error(uri: &str, tag: &str, host: &str, msg: String) -> Error {
    let hint = if msg.contains("unauthorized")
        || msg.contains("authentication required")
        || msg.contains("no basic auth")
    {
        Some(format!(
            "the registry {host} refused the credentials from ECR's GetAuthorizationToken; check that the identity may push to this repository"
        ))
    } else if msg.contains("tag invalid") || msg.contains("already exists") {
        Some(
            "the repository's tags are immutable and this tag already points at another image"
                .to_string(),
        )
    } else {
        None
    };
    let e = Error::failed(format!("pushing {uri}:{tag} failed")).with_causes(vec![msg]);
    match hint {
        Some(h) => e.with_hint(h),
        None => e,
    }
}

#[cfg(test)]
mod lost_cache_tests {
    use super::*;

    #[test]
    fn only_the_cache_race_is_built_again() {
        let race = Error::failed("image `a` failed to build at `Step 2/9 : COPY x /x`")
            .with_causes(vec!["unable to find image \"sha256:3b1ccc73a35c\"".into()]);
        assert!(lost_cache_image(&race));
        let missing_base = Error::failed("image `a` failed to build").with_causes(vec![
            "pull access denied for nope, repository does not exist".into(),
        ]);
        assert!(!lost_cache_image(&missing_base));
    }
}
