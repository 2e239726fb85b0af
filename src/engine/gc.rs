//! `berth gc`: which images of a repository may go. ECR's lifecycle rules see tags and ages
//! only; they cannot know that a digest is what production runs, or what a rollback would go
//! back to. Here the deployers' answer (the digests in use) comes first, then the user's
//! rules (the newest N per tag group, anything younger than an age), and everything else is
//! deletable.
//!
//! Images that belong together are decided together: an index keeps its children (a child
//! of a deletable index is deleted with it unless something else keeps it), and a cosign
//! signature, attestation or SBOM (`sha256-<hex>.sig|.att|.sbom`) goes with its subject.
//!
//! This is pure: the listing, the references and the rules in, a verdict per image out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

/// One image (manifest) stored in a repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredImage {
    pub digest: String,
    pub tags: Vec<String>,
    /// When it was pushed, in seconds since the epoch.
    pub pushed_at: Option<i64>,
    pub size: Option<u64>,
    /// The manifests an index names (empty for an image manifest).
    pub children: Vec<String>,
}

/// The user's rules.
#[derive(Clone, Debug)]
pub struct Rules {
    /// Keep the newest this many images of each tag group.
    pub keep_newest: usize,
    /// Tags are grouped by this pattern's first capture group (the whole match without
    /// one); tags it does not match form one group. None: one group for every tag.
    pub group_by: Option<Regex>,
    /// Keep anything pushed less than this long ago.
    pub keep_younger_than: Option<Duration>,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// Why an image is kept; none means it may be deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Keep {
    /// Deployed: the targets (and what of them) that reference it.
    InUse { by: Vec<String> },
    /// Among the newest of its tag group.
    Newest { group: String },
    /// Pushed less than the given age ago.
    Young,
    /// A child of an index that is kept.
    PartOf { index: String },
    /// A signature, attestation or SBOM of an image that is kept.
    SignatureOf { subject: String },
}

impl Keep {
    pub fn describe(&self) -> String {
        match self {
            Keep::InUse { by } => format!("in use: {}", by.join(", ")),
            Keep::Newest { group } if group.is_empty() => "among the newest".into(),
            Keep::Newest { group } => format!("among the newest of `{group}`"),
            Keep::Young => "younger than the age kept".into(),
            Keep::PartOf { index } => format!("part of {}", short(index)),
            Keep::SignatureOf { subject } => format!("signs {}", short(subject)),
        }
    }
}

/// An image and what becomes of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub image: StoredImage,
    pub keep: Option<Keep>,
}

/// The subject of a cosign-style tag (`sha256-<hex>.sig` → `sha256:<hex>`).
fn signature_subject(tag: &str) -> Option<String> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, kind) = rest.split_once('.')?;
    (hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(kind, "sig" | "att" | "sbom"))
    .then(|| format!("sha256:{hex}"))
}

/// Decides every image of one repository. `in_use` maps digests to what references them.
pub fn decide(
    images: &[StoredImage],
    in_use: &BTreeMap<String, Vec<String>>,
    rules: &Rules,
) -> Vec<Decision> {
    let children: BTreeSet<&str> = images
        .iter()
        .flat_map(|i| i.children.iter().map(String::as_str))
        .collect();
    let subject_of = |i: &StoredImage| -> Option<String> {
        let subjects: BTreeSet<String> =
            i.tags.iter().filter_map(|t| signature_subject(t)).collect();
        (subjects.len() == 1 && i.tags.iter().all(|t| signature_subject(t).is_some()))
            .then(|| subjects.into_iter().next())
            .flatten()
    };
    let mut keep: BTreeMap<&str, Keep> = BTreeMap::new();
    // Deployed digests, wherever they are in the repository.
    for i in images {
        if let Some(by) = in_use.get(&i.digest) {
            keep.insert(&i.digest, Keep::InUse { by: by.clone() });
        }
    }
    // The newest per group, among tagged images that are not signatures.
    let mut groups: BTreeMap<String, Vec<&StoredImage>> = BTreeMap::new();
    for i in images.iter().filter(|i| subject_of(i).is_none()) {
        let names: BTreeSet<String> = i.tags.iter().map(|t| group_of(t, rules)).collect();
        for g in names {
            groups.entry(g).or_default().push(i);
        }
    }
    for (group, mut members) in groups {
        members.sort_by_key(|i| std::cmp::Reverse(i.pushed_at.unwrap_or(i64::MAX)));
        for i in members.into_iter().take(rules.keep_newest) {
            keep.entry(&i.digest).or_insert(Keep::Newest {
                group: group.clone(),
            });
        }
    }
    if let Some(age) = rules.keep_younger_than {
        let since = rules.now - age.as_secs() as i64;
        for i in images {
            // An image of unknown age is not taken for an old one.
            if i.pushed_at.is_none_or(|at| at >= since) && !children.contains(i.digest.as_str()) {
                keep.entry(&i.digest).or_insert(Keep::Young);
            }
        }
    }
    // An index that is kept keeps its children (an index in turn may be a child).
    loop {
        let added: Vec<(&str, Keep)> = images
            .iter()
            .filter(|i| keep.contains_key(i.digest.as_str()))
            .flat_map(|i| {
                i.children.iter().filter_map(|c| {
                    let child = images.iter().find(|x| &x.digest == c)?;
                    (!keep.contains_key(c.as_str())).then(|| {
                        (
                            child.digest.as_str(),
                            Keep::PartOf {
                                index: i.digest.clone(),
                            },
                        )
                    })
                })
            })
            .collect();
        if added.is_empty() {
            break;
        }
        for (c, why) in added {
            keep.entry(c).or_insert(why);
        }
    }
    // Signatures follow their subject.
    for i in images {
        if let Some(subject) = subject_of(i)
            && !keep.contains_key(i.digest.as_str())
            && keep.contains_key(subject.as_str())
        {
            keep.insert(&i.digest, Keep::SignatureOf { subject });
        }
    }
    let mut out: Vec<Decision> = images
        .iter()
        .map(|i| Decision {
            image: i.clone(),
            keep: keep.get(i.digest.as_str()).cloned(),
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.image.pushed_at.unwrap_or(i64::MAX)));
    out
}

fn group_of(tag: &str, rules: &Rules) -> String {
    match &rules.group_by {
        None => String::new(),
        Some(re) => match re.captures(tag) {
            Some(c) => c
                .get(1)
                .or_else(|| c.get(0))
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            None => String::new(),
        },
    }
}

/// `sha256:0123456789ab` (the first 12 hex digits).
pub fn short(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

/// The repository part of an image reference (`HOST/NAME` without `:TAG` or `@DIGEST`).
pub fn repository_of(reference: &str) -> &str {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => &without_digest[..i],
        _ => without_digest,
    }
}

/// The digests an image reference names in a repository: `REPO@sha256:…` directly,
/// `REPO:TAG` through the repository's tags. `repository_uri` is `HOST/NAME`; references to
/// other repositories name nothing here.
pub fn referenced_digest(
    reference: &str,
    repository_uri: &str,
    tags: &BTreeMap<String, String>,
) -> Option<String> {
    let rest = reference.strip_prefix(repository_uri)?;
    if let Some(d) = rest.strip_prefix('@') {
        return Some(d.to_string());
    }
    let tag = rest.strip_prefix(':')?;
    // `REPO:TAG@sha256:…` pins the digest.
    if let Some((_, d)) = tag.split_once('@') {
        return Some(d.to_string());
    }
    tags.get(tag).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn img(n: u8, tags: &[&str], at: i64) -> StoredImage {
        StoredImage {
            digest: d(n),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: Some(at),
            size: Some(100),
            children: Vec::new(),
        }
    }

    fn rules(newest: usize, group: Option<&str>) -> Rules {
        Rules {
            keep_newest: newest,
            group_by: group.map(|g| Regex::new(g).unwrap()),
            keep_younger_than: Some(Duration::from_secs(3600)),
            now: 1_000_000,
        }
    }

    fn verdicts(ds: &[Decision]) -> BTreeMap<String, Option<Keep>> {
        ds.iter()
            .map(|x| (x.image.digest.clone(), x.keep.clone()))
            .collect()
    }

    #[test]
    fn in_use_beats_every_rule_and_the_newest_per_group_are_kept() {
        let images = vec![
            img(1, &["main-aaaaaaa"], 10),
            img(2, &["main-bbbbbbb"], 20),
            img(3, &["main-ccccccc"], 30),
            img(4, &["feature-x-ddddddd"], 15),
            img(5, &[], 5),
            img(6, &["feature-x-eeeeeee"], 999_999),
        ];
        let in_use = BTreeMap::from([(d(1), vec!["ecs target prod".to_string()])]);
        let v = verdicts(&decide(
            &images,
            &in_use,
            &rules(1, Some("^(.+)-[0-9a-f]{7}$")),
        ));
        assert_eq!(
            v[&d(1)],
            Some(Keep::InUse {
                by: vec!["ecs target prod".into()]
            })
        );
        assert_eq!(
            v[&d(3)],
            Some(Keep::Newest {
                group: "main".into()
            })
        );
        assert_eq!(v[&d(2)], None, "second newest of main with keep_newest 1");
        assert_eq!(
            v[&d(6)],
            Some(Keep::Newest {
                group: "feature-x".into()
            })
        );
        assert_eq!(v[&d(4)], None);
        assert_eq!(v[&d(5)], None, "untagged and old");
    }

    #[test]
    fn young_images_stay_and_an_unknown_age_is_not_old() {
        let mut unknown = img(2, &[], 0);
        unknown.pushed_at = None;
        let images = vec![img(1, &[], 999_000), unknown, img(3, &[], 1)];
        let v = verdicts(&decide(&images, &BTreeMap::new(), &rules(0, None)));
        assert_eq!(v[&d(1)], Some(Keep::Young));
        assert_eq!(v[&d(2)], Some(Keep::Young));
        assert_eq!(v[&d(3)], None);
    }

    #[test]
    fn an_index_keeps_its_children_and_goes_with_them() {
        let mut index = img(1, &["v1"], 10);
        index.children = vec![d(2), d(3)];
        let mut old = img(4, &["v0"], 5);
        old.children = vec![d(5), d(2)];
        let images = vec![index, img(2, &[], 10), img(3, &[], 10), old, img(5, &[], 5)];
        let in_use = BTreeMap::from([(d(1), vec!["eks".to_string()])]);
        let v = verdicts(&decide(&images, &in_use, &rules(0, None)));
        assert_eq!(
            v[&d(2)],
            Some(Keep::PartOf { index: d(1) }),
            "shared child stays"
        );
        assert_eq!(v[&d(3)], Some(Keep::PartOf { index: d(1) }));
        assert_eq!(v[&d(4)], None);
        assert_eq!(v[&d(5)], None, "the deleted index's own child goes with it");
    }

    #[test]
    fn a_deployed_child_is_kept_even_when_its_index_goes() {
        let mut index = img(1, &["v1"], 10);
        index.children = vec![d(2)];
        let images = vec![index, img(2, &[], 10)];
        let in_use = BTreeMap::from([(d(2), vec!["ecs".to_string()])]);
        let v = verdicts(&decide(&images, &in_use, &rules(0, None)));
        assert_eq!(v[&d(1)], None);
        assert!(matches!(v[&d(2)], Some(Keep::InUse { .. })));
    }

    #[test]
    fn signatures_follow_their_subject_and_do_not_count_as_newest() {
        let sig_of = |n: u8| format!("sha256-{}.sig", format!("{n:02x}").repeat(32));
        let images = vec![
            img(1, &["v1"], 10),
            img(2, &[&sig_of(1)], 11),
            img(3, &["v0"], 5),
            img(4, &[&sig_of(3)], 6),
        ];
        let v = verdicts(&decide(&images, &BTreeMap::new(), &rules(1, None)));
        assert_eq!(
            v[&d(1)],
            Some(Keep::Newest {
                group: String::new()
            })
        );
        assert_eq!(v[&d(2)], Some(Keep::SignatureOf { subject: d(1) }));
        assert_eq!(v[&d(3)], None);
        assert_eq!(v[&d(4)], None);
    }

    #[test]
    fn references_name_digests_directly_or_through_tags() {
        let tags = BTreeMap::from([("v1".to_string(), d(1))]);
        let uri = "123.dkr.ecr.us-east-1.amazonaws.com/shop/web";
        assert_eq!(
            referenced_digest(&format!("{uri}@{}", d(2)), uri, &tags),
            Some(d(2))
        );
        assert_eq!(
            referenced_digest(&format!("{uri}:v1"), uri, &tags),
            Some(d(1))
        );
        assert_eq!(
            referenced_digest(&format!("{uri}:v1@{}", d(3)), uri, &tags),
            Some(d(3))
        );
        assert_eq!(referenced_digest(&format!("{uri}:v9"), uri, &tags), None);
        assert_eq!(
            referenced_digest(&format!("{uri}-other:v1"), uri, &tags),
            None
        );
        assert_eq!(referenced_digest("busybox:stable", uri, &tags), None);
        assert_eq!(
            repository_of("127.0.0.1:45650/shop/web:v1"),
            "127.0.0.1:45650/shop/web"
        );
        assert_eq!(
            repository_of("127.0.0.1:45650/shop/web@sha256:ab"),
            "127.0.0.1:45650/shop/web"
        );
        assert_eq!(
            repository_of("127.0.0.1:45650/shop/web"),
            "127.0.0.1:45650/shop/web"
        );
    }
}
