//! Stamps the binary with the commit it was built from and the build date, for
//! `berth --version`: a user reporting a bug, or a CI job pinning a release, can tell
//! exactly which berth ran.
//!
//! The commit comes from `BERTH_COMMIT`, else git (a clone), else the `.cargo_vcs_info.json`
//! that `cargo package` writes (a crate from crates.io), else "unknown". The date is
//! `BERTH_BUILD_EPOCH`'s or `SOURCE_DATE_EPOCH`'s when set (reproducible builds), else
//! today's, in UTC. Release builds set `BERTH_BUILD_EPOCH` (see scripts/release for why not
//! the other).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BERTH_COMMIT");
    println!("cargo:rerun-if-env-changed=BERTH_BUILD_EPOCH");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit or checkout re-stamps; other builds keep the stamp they have.
    for f in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
    let commit = std::env::var("BERTH_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_commit)
        .or_else(packaged_commit)
        .unwrap_or_else(|| "unknown".into());
    let epoch = std::env::var("BERTH_BUILD_EPOCH")
        .or_else(|_| std::env::var("SOURCE_DATE_EPOCH"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
    println!("cargo:rustc-env=BERTH_COMMIT={commit}");
    println!("cargo:rustc-env=BERTH_BUILD_DATE={}", date(epoch));
}

fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .output()
        .ok()?;
    let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
    out.status
        .success()
        .then_some(sha)
        .filter(|s| !s.is_empty())
}

fn packaged_commit() -> Option<String> {
    let text = std::fs::read_to_string(".cargo_vcs_info.json").ok()?;
    // {"git": {"sha1": "…"}, …}: read without a JSON dependency in the build script.
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let sha = &rest[start..start + rest[start..].find('"')?];
    Some(sha.chars().take(10).collect())
}

/// `YYYY-MM-DD` of a Unix time (days to a civil date, proleptic Gregorian).
fn date(epoch: i64) -> String {
    let z = epoch.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
