//! `${…}` interpolation: any text parses or is refused without a panic, and an escaped text
//! renders back to itself.
#![no_main]

use berth::pipeline::interpolate::{RuntimeValues, escape, parse, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse(text);
    let mut values = RuntimeValues::default();
    values
        .images
        .entry("web".into())
        .or_default()
        .insert("uri".into(), "r/web:1".into());
    let _ = render(text, &values);
    values.placeholders = true;
    let _ = render(text, &values);
    values.placeholders = false;
    assert_eq!(
        render(&escape(text), &RuntimeValues::default())
            .ok()
            .as_deref(),
        Some(text),
        "escape then render must give the text back"
    );
});
