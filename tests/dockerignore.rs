//! `.dockerignore`, berth against Docker: the same contexts built by the real docker CLI
//! (the classic builder, which makes the context tar in the CLI) and scanned by berth, and
//! the file lists compared. The patterns are those of moby's pattern matcher tests and
//! Docker's documentation, plus the cases where berth once differed (re-includes under an
//! excluded folder, a BOM, malformed patterns). A context that holds more than Docker would
//! send can leak files into images, so every difference is a failure.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use berth::docker::context::{BuildContext, DigestInputs};
use support::Rig;

/// The files of every context: names that the patterns below tell apart.
const TREE: &[&str] = &[
    "a.txt",
    "b.md",
    "README.md",
    "README-secret.md",
    "CHANGELOG.md",
    ".env",
    ".git/config",
    ".git/refs/heads/main",
    "src/main.go",
    "src/lib.cc",
    "src/_vendor/x.cc",
    "src/_vendor/y.h",
    "src/_vendor/deep/z.cc",
    "docs/keep.md",
    "docs/other.md",
    "docs/sub/keep.md",
    "node_modules/pkg/index.js",
    "build/out.o",
    "build/keep/k.txt",
    "temp",
    "tempa",
    "somedir/temporary.txt",
    "somedir/subdir/temporary.txt",
    "dir/foo",
    "dir/foo.txt",
    "dir/bar/foo",
    "dir/dir2/file",
    "foo",
    "foobar/x",
    "xfoo",
    "a/b/c/d.txt",
    "a/b/e.txt",
    "file1.txt",
    "filea.txt",
    "with space.txt",
    "[br].txt",
    "*star",
    "pkg/a.go",
    "pkg/a_test.go",
    "pkg/sub/b_test.go",
];

/// `.dockerignore` texts. Each is built by both.
const CASES: &[&str] = &[
    "",
    "*\n",
    "*\n!Dockerfile\n",
    "**\n",
    "**/\n",
    "**/**\n",
    "*.md\n",
    "*.md\n!README*.md\nREADME-secret.md\n",
    "*.md\nREADME-secret.md\n!README*.md\n",
    "# comment\n*/temp*\n*/*/temp*\ntemp?\n",
    "**/*.go\n",
    "**/*_test.go\n",
    "pkg\n!pkg/a.go\n",
    "pkg/**\n!pkg/**/b_test.go\n",
    "src/_vendor\n!**/*.cc\n",
    "src/_vendor\n!src/_vendor/x.cc\n",
    "src\n!src/_vendor/deep\n",
    "docs\n!docs/keep.md\n",
    "docs/**\n!docs/**/keep.md\n",
    "**/keep.md\n",
    "**keep.md\n",
    "**/foo\n",
    "**foo\n",
    "foo**\n",
    "dir/**\n",
    "dir/*\n",
    "dir/**/foo\n",
    "**/dir2/*\n",
    "*/foo\n",
    "dir\n!dir/bar\ndir/bar/foo\n",
    "a\n!a/b\na\n",
    "a\n!a/b/c\n",
    "a/b\n!a/b/c/d.txt\n",
    "/build/\n!/build/keep\n",
    "./tmp/../build\n",
    "  node_modules  \n.git\n",
    ".*\n",
    ".*\n!.env\n",
    "file[0-9].txt\n",
    "file[^0-9].txt\n",
    "file[a-z].txt\n",
    "\\[br\\].txt\n",
    "[[]br].txt\n",
    "\\*star\n",
    "*star\n",
    "with space.txt\n",
    "a?txt\n",
    "?.txt\n",
    "*.txt\n!a/**\n",
    "!a.txt\n*.txt\n",
    "\u{feff}a.txt\n",
    "a.txt\r\nb.md\r\n",
    "#a.txt\nb.md\n",
    " #a.txt\n",
    "Dockerfile\n.dockerignore\n",
    "**/*.txt\n!**/d.txt\n",
    "!\n",
    "!/\n",
    "[\n",
    "a\\\n",
    "[]\n",
    "[a-]\n",
    "src/_vendor\n!**/*.cc\n[z-a]\n",
];

fn make_context(dir: &Path, ignore: &str) {
    for f in TREE {
        let p = dir.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f).unwrap();
    }
    std::fs::write(dir.join(".dockerignore"), ignore).unwrap();
    // Contexts that are alike would share cached layers, which a parallel case's `rmi`
    // can remove from under another.
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM scratch\nCOPY . /ctx/\n# {}\n", dir.display()),
    )
    .unwrap();
}

/// The files Docker sends, or None when it refuses the context.
fn docker_files(dir: &Path, n: usize) -> Option<BTreeSet<String>> {
    let tag = format!("berth-ignore-diff:{}-{n}", std::process::id());
    let built = Command::new("docker")
        .args(["build", "-q", "--no-cache", "-t", &tag])
        .arg(dir)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    if !built.status.success() {
        return None;
    }
    let created = Command::new("docker")
        .args(["create", &tag, "/none"])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    assert!(created.status.success(), "{created:?}");
    let exported = Command::new("sh")
        .args(["-c", &format!("docker export {id} | tar -t")])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", &id]).output();
    let _ = Command::new("docker").args(["rmi", &tag]).output();
    Some(
        String::from_utf8_lossy(&exported.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("ctx/"))
            .filter(|l| !l.is_empty() && !l.ends_with('/'))
            .map(str::to_string)
            .collect(),
    )
}

/// The files berth sends, or None when it refuses the context.
fn berth_files(dir: &Path) -> Option<BTreeSet<String>> {
    let ctx = BuildContext::scan(dir, &dir.join("Dockerfile"), &DigestInputs::default()).ok()?;
    Some(
        ctx.paths()
            .into_iter()
            .filter(|p| !dir.join(p).is_dir())
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn berth_sends_exactly_what_the_docker_cli_sends() {
    let _rig = Rig::get();
    let differences = std::sync::Mutex::new(Vec::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = CASES.get(n) else { break };
                    let dir = tempfile::tempdir().unwrap();
                    make_context(dir.path(), case);
                    // The daemon drops an excluded Dockerfile and .dockerignore after reading
                    // them; both are always sent, so they are left out of the comparison.
                    let strip = |set: Option<BTreeSet<String>>| {
                        set.map(|mut s| {
                            s.remove("Dockerfile");
                            s.remove(".dockerignore");
                            s
                        })
                    };
                    let docker = strip(docker_files(dir.path(), n));
                    let berth = strip(berth_files(dir.path()));
                    if docker != berth {
                        let only =
                            |a: &Option<BTreeSet<String>>, b: &Option<BTreeSet<String>>| match (
                                a, b,
                            ) {
                                (Some(a), Some(b)) => {
                                    format!("{:?}", a.difference(b).collect::<Vec<_>>())
                                }
                                (None, _) => "refused".to_string(),
                                (Some(_), None) => "accepted".to_string(),
                            };
                        differences.lock().unwrap().push(format!(
                            "case {n} {case:?}: docker only {}, berth only {}",
                            only(&docker, &berth),
                            only(&berth, &docker)
                        ));
                    }
                }
            });
        }
    });
    let differences = differences.into_inner().unwrap();
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        CASES.len(),
        differences.join("\n")
    );
    eprintln!("{} cases, 0 differences", CASES.len());
}
