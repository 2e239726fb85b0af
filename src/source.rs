//! Source files and positions.
//!
//! Every diagnostic berth prints about a pipeline file (or a file it references) points at a
//! line and column and shows the offending line, the way rustc and `just` do. A [`Pos`] is
//! deliberately small (it is stored on every YAML node) and a [`Source`] is shared through an
//! `Arc` so that errors can carry it without copying the text.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A position in a source file: 1-based line and column (in characters), plus the byte offset
/// when known. Line 0 means "unknown".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    /// Byte offset of the position in the source text, when the parser reported it.
    pub offset: Option<u32>,
}

impl Pos {
    pub const UNKNOWN: Pos = Pos {
        line: 0,
        col: 0,
        offset: None,
    };

    pub fn new(line: u32, col: u32) -> Self {
        Pos {
            line,
            col,
            offset: None,
        }
    }

    pub fn is_known(&self) -> bool {
        self.line > 0
    }

    /// The same line, `n` characters further right (used to point inside a string).
    pub fn shifted(self, n: usize) -> Pos {
        Pos {
            line: self.line,
            col: self.col + n as u32,
            offset: self.offset.map(|o| o + n as u32),
        }
    }
}

/// The text of a file berth read, with its display path (as the user wrote it, relative where
/// possible, so that messages are short and clickable in terminals and editors).
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

pub type Source = Arc<SourceFile>;

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Source {
        Arc::new(SourceFile {
            path: path.into(),
            text: text.into(),
        })
    }

    /// The text of line `n` (1-based), without its line ending.
    pub fn line(&self, n: u32) -> Option<&str> {
        if n == 0 {
            return None;
        }
        self.text.lines().nth(n as usize - 1)
    }

    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }
}

/// A path as shown to the user: relative to the current folder when it is below it.
pub fn display_path(path: &Path) -> String {
    if let Ok(cwd) = std::env::current_dir()
        && let Ok(rel) = path.strip_prefix(&cwd)
    {
        return rel.display().to_string();
    }
    path.display().to_string()
}

/// A place in a file: what a diagnostic points at.
#[derive(Clone, Debug)]
pub struct Location {
    pub source: Source,
    pub pos: Pos,
    /// How many characters to underline (at least one is drawn).
    pub len: usize,
}

impl Location {
    pub fn new(source: &Source, pos: Pos, len: usize) -> Self {
        Location {
            source: source.clone(),
            pos,
            len,
        }
    }
}

impl fmt::Display for Location {
    /// `file:line:col`, the form editors and terminals turn into links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.is_known() {
            write!(
                f,
                "{}:{}:{}",
                self.source.display_path(),
                self.pos.line,
                self.pos.col
            )
        } else {
            write!(f, "{}", self.source.display_path())
        }
    }
}

/// The most berth reads of a file it is pointed at (a pipeline file, template, policy,
/// manifest, Dockerfile or secret): far above any real one, and small enough that a wrong
/// path cannot make berth grow without bound.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a file berth was pointed at, refusing what is not a regular file (a device such as
/// `/dev/zero`, a FIFO, a folder: reading those could hang or never end) and anything over
/// [`MAX_FILE_BYTES`], with an error that says which.
pub fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a folder, device or pipe)",
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::InvalidData,
            format!(
                "larger than {} MiB, the most berth reads of a file",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(out)
}

/// [`read_bytes`], as UTF-8 text.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_one_based() {
        let s = SourceFile::new("x.yaml", "a: 1\nb: 2\n");
        assert_eq!(s.line(1), Some("a: 1"));
        assert_eq!(s.line(2), Some("b: 2"));
        assert_eq!(s.line(0), None);
        assert_eq!(s.line(3), None);
    }

    #[test]
    fn location_displays_as_file_line_col() {
        let s = SourceFile::new("/nowhere/x.yaml", "a: 1\n");
        let loc = Location::new(&s, Pos::new(1, 4), 1);
        assert_eq!(loc.to_string(), "/nowhere/x.yaml:1:4");
    }

    #[test]
    fn only_regular_files_of_bounded_size_are_read() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        assert!(read_text(dir.path()).is_err());
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_text(&big).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "hello").unwrap();
        assert_eq!(read_text(&ok).unwrap(), "hello");
    }
}
