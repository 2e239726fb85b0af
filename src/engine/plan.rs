//! The plan: which steps a command runs and what each one waits for.
//!
//! A step is `build:IMAGE`, `push:IMAGE` or `deploy:TARGET`. A push waits for its build; a
//! deploy waits for the pushes of the images it uses and for the deploys of the targets it
//! depends on — and for nothing else, so a target starts as soon as its own inputs are ready.
//! Steps are listed in a stable topological order (file order among equals).

use std::collections::BTreeSet;

use indexmap::IndexMap;

use crate::error::{Diagnostic, Error, Result, suggest};
use crate::pipeline::Pipeline;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Build,
    Push,
    Deploy,
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Build => "build",
            StepKind::Push => "push",
            StepKind::Deploy => "deploy",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub kind: StepKind,
    /// Image or target name.
    pub subject: String,
    /// Indexes (into [`Plan::steps`]) of the steps this one waits for.
    pub needs: Vec<usize>,
}

impl Step {
    pub fn id(&self) -> String {
        format!("{}:{}", self.kind.name(), self.subject)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Images built and/or pushed, in file order.
    pub images: Vec<String>,
    /// Targets deployed, in file order.
    pub targets: Vec<String>,
}

/// What a command covers.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// `build IMAGE…`
    Build(&'a [String]),
    /// `push IMAGE…` (builds first)
    Push(&'a [String]),
    /// `deploy TARGET…` (images must already be in ECR)
    Deploy(&'a [String]),
    /// `ship TARGET…` / `plan TARGET…`; images named in `overridden` are given by `--image`
    /// and neither built nor pushed.
    Ship {
        targets: &'a [String],
        overridden: &'a [String],
    },
}

fn unknown(kind: &str, name: &str, known: Vec<&str>) -> Diagnostic {
    let hint = match suggest(name, known.iter().copied()) {
        Some(s) => s,
        None if known.is_empty() => format!("the pipeline file defines no {kind}s"),
        None => format!("{kind}s in the pipeline file: {}", known.join(", ")),
    };
    Diagnostic::new(format!("unknown {kind} `{name}`")).hint(hint)
}

/// The named targets plus everything they depend on, in file order. Empty = all.
pub fn select_targets(p: &Pipeline, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(p.targets.keys().cloned().collect());
    }
    let mut diags = Vec::new();
    let mut wanted = BTreeSet::new();
    let mut stack: Vec<String> = Vec::new();
    for n in names {
        if p.targets.contains_key(n) {
            stack.push(n.clone());
        } else {
            diags.push(unknown(
                "target",
                n,
                p.targets.keys().map(String::as_str).collect(),
            ));
        }
    }
    if !diags.is_empty() {
        return Err(Error::Invalid(diags));
    }
    while let Some(t) = stack.pop() {
        if wanted.insert(t.clone()) {
            stack.extend(p.targets[&t].depends_on.iter().cloned());
        }
    }
    Ok(p.targets
        .keys()
        .filter(|k| wanted.contains(*k))
        .cloned()
        .collect())
}

/// The named images, in file order. Empty = all.
pub fn select_images(p: &Pipeline, names: &[String]) -> Result<Vec<String>> {
    let diags: Vec<Diagnostic> = names
        .iter()
        .filter(|n| !p.images.contains_key(*n))
        .map(|n| unknown("image", n, p.images.keys().map(String::as_str).collect()))
        .collect();
    if !diags.is_empty() {
        return Err(Error::Invalid(diags));
    }
    Ok(p.images
        .keys()
        .filter(|k| names.is_empty() || names.contains(k))
        .cloned()
        .collect())
}

pub fn build_plan(p: &Pipeline, scope: Scope) -> Result<Plan> {
    let (images, targets, push) = match scope {
        Scope::Build(names) => (select_images(p, names)?, Vec::new(), false),
        Scope::Push(names) => (select_images(p, names)?, Vec::new(), true),
        Scope::Deploy(names) => (Vec::new(), select_targets(p, names)?, false),
        Scope::Ship {
            targets,
            overridden,
        } => {
            let targets = select_targets(p, targets)?;
            let used: BTreeSet<&String> = targets
                .iter()
                .flat_map(|t| p.targets[t].images.iter())
                .collect();
            let images = p
                .images
                .keys()
                .filter(|i| used.contains(i) && !overridden.contains(i))
                .cloned()
                .collect();
            (images, targets, true)
        }
    };

    // Build the graph by name, then order it.
    let mut nodes: IndexMap<String, Step> = IndexMap::new();
    let mut needs_by_id: IndexMap<String, Vec<String>> = IndexMap::new();
    for img in &images {
        nodes.insert(
            format!("build:{img}"),
            Step {
                kind: StepKind::Build,
                subject: img.clone(),
                needs: vec![],
            },
        );
        needs_by_id.insert(format!("build:{img}"), vec![]);
        if push {
            nodes.insert(
                format!("push:{img}"),
                Step {
                    kind: StepKind::Push,
                    subject: img.clone(),
                    needs: vec![],
                },
            );
            needs_by_id.insert(format!("push:{img}"), vec![format!("build:{img}")]);
        }
    }
    for t in &targets {
        let target = &p.targets[t];
        let mut needs: Vec<String> = target
            .images
            .iter()
            .filter(|i| images.contains(i))
            .map(|i| format!("push:{i}"))
            .collect();
        needs.extend(
            target
                .depends_on
                .iter()
                .filter(|d| targets.contains(d))
                .map(|d| format!("deploy:{d}")),
        );
        nodes.insert(
            format!("deploy:{t}"),
            Step {
                kind: StepKind::Deploy,
                subject: t.clone(),
                needs: vec![],
            },
        );
        needs_by_id.insert(format!("deploy:{t}"), needs);
    }

    // Kahn's algorithm; among ready steps, keep insertion order (builds, pushes, deploys in
    // file order) so that plans are stable and readable.
    let mut order: Vec<String> = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    while order.len() < nodes.len() {
        let next = nodes
            .keys()
            .find(|id| !done.contains(*id) && needs_by_id[*id].iter().all(|n| done.contains(n)));
        let Some(id) = next.cloned() else {
            // validate() rejects cycles; reaching this is a bug, not a user error.
            return Err(Error::failed(
                "berth made a plan whose steps wait for each other in a circle (a bug; please report it)",
            ));
        };
        done.insert(id.clone());
        order.push(id);
    }
    let index: IndexMap<&String, usize> = order.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let steps = order
        .iter()
        .map(|id| {
            let mut s = nodes[id].clone();
            s.needs = needs_by_id[id].iter().map(|n| index[n]).collect();
            s
        })
        .collect();
    Ok(Plan {
        steps,
        images,
        targets,
    })
}
