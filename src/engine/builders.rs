//! Builders: the Docker Engines images are built on, and how builds are spread over them.
//!
//! Each engine has a number of build slots (its `concurrency`). An image's build takes a
//! slot on whichever of its candidate engines frees one first (the engines of its pool, of
//! the wanted platform), so a pool fills its engines evenly and never runs more on one
//! engine than it was given. An engine that cannot be reached, or that dies mid-build, is
//! left for the rest of the run and the build goes to another candidate; a build that
//! fails on its own (a Dockerfile step) is not retried anywhere — it would fail again.
//!
//! Images stay where they were built: a [`LocalImage`] names its engine, and tagging,
//! exporting and pushing go to that engine.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures_util::future::{BoxFuture, select_all};
use indexmap::IndexMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ports::{ImageBuilder, ImageExporter, ImagePusher, LocalImage};
use super::step::StepCtx;
use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::model::{DEFAULT_BUILDER, Image, same_platform};

/// One engine, behind the ports.
pub struct Engine {
    pub name: String,
    /// Where it is, for messages.
    pub address: String,
    /// What it builds natively.
    pub platform: String,
    pub builder: Arc<dyn ImageBuilder>,
    /// berth's own push, reading the image from this engine.
    pub pusher: Arc<dyn ImagePusher>,
    /// The engine's own push (`push_via: daemon`).
    pub daemon_pusher: Arc<dyn ImagePusher>,
    pub exporter: Arc<dyn ImageExporter>,
    slots: Arc<Semaphore>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        address: String,
        platform: String,
        concurrency: usize,
        builder: Arc<dyn ImageBuilder>,
        pusher: Arc<dyn ImagePusher>,
        daemon_pusher: Arc<dyn ImagePusher>,
        exporter: Arc<dyn ImageExporter>,
    ) -> Engine {
        Engine {
            name,
            address,
            platform,
            builder,
            pusher,
            daemon_pusher,
            exporter,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }
}

/// A build slot on an engine, held until the build is over.
pub struct Slot {
    pub engine: Arc<Engine>,
    _permit: OwnedSemaphorePermit,
}

/// Every engine of the run.
pub struct Builders {
    engines: IndexMap<String, Arc<Engine>>,
    /// Engines found unreachable in this run: not offered again.
    lost: Mutex<HashSet<String>>,
}

impl Builders {
    pub fn new(engines: Vec<Engine>) -> Builders {
        Builders {
            engines: engines
                .into_iter()
                .map(|e| (e.name.clone(), Arc::new(e)))
                .collect(),
            lost: Mutex::default(),
        }
    }

    /// The engine of a name (the pipeline's validation made sure it exists).
    pub fn get(&self, name: &str) -> Result<&Arc<Engine>> {
        self.engines.get(name).ok_or_else(|| {
            Error::failed(format!(
                "no builder `{name}` in this run (a bug; please report it)"
            ))
        })
    }

    /// The engine that holds a local image.
    pub fn of(&self, image: &LocalImage) -> Result<&Arc<Engine>> {
        self.get(&image.builder)
    }

    /// The engine that hashes build contexts (any one: the scan is local).
    fn scanner(&self) -> Result<&Arc<Engine>> {
        self.engines
            .get(DEFAULT_BUILDER)
            .or_else(|| self.engines.values().next())
            .ok_or_else(|| Error::failed("no builder in this run (a bug; please report it)"))
    }

    /// The content digest of what `req` would build (hashed here, whichever engine builds).
    pub async fn content_digest(&self, req: &super::ports::BuildRequest) -> Result<String> {
        self.scanner()?.builder.content_digest(req).await
    }

    /// The engines an image may be built on for `platform` (None: any of its builders).
    pub fn candidates(&self, img: &Image, platform: Option<&str>) -> Vec<Arc<Engine>> {
        img.builders
            .iter()
            .filter_map(|b| self.engines.get(b))
            .filter(|e| platform.is_none_or(|p| same_platform(&e.platform, p)))
            .cloned()
            .collect()
    }

    /// Connects to the engines `images` build on, all at once: an error when none of an
    /// image's candidates answers. An unreachable member of a pool is marked lost, so its
    /// builds go elsewhere from the start; returned as warnings (builder, why).
    pub async fn ready_for<'a>(
        &self,
        images: impl Iterator<Item = &'a Image>,
    ) -> Result<Vec<String>> {
        let images: Vec<&Image> = images.collect();
        let mut names: Vec<&String> = images.iter().flat_map(|i| &i.builders).collect();
        names.sort();
        names.dedup();
        let engines: Vec<&Arc<Engine>> =
            names.iter().filter_map(|n| self.engines.get(*n)).collect();
        let answers =
            futures_util::future::join_all(engines.iter().map(|e| e.builder.ready())).await;
        let mut errors: IndexMap<String, Error> = IndexMap::new();
        for (e, a) in engines.iter().zip(answers) {
            if let Err(err) = a {
                self.mark_lost(&e.name);
                errors.insert(e.name.clone(), err);
            }
        }
        for img in images {
            if !img.builders.is_empty() && img.builders.iter().all(|b| errors.contains_key(b)) {
                let first = &img.builders[0];
                return Err(errors.swap_remove(first).expect("every builder failed"));
            }
        }
        Ok(errors
            .iter()
            .map(|(name, e)| {
                format!("builder `{name}` is left out of this run: {e}; its builds go to the other builders of its pools")
            })
            .collect())
    }

    pub fn mark_lost(&self, name: &str) {
        if let Ok(mut l) = self.lost.lock() {
            l.insert(name.to_string());
        }
    }

    pub fn is_lost(&self, name: &str) -> bool {
        self.lost.lock().map(|l| l.contains(name)).unwrap_or(false)
    }

    /// A build slot on the first of `candidates` to have one, skipping engines lost in this
    /// run and those in `tried`. None when no candidate is left.
    pub async fn slot(
        &self,
        candidates: &[Arc<Engine>],
        tried: &[String],
        ctx: &StepCtx,
    ) -> Option<Slot> {
        let open: Vec<&Arc<Engine>> = candidates
            .iter()
            .filter(|e| !tried.contains(&e.name) && !self.is_lost(&e.name))
            .collect();
        if open.is_empty() {
            return None;
        }
        // A free slot now: the engine with the most free slots, so a pool fills evenly (on a
        // tie, the first in the pool's order).
        if let Some(e) = open
            .iter()
            .rev()
            .filter(|e| e.slots.available_permits() > 0)
            .max_by_key(|e| e.slots.available_permits())
            && let Ok(permit) = e.slots.clone().try_acquire_owned()
        {
            return Some(Slot {
                engine: (*e).clone(),
                _permit: permit,
            });
        }
        ctx.progress(format!(
            "waiting for a build slot on {}",
            open.iter()
                .map(|e| format!("`{}`", e.name))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
        let waits: Vec<BoxFuture<'_, Option<Slot>>> = open
            .iter()
            .map(|e| {
                let e = (*e).clone();
                Box::pin(async move {
                    let permit = e.slots.clone().acquire_owned().await.ok()?;
                    Some(Slot {
                        engine: e,
                        _permit: permit,
                    })
                }) as BoxFuture<'_, Option<Slot>>
            })
            .collect();
        select_all(waits).await.0
    }

    /// Runs `build` on a slot of one of `candidates`; when the engine turns out to be
    /// unreachable (before or during the build), on another, until none is left. Returns
    /// what the build made and the engine it ran on.
    pub async fn build_somewhere<'b, T, F>(
        &self,
        image: &str,
        candidates: &[Arc<Engine>],
        ctx: &StepCtx,
        mut build: F,
    ) -> Result<T>
    where
        F: FnMut(Arc<Engine>) -> BoxFuture<'b, Result<T>>,
    {
        let mut tried: Vec<String> = Vec::new();
        let mut last: Option<Error> = None;
        loop {
            let Some(slot) = self.slot(candidates, &tried, ctx).await else {
                return Err(no_builder_left(image, candidates, &tried, last));
            };
            let engine = slot.engine.clone();
            if candidates.len() > 1 || engine.name != DEFAULT_BUILDER {
                ctx.progress(format!(
                    "building on `{}` ({})",
                    engine.name, engine.address
                ));
            }
            match build(engine.clone()).await {
                Err(e) if e.kind() == ErrorKind::Unreachable => {
                    self.mark_lost(&engine.name);
                    tried.push(engine.name.clone());
                    let others = candidates
                        .iter()
                        .any(|c| !tried.contains(&c.name) && !self.is_lost(&c.name));
                    if others {
                        ctx.warn(format!(
                            "builder `{}` is unreachable ({e}); building `{image}` on another builder",
                            engine.name
                        ));
                    }
                    last = Some(e);
                }
                other => return other,
            }
        }
    }
}

/// Every candidate failed or was lost: the last error, naming the builders tried.
fn no_builder_left(
    image: &str,
    candidates: &[Arc<Engine>],
    tried: &[String],
    last: Option<Error>,
) -> Error {
    match last {
        Some(e) if tried.len() <= 1 => e,
        Some(e) => Error::failed(format!(
            "image `{image}`: no builder could build it; tried {}",
            tried
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_causes(vec![e.to_string()])
        .with_kind(ErrorKind::Unreachable)
        .with_hint("start the builders again, or add builders to the pool"),
        None => Error::failed(format!(
            "image `{image}`: every builder it may use ({}) was found unreachable earlier in this run",
            candidates
                .iter()
                .map(|c| format!("`{}`", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_kind(ErrorKind::Unreachable)
        .with_hint("start the builders again and run again"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use futures_util::FutureExt;

    use super::*;
    use crate::engine::ports::{
        BuildRequest, PulledBase, PushFormat, RegistryCredentials, RepositoryInfo,
    };

    /// An engine that is never called: the tests drive `build_somewhere`'s closure.
    struct Idle;

    #[async_trait]
    impl ImageBuilder for Idle {
        async fn ready(&self) -> Result<()> {
            Ok(())
        }
        async fn content_digest(&self, _: &BuildRequest) -> Result<String> {
            Err(Error::failed("idle"))
        }
        async fn find_local(&self, _: &str) -> Result<Option<LocalImage>> {
            Ok(None)
        }
        async fn build(&self, _: &BuildRequest, _: &str, _: &StepCtx) -> Result<LocalImage> {
            Err(Error::failed("idle"))
        }
        async fn tag(&self, _: &LocalImage, _: &str, _: &str) -> Result<()> {
            Ok(())
        }
        async fn pull(&self, _: &str, _: &str, _: &RegistryCredentials) -> Result<bool> {
            Ok(false)
        }
    }

    #[async_trait]
    impl ImagePusher for Idle {
        async fn push(
            &self,
            _: &LocalImage,
            _: &RepositoryInfo,
            _: Option<&str>,
            _: &RegistryCredentials,
            _: PushFormat,
            _: &StepCtx,
        ) -> Result<Option<String>> {
            Err(Error::failed("idle"))
        }
    }

    #[async_trait]
    impl ImageExporter for Idle {
        async fn diff_ids(&self, _: &LocalImage) -> Result<Vec<String>> {
            Ok(vec![])
        }
        async fn bases(&self, _: &[String], _: &str) -> Result<Vec<PulledBase>> {
            Ok(vec![])
        }
        async fn export(
            &self,
            _: &LocalImage,
        ) -> Result<futures_util::stream::BoxStream<'static, Result<bytes::Bytes>>> {
            Err(Error::failed("idle"))
        }
    }

    fn engine(name: &str, slots: usize) -> Engine {
        let idle = Arc::new(Idle);
        Engine::new(
            name.into(),
            format!("tcp://{name}:2376"),
            "linux/amd64".into(),
            slots,
            idle.clone(),
            idle.clone(),
            idle.clone(),
            idle,
        )
    }

    fn pool(engines: Vec<Engine>) -> (Builders, Vec<Arc<Engine>>) {
        let b = Builders::new(engines);
        let all = b.engines.values().cloned().collect();
        (b, all)
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn an_unreachable_engine_hands_the_build_to_the_next_and_stays_out() {
        let (b, all) = pool(vec![engine("a", 2), engine("b", 1)]);
        let ctx = StepCtx::quiet();
        let tried = std::sync::Mutex::new(Vec::new());
        let built = run(b.build_somewhere("img", &all, &ctx, |e| {
            tried.lock().unwrap().push(e.name.clone());
            async move {
                if e.name == "a" {
                    Err(Error::failed("gone").with_kind(ErrorKind::Unreachable))
                } else {
                    Ok(e.name.clone())
                }
            }
            .boxed()
        }))
        .unwrap();
        assert_eq!(built, "b");
        assert_eq!(*tried.lock().unwrap(), ["a", "b"]);
        assert!(b.is_lost("a"));
        // The next build does not try `a` again.
        tried.lock().unwrap().clear();
        run(b.build_somewhere("img2", &all, &ctx, |e| {
            tried.lock().unwrap().push(e.name.clone());
            async { Ok(()) }.boxed()
        }))
        .unwrap();
        assert_eq!(*tried.lock().unwrap(), ["b"]);
    }

    #[test]
    fn a_failing_build_is_not_retried_elsewhere() {
        let (b, all) = pool(vec![engine("a", 2), engine("b", 1)]);
        let calls = AtomicUsize::new(0);
        let e = run(b.build_somewhere("img", &all, &StepCtx::quiet(), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::failed("RUN make failed")) }.boxed()
        }))
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(e.to_string().contains("RUN make failed"));
    }

    #[test]
    fn with_every_engine_gone_the_error_names_them() {
        let (b, all) = pool(vec![engine("a", 1), engine("b", 1)]);
        let e = run(b.build_somewhere("img", &all, &StepCtx::quiet(), |e| {
            async move {
                Err::<(), _>(
                    Error::failed(format!("{} gone", e.name)).with_kind(ErrorKind::Unreachable),
                )
            }
            .boxed()
        }))
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("no builder could build it; tried `a`, `b`"),
            "{text}"
        );
        assert_eq!(e.kind(), ErrorKind::Unreachable);
    }

    #[test]
    fn slots_go_to_the_engine_with_the_most_free_and_wait_when_none_is() {
        let (b, all) = pool(vec![engine("a", 1), engine("b", 2)]);
        let ctx = StepCtx::quiet();
        run(async {
            let s1 = b.slot(&all, &[], &ctx).await.unwrap();
            assert_eq!(s1.engine.name, "b");
            let s2 = b.slot(&all, &[], &ctx).await.unwrap();
            let s3 = b.slot(&all, &[], &ctx).await.unwrap();
            let mut names = [s2.engine.name.clone(), s3.engine.name.clone()];
            names.sort();
            assert_eq!(names, ["a", "b"]);
            // All three slots are taken: the fourth waits for the first to be freed.
            let waiting = b.slot(&all, &[], &ctx);
            tokio::pin!(waiting);
            assert!(futures_util::poll!(&mut waiting).is_pending());
            drop(s2);
            let s4 = waiting.await.unwrap();
            assert!(["a", "b"].contains(&s4.engine.name.as_str()));
        });
    }
}
