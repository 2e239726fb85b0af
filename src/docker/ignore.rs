//! `.dockerignore`, with Docker's exact semantics.
//!
//! Follows the Docker CLI's reading of the file and moby's pattern matcher: one pattern a
//! line, `#` comments, surrounding spaces trimmed, paths cleaned (`./a/../b` is `b`, a
//! leading `/` dropped); `*` and `?` do not cross `/`, `**` matches any number of folders
//! (including none); `!` re-includes; the last matching pattern wins; and a pattern that
//! matches a folder matches everything below it.

use regex::Regex;

#[derive(Debug)]
struct Pattern {
    /// The cleaned pattern, kept for `Debug` output and tests.
    #[allow(dead_code)]
    text: String,
    regex: Regex,
    exclusion: bool,
}

#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

/// Lexical path cleaning as Go's `filepath.Clean` does it, for relative slash paths.
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

/// Translates a pattern into a regex the way moby's patternmatcher does.
fn to_regex(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    i += 1;
                    if chars.get(i + 1) == Some(&'/') {
                        i += 1;
                    }
                    if i + 1 >= chars.len() {
                        re.push_str(".*");
                    } else {
                        re.push_str("(.*/)?");
                    }
                } else {
                    re.push_str("[^/]*");
                }
            }
            '?' => re.push_str("[^/]"),
            '\\' => {
                i += 1;
                if let Some(n) = chars.get(i) {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            '[' => {
                // A character class, as in filepath.Match; `^` negates like `!`.
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i + 1);
                match end {
                    Some(end) => {
                        let mut class: String = chars[i + 1..end].iter().collect();
                        if let Some(rest) = class.strip_prefix('^') {
                            class = format!("^{rest}");
                        }
                        re.push('[');
                        re.push_str(&class.replace('[', "\\["));
                        re.push(']');
                        i = end;
                    }
                    None => re.push_str("\\["),
                }
            }
            '.' | '$' | '+' | '(' | ')' | '{' | '}' | '|' | '^' | ']' => {
                re.push('\\');
                re.push(c);
            }
            _ => re.push(c),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re)
}

impl DockerIgnore {
    /// Parses the file's text. A bad pattern is an error naming its line.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim().to_string();
            if p.is_empty() {
                continue;
            }
            let exclusion = p.starts_with('!');
            if exclusion {
                p = p[1..].trim().to_string();
            }
            if !p.is_empty() {
                p = clean(&p);
                if p.len() > 1 && p.starts_with('/') {
                    p = p[1..].to_string();
                }
            }
            let regex = to_regex(&p)
                .map_err(|e| (n + 1, format!("`{line}` is not a valid pattern: {e}")))?;
            patterns.push(Pattern {
                text: p,
                regex,
                exclusion,
            });
        }
        Ok(DockerIgnore { patterns })
    }

    /// True if the path (relative to the context, `/`-separated) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = path.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            let mut m = p.regex.is_match(&path);
            if !m && parents.len() > 1 {
                for i in 1..parents.len() {
                    if p.regex.is_match(&parents[..i].join("/")) {
                        m = true;
                        break;
                    }
                }
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// True if some `!` pattern could re-include something below an excluded folder, in which
    /// case the folder must still be walked.
    pub fn has_exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
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
        assert!(i.has_exclusions());
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
