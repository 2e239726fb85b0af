//! A compressed layer on its way to the registry: written to a temporary file as it is
//! compressed, read back by its upload as it grows.
//!
//! Why a file: an upload the registry cuts off can start again from the file, instead of the
//! whole push reading the daemon's export again (which, on Docker Engine 20.10, first writes
//! the whole image to a temporary folder: 3 s for 510 MiB on the rig). It also decouples
//! reading and compressing from the registry's pace, so the uploads of several layers
//! overlap. That second effect did not show in the fresh-push time on the rig (8.1 s
//! streaming straight into one upload at a time, 8.1–8.7 s through spools): there the
//! export, not the upload, sets the pace. The file is unlinked as soon as it is open, so
//! nothing is left behind whatever happens to berth, and memory stays bounded: the spool
//! holds no data of its own.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};

/// How far the writer is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Progress {
    Writing(u64),
    /// Complete: size and digest of what was written.
    Done(u64, String),
    Failed(String),
}

pub struct Spool {
    read: File,
    write: Mutex<File>,
    progress: watch::Sender<Progress>,
}

impl Spool {
    /// A new, empty spool in the temporary directory.
    pub fn create() -> Result<Arc<Spool>> {
        let dir = std::env::temp_dir();
        let fail = |e: &std::io::Error| {
            Error::from_chain(
                format!(
                    "cannot write a temporary file in {} (set TMPDIR to a folder with room for the image)",
                    dir.display()
                ),
                e,
            )
        };
        let mut n = 0u32;
        let (write, path) = loop {
            let path = dir.join(format!("berth-layer-{}-{n}", std::process::id()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
                Err(e) => return Err(fail(&e)),
            }
        };
        let read = File::open(&path).map_err(|e| fail(&e));
        let _ = std::fs::remove_file(&path);
        let (progress, _) = watch::channel(Progress::Writing(0));
        Ok(Arc::new(Spool {
            read: read?,
            write: Mutex::new(write),
            progress,
        }))
    }

    /// Appends `data`; `written` is the size after it.
    pub fn append(&self, data: &[u8], written: u64) -> Result<()> {
        let mut f = self.write.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(data)
            .map_err(|e| Error::from_chain("writing a layer to its temporary file", &e))?;
        self.progress.send_replace(Progress::Writing(written));
        Ok(())
    }

    pub fn finish(&self, size: u64, digest: String) {
        self.progress.send_replace(Progress::Done(size, digest));
    }

    pub fn fail(&self, why: String) {
        self.progress.send_replace(Progress::Failed(why));
    }

    /// The digest and size once the writer is done.
    pub async fn digest(&self) -> Result<(String, u64)> {
        let mut rx = self.progress.subscribe();
        loop {
            match rx.borrow_and_update().clone() {
                Progress::Done(size, digest) => return Ok((digest, size)),
                Progress::Failed(why) => return Err(stopped(why)),
                Progress::Writing(_) => {}
            }
            if rx.changed().await.is_err() {
                return Err(stopped("the layer was not finished".into()));
            }
        }
    }

    /// The spool from the start, as it grows, ending when the writer is done. `sent` is
    /// told the bytes handed over so far and the total once known.
    pub fn stream(
        self: &Arc<Self>,
        sent: impl Fn(u64, Option<u64>) + Send + Sync + 'static,
    ) -> impl futures_util::Stream<Item = std::result::Result<Bytes, std::io::Error>> + Send + 'static
    {
        const CHUNK: u64 = 1024 * 1024;
        let spool = self.clone();
        let rx = spool.progress.subscribe();
        let sent = Arc::new(sent);
        futures_util::stream::unfold((spool, rx, 0u64), move |(spool, mut rx, offset)| {
            let sent = sent.clone();
            async move {
                loop {
                    if offset == u64::MAX {
                        return None;
                    }
                    let now = rx.borrow_and_update().clone();
                    let (available, total) = match now {
                        Progress::Writing(w) => (w, None),
                        Progress::Done(size, _) => (size, Some(size)),
                        Progress::Failed(why) => {
                            let e = std::io::Error::other(why);
                            return Some((Err(e), (spool, rx, u64::MAX)));
                        }
                    };
                    if offset < available {
                        let n = (available - offset).min(CHUNK) as usize;
                        let mut buf = vec![0u8; n];
                        if let Err(e) = spool.read.read_exact_at(&mut buf, offset) {
                            return Some((Err(e), (spool, rx, u64::MAX)));
                        }
                        sent(offset + n as u64, total);
                        return Some((Ok(Bytes::from(buf)), (spool, rx, offset + n as u64)));
                    }
                    if total.is_some() {
                        return None;
                    }
                    if rx.changed().await.is_err() {
                        let e = std::io::Error::other("the layer was not finished");
                        return Some((Err(e), (spool, rx, u64::MAX)));
                    }
                }
            }
        })
    }
}

fn stopped(why: String) -> Error {
    Error::failed(format!("compressing the layer stopped: {why}")).with_kind(ErrorKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn a_reader_follows_the_writer_to_the_end() {
        let spool = Spool::create().unwrap();
        let reader = spool.stream(|_, _| {});
        let writer = {
            let spool = spool.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                for i in 0..50u8 {
                    let chunk = vec![i; 100_000];
                    n += chunk.len() as u64;
                    spool.append(&chunk, n).unwrap();
                    tokio::task::yield_now().await;
                }
                spool.finish(n, "sha256:x".into());
            })
        };
        let got: Vec<u8> = reader
            .map(|b| b.unwrap().to_vec())
            .collect::<Vec<_>>()
            .await
            .concat();
        writer.await.unwrap();
        assert_eq!(got.len(), 5_000_000);
        assert_eq!(got[4_999_999], 49);
        assert_eq!(
            spool.digest().await.unwrap(),
            ("sha256:x".into(), 5_000_000)
        );
        // A second reader (an upload started again) reads it all from the start.
        let again: usize = spool
            .stream(|_, _| {})
            .map(|b| b.unwrap().len())
            .collect::<Vec<_>>()
            .await
            .iter()
            .sum();
        assert_eq!(again, 5_000_000);
    }

    #[tokio::test]
    async fn a_failed_writer_fails_the_reader_and_the_digest() {
        let spool = Spool::create().unwrap();
        spool.append(b"abc", 3).unwrap();
        spool.fail("the export ended early".into());
        let items: Vec<_> = spool.stream(|_, _| {}).collect().await;
        assert!(items.iter().any(|i| i.is_err()));
        assert!(spool.digest().await.is_err());
    }
}
