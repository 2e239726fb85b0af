//! Builders and pools: the Docker Engines images are built on, and which ones each image
//! may use. A multi-platform image needs a builder of each of its platforms among them;
//! that is checked here, before anything runs, not discovered mid-build.

use indexmap::IndexMap;

use super::super::model::*;
use super::super::raw;
use super::super::spanned::Spanned;
use super::{Validator, valid_name};
use crate::error::suggest;
pub use crate::pipeline::model::{same_platform, valid_platform};

/// Builds at once on a declared builder that does not say.
const DEFAULT_CONCURRENCY: usize = 2;

/// The builders and pools of a file, for the images to pick from.
pub(super) struct Engines {
    pub builders: IndexMap<String, Builder>,
    pub pools: IndexMap<String, Vec<String>>,
}

impl Validator<'_> {
    pub(super) fn platform(&mut self, p: &Spanned<String>) {
        if !valid_platform(&p.value) {
            self.err(
                format!("`{}` is not a platform", p.value),
                self.at(p, p.value.chars().count()),
                Some("write os/arch[/variant], like `linux/amd64` or `linux/arm64`".into()),
            );
        }
    }

    /// `builders:` and `pools:`, with the default builder always there.
    pub(super) fn engines(&mut self, file: &raw::PipelineFile) -> Engines {
        let mut builders = IndexMap::new();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        builders.insert(
            DEFAULT_BUILDER.to_string(),
            Builder {
                name: DEFAULT_BUILDER.into(),
                endpoint: EngineEndpoint::Default,
                platform: host_platform(),
                concurrency: cpus,
            },
        );
        for (name, def) in &file.builders {
            let b = self.builder(name, def, cpus);
            builders.insert(name.value.clone(), b);
        }
        let mut pools = IndexMap::new();
        for (name, members) in &file.pools {
            if !valid_name(&name.value) {
                self.err(
                    format!("pool name `{}` is not valid", name.value),
                    self.at(name, name.value.len()),
                    Some("use letters, digits, `-` and `_`".into()),
                );
            }
            if builders.contains_key(&name.value) {
                self.err(
                    format!("`{}` names both a builder and a pool", name.value),
                    self.at(name, name.value.len()),
                    Some("give the pool another name: an image's `builder` names either".into()),
                );
            }
            if members.is_empty() {
                self.err(
                    format!("pool `{}` has no builders", name.value),
                    self.at(name, name.value.len()),
                    Some("list the builders it spreads builds over".into()),
                );
            }
            let mut list: Vec<String> = Vec::new();
            for m in members {
                if !builders.contains_key(&m.value) {
                    self.unknown_builder(m, &builders, &IndexMap::new());
                } else if !list.contains(&m.value) {
                    list.push(m.value.clone());
                }
            }
            pools.insert(name.value.clone(), list);
        }
        Engines { builders, pools }
    }

    fn builder(&mut self, name: &Spanned<String>, def: &raw::BuilderDef, cpus: usize) -> Builder {
        let is_default = name.value == DEFAULT_BUILDER;
        if !valid_name(&name.value) {
            self.err(
                format!("builder name `{}` is not valid", name.value),
                self.at(name, name.value.len()),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        let endpoint = match (&def.host, &def.context) {
            (Some(h), None) => self.host(name, h, &def.tls),
            (None, Some(c)) => {
                self.no_tls(name, &def.tls, "a context has its own TLS settings");
                EngineEndpoint::Context(c.value.clone())
            }
            (None, None) if is_default => {
                self.no_tls(
                    name,
                    &def.tls,
                    "set DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for the default engine",
                );
                EngineEndpoint::Default
            }
            (None, None) => {
                self.err(
                    format!("builder `{}` says neither `host` nor `context`", name.value),
                    self.at(name, name.value.len()),
                    Some("give its address (`host: tcp://build1:2376`, `ssh://user@build1`) or a docker context name".into()),
                );
                EngineEndpoint::Default
            }
            (Some(h), Some(_)) => {
                self.err(
                    format!("builder `{}` sets both `host` and `context`", name.value),
                    self.at(h, h.value.chars().count()),
                    Some("keep one: a context names a host of its own".into()),
                );
                EngineEndpoint::Default
            }
        };
        let platform = match &def.platform {
            Some(p) => {
                self.platform(p);
                p.value.clone()
            }
            None if is_default => host_platform(),
            None => {
                self.err(
                    format!("builder `{}` does not say its `platform`", name.value),
                    self.at(name, name.value.len()),
                    Some(
                        "add the platform it builds natively, like `platform: linux/arm64`".into(),
                    ),
                );
                String::new()
            }
        };
        let concurrency = match &def.concurrency {
            Some(c) if c.value == 0 || c.value > 256 => {
                self.err(
                    format!(
                        "builder `{}`: concurrency {} is out of range",
                        name.value, c.value
                    ),
                    self.at(c, c.value.to_string().len()),
                    Some("builds at once on this engine, 1 to 256".into()),
                );
                1
            }
            Some(c) => c.value as usize,
            None if is_default => cpus,
            None => DEFAULT_CONCURRENCY,
        };
        Builder {
            name: name.value.clone(),
            endpoint,
            platform,
            concurrency,
        }
    }

    fn no_tls(&mut self, name: &Spanned<String>, tls: &Option<Spanned<String>>, why: &str) {
        if let Some(t) = tls {
            self.err(
                format!("builder `{}`: `tls` goes with a `tcp://` host", name.value),
                self.at(t, t.value.chars().count()),
                Some(why.to_string()),
            );
        }
    }

    fn host(
        &mut self,
        name: &Spanned<String>,
        h: &Spanned<String>,
        tls: &Option<Spanned<String>>,
    ) -> EngineEndpoint {
        let scheme = h.value.split_once("://").map(|(s, _)| s).unwrap_or("");
        let rest = h.value.split_once("://").map(|(_, r)| r).unwrap_or("");
        if !matches!(scheme, "unix" | "tcp" | "ssh") || rest.is_empty() {
            self.err(
                format!(
                    "builder `{}`: `{}` is not an engine address",
                    name.value, h.value
                ),
                self.at(h, h.value.chars().count()),
                Some(
                    "write `unix:///path/docker.sock`, `tcp://host:2376` or `ssh://user@host`"
                        .into(),
                ),
            );
        }
        let tls = match tls {
            Some(t) if scheme != "tcp" => {
                self.no_tls(
                    name,
                    &Some(t.clone()),
                    "unix sockets and ssh need no certificates",
                );
                None
            }
            Some(t) => {
                let dir = self.path(&t.value);
                let missing: Vec<&str> = ["ca.pem", "cert.pem", "key.pem"]
                    .into_iter()
                    .filter(|f| !dir.join(f).is_file())
                    .collect();
                if !missing.is_empty() {
                    self.err(
                        format!(
                            "builder `{}`: `{}` has no {}",
                            name.value,
                            crate::source::display_path(&dir),
                            missing.join(", ")
                        ),
                        self.at(t, t.value.chars().count()),
                        Some("`tls` is a folder with ca.pem, cert.pem and key.pem (as DOCKER_CERT_PATH), relative to the pipeline file".into()),
                    );
                }
                Some(dir)
            }
            None => None,
        };
        EngineEndpoint::Host {
            host: h.value.clone(),
            tls,
        }
    }

    fn unknown_builder(
        &mut self,
        r: &Spanned<String>,
        builders: &IndexMap<String, Builder>,
        pools: &IndexMap<String, Vec<String>>,
    ) {
        let names = builders.keys().chain(pools.keys()).map(String::as_str);
        let hint = suggest(&r.value, names.clone()).unwrap_or_else(|| {
            format!(
                "builders and pools in this file: {}",
                names.collect::<Vec<_>>().join(", ")
            )
        });
        self.err(
            format!("no builder or pool is called `{}`", r.value),
            self.at(r, r.value.chars().count()),
            Some(hint),
        );
    }

    /// An image's builders (its `builder`, a pool expanded) and platforms.
    pub(super) fn image_engines(
        &mut self,
        name: &Spanned<String>,
        def: &raw::ImageDef,
        default_builder: &Option<Spanned<String>>,
        engines: &Engines,
    ) -> (Vec<String>, Vec<String>) {
        let mut platforms: Vec<String> = Vec::new();
        for p in def.platforms.iter().flatten() {
            self.platform(p);
            if platforms.iter().any(|q| same_platform(q, &p.value)) {
                self.err(
                    format!("image `{}` lists platform `{}` twice", name.value, p.value),
                    self.at(p, p.value.chars().count()),
                    None,
                );
            } else {
                platforms.push(p.value.clone());
            }
        }
        if let (Some(p), Some(_)) = (&def.platform, &def.platforms) {
            self.err(
                format!("image `{}` sets both `platform` and `platforms`", name.value),
                self.at(p, p.value.chars().count()),
                Some("keep `platforms` (one image per platform, built natively), or `platform` (one image)".into()),
            );
        }
        if def.platforms.as_ref().is_some_and(|p| p.is_empty()) {
            self.err(
                format!("image `{}` has an empty `platforms` list", name.value),
                self.at(name, name.value.len()),
                Some("list at least one platform, or remove `platforms`".into()),
            );
        }
        let chosen = def.builder.as_ref().or(default_builder.as_ref());
        let builders: Vec<String> = match chosen {
            Some(b) if engines.builders.contains_key(&b.value) => vec![b.value.clone()],
            Some(b) if engines.pools.contains_key(&b.value) => engines.pools[&b.value].clone(),
            Some(b) => {
                self.unknown_builder(b, &engines.builders, &engines.pools);
                vec![]
            }
            // Multi-platform: any builder of each platform; else the default engine.
            None if !platforms.is_empty() => engines.builders.keys().cloned().collect(),
            None => vec![DEFAULT_BUILDER.to_string()],
        };
        for (p, at) in platforms.iter().zip(def.platforms.iter().flatten()) {
            let has = builders
                .iter()
                .filter_map(|b| engines.builders.get(b))
                .any(|b| same_platform(&b.platform, p));
            if !has && !builders.is_empty() {
                let among = match chosen {
                    Some(c) => format!("no builder of `{}`", c.value),
                    None => "no builder in this file".into(),
                };
                self.err(
                    format!("image `{}`: {among} builds `{p}`", name.value),
                    self.at(at, at.value.chars().count()),
                    Some(format!("declare a builder with `platform: {p}` under `builders:` (and add it to the pool)")),
                );
            }
        }
        if !platforms.is_empty() && def.push_via == Some(PushVia::Daemon) {
            self.err(
                format!(
                    "image `{}`: `platforms` needs berth's own push, and `push_via` is `daemon`",
                    name.value
                ),
                self.at(name, name.value.len()),
                Some("remove `push_via: daemon`: docker push cannot write an image index".into()),
            );
        }
        if !platforms.is_empty() && def.ecr.scan_gate.is_some() {
            self.err(
                format!(
                    "image `{}`: `ecr.scan_gate` does not cover `platforms` yet",
                    name.value
                ),
                self.at(name, name.value.len()),
                Some(
                    "ECR scans each platform's image, not the index: remove one of the two".into(),
                ),
            );
        }
        (builders, platforms)
    }
}
