//! `.dockerignore`, with Docker's exact semantics.
//!
//! What the Docker CLI sends is the truth berth must match: a context that holds more than
//! Docker would send can leak files into images. So this follows, rule for rule, how the
//! CLI reads the file and how moby's pattern matcher and archive walk use it — checked by
//! the differential test `tests/dockerignore.rs`, which builds the same contexts with the
//! real docker CLI and compares the file lists.
//!
//! Reading: a UTF-8 BOM at the start is dropped; a line starting with `#` is a comment;
//! surrounding whitespace is trimmed; `!` marks a re-include; the path is cleaned
//! (`./a/../b` is `b`) and a leading `/` dropped. A pattern that is malformed for Go's
//! `filepath.Match` (an unclosed `[`, a trailing `\`, `[]`, `[a-]`) or a `!` with nothing
//! after it is an error, as Docker refuses the build.
//!
//! Matching: `*` and `?` do not cross `/`; `**` matches any number of folders; a pattern
//! that starts with `**` and has no other wildcard is a plain suffix test, one that ends in
//! `**` with none before is a plain prefix test, one with no wildcard an exact test. Later
//! patterns override earlier ones, and what a pattern said of a folder holds for what is
//! in it ([`Parent`]).
//!
//! Walking: an excluded folder is not descended into unless the text of some `!` pattern
//! starts with the folder's path and a `/` — so `!**/*.cc` does not bring files back out of
//! an excluded folder, while `!vendor/keep.cc` does.

use regex::Regex;

#[derive(Debug)]
enum Test {
    Exact,
    /// Starts with the pattern less its trailing `**`.
    Prefix(String),
    /// Ends with the pattern less its leading `**` (or is it, less a `/`).
    Suffix(String),
    Regex(Regex),
}

#[derive(Debug)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: String,
    test: Test,
    exclusion: bool,
}

#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

/// What each pattern said of a folder, handed to the paths inside it: a pattern that
/// matched the folder matches everything in it. Empty for the context's top level.
#[derive(Clone, Debug, Default)]
pub struct Parent(Vec<bool>);

/// Lexical path cleaning as Go's `filepath.Clean` does it, for slash paths.
fn clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Whether Go's `filepath.Match` would call the pattern malformed: every chunk between
/// unbracketed `*`s must parse (a `\` needs a character after it; a `[` class needs a
/// closing `]`, at least one range, and no range ending in `-` or `]`).
fn go_pattern_ok(pattern: &str) -> bool {
    let c: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    // One element of a class (`getEsc`): a character or an escaped one, never `-` or `]`
    // unescaped, and something must follow it.
    let esc = |i: &mut usize| -> bool {
        match c.get(*i) {
            None | Some('-') | Some(']') => return false,
            Some('\\') => *i += 1,
            _ => {}
        }
        if c.get(*i).is_none() {
            return false;
        }
        *i += 1;
        *i < c.len()
    };
    while i < c.len() {
        match c[i] {
            '\\' => {
                if i + 1 >= c.len() {
                    return false;
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if c.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if c.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    if !esc(&mut i) {
                        return false;
                    }
                    if c[i] == '-' {
                        i += 1;
                        if !esc(&mut i) {
                            return false;
                        }
                    }
                    ranges += 1;
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// How a pattern is tested, as moby's pattern matcher compiles it.
fn compile(pattern: &str) -> Result<Test, regex::Error> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut kind = Kind::Exact;
    let mut re = String::from("^");
    let c: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < c.len() {
        let ch = c[i];
        i += 1;
        match ch {
            '*' if c.get(i) == Some(&'*') => {
                i += 1;
                if c.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= c.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => match c.get(i) {
                Some(&n) => {
                    i += 1;
                    re.push('\\');
                    re.push(n);
                    kind = Kind::Regex;
                }
                None => re.push_str("\\\\"),
            },
            '[' | ']' => {
                re.push(ch);
                kind = Kind::Regex;
            }
            // Go's regexp reads these literally inside a class where Rust's would not
            // (nested classes, set operations).
            '&' | '~' => {
                re.push('\\');
                re.push(ch);
            }
            _ => re.push(ch),
        }
        first = false;
    }
    Ok(match kind {
        Kind::Exact => Test::Exact,
        Kind::Prefix => Test::Prefix(pattern[..pattern.len() - 2].to_string()),
        Kind::Suffix => Test::Suffix(pattern[2..].to_string()),
        Kind::Regex => {
            re.push('$');
            Test::Regex(Regex::new(&class_safe(&re))?)
        }
    })
}

/// A `[` inside a class is literal in Go's regexp and opens a nested class in Rust's.
fn class_safe(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut in_class = false;
    let mut escaped = false;
    for ch in re.chars() {
        if escaped {
            out.push(ch);
            escaped = false;
            continue;
        }
        match ch {
            '\\' => {
                escaped = true;
                out.push(ch);
            }
            '[' if in_class => out.push_str("\\["),
            '[' => {
                in_class = true;
                out.push(ch);
            }
            ']' if in_class => {
                in_class = false;
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.test {
            Test::Exact => path == self.text,
            Test::Prefix(p) => path.starts_with(p.as_str()),
            Test::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|s| s == path)
            }
            Test::Regex(r) => r.is_match(path),
        }
    }
}

impl DockerIgnore {
    /// Parses the file's text. A bad pattern is an error naming its line.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (n, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim();
            }
            let mut p = if p.is_empty() {
                String::new()
            } else {
                clean(p)
            };
            if p.len() > 1 && p.starts_with('/') {
                p.remove(0);
            }
            // The matcher cleans the line again, `!` included: `!` alone, and `!/`, are
            // a re-include of nothing, which Docker refuses.
            let again = clean(&format!("{}{p}", if exclusion { "!" } else { "" }));
            if exclusion && again == "!" {
                return Err((
                    n + 1,
                    format!("`{line}` is an illegal exclusion pattern: `!` needs a path after it"),
                ));
            }
            let p = if exclusion {
                again[1..].to_string()
            } else {
                again
            };
            if !go_pattern_ok(&p) {
                return Err((
                    n + 1,
                    format!("`{line}` is not a valid pattern (syntax error in pattern)"),
                ));
            }
            let test = compile(&p)
                .map_err(|e| (n + 1, format!("`{line}` is not a valid pattern: {e}")))?;
            patterns.push(Pattern {
                text: p,
                test,
                exclusion,
            });
        }
        Ok(DockerIgnore { patterns })
    }

    /// Makes sure `path` is sent although the patterns exclude it, as the Docker CLI does for
    /// the Dockerfile and `.dockerignore`: by adding a `!path` pattern when one is needed.
    pub fn keep(&mut self, path: &str) {
        if self.excludes(path) {
            self.patterns.push(Pattern {
                text: path.to_string(),
                test: Test::Exact,
                exclusion: true,
            });
        }
    }

    /// Whether `path` is excluded, given what the patterns said of its folder (`parent`,
    /// empty at the top level); also what they say of `path`, for what is inside it.
    pub fn matches(&self, path: &str, parent: &Parent) -> (bool, Parent) {
        let mut matched = false;
        let mut said = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = parent.0.get(i).copied().unwrap_or(false);
            if !m {
                // A pattern that cannot change the outcome is not tried (and so does not
                // count as matching for what is inside `path` either), as in moby.
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches(path);
                if !m && parent.0.is_empty() {
                    let dirs: Vec<&str> = path.split('/').collect();
                    m = (1..dirs.len()).any(|n| p.matches(&dirs[..n].join("/")));
                }
            }
            said[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, Parent(said))
    }

    /// Whether `path` is excluded, looked at on its own (no walk).
    pub fn excludes(&self, path: &str) -> bool {
        self.matches(&clean(path), &Parent::default()).0
    }

    /// Whether an excluded folder must still be walked: some `!` pattern's text starts with
    /// its path and a `/`.
    pub fn descends(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&prefix))
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    #[cfg(test)]
    fn texts(&self) -> Vec<&str> {
        self.patterns.iter().map(|p| p.text.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    /// The example from Docker's documentation of .dockerignore.
    #[test]
    fn documented_example() {
        let i = ig("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
        assert!(i.excludes("somedir/temporary.txt"));
        assert!(i.excludes("somedir/temp"));
        assert!(i.excludes("somedir/subdir/temporary.txt"));
        assert!(i.excludes("tempa"));
        assert!(i.excludes("tempb"));
        assert!(
            !i.excludes("temporary.txt"),
            "*/temp* needs one folder level"
        );
        assert!(!i.excludes("a/b/c/temp"), "*/*/temp* is exactly two levels");
        assert!(!i.excludes("temp"), "temp? needs one more character");
    }

    #[test]
    fn double_star_matches_any_depth_including_none() {
        let i = ig("**/*.go\n");
        assert!(i.excludes("main.go"));
        assert!(i.excludes("a/b/c/main.go"));
        assert!(!i.excludes("main.rs"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        // Docker docs: all markdown excluded except README*.md, but README-secret.md excluded.
        let i = ig("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(i.excludes("CHANGELOG.md"));
        assert!(!i.excludes("README.md"));
        assert!(!i.excludes("README-public.md"));
        assert!(i.excludes("README-secret.md"));
        // Order matters: an exception placed last wins.
        let i = ig("*.md\nREADME-secret.md\n!README*.md\n");
        assert!(!i.excludes("README-secret.md"));
    }

    #[test]
    fn a_matched_folder_excludes_its_contents() {
        let i = ig("node_modules\n");
        assert!(i.excludes("node_modules"));
        assert!(i.excludes("node_modules/a/b.js"));
        assert!(!i.excludes("src/node_modules_x"));
    }

    #[test]
    fn exceptions_below_an_excluded_folder() {
        let i = ig("docs\n!docs/keep.md\n");
        assert!(i.excludes("docs/other.md"));
        assert!(!i.excludes("docs/keep.md"));
        assert!(i.descends("docs"));
        assert!(!i.descends("src"));
    }

    #[test]
    fn patterns_are_cleaned() {
        let i = ig("/build/\n./tmp/../cache\n  spaced  \n");
        assert_eq!(i.texts(), ["build", "cache", "spaced"]);
        assert!(i.excludes("build/out.o"));
        assert!(i.excludes("cache"));
    }

    #[test]
    fn question_mark_and_star_do_not_cross_folders() {
        let i = ig("a?c\nx*z\n");
        assert!(i.excludes("abc"));
        assert!(!i.excludes("a/c"));
        assert!(i.excludes("xyyz"));
        assert!(!i.excludes("x/z"));
    }

    #[test]
    fn character_classes_and_escapes() {
        let i = ig("file[0-9].txt\n\\*literal\n");
        assert!(i.excludes("file1.txt"));
        assert!(!i.excludes("filea.txt"));
        assert!(i.excludes("*literal"));
        assert!(!i.excludes("xliteral"));
    }

    #[test]
    fn dot_matches_literally() {
        let i = ig("*.log\n");
        assert!(i.excludes("debug.log"));
        assert!(!i.excludes("debuglog"));
    }
}
