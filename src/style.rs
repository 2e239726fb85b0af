//! Colours for people, through `anstyle` (the styling crate clap itself uses), so that the
//! printer and error rendering share one palette and one decision about whether to colour.
//!
//! Whether to colour is decided once, by the printer: `--color always|never` wins; `auto`
//! colours a terminal unless `NO_COLOR` is set (or `CLICOLOR=0`, or `TERM=dumb`), and
//! `CLICOLOR_FORCE` colours even when stderr is not a terminal — the usual conventions, read
//! with `anstyle-query`.

use anstyle::AnsiColor;
pub use anstyle::Style;

pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();
pub const HINT: Style = AnsiColor::Cyan.on_default().bold();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const BAD: Style = AnsiColor::Red.on_default();
pub const PAUSED: Style = AnsiColor::Yellow.on_default();

/// `text` in `style` when `enabled`, else as it is.
pub fn paint(style: Style, text: &str, enabled: bool) -> String {
    if enabled {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

/// When to colour, as the user asked (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether output to a stream that is (or is not) a terminal gets colour.
pub fn enabled(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if anstyle_query::no_color() || anstyle_query::clicolor() == Some(false) {
                false
            } else if anstyle_query::clicolor_force() {
                true
            } else {
                is_terminal && anstyle_query::term_supports_color()
            }
        }
    }
}

/// A size for people: `512 B`, `1.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_enabled() {
        assert_eq!(paint(ERROR, "error:", false), "error:");
        let p = paint(ERROR, "error:", true);
        assert!(p.starts_with("\x1b[") && p.contains("error:") && p.ends_with("\x1b[0m"));
        assert!(enabled(ColorChoice::Always, false));
        assert!(!enabled(ColorChoice::Never, true));
    }
}
