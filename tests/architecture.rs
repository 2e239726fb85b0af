//! The architecture, checked: the folders of `src/` are layers, and imports point down only.
//!
//! Read from the source text (`use` lines and `crate::…`/`super::…` paths), so anyone can run
//! it with `cargo test --test architecture` and see a failure name the file and the import.
//! Test modules (`#[cfg(test)]` to the end of a file) are left out: tests may reach across.
//!
//! Also checked here, because they keep the code readable as it grows: no function longer than
//! [`MAX_FN_LINES`] lines, no "internal error" message (a state the types cannot rule out is
//! either a user-facing error or a bug report, said as such), and every dependency in
//! Cargo.toml used by the code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FN_LINES: usize = 150;

/// Top-level modules by layer, bottom first. A module may import from its own layer's
/// utilities and from layers below, never from above.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &["error", "source", "style", "encode", "jsondiff", "trace"],
    ),
    ("model", &["pipeline"]),
    ("engine", &["engine"]),
    (
        "adapters",
        &[
            "aws",
            "docker",
            "ecr",
            "registry",
            "ecs",
            "cloudformation",
            "eks",
            "iam",
        ],
    ),
    ("output", &["output"]),
    ("cli", &["cli"]),
];

struct File {
    /// `engine::ports`, `eks` (for `eks/mod.rs`), `lib` for the crate root.
    module: String,
    path: PathBuf,
    /// The text without its test module.
    code: String,
}

fn files() -> Vec<File> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            let module = parts.join("::");
            let text = std::fs::read_to_string(&path).unwrap();
            let code = match text.find("#[cfg(test)]\nmod tests") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            out.push(File { module, path, code });
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

/// The module paths a file names: `crate::a::b`, `super::x` (also in `use …::{x, y}`
/// groups) and, in `use` lines, its own sub-modules (`use wait::Verdict` in `eks/mod.rs`).
fn named_paths(f: &File) -> Vec<Vec<String>> {
    let module: Vec<String> = f.module.split("::").map(str::to_string).collect();
    let parent = module[..module.len().saturating_sub(1)].to_vec();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut paths = Vec::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = f.code.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || "_$:".contains(c)) {
                continue;
            }
            let mut base = base.clone();
            let mut tail = rest;
            while let Some(t) = tail.strip_prefix("super::") {
                base.pop();
                tail = t;
            }
            // `{a::b, c}`: the first segments of each item are what can name a module.
            let items: Vec<&str> = match tail.strip_prefix('{') {
                Some(t) => t[..t.find('}').unwrap_or(t.len())].split(',').collect(),
                None => vec![tail],
            };
            for item in items {
                let mut p = base.clone();
                for seg in item.trim_start().split("::") {
                    let id = ident(seg);
                    if id.is_empty() || id == "self" {
                        break;
                    }
                    p.push(id.clone());
                    if id.len() != seg.len() {
                        break;
                    }
                }
                paths.push(p);
            }
        }
    }
    for line in f.code.lines() {
        let l = line.trim_start();
        if let Some(r) = l
            .strip_prefix("use ")
            .or_else(|| l.strip_prefix("pub use "))
        {
            let mut p = module.clone();
            p.push(ident(r));
            paths.push(p);
        }
    }
    paths
}

/// The other modules a file refers to, each resolved to the longest module path that exists.
fn references(f: &File, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mut p in named_paths(f) {
        while !p.is_empty() {
            let m = p.join("::");
            if modules.contains(&m) {
                if m != f.module {
                    out.insert(m);
                }
                break;
            }
            p.pop();
        }
    }
    out
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap()
}

fn layer(top: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&top))
}

/// Every cycle's first edge found by depth-first search, as `a -> b -> … -> a`.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(1) => {
                let i = path.iter().position(|p| p == n).unwrap();
                let mut c = path[i..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

fn graph() -> (Vec<File>, BTreeMap<String, BTreeSet<String>>) {
    let files = files();
    let modules: BTreeSet<String> = files.iter().map(|f| f.module.clone()).collect();
    let g = files
        .iter()
        .map(|f| (f.module.clone(), references(f, &modules)))
        .collect();
    (files, g)
}

#[test]
fn top_level_modules_form_layers_with_imports_pointing_down() {
    let (_, g) = graph();
    let mut problems = Vec::new();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, refs) in &g {
        for r in refs {
            let (a, b) = (top(m), top(r));
            if a == b || a == "lib" || a == "main" {
                continue;
            }
            tops.entry(a.into()).or_default().insert(b.into());
            match (layer(a), layer(b)) {
                (Some(la), Some(lb)) if lb > la => problems.push(format!(
                    "{m} ({}) imports {r} ({}), a layer above it",
                    LAYERS[la].0, LAYERS[lb].0
                )),
                (None, _) => problems.push(format!("{a} is in no layer (add it to LAYERS)")),
                (_, None) => problems.push(format!("{b} is in no layer (add it to LAYERS)")),
                _ => {}
            }
        }
    }
    // Adapters are independent of each other, except that all may use `aws`.
    for (a, refs) in &tops {
        if layer(a) == Some(3) {
            for b in refs {
                if layer(b) == Some(3) && b != "aws" {
                    problems.push(format!("adapter {a} imports adapter {b}"));
                }
            }
        }
    }
    if let Some(c) = cycle(&tops) {
        problems.push(format!("import circle: {}", c.join(" -> ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn files_within_a_module_import_each_other_without_circles() {
    let (_, g) = graph();
    // Each folder's files, without edges into the folder's own `mod.rs` (the module's face,
    // which declares its files: its children may use its items).
    let mut problems = Vec::new();
    let tops: BTreeSet<&str> = g.keys().map(|m| top(m)).collect();
    for t in tops {
        let sub: BTreeMap<String, BTreeSet<String>> = g
            .iter()
            .filter(|(m, _)| top(m) == t && m.as_str() != t)
            .map(|(m, refs)| {
                let refs = refs
                    .iter()
                    .filter(|r| top(r) == t && r.as_str() != t)
                    .cloned()
                    .collect();
                (m.clone(), refs)
            })
            .collect();
        if let Some(c) = cycle(&sub) {
            problems.push(format!("import circle: {}", c.join(" -> ")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for f in files() {
        let lines: Vec<&str> = f.code.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "async fn ",
                "pub async fn ",
                "pub(super) fn ",
            ]
            .iter()
            .chain(
                [
                    "pub(super) async fn ",
                    "pub(crate) fn ",
                    "pub(crate) async fn ",
                ]
                .iter(),
            )
            .any(|p| t.starts_with(p));
            if !is_fn || t.ends_with(';') {
                continue;
            }
            let indent = &line[..line.len() - t.len()];
            let end = lines[i..]
                .iter()
                .position(|l| *l == format!("{indent}}}"))
                .unwrap_or(0);
            if end + 1 > MAX_FN_LINES {
                long.push(format!(
                    "{}:{} is {} lines",
                    f.path.display(),
                    i + 1,
                    end + 1
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_internal_error_messages() {
    let hits: Vec<String> = files()
        .iter()
        .filter(|f| f.code.contains("internal error"))
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(hits.is_empty(), "\"internal error\" in {hits:?}");
}

#[test]
fn every_dependency_is_used() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let section = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let code: String = files().iter().map(|f| f.code.as_str()).collect();
    let unused: Vec<String> = section
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .filter(|k| {
            let name = k.replace('-', "_");
            !code.contains(&format!("{name}::")) && !code.contains(&format!("use {name}"))
        })
        .collect();
    assert!(unused.is_empty(), "declared but not used: {unused:?}");
}
