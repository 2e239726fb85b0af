//! Manifests: reading multi-document YAML (or JSON) files, and the image substitution rule of
//! `pipeline-file.md`: a container image is replaced when its repository (any tag or digest)
//! is one of the pipeline's image repositories, or when it is an image's key name (`web`, and
//! also `web:dev` or `web@sha256:…`, which people write for local runs).
//! Only the places a container image can be (containers and initContainers of Pods and of
//! the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and
//! CronJobs) are looked at; an `image:` key anywhere else is data and left alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::reference::ImageRef;
use crate::error::{Error, Result};

/// One object from a manifest file.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub file: PathBuf,
    /// 1-based position of the document in its file.
    pub document: usize,
    pub object: Value,
}

impl Manifest {
    pub fn api_version(&self) -> &str {
        self.object["apiVersion"].as_str().unwrap_or("")
    }
    pub fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
    /// `Deployment/web` — how logs and plans name it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
    /// `k8s/web.yaml, document 2` — where it came from, for errors.
    pub fn origin(&self) -> String {
        format!(
            "{}, document {}",
            crate::source::display_path(&self.file),
            self.document
        )
    }
}

/// Reads every object of `files`, in order. `List` documents are flattened. A file in
/// `expanded` (its text with the pipeline's references expanded) is taken from there.
pub fn load(
    files: &[PathBuf],
    expanded: &std::collections::HashMap<PathBuf, String>,
) -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for file in files {
        let text = match expanded.get(file) {
            Some(t) => t.clone(),
            None => crate::source::read_text(file).map_err(|e| {
                Error::from_chain(
                    format!("cannot read manifest {}", crate::source::display_path(file)),
                    &e,
                )
            })?,
        };
        out.extend(parse(file, &text)?);
    }
    Ok(out)
}

/// The manifest files of a folder (and its folders): `.yaml`, `.yml` and `.json`, sorted so
/// that the apply order is stable.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Renders the references left for the deploy (`${images.…}`, `${targets.….outputs.…}`)
/// in every string of the object, and turns the escapes of literal text back into it.
pub fn render(
    m: &mut Manifest,
    values: &super::interpolate::RuntimeValues,
) -> std::result::Result<(), String> {
    fn walk(
        v: &mut Value,
        values: &super::interpolate::RuntimeValues,
    ) -> std::result::Result<(), String> {
        match v {
            Value::String(s) if s.contains('$') => {
                *s = super::interpolate::render(s, values).map_err(|u| u.0)?;
            }
            Value::Array(a) => a.iter_mut().try_for_each(|x| walk(x, values))?,
            Value::Object(o) => o.values_mut().try_for_each(|x| walk(x, values))?,
            _ => {}
        }
        Ok(())
    }
    walk(&mut m.object, values)
}

/// Parses one file's documents.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Manifest>> {
    let shown = crate::source::display_path(file);
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        Error::failed(format!("manifest {shown} is not valid YAML"))
            .with_causes(vec![e.to_string()])
            .with_hint("each document must be a Kubernetes object; separate documents with `---`")
    })?;
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let document = i + 1;
        let items = match doc {
            Value::Null => continue,
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => m
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            other => vec![other],
        };
        for object in items {
            let m = Manifest {
                file: file.to_path_buf(),
                document,
                object,
            };
            if !m.object.is_object() {
                return Err(Error::failed(format!(
                    "{} is not a Kubernetes object (a mapping)",
                    m.origin()
                )));
            }
            for (field, value) in [
                ("apiVersion", m.api_version()),
                ("kind", m.kind()),
                ("metadata.name", m.name()),
            ] {
                if value.is_empty() {
                    return Err(Error::failed(format!("{} has no `{field}`", m.origin()))
                        .with_hint("every object needs apiVersion, kind and metadata.name"));
                }
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// The pod spec inside an object of a workload kind, if it has one.
fn pod_spec_mut(object: &mut Value) -> Option<&mut Value> {
    let kind = object["kind"].as_str().unwrap_or("").to_string();
    let spec = object.get_mut("spec")?;
    match kind.as_str() {
        "Pod" => Some(spec),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            spec.get_mut("template")?.get_mut("spec")
        }
        "CronJob" => spec
            .get_mut("jobTemplate")?
            .get_mut("spec")?
            .get_mut("template")?
            .get_mut("spec"),
        _ => None,
    }
}

/// Every container image field of a workload object, mutable.
fn image_fields(object: &mut Value) -> Vec<(String, &mut Value)> {
    let mut out = Vec::new();
    let Some(spec) = pod_spec_mut(object) else {
        return out;
    };
    let Some(map) = spec.as_object_mut() else {
        return out;
    };
    for (field, list) in map.iter_mut() {
        if field != "containers" && field != "initContainers" {
            continue;
        }
        for c in list.as_array_mut().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("?").to_string();
            if let Some(image) = c.get_mut("image") {
                out.push((name, image));
            }
        }
    }
    out
}

/// The repository part of an image reference: no tag, no digest.
pub fn repository_of(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// The repository path without a registry host (`shop/web` for `1234.dkr.ecr…/shop/web`).
pub fn repository_path(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => repository,
    }
}

/// Which pipeline image (by key) an image string in a manifest stands for, given each
/// image's repository (as ECR names it, with or without the registry host).
pub fn match_image<'a>(image: &str, images: &'a [(String, String)]) -> Option<&'a str> {
    let repo = repository_of(image);
    images
        .iter()
        .find(|(key, repository)| {
            image == key
                || repo == key
                || repo == repository
                || repository_path(repo) == repository_path(repository)
        })
        .map(|(key, _)| key.as_str())
}

/// The pipeline images the manifests use, in first-use order.
pub fn referenced(manifests: &mut [Manifest], images: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in manifests {
        for (_, field) in image_fields(&mut m.object) {
            if let Some(key) = field.as_str().and_then(|s| match_image(s, images))
                && !out.iter().any(|k| k == key)
            {
                out.push(key.to_string());
            }
        }
    }
    out
}

/// Puts the deployed image references into `m`; returns `container: old → new` lines.
pub fn substitute(m: &mut Manifest, refs: &BTreeMap<String, ImageRef>) -> Vec<String> {
    let images: Vec<(String, String)> = refs
        .iter()
        .map(|(k, r)| (k.clone(), r.uri.clone()))
        .collect();
    let mut changes = Vec::new();
    for (container, field) in image_fields(&mut m.object) {
        let Some(old) = field.as_str().map(str::to_string) else {
            continue;
        };
        if let Some(key) = match_image(&old, &images) {
            let new = refs[key].reference();
            if new != old {
                changes.push(format!("{container}: {old} → {new}"));
                *field = Value::String(new);
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {image: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
      - {name: migrate, image: "shop/web:old"}
      containers:
      - {name: web, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web@sha256:aaaa"}
      - {name: sidecar, image: "envoyproxy/envoy:v1.30"}
      - {name: worker, image: worker}
---
# an empty document is skipped
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: "localhost:5000/shop/worker:1"}]
"#;

    fn refs() -> BTreeMap<String, ImageRef> {
        let mut m = BTreeMap::new();
        m.insert(
            "web".into(),
            ImageRef {
                uri: "127.0.0.1:45650/shop/web".into(),
                tag: Some("abc".into()),
                digest: Some("sha256:1111".into()),
            },
        );
        m.insert(
            "worker".into(),
            ImageRef {
                uri: "127.0.0.1:45650/shop/worker".into(),
                tag: Some("abc".into()),
                digest: None,
            },
        );
        m
    }

    #[test]
    fn images_are_replaced_by_repository_or_key_in_containers_only() {
        let mut ms = parse(Path::new("app.yaml"), APP).unwrap();
        assert_eq!(ms.len(), 3);
        assert_eq!(ms[1].label(), "Deployment/web");
        let refs = refs();
        assert!(
            substitute(&mut ms[0], &refs).is_empty(),
            "ConfigMap data is not an image"
        );
        let changes = substitute(&mut ms[1], &refs);
        assert_eq!(
            changes,
            [
                "migrate: shop/web:old → 127.0.0.1:45650/shop/web@sha256:1111",
                "web: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/web@sha256:aaaa → 127.0.0.1:45650/shop/web@sha256:1111",
                "worker: worker → 127.0.0.1:45650/shop/worker:abc",
            ]
        );
        assert_eq!(
            ms[1].object["spec"]["template"]["spec"]["containers"][1]["image"],
            "envoyproxy/envoy:v1.30"
        );
        let changes = substitute(&mut ms[2], &refs);
        assert_eq!(changes.len(), 1, "CronJob job template: {changes:?}");
        // A second substitution changes nothing.
        assert!(substitute(&mut ms[1], &refs).is_empty());
    }

    #[test]
    fn referenced_images_follow_first_use() {
        let mut ms = parse(Path::new("app.yaml"), APP).unwrap();
        let images = vec![
            ("worker".to_string(), "shop/worker".to_string()),
            ("web".to_string(), "shop/web".to_string()),
            ("unused".to_string(), "shop/unused".to_string()),
        ];
        assert_eq!(referenced(&mut ms, &images), ["web", "worker"]);
    }

    #[test]
    fn repository_parts() {
        assert_eq!(repository_of("a/b:1"), "a/b");
        assert_eq!(repository_of("host:5000/a/b"), "host:5000/a/b");
        assert_eq!(repository_of("host:5000/a/b:2@sha256:x"), "host:5000/a/b");
        assert_eq!(repository_path("host:5000/a/b"), "a/b");
        assert_eq!(repository_path("library/b"), "library/b");
    }

    #[test]
    fn objects_without_identity_are_refused_with_their_place() {
        let e = parse(Path::new("x.yaml"), "apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("x.yaml, document 1 has no `metadata.name`"),
            "{e}"
        );
        let e = parse(Path::new("x.yaml"), "a: [").unwrap_err();
        assert!(e.to_string().contains("not valid YAML"), "{e}");
    }
}
