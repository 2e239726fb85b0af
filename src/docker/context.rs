//! The build context: which files go to the daemon, their content digest, and the tar stream.
//!
//! The context is walked once to decide what is in it (after `.dockerignore`) and to hash it;
//! the tar is then produced on a blocking thread and streamed to the daemon through a small
//! bounded channel, so a large context is never held in memory. The content digest covers
//! everything that goes into the image — file paths, permission bits and contents, symlink
//! targets, the Dockerfile, build arguments, target, platform and labels — and nothing that
//! does not (timestamps, owners), so an unchanged source tree gives the same digest on any
//! machine.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::ignore::{DockerIgnore, Parent};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File {
        size: u64,
        mode: u32,
        sha256: String,
    },
    Symlink {
        target: PathBuf,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    rel: String,
    abs: PathBuf,
    kind: Kind,
}

/// Everything that decides an image's content besides the files.
#[derive(Debug, Clone, Default)]
pub struct DigestInputs {
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub labels: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct BuildContext {
    entries: Vec<Entry>,
    /// The Dockerfile's name inside the tar (what the daemon's `dockerfile` option says).
    pub dockerfile_name: String,
    /// Set when the Dockerfile is outside the context: it is added to the tar under
    /// `dockerfile_name`.
    extra_dockerfile: Option<Vec<u8>>,
    /// `sha256:…` over everything that goes into the image.
    pub digest: String,
    pub files: usize,
    pub bytes: u64,
}

fn io_err(what: String, e: std::io::Error) -> Error {
    Error::from_chain(what, &e)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl BuildContext {
    /// Walks `root` and hashes what is in the context.
    pub fn scan(root: &Path, dockerfile: &Path, inputs: &DigestInputs) -> Result<BuildContext> {
        let ignore_path = root.join(".dockerignore");
        let ignore = match std::fs::read_to_string(&ignore_path) {
            Ok(text) => DockerIgnore::parse(&text).map_err(|(line, msg)| {
                Error::failed(format!("{}:{line}: {msg}", ignore_path.display()))
                    .with_kind(crate::error::ErrorKind::InvalidRequest)
                    .with_hint("`docker build` refuses this file too; fix or remove that line")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(e) => return Err(io_err(format!("cannot read {}", ignore_path.display()), e)),
        };
        let dockerfile_rel = dockerfile
            .strip_prefix(root)
            .ok()
            .map(|p| p.to_string_lossy().replace('\\', "/"));
        // Docker always sends the Dockerfile and .dockerignore, by re-including them.
        let mut ignore = ignore;
        ignore.keep(".dockerignore");
        if let Some(rel) = &dockerfile_rel {
            ignore.keep(rel);
        }

        let mut entries = Vec::new();
        let mut stack = vec![(root.to_path_buf(), String::new(), Parent::default())];
        while let Some((dir, rel_dir, parent)) = stack.pop() {
            let mut children: Vec<_> = std::fs::read_dir(&dir)
                .map_err(|e| io_err(format!("cannot read folder {}", dir.display()), e))?
                .filter_map(|e| e.ok())
                .collect();
            children.sort_by_key(|e| e.file_name());
            for child in children {
                let name = child.file_name().to_string_lossy().into_owned();
                let rel = if rel_dir.is_empty() {
                    name.clone()
                } else {
                    format!("{rel_dir}/{name}")
                };
                let abs = child.path();
                let meta = std::fs::symlink_metadata(&abs)
                    .map_err(|e| io_err(format!("cannot read {}", abs.display()), e))?;
                let (excluded, said) = ignore.matches(&rel, &parent);
                if meta.is_dir() {
                    if excluded && !ignore.descends(&rel) {
                        continue;
                    }
                    if !excluded {
                        entries.push(Entry {
                            rel: rel.clone(),
                            abs: abs.clone(),
                            kind: Kind::Dir,
                        });
                    }
                    stack.push((abs, rel, said));
                } else if excluded {
                    continue;
                } else if meta.file_type().is_symlink() {
                    let target = std::fs::read_link(&abs)
                        .map_err(|e| io_err(format!("cannot read link {}", abs.display()), e))?;
                    entries.push(Entry {
                        rel,
                        abs,
                        kind: Kind::Symlink { target },
                    });
                } else if meta.is_file() {
                    let sha256 = sha256_file(&abs)
                        .map_err(|e| io_err(format!("cannot read {}", abs.display()), e))?;
                    let mode = meta.permissions().mode() & 0o7777;
                    entries.push(Entry {
                        rel,
                        abs,
                        kind: Kind::File {
                            size: meta.len(),
                            mode,
                            sha256,
                        },
                    });
                }
                // Sockets, fifos and devices are not sent (Docker refuses them too).
            }
        }
        entries.sort_by(|a, b| a.rel.cmp(&b.rel));

        let (dockerfile_name, extra_dockerfile) = match &dockerfile_rel {
            Some(rel) => (rel.clone(), None),
            None => {
                let bytes = crate::source::read_bytes(dockerfile)
                    .map_err(|e| io_err(format!("cannot read {}", dockerfile.display()), e))?;
                let short = &hex::encode(Sha256::digest(&bytes))[..12];
                (format!(".berth-dockerfile-{short}"), Some(bytes))
            }
        };
        let dockerfile_bytes = match &extra_dockerfile {
            Some(b) => b.clone(),
            None => crate::source::read_bytes(dockerfile)
                .map_err(|e| io_err(format!("cannot read {}", dockerfile.display()), e))?,
        };

        let mut h = Sha256::new();
        h.update(b"berth-content-v1\n");
        let (mut files, mut bytes) = (0usize, 0u64);
        for e in &entries {
            match &e.kind {
                Kind::Dir => h.update(format!("D {}\n", e.rel)),
                Kind::File { size, mode, sha256 } => {
                    files += 1;
                    bytes += size;
                    h.update(format!("F {} {mode:o} {size} {sha256}\n", e.rel))
                }
                Kind::Symlink { target } => h.update(format!("L {} {}\n", e.rel, target.display())),
            }
        }
        h.update(format!(
            "dockerfile {} {}\n",
            dockerfile_name,
            hex::encode(Sha256::digest(&dockerfile_bytes))
        ));
        let mut args = inputs.build_args.clone();
        args.sort();
        for (k, v) in &args {
            h.update(format!("arg {k}={v}\n"));
        }
        let mut labels = inputs.labels.clone();
        labels.sort();
        for (k, v) in &labels {
            h.update(format!("label {k}={v}\n"));
        }
        h.update(format!(
            "target {}\nplatform {}\n",
            inputs.target.as_deref().unwrap_or(""),
            inputs.platform.as_deref().unwrap_or("")
        ));
        let digest = format!("sha256:{}", hex::encode(h.finalize()));
        Ok(BuildContext {
            entries,
            dockerfile_name,
            extra_dockerfile,
            digest,
            files,
            bytes,
        })
    }

    /// The paths in the context (for tests and `-v` output).
    pub fn paths(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.rel.as_str()).collect()
    }

    /// Streams the context as a tar, produced on a blocking thread. At most a few chunks are
    /// in flight, so memory stays flat whatever the context's size.
    pub fn tar_stream(
        &self,
    ) -> impl futures_util::Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static
    {
        let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(8);
        let ctx = self.clone();
        tokio::task::spawn_blocking(move || {
            let writer = ChannelWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(CHUNK),
            };
            if let Err(e) = ctx.write_tar(writer) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
    }

    fn write_tar(&self, w: ChannelWriter) -> std::io::Result<()> {
        let mut b = tar::Builder::new(w);
        b.mode(tar::HeaderMode::Deterministic);
        b.follow_symlinks(false);
        // A sparse file goes whole: the daemon's classic builder refuses GNU sparse entries
        // ("unhandled tar header type 83"), which the tar crate writes by default.
        b.sparse(false);
        for e in &self.entries {
            match &e.kind {
                Kind::Dir => b.append_dir(&e.rel, &e.abs)?,
                Kind::File { .. } | Kind::Symlink { .. } => {
                    b.append_path_with_name(&e.abs, &e.rel)?
                }
            }
        }
        if let Some(bytes) = &self.extra_dockerfile {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            b.append_data(&mut header, &self.dockerfile_name, bytes.as_slice())?;
        }
        let mut w = b.into_inner()?;
        w.flush()
    }
}

const CHUNK: usize = 64 * 1024;

struct ChannelWriter {
    tx: mpsc::Sender<std::result::Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the build context",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn dockerignore_applies_but_dockerfile_is_always_sent() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "Dockerfile", "FROM x\n");
        write(d.path(), "app/main.sh", "echo\n");
        write(d.path(), "app/debug.log", "x\n");
        write(d.path(), "docs/keep.md", "k\n");
        write(d.path(), "docs/drop.md", "d\n");
        write(
            d.path(),
            ".dockerignore",
            "*/*.log\ndocs\n!docs/keep.md\nDockerfile\n",
        );
        let c = BuildContext::scan(
            d.path(),
            &d.path().join("Dockerfile"),
            &DigestInputs::default(),
        )
        .unwrap();
        assert_eq!(
            c.paths(),
            [
                ".dockerignore",
                "Dockerfile",
                "app",
                "app/main.sh",
                "docs/keep.md"
            ]
        );
        assert_eq!(c.dockerfile_name, "Dockerfile");
    }

    #[test]
    fn digest_changes_with_content_args_and_modes_only() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "Dockerfile", "FROM x\n");
        write(d.path(), "a.txt", "one\n");
        let df = d.path().join("Dockerfile");
        let base = BuildContext::scan(d.path(), &df, &DigestInputs::default())
            .unwrap()
            .digest;
        // Same content again (touching the file changes only its time).
        write(d.path(), "a.txt", "one\n");
        assert_eq!(
            BuildContext::scan(d.path(), &df, &DigestInputs::default())
                .unwrap()
                .digest,
            base
        );
        let args = DigestInputs {
            build_args: vec![("A".into(), "1".into())],
            ..Default::default()
        };
        assert_ne!(
            BuildContext::scan(d.path(), &df, &args).unwrap().digest,
            base
        );
        let mut perm = std::fs::metadata(d.path().join("a.txt"))
            .unwrap()
            .permissions();
        perm.set_mode(0o755);
        std::fs::set_permissions(d.path().join("a.txt"), perm).unwrap();
        assert_ne!(
            BuildContext::scan(d.path(), &df, &DigestInputs::default())
                .unwrap()
                .digest,
            base
        );
        write(d.path(), "a.txt", "two\n");
        assert_ne!(
            BuildContext::scan(d.path(), &df, &DigestInputs::default())
                .unwrap()
                .digest,
            base
        );
    }

    #[test]
    fn dockerfile_outside_the_context_is_added_under_its_own_name() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "ctx/a.txt", "a\n");
        write(d.path(), "build/Dockerfile", "FROM x\n");
        let c = BuildContext::scan(
            &d.path().join("ctx"),
            &d.path().join("build/Dockerfile"),
            &DigestInputs::default(),
        )
        .unwrap();
        assert!(c.dockerfile_name.starts_with(".berth-dockerfile-"));
        assert_eq!(c.paths(), ["a.txt"]);
    }

    #[tokio::test]
    async fn tar_stream_holds_the_files() {
        use futures_util::StreamExt;
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "Dockerfile", "FROM x\n");
        write(d.path(), "big.bin", &"x".repeat(300_000));
        let c = BuildContext::scan(
            d.path(),
            &d.path().join("Dockerfile"),
            &DigestInputs::default(),
        )
        .unwrap();
        let chunks: Vec<Bytes> = c.tar_stream().map(|r| r.unwrap()).collect().await;
        assert!(chunks.len() > 1, "streamed in several chunks");
        let all: Vec<u8> = chunks.concat();
        let mut ar = tar::Archive::new(all.as_slice());
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "big.bin"]);
    }
}
