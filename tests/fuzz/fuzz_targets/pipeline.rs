//! The pipeline file: any text is loaded (parsed, interpolated, validated) without a panic,
//! and whatever is refused is refused with a message.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// A project folder with the files a pipeline commonly names, made once.
fn project() -> &'static std::path::Path {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app")).unwrap();
        std::fs::write(dir.join("app/Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(
            dir.join("td.json"),
            "{\"family\":\"f\",\"containerDefinitions\":[]}",
        )
        .unwrap();
        std::fs::write(dir.join("stack.yaml"), "Resources: {}\n").unwrap();
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = project();
    let src = berth::source::SourceFile::new(dir.join("berth.yaml"), text);
    let mut env = std::collections::HashMap::new();
    env.insert("GIT_SHA".to_string(), "abc".to_string());
    let ctx = berth::pipeline::Context::new(dir, env, "20261202T000000Z".into());
    if let Err(e) = berth::pipeline::load(&src, None, &ctx) {
        assert!(!e.render(false).trim().is_empty());
    }
    let _ = berth::pipeline::load(&src, Some("prod"), &ctx);
});
