//! berth's own push: layers from the daemon's export, compressed on every core while they
//! are read, digested while they are compressed, and uploaded while they are produced.
//!
//! The shape of one push:
//! 1. The image's layers (diff ids) come from the daemon. For each one the layer cache knows
//!    (see [`super::layers`]), the registry is asked whether the repository holds the
//!    compressed blob (`HEAD`), or another repository does (mount). The config the same way.
//! 2. When anything is missing, the daemon's export is read once, as a stream. A layer that
//!    is needed is cut into blocks that are deflated in parallel ([`super::gzip`]); an
//!    ordering task hashes the pieces in order and feeds them to one streaming upload. A layer
//!    that is not needed is read past (and checked against its digest).
//! 3. The config, then the manifest, which goes last so the tag never points at blobs that
//!    are not there.
//!
//! Memory is bounded whatever the image: a fixed number of blocks are in flight (a permit
//! each, from reading to upload), and the config is the only thing held whole.
//!
//! A failure that may pass (a dropped connection, a 5xx) restarts the push after a pause;
//! layers uploaded by then are in the layer cache, so the next attempt skips them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::try_join_all;
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::bases;
use super::codec::Codec;
use super::gzip::{Deflated, Trailer};
use super::layers::{Compressed, LayerCache};
use super::spool::Spool;
use super::upload::{DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST};
use super::{Dest, RegistryClient};
use crate::engine::ports::{
    ImageExporter, ImagePusher, LocalImage, ManifestFormat, PushFormat, RegistryCredentials,
    RepositoryInfo,
};
use crate::engine::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};
use crate::style::human_bytes;

/// Attempts of one layer upload before its failure is reported.
const ATTEMPTS: u32 = 3;
/// Attempts of a whole push (the export read again) before a transient failure is
/// reported; each upload has had its own attempts by then.
const PUSH_ATTEMPTS: u32 = 2;
/// The largest image config berth holds in memory.
const MAX_CONFIG: u64 = 64 * 1024 * 1024;
/// Layer uploads at once: a registry takes each upload at a pace of its own.
const UPLOADS: usize = 4;
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

pub struct RegistryPusher {
    pub client: Arc<RegistryClient>,
    pub exporter: Arc<dyn ImageExporter>,
    pub cache: LayerCache,
}

/// What one attempt learned that the next one must know.
#[derive(Default)]
struct Lessons {
    /// Tar sizes at which a layer was taken for one the repository has and was not: layers
    /// of these sizes are compressed.
    distrust: HashSet<u64>,
    /// The last attempt failed for that reason (worth another attempt).
    misrecognised: bool,
}

#[async_trait]
impl ImagePusher for RegistryPusher {
    async fn push(
        &self,
        image: &LocalImage,
        repository: &RepositoryInfo,
        tag: Option<&str>,
        creds: &RegistryCredentials,
        format: PushFormat,
        ctx: &StepCtx,
    ) -> Result<Option<String>> {
        let dest = Dest {
            ep: repository.endpoint.clone(),
            creds: creds.clone(),
            repo: repository.name.clone(),
            format,
        };
        let mut lessons = Lessons::default();
        let mut attempt = 1;
        loop {
            match self.push_once(image, &dest, tag, &mut lessons, ctx).await {
                Ok(digest) => return Ok(Some(digest)),
                Err(e)
                    if attempt < PUSH_ATTEMPTS
                        && (e.kind().is_transient() || lessons.misrecognised) =>
                {
                    let pause = Duration::from_secs(1 << attempt);
                    ctx.progress(format!(
                        "{}: {e}; trying again in {}s (layers already uploaded are kept)",
                        tag.unwrap_or("push"),
                        pause.as_secs()
                    ));
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                Err(e) if e.kind().is_transient() => {
                    return Err(e.with_hint(format!(
                        "the registry {} failed again and again; run again when it answers: layers already uploaded are not sent again",
                        dest.ep.host
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A layer of the image, as this push sees it.
#[derive(Clone, Debug)]
enum Layer {
    /// The repository holds its compressed blob.
    Have(Compressed),
    /// It has to be compressed and uploaded.
    Need,
}

impl RegistryPusher {
    async fn push_once(
        &self,
        image: &LocalImage,
        dest: &Dest,
        tag: Option<&str>,
        lessons: &mut Lessons,
        ctx: &StepCtx,
    ) -> Result<String> {
        // Progress lines name the tag, or the platform image by its id.
        let label = tag
            .map(str::to_string)
            .unwrap_or_else(|| format!("image {}", crate::engine::images::short(&image.id)));
        let diff_ids = self.exporter.diff_ids(image).await?;
        if diff_ids.is_empty() {
            return Err(Error::failed(format!(
                "image {} has no layers the daemon reports",
                image.id
            )));
        }
        // One question (or two, with a mount) per layer to the registry, all at once.
        let mut unique: Vec<&String> = Vec::new();
        for d in &diff_ids {
            if !unique.contains(&d) {
                unique.push(d);
            }
        }
        let found = try_join_all(unique.iter().map(|d| self.find(d, dest))).await?;
        let mut layers: HashMap<String, Layer> = unique.into_iter().cloned().zip(found).collect();
        let needed: Vec<String> = diff_ids
            .iter()
            .filter(|d| matches!(layers.get(*d), Some(Layer::Need)))
            .cloned()
            .collect();
        let from_bases = bases::from_bases(
            &self.client,
            self.exporter.as_ref(),
            &self.cache,
            dest,
            &diff_ids,
            needed,
        )
        .await?;
        if !from_bases.is_empty() {
            ctx.progress(format!(
                "{label}: {} base layer(s) already in the registry",
                from_bases.len()
            ));
        }
        for (diff_id, c) in from_bases {
            layers.insert(diff_id, Layer::Have(c));
        }
        let mut config = self
            .client
            .blob_size(&dest.ep, &dest.creds, &dest.repo, &image.id)
            .await?
            .map(|size| (size, None::<Bytes>));
        let need = layers.values().filter(|l| matches!(l, Layer::Need)).count();
        if need > 0 || config.is_none() {
            ctx.progress(format!(
                "{label}: {need} of {} layer(s) to compress and upload",
                layers.len()
            ));
            let read = self
                .read_export(image, dest, &layers, config.is_none(), lessons, ctx)
                .await?;
            for (diff_id, c) in read.uploaded {
                layers.insert(diff_id, Layer::Have(c));
            }
            if config.is_none() {
                let body = read.config.ok_or_else(|| {
                    Error::failed(format!(
                        "the daemon's export of {} holds no image config",
                        image.id
                    ))
                })?;
                config = Some((body.len() as u64, Some(body)));
            }
        }
        let missing: Vec<&String> = diff_ids
            .iter()
            .filter(|d| !matches!(layers.get(*d), Some(Layer::Have(_))))
            .collect();
        if !missing.is_empty() {
            return Err(Error::failed(format!(
                "the daemon's export of {} lacks layer(s) {}",
                image.id,
                missing
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (config_size, config_body) = config.expect("config found or read above");
        if let Some(body) = config_body {
            self.client
                .put_blob(&dest.ep, &dest.creds, &dest.repo, &image.id, body)
                .await?;
        }
        let (media_type, manifest) =
            manifest(dest.format, &image.id, config_size, &diff_ids, &layers);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let reference = tag.unwrap_or(&digest);
        self.client
            .put_manifest_bytes(
                &dest.ep,
                &dest.creds,
                &dest.repo,
                reference,
                media_type,
                manifest,
            )
            .await?;
        Ok(digest)
    }

    /// Whether the repository holds layer `diff_id` in the form the cache knows, or can
    /// mount it from a repository that does.
    async fn find(&self, diff_id: &str, dest: &Dest) -> Result<Layer> {
        let compression = dest.format.compression;
        let Some(c) = self.cache.get(diff_id, compression) else {
            return Ok(Layer::Need);
        };
        if self
            .client
            .blob_size(&dest.ep, &dest.creds, &dest.repo, &c.digest)
            .await?
            .is_some()
        {
            return Ok(Layer::Have(c));
        }
        let others = c.seen.get(&dest.ep.host).cloned().unwrap_or_default();
        for from in others.iter().rev().filter(|r| **r != dest.repo).take(3) {
            if self
                .client
                .mount(&dest.ep, &dest.creds, &dest.repo, &c.digest, from)
                .await?
            {
                self.cache
                    .record(diff_id, compression, &c, &dest.ep.host, &dest.repo);
                return Ok(Layer::Have(c));
            }
        }
        Ok(Layer::Need)
    }

    /// Reads the daemon's export once: uploads the layers that are needed, reads past the
    /// others, and keeps the config when `want_config`.
    async fn read_export(
        &self,
        image: &LocalImage,
        dest: &Dest,
        layers: &HashMap<String, Layer>,
        want_config: bool,
        lessons: &mut Lessons,
        ctx: &StepCtx,
    ) -> Result<Exported> {
        let mut stream = self.exporter.export(image).await?;
        // The export is a network stream; the tar reader is synchronous: a channel between.
        let (bytes_tx, bytes_rx) = mpsc::channel::<Result<Bytes>>(8);
        let feed = tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let stop = item.is_err();
                if bytes_tx.send(item).await.is_err() || stop {
                    break;
                }
            }
        });
        let job = ReadJob {
            client: self.client.clone(),
            uploads: Arc::new(Semaphore::new(UPLOADS)),
            dest: dest.clone(),
            image_id: image.id.clone(),
            layers: layers.clone(),
            want_config,
            distrust: lessons.distrust.clone(),
            codec: Codec(dest.format.compression),
            ctx: ctx.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
        let reading = tokio::task::spawn_blocking(move || job.run(ChannelReader::new(bytes_rx)));
        let outcome = reading
            .await
            .map_err(|e| Error::failed(format!("reading the image export stopped: {e}")))?;
        feed.abort();
        let (read, uploads) = match outcome {
            Ok(x) => x,
            Err(ReadError::Misrecognised(size)) => {
                lessons.distrust.insert(size);
                lessons.misrecognised = true;
                return Err(Error::failed(
                    "a layer of the export was not the one its size suggested",
                ));
            }
            Err(ReadError::Failed(e)) => return Err(e),
        };
        let mut read = read;
        for (diff_id, tar_size) in &read.learned {
            if let Some(Layer::Have(c)) = layers.get(diff_id) {
                let c = Compressed {
                    tar_size: *tar_size,
                    ..c.clone()
                };
                self.cache.record(
                    diff_id,
                    dest.format.compression,
                    &c,
                    &dest.ep.host,
                    &dest.repo,
                );
            }
        }
        for (diff_id, tar_size, upload) in uploads {
            let (digest, size) = upload
                .await
                .map_err(|e| Error::failed(format!("a layer upload stopped: {e}")))??;
            let c = Compressed {
                digest,
                size,
                tar_size,
                seen: BTreeMap::new(),
            };
            self.cache.record(
                &diff_id,
                dest.format.compression,
                &c,
                &dest.ep.host,
                &dest.repo,
            );
            read.uploaded.push((diff_id, c));
        }
        Ok(read)
    }
}

/// What reading the export gave.
#[derive(Default)]
struct Exported {
    uploaded: Vec<(String, Compressed)>,
    config: Option<Bytes>,
    /// Tar sizes learnt of layers the registry has whose size was not known.
    learned: Vec<(String, u64)>,
}

enum ReadError {
    Failed(Error),
    /// A layer of this tar size was not the one the repository has.
    Misrecognised(u64),
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Failed(e)
    }
}

type Upload = tokio::task::JoinHandle<Result<(String, u64)>>;
/// A layer whose upload has started: its diff id, its tar size, the upload.
type Started = (String, u64, Upload);

/// The synchronous half of a push: walks the export tar.
struct ReadJob {
    client: Arc<RegistryClient>,
    /// Uploads at once, across the layers of this push.
    uploads: Arc<Semaphore>,
    dest: Dest,
    image_id: String,
    layers: HashMap<String, Layer>,
    want_config: bool,
    distrust: HashSet<u64>,
    codec: Codec,
    ctx: StepCtx,
    runtime: tokio::runtime::Handle,
}

impl ReadJob {
    fn run(self, input: ChannelReader) -> std::result::Result<(Exported, Vec<Started>), ReadError> {
        let config_name = format!(
            "{}.json",
            self.image_id
                .strip_prefix("sha256:")
                .unwrap_or(&self.image_id)
        );
        let total_need = self
            .layers
            .values()
            .filter(|l| matches!(l, Layer::Need))
            .count();
        // Blocks in flight across every layer: bounds memory whatever the image.
        let permits = Arc::new(Semaphore::new(
            4 * std::thread::available_parallelism().map_or(2, |n| n.get()),
        ));
        let mut read = Exported::default();
        let mut uploads = Vec::new();
        // Layers already passed (or uploaded): a second copy of the same layer is read past.
        let mut matched: Vec<String> = Vec::new();
        let mut archive = tar::Archive::new(input);
        let entries = archive
            .entries()
            .map_err(|e| export_error(&self.image_id, &e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| export_error(&self.image_id, &e))?;
            let path = entry
                .path()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = entry.header().size().unwrap_or(0);
            if path == config_name && self.want_config {
                if size > MAX_CONFIG {
                    return Err(Error::failed(format!(
                        "the config of {} is {size} bytes; berth holds at most {MAX_CONFIG}",
                        self.image_id
                    ))
                    .into());
                }
                let mut body = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut body)
                    .map_err(|e| export_error(&self.image_id, &e))?;
                read.config = Some(Bytes::from(body));
                continue;
            }
            let named = path
                .strip_prefix("blobs/sha256/")
                .map(|hex| format!("sha256:{hex}"));
            let is_layer = path.ends_with("/layer.tar")
                || named.as_ref().is_some_and(|d| self.layers.contains_key(d));
            if !is_layer {
                continue;
            }
            // Which layer is this? By name where the export names it; else, when its size
            // is that of layers the repository has, by its digest (read past, not
            // compressed). A layer of a size some other layer has that turns out to be new
            // was read for nothing: the push starts again, compressing layers of that size.
            let candidates: Vec<&String> = match &named {
                Some(d)
                    if matches!(self.layers.get(d), Some(Layer::Have(_)))
                        || matched.contains(d) =>
                {
                    vec![d]
                }
                Some(_) => Vec::new(),
                None if self.distrust.contains(&size) => Vec::new(),
                None => self
                    .layers
                    .iter()
                    .filter(|(d, l)| {
                        !matched.contains(d) && matches!(l, Layer::Have(c) if c.tar_size == size)
                    })
                    .map(|(d, _)| d)
                    .collect(),
            };
            if !candidates.is_empty() {
                let got = digest_of(&mut entry).map_err(|e| export_error(&self.image_id, &e))?;
                if !candidates.contains(&&got) {
                    return Err(ReadError::Misrecognised(size));
                }
                matched.push(got);
                continue;
            }
            // A layer the registry has under a blob berth found through a base image, whose
            // tar size is not known yet, cannot be told by its size: each unnamed layer is
            // then compressed (its diff id is known at its end) and uploaded only if it is
            // not one of them.
            let hold = named.is_none()
                && self.layers.iter().any(|(d, l)| {
                    !matched.contains(d) && matches!(l, Layer::Have(c) if c.tar_size == 0)
                });
            let n = uploads.len() + 1;
            let label = format!("layer {n}/{}", total_need.max(n));
            let (diff_id, upload, go) =
                self.compress_and_upload(&mut entry, size, &label, &permits, hold)?;
            if let Some(go) = go {
                let known = matches!(self.layers.get(&diff_id), Some(Layer::Have(_)))
                    || matched.contains(&diff_id);
                let _ = go.send(!known);
                if known {
                    read.learned.push((diff_id.clone(), size));
                    matched.push(diff_id);
                    continue;
                }
            }
            if matched.contains(&diff_id) {
                // The same layer twice in one image: the upload is harmless, keep one.
                continue;
            }
            matched.push(diff_id.clone());
            uploads.push((diff_id, size, upload));
        }
        Ok((read, uploads))
    }

    /// Compresses one layer's tar in parallel blocks into a spool, whose upload starts at
    /// once (or, when `hold`, once told to go); the layer's diff id (known once read), the
    /// upload, and what tells a held upload to go (`true`) or not.
    fn compress_and_upload(
        &self,
        entry: &mut impl std::io::Read,
        size: u64,
        label: &str,
        permits: &Arc<Semaphore>,
        hold: bool,
    ) -> std::result::Result<(String, Upload, Option<oneshot::Sender<bool>>), ReadError> {
        let (go_tx, go_rx) = if hold {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let spool = Spool::create()?;
        let (blocks_tx, blocks_rx) = mpsc::channel::<Piece>(permits.available_permits().max(2));
        self.runtime
            .spawn(collect(blocks_rx, spool.clone(), self.codec));
        let upload: Upload = self.runtime.spawn(upload(
            self.client.clone(),
            self.dest.clone(),
            spool.clone(),
            self.uploads.clone(),
            label.to_string(),
            go_rx,
            self.ctx.clone(),
        ));
        match self.feed(entry, size, label, permits, &blocks_tx) {
            Ok(diff_id) => {
                let _ = blocks_tx.blocking_send(Piece::End);
                Ok((diff_id, upload, go_tx))
            }
            Err(e) => {
                spool.fail("the export stopped".into());
                upload.abort();
                Err(e)
            }
        }
    }

    /// Reads one layer's tar in blocks and hands them to the compressing threads; the
    /// layer's diff id.
    fn feed(
        &self,
        entry: &mut impl std::io::Read,
        size: u64,
        label: &str,
        permits: &Arc<Semaphore>,
        blocks_tx: &mpsc::Sender<Piece>,
    ) -> std::result::Result<String, ReadError> {
        let mut hasher = Sha256::new();
        let mut previous_tail: Arc<Vec<u8>> = Arc::new(Vec::new());
        let mut pending: Option<Vec<u8>> = None;
        let mut done: u64 = 0;
        let mut last_report = Instant::now();
        let dictionary = self.codec.dictionary();
        loop {
            let mut block = vec![0u8; self.codec.block()];
            let n = read_full(entry, &mut block).map_err(|e| export_error(&self.image_id, &e))?;
            block.truncate(n);
            hasher.update(&block);
            done += n as u64;
            let end = n == 0;
            if let Some(p) = pending.take() {
                // The block before this one is last only when nothing follows it.
                let tail = Arc::new(p[p.len().saturating_sub(dictionary)..].to_vec());
                self.submit(blocks_tx, permits, p, previous_tail.clone(), end)?;
                previous_tail = tail;
            } else if end {
                // An empty layer: one empty, final block.
                self.submit(blocks_tx, permits, Vec::new(), previous_tail.clone(), true)?;
            }
            if end {
                break;
            }
            pending = Some(block);
            if last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                self.ctx.progress(format!(
                    "{label}: {} of {} compressed ({}%)",
                    human_bytes(done),
                    human_bytes(size),
                    (done * 100).checked_div(size).unwrap_or(100).min(100)
                ));
            }
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    }

    /// Hands one block to the compressing threads, waiting while too many are in flight.
    fn submit(
        &self,
        to: &mpsc::Sender<Piece>,
        permits: &Arc<Semaphore>,
        data: Vec<u8>,
        dictionary: Arc<Vec<u8>>,
        last: bool,
    ) -> std::result::Result<(), ReadError> {
        let permit = self
            .runtime
            .block_on(permits.clone().acquire_owned())
            .map_err(|_| Error::failed("the push was stopped"))?;
        let codec = self.codec;
        let handle = self
            .runtime
            .spawn_blocking(move || codec.compress(&data, &dictionary, last));
        to.blocking_send(Piece::Block(InFlight { handle, permit }))
            .map_err(|_| ReadError::Failed(Error::failed("writing a compressed layer stopped")))
    }
}

/// What the reader hands the collector of a layer: blocks in order, then the end.
enum Piece {
    Block(InFlight),
    End,
}

/// A block being compressed, and its place in the memory budget.
struct InFlight {
    handle: tokio::task::JoinHandle<std::io::Result<Deflated>>,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Puts one layer's compressed stream together in its spool: the header, the blocks in
/// order as they are done, then the trailer; its digest and size once done. A reader that
/// stops before the end fails the spool (never a truncated layer that looks complete).
async fn collect(mut blocks: mpsc::Receiver<Piece>, spool: Arc<Spool>, codec: Codec) {
    let mut hasher = Sha256::new();
    let mut trailer = Trailer::default();
    let mut size = 0u64;
    let mut put = |bytes: &[u8], hasher: &mut Sha256| {
        hasher.update(bytes);
        size += bytes.len() as u64;
        spool.append(bytes, size)
    };
    if let Err(e) = put(codec.header(), &mut hasher) {
        return spool.fail(e.to_string());
    }
    loop {
        match blocks.recv().await {
            Some(Piece::Block(InFlight { handle, permit })) => {
                let block = match handle.await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => return spool.fail(format!("compressing a block: {e}")),
                    Err(e) => return spool.fail(e.to_string()),
                };
                drop(permit);
                trailer.add(&block);
                if let Err(e) = put(&block.bytes, &mut hasher) {
                    return spool.fail(e.to_string());
                }
            }
            Some(Piece::End) => break,
            None => return spool.fail("the export stopped".into()),
        }
    }
    if let Err(e) = put(&codec.trailer(trailer), &mut hasher) {
        return spool.fail(e.to_string());
    }
    spool.finish(size, format!("sha256:{}", hex::encode(hasher.finalize())));
}

/// Uploads one layer from its spool as it grows (waiting for a free upload slot first);
/// an upload the registry cuts off starts again from the spool, up to [`ATTEMPTS`] times.
async fn upload(
    client: Arc<RegistryClient>,
    dest: Dest,
    spool: Arc<Spool>,
    slots: Arc<Semaphore>,
    label: String,
    go: Option<oneshot::Receiver<bool>>,
    ctx: StepCtx,
) -> Result<(String, u64)> {
    if let Some(go) = go
        && !go.await.unwrap_or(false)
    {
        return Err(Error::failed(format!("{label} is not needed")));
    }
    let _slot = slots
        .acquire_owned()
        .await
        .map_err(|_| Error::failed("the push was stopped"))?;
    let what = format!("uploading {label} to {}", dest.repo);
    let mut attempt = 1;
    loop {
        let report = {
            let (ctx, label) = (ctx.clone(), label.clone());
            let last = Mutex::new(Instant::now());
            move |sent: u64, total: Option<u64>| {
                let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(total) = total
                    && last.elapsed() >= PROGRESS_EVERY
                {
                    *last = Instant::now();
                    ctx.progress(format!(
                        "{label}: {} of {} uploaded ({}%)",
                        human_bytes(sent),
                        human_bytes(total),
                        (sent * 100).checked_div(total).unwrap_or(100)
                    ));
                }
            }
        };
        let body = spool.stream(report);
        let digest = async { spool.digest().await.map(|(d, _)| d) };
        match client
            .stream_blob(&dest.ep, &dest.creds, &dest.repo, &what, body, digest)
            .await
        {
            Ok(d) => {
                let (_, size) = spool.digest().await?;
                return Ok((d, size));
            }
            Err(e) if e.kind().is_transient() && attempt < ATTEMPTS => {
                let pause = Duration::from_secs(1 << (attempt - 1));
                ctx.progress(format!(
                    "{label}: {e}; trying again in {}s",
                    pause.as_secs()
                ));
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The image manifest in `format` (Docker v2 schema 2 or OCI), layers in the image's
/// order; its media type and bytes. The config is the daemon's either way: an OCI image
/// config is the same document.
fn manifest(
    format: PushFormat,
    config: &str,
    config_size: u64,
    diff_ids: &[String],
    layers: &HashMap<String, Layer>,
) -> (&'static str, Vec<u8>) {
    let layer_type = Codec(format.compression).media_type(format.manifest);
    let layers: Vec<serde_json::Value> = diff_ids
        .iter()
        .filter_map(|d| match layers.get(d) {
            Some(Layer::Have(c)) => Some(serde_json::json!({
                "mediaType": layer_type,
                "size": c.size,
                "digest": c.digest,
            })),
            _ => None,
        })
        .collect();
    let (manifest_type, config_type) = match format.manifest {
        ManifestFormat::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        ManifestFormat::Oci => (OCI_MANIFEST, OCI_CONFIG),
    };
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {"mediaType": config_type, "size": config_size, "digest": config},
        "layers": layers,
    });
    (
        manifest_type,
        serde_json::to_vec_pretty(&m).unwrap_or_default(),
    )
}

/// Reads until `buf` is full or the input ends; how much was read.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The sha256 of the rest of `r`.
fn digest_of(r: &mut impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn export_error(image: &str, e: &std::io::Error) -> Error {
    // The channel reader carries berth's own error (the daemon's stream) inside.
    Error::from_chain(format!("reading the daemon's export of {image}"), e)
        .with_kind(ErrorKind::Unreachable)
}

/// A synchronous reader over the export stream's chunks.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
