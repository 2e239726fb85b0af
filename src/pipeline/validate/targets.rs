//! Targets: exactly one kind each, the images they use, what they depend on.

use std::time::Duration;

use indexmap::IndexMap;

use super::super::expand::RuntimeRef;
use super::super::manifest;
use super::super::model::*;
use super::super::raw;
use super::super::spanned::Spanned;
use super::{CAPABILITIES, Defaults, Expanded, Validator, strings};
use crate::error::suggest;
use crate::source::Location;

impl Validator<'_> {
    /// One target: its kind, the images it uses, what it depends on.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn target(
        &mut self,
        name: &Spanned<String>,
        def: &raw::TargetDef,
        images: &IndexMap<String, Image>,
        target_names: &[String],
        defaults: &Defaults,
        runtime_refs: &[RuntimeRef],
        expanded: &Expanded,
    ) -> Option<Target> {
        let image_names: Vec<String> = images.keys().cloned().collect();
        let loc = self.at(name, name.value.len());
        let mut kinds = Vec::new();
        if let Some(e) = &def.ecs {
            kinds.push(("ecs", e.pos));
        }
        if let Some(c) = &def.cloudformation {
            kinds.push(("cloudformation", c.pos));
        }
        if let Some(k) = &def.eks {
            kinds.push(("eks", k.pos));
        }
        if kinds.len() > 1 {
            let names: Vec<&str> = kinds.iter().map(|k| k.0).collect();
            self.err(format!("target `{}` has {} kinds ({}); a target deploys to exactly one", name.value, kinds.len(), names.join(", ")), loc.clone(), Some("split it into one target per kind, linked with `depends_on` if the order matters".into()));
            return None;
        }
        let mut used_images: Vec<String> = Vec::new();
        let kind = if let Some(e) = &def.ecs {
            self.ecs_target(name, e, &image_names, &mut used_images, &expanded.templates)
        } else if let Some(c) = &def.cloudformation {
            self.cfn_target(c)
        } else if let Some(k) = &def.eks {
            self.eks_target(name, k, images, &mut used_images, expanded)
        } else {
            self.err(
                format!("target `{}` has no kind", name.value),
                loc,
                Some("add one of `ecs:`, `cloudformation:` or `eks:`".into()),
            );
            return None;
        };
        for r in runtime_refs.iter().filter(|r| r.target == name.value) {
            if let [a, img, _] = r.reference.path.as_slice()
                && a == "images"
                && !used_images.contains(img)
            {
                used_images.push(img.clone());
            }
        }
        let mut depends_on = Vec::new();
        for d in &def.depends_on {
            if d.value == name.value {
                self.err(
                    format!("target `{}` depends on itself", name.value),
                    self.at(d, d.value.len()),
                    None,
                );
            } else if !target_names.contains(&d.value) {
                let hint = suggest(&d.value, target_names.iter().map(String::as_str))
                    .unwrap_or_else(|| {
                        format!("targets in this file: {}", target_names.join(", "))
                    });
                self.err(
                    format!("unknown target `{}` in `depends_on`", d.value),
                    self.at(d, d.value.len()),
                    Some(hint),
                );
            } else if !depends_on.contains(&d.value) {
                depends_on.push(d.value.clone());
            }
        }
        let aws = self.access(
            &def.region,
            &def.profile,
            def.role(),
            &defaults.aws,
            &defaults.project,
        );
        Some(Target {
            name: name.value.clone(),
            pos: name.pos,
            kind,
            depends_on,
            images: used_images,
            aws,
        })
    }

    /// The images a container map names: each must be one of the pipeline's; the used ones
    /// are added to `used` in first-use order.
    fn containers(
        &mut self,
        m: &IndexMap<Spanned<String>, Spanned<String>>,
        image_names: &[String],
        used: &mut Vec<String>,
    ) {
        for img in m.values() {
            if image_names.contains(&img.value) {
                if !used.contains(&img.value) {
                    used.push(img.value.clone());
                }
            } else {
                let hint = suggest(&img.value, image_names.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("images in this file: {}", image_names.join(", ")));
                self.err(
                    format!("unknown image `{}`", img.value),
                    self.at(img, img.value.len()),
                    Some(hint),
                );
            }
        }
    }

    fn ecs_target(
        &mut self,
        name: &Spanned<String>,
        e: &Spanned<raw::EcsDef>,
        image_names: &[String],
        used_images: &mut Vec<String>,
        templates: &std::collections::HashMap<String, String>,
    ) -> TargetKind {
        let dir = self.dir;
        self.containers(&e.containers, image_names, used_images);
        let timeout = self.duration(&e.timeout, Duration::from_secs(900));
        TargetKind::Ecs(EcsTarget {
            cluster: e.cluster.value.clone(),
            service: e.service.value.clone(),
            containers: strings(&e.containers),
            task_definition: e
                .task_definition
                .as_ref()
                .map(|t| self.file(t, dir, "task definition template", "the pipeline file")),
            task_definition_text: templates.get(&name.value).cloned(),
            run_before: e.run_before.as_ref().map(|r| RunBefore {
                container: r.container.value.clone(),
                command: r.command.clone(),
                timeout: self.duration(&r.timeout, timeout),
            }),
            timeout,
            poll_interval: self.duration(&e.poll_interval, Duration::from_secs(5)),
            rollback: e.rollback.unwrap_or_default(),
            wait_until: e.wait_until,
            deployment: e
                .deployment
                .as_ref()
                .map(|d| self.ecs_deployment(d))
                .unwrap_or_default(),
        })
    }

    fn ecs_deployment(&mut self, d: &raw::EcsDeploymentDef) -> EcsDeployment {
        // In the order they are written, so the errors come in file order.
        let bake_time_minutes = d.bake_time.as_ref().and_then(|b| self.minutes(b));
        for (set, wanted, name) in [
            (&d.canary, EcsStrategy::Canary, "canary"),
            (&d.linear, EcsStrategy::Linear, "linear"),
        ] {
            if let Some(step) = set
                && d.strategy != Some(wanted)
            {
                self.err(
                    format!(
                        "`{name}` settings apply to the {} strategy only",
                        wanted.as_str()
                    ),
                    self.at(&step.percent, 1),
                    Some(format!(
                        "set `strategy: {}` or remove `{name}`",
                        wanted.as_str()
                    )),
                );
            }
        }
        EcsDeployment {
            strategy: d.strategy,
            bake_time_minutes,
            alarms: d.alarms.clone(),
            canary: d.canary.as_ref().map(|c| self.traffic_step(c)),
            linear: d.linear.as_ref().map(|l| self.traffic_step(l)),
        }
    }

    fn traffic_step(&mut self, s: &raw::TrafficStepDef) -> TrafficStep {
        if !(s.percent.value > 0.0 && s.percent.value < 100.0) {
            self.err(
                format!("{} is not a share of traffic ECS can move", s.percent.value),
                self.at(&s.percent, 1),
                Some("a percent more than 0 and less than 100, like `10`".into()),
            );
        }
        TrafficStep {
            percent: s.percent.value,
            bake_time_minutes: s.bake_time.as_ref().and_then(|b| self.minutes(b)),
        }
    }

    /// A bake time: whole minutes, at most a day (as ECS takes it).
    fn minutes(&mut self, d: &Spanned<String>) -> Option<i32> {
        match humantime::parse_duration(d.value.trim()) {
            Ok(v) if v.as_secs() % 60 == 0 && v.subsec_nanos() == 0 && v.as_secs() <= 1440 * 60 => {
                Some((v.as_secs() / 60) as i32)
            }
            _ => {
                self.err(
                    format!("`{}` is not a bake time ECS takes", d.value),
                    self.at(d, d.value.chars().count()),
                    Some("whole minutes from `0m` to `1440m` (a day), like `10m`".into()),
                );
                None
            }
        }
    }

    fn cfn_target(&mut self, c: &Spanned<raw::CloudFormationDef>) -> TargetKind {
        let dir = self.dir;
        for cap in &c.capabilities {
            if !CAPABILITIES.contains(&cap.value.as_str()) {
                let hint = suggest(&cap.value, CAPABILITIES)
                    .unwrap_or_else(|| format!("allowed: {}", CAPABILITIES.join(", ")));
                self.err(
                    format!("unknown capability `{}`", cap.value),
                    self.at(cap, cap.value.len()),
                    Some(hint),
                );
            }
        }
        let template = self.file(
            &c.template,
            dir,
            "CloudFormation template",
            "the pipeline file",
        );
        self.template_parameters(
            &template,
            &c.parameters,
            &c.capabilities,
            self.at(&c.template, c.template.value.len()),
        );
        TargetKind::CloudFormation(CfnTarget {
            stack: c.stack.value.clone(),
            template,
            parameters: strings(&c.parameters),
            capabilities: c.capabilities.iter().map(|s| s.value.clone()).collect(),
            tags: strings(&c.tags),
            role_arn: c.role_arn.as_ref().map(|s| s.value.clone()),
            notification_arns: c
                .notification_arns
                .iter()
                .map(|s| s.value.clone())
                .collect(),
            termination_protection: c.termination_protection,
            s3_bucket: c.s3_bucket.as_ref().map(|s| s.value.clone()),
            timeout: self.duration(&c.timeout, Duration::from_secs(1800)),
        })
    }

    fn eks_target(
        &mut self,
        name: &Spanned<String>,
        k: &Spanned<raw::EksDef>,
        images: &IndexMap<String, Image>,
        used_images: &mut Vec<String>,
        expanded: &Expanded,
    ) -> TargetKind {
        let (source, image_names) = (self.source, &images.keys().cloned().collect::<Vec<_>>());
        let kloc = Location::new(source, k.pos, 1);
        let connection = match (&k.cluster, &k.context) {
            (Some(c), None) => EksConnection::Cluster(c.value.clone()),
            (None, Some(c)) => EksConnection::Context(c.value.clone()),
            (Some(_), Some(c)) => {
                self.err("`cluster` and `context` are alternatives; set one", self.at(c, 7), Some("`cluster` makes berth authenticate to EKS itself; `context` uses a kubeconfig context".into()));
                EksConnection::Context(c.value.clone())
            }
            (None, None) => {
                self.err(
                    format!("eks target `{}` needs `cluster` or `context`", name.value),
                    kloc.clone(),
                    None,
                );
                EksConnection::Context(String::new())
            }
        };
        let workload = match (&k.manifests, &k.deployment) {
            (Some(ms), None) => {
                if !k.containers.is_empty() {
                    self.err("`containers` goes with `deployment`; manifests get their images by repository name", kloc.clone(), None);
                }
                let mut files = Vec::new();
                for m in ms {
                    let p = self.path(&m.value);
                    if p.is_dir() {
                        let mut found = manifest::files_in(&p);
                        if found.is_empty() {
                            self.err(
                                format!(
                                    "manifest folder `{}` has no .yaml, .yml or .json files",
                                    crate::source::display_path(&p)
                                ),
                                self.at(m, m.value.len()),
                                None,
                            );
                        }
                        files.append(&mut found);
                    } else if p.is_file() {
                        files.push(p);
                    } else {
                        self.err(
                            format!(
                                "manifest `{}` does not exist",
                                crate::source::display_path(&p)
                            ),
                            self.at(m, m.value.len()),
                            Some("paths are relative to the pipeline file".into()),
                        );
                    }
                }
                // The images the target deploys are those its manifests name (by
                // repository or key); reading them now also finds broken YAML before
                // anything runs.
                let objects = match manifest::load(&files, &expanded.manifests) {
                    Ok(mut objects) => {
                        let repos: Vec<(String, String)> = images
                            .iter()
                            .map(|(k, i): (&String, &Image)| (k.clone(), i.repository.clone()))
                            .collect();
                        for img in manifest::referenced(&mut objects, &repos) {
                            if !used_images.contains(&img) {
                                used_images.push(img);
                            }
                        }
                        objects
                    }
                    Err(e) => {
                        let at = ms
                            .first()
                            .map(|m| self.at(m, m.value.len()))
                            .unwrap_or(kloc.clone());
                        let d = e.diagnostics().remove(0);
                        self.err(d.message, at, d.hint);
                        Vec::new()
                    }
                };
                EksWorkload::Manifests { files, objects }
            }
            (None, Some(d)) => {
                if k.containers.is_empty() {
                    self.err(
                        "`deployment` needs `containers` (container name -> image name)",
                        self.at(d, d.value.len()),
                        None,
                    );
                }
                self.containers(&k.containers, image_names, used_images);
                EksWorkload::Deployment {
                    name: d.value.clone(),
                    containers: strings(&k.containers),
                }
            }
            (Some(_), Some(d)) => {
                self.err(
                    "`manifests` and `deployment` are alternatives; set one",
                    self.at(d, d.value.len()),
                    None,
                );
                EksWorkload::Manifests {
                    files: Vec::new(),
                    objects: Vec::new(),
                }
            }
            (None, None) => {
                self.err(
                    format!(
                        "eks target `{}` needs `manifests` or `deployment`",
                        name.value
                    ),
                    kloc.clone(),
                    None,
                );
                EksWorkload::Manifests {
                    files: Vec::new(),
                    objects: Vec::new(),
                }
            }
        };
        TargetKind::Eks(EksTarget {
            connection,
            namespace: k
                .namespace
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_else(|| "default".into()),
            workload,
            timeout: self.duration(&k.timeout, Duration::from_secs(600)),
            rollback: k.rollback.unwrap_or_default(),
        })
    }
}
