//! Kubernetes manifests: any text parses or is refused without a panic, and substituting
//! the deployed images is idempotent (a second pass changes nothing).
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use berth::pipeline::manifest::{parse, substitute};
use berth::pipeline::reference::ImageRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut manifests) = parse(Path::new("k8s/app.yaml"), text) else {
        return;
    };
    let mut refs = BTreeMap::new();
    refs.insert(
        "web".to_string(),
        ImageRef {
            uri: "1.dkr.ecr.us-east-1.amazonaws.com/shop/web".into(),
            tag: Some("v1".into()),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
        },
    );
    for m in &mut manifests {
        let _ = m.label();
        substitute(m, &refs);
        let again = substitute(m, &refs);
        assert!(again.is_empty(), "a second substitution changed {again:?}");
    }
});
