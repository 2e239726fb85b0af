//! The layer cache: for each layer berth compressed and uploaded, its compressed digest and
//! size, and the repositories that hold it — so a re-push never compresses a layer again,
//! and a layer another repository of the registry holds is mounted, not uploaded.
//!
//! The daemon keeps the same kind of record for its own pushes; berth cannot read it. One
//! small JSON file per layer under `$XDG_CACHE_HOME/berth/layers/` (or `~/.cache/…`),
//! written whole and renamed into place, so concurrent runs never see half a file and
//! need no lock: at worst one run's note of a repository is lost, which costs one upload.
//! A lost or stale entry only costs work: every entry is checked against the registry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::ports::Compression;

/// Repositories remembered per registry (the most recent ones).
const SEEN_PER_HOST: usize = 16;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Compressed {
    /// The compressed blob (`sha256:…`) and its size.
    pub digest: String,
    pub size: u64,
    /// The size of the layer's tar as the daemon exports it: how a layer is recognised in
    /// an export that does not name its layers by digest (Engine API before 1.44).
    pub tar_size: u64,
    /// Registry host -> repositories known to hold the blob, most recent last.
    #[serde(default)]
    pub seen: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug)]
pub struct LayerCache {
    dir: Option<PathBuf>,
}

impl LayerCache {
    /// The cache in the user's cache directory (none without `HOME` or `XDG_CACHE_HOME`:
    /// then nothing is remembered).
    pub fn new() -> Self {
        let dir = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|d| d.join("berth/layers"));
        LayerCache { dir }
    }

    /// One file per layer and compression: a layer pushed both ways has two forms.
    fn path(&self, diff_id: &str, compression: Compression) -> Option<PathBuf> {
        let hex = diff_id.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(
            self.dir
                .as_ref()?
                .join(format!("{hex}.{}.json", compression.as_str())),
        )
    }

    pub fn get(&self, diff_id: &str, compression: Compression) -> Option<Compressed> {
        let text = std::fs::read(self.path(diff_id, compression)?).ok()?;
        let c: Compressed = serde_json::from_slice(&text).ok()?;
        c.digest.starts_with("sha256:").then_some(c)
    }

    /// Records that `repo` on `host` holds the compressed form `c` of layer `diff_id`.
    /// A cache that cannot be written is not an error: the next push does more work.
    pub fn record(
        &self,
        diff_id: &str,
        compression: Compression,
        c: &Compressed,
        host: &str,
        repo: &str,
    ) {
        let Some(path) = self.path(diff_id, compression) else {
            return;
        };
        let mut entry = match self.get(diff_id, compression) {
            // The repositories known so far stay; a tar size learnt now fills in an unknown one.
            Some(old) if old.digest == c.digest => Compressed {
                tar_size: if old.tar_size == 0 {
                    c.tar_size
                } else {
                    old.tar_size
                },
                ..old
            },
            _ => Compressed {
                seen: BTreeMap::new(),
                ..c.clone()
            },
        };
        let repos = entry.seen.entry(host.to_string()).or_default();
        repos.retain(|r| r != repo);
        repos.push(repo.to_string());
        if repos.len() > SEEN_PER_HOST {
            repos.remove(0);
        }
        let Some(dir) = path.parent() else {
            return;
        };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("layer"),
            std::process::id()
        ));
        if let Ok(text) = serde_json::to_vec(&entry)
            && std::fs::write(&tmp, text).is_ok()
            && std::fs::rename(&tmp, &path).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

impl Default for LayerCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GZ: Compression = Compression::Gzip;

    #[test]
    fn records_are_read_back_and_remember_repositories_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache {
            dir: Some(dir.path().join("layers")),
        };
        let id = format!("sha256:{}", "a".repeat(64));
        assert_eq!(cache.get(&id, GZ), None);
        let c = Compressed {
            digest: format!("sha256:{}", "b".repeat(64)),
            size: 10,
            tar_size: 20,
            seen: BTreeMap::new(),
        };
        cache.record(&id, GZ, &c, "reg", "one");
        cache.record(&id, GZ, &c, "reg", "two");
        cache.record(&id, GZ, &c, "reg", "one");
        let got = cache.get(&id, GZ).unwrap();
        assert_eq!(got.seen["reg"], ["two", "one"]);
        assert_eq!(got.size, 10);
        // Another compressed form replaces the entry and what it knew.
        let other = Compressed {
            digest: format!("sha256:{}", "c".repeat(64)),
            ..c.clone()
        };
        cache.record(&id, GZ, &other, "reg", "three");
        assert_eq!(cache.get(&id, GZ).unwrap().seen["reg"], ["three"]);
        // A tar size learnt later fills in an unknown one; a known one stays.
        let unknown = format!("sha256:{}", "d".repeat(64));
        cache.record(
            &unknown,
            GZ,
            &Compressed {
                tar_size: 0,
                ..c.clone()
            },
            "reg",
            "one",
        );
        cache.record(
            &unknown,
            GZ,
            &Compressed {
                tar_size: 30,
                ..c.clone()
            },
            "reg",
            "one",
        );
        assert_eq!(cache.get(&unknown, GZ).unwrap().tar_size, 30);
        cache.record(
            &unknown,
            GZ,
            &Compressed {
                tar_size: 40,
                ..c.clone()
            },
            "reg",
            "one",
        );
        assert_eq!(cache.get(&unknown, GZ).unwrap().tar_size, 30);
        // The zstd form of a layer is another entry.
        assert_eq!(cache.get(&id, Compression::Zstd), None);
        // Names that are not digests never become paths.
        cache.record("sha256:../../x", GZ, &c, "reg", "one");
        assert!(cache.get("sha256:../../x", GZ).is_none());
    }
}
