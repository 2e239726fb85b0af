//! Task definitions: cloning one for registration and comparing it with what ECS stores
//! never panics on any JSON, the normalizations are idempotent, a document never differs
//! from itself, and images set on containers read back as set.
#![no_main]

use std::collections::BTreeMap;

use berth::ecs::task_definition::{registrable, set_images, with_defaults};
use berth::jsondiff::diff;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(td) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let r = registrable(&td);
    assert_eq!(registrable(&r), r);
    let d = with_defaults(&r);
    assert_eq!(with_defaults(&d), d);
    assert!(diff(&d, &d).is_empty());
    let _ = diff(&td, &d);
    let names: Vec<String> = d
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| Some(c.get("name")?.as_str()?.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let images: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.clone(), format!("img/{n}:1")))
        .collect();
    let mut set = d.clone();
    if set_images(&mut set, &images, "fuzz").is_ok() {
        for c in set["containerDefinitions"].as_array().into_iter().flatten() {
            if let Some(n) = c.get("name").and_then(Value::as_str)
                && let Some(want) = images.get(n)
                && !names.iter().filter(|x| *x == n).count().gt(&1)
            {
                assert_eq!(c["image"].as_str(), Some(want.as_str()));
            }
        }
    }
});
