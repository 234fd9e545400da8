//! How a waterfall is drawn: width and colour.

use super::model::WaterfallSpan;
use super::render::render;

/// When to use ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when the output is a terminal, `NO_COLOR` is unset or empty
    /// (<https://no-color.org>) and `TERM` is not `dumb`.
    #[default]
    Auto,
    /// Always colour, whatever the output and environment.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    pub fn enabled_for(self, stream_is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|v| v == "dumb");
                stream_is_terminal && !no_color && !dumb
            }
        }
    }
}

/// How to draw a waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaterfallOptions {
    /// Line width in columns, without the trailing `✗ error` / `↑ parent`
    /// notes. The bar takes what the name, duration and service columns
    /// leave, but never less than 10 columns. At most 1000. Default 100.
    pub width: usize,
    /// When to colour. Default [`ColorChoice::Auto`].
    pub color: ColorChoice,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        WaterfallOptions {
            width: 100,
            color: ColorChoice::Auto,
        }
    }
}

impl WaterfallOptions {
    /// Sets the line width.
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width;
        self
    }

    /// Sets when to colour.
    pub fn with_color(mut self, color: ColorChoice) -> Self {
        self.color = color;
        self
    }

    /// Renders `spans` with these options; same as [`render`].
    pub fn render(&self, spans: &[WaterfallSpan]) -> String {
        render(spans, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_choice_respects_terminal_and_force() {
        assert!(ColorChoice::Always.enabled_for(false));
        assert!(!ColorChoice::Never.enabled_for(true));
        assert!(!ColorChoice::Auto.enabled_for(false));
    }
}
