//! URL-shaped values, checked component by component (see [`scrub_url`]).

use std::borrow::Cow;

use super::scrub::{
    DEFAULT_MAX_CHARS, SCAN_MARGIN, ScrubStats, TRUNCATION_MARKER, ceil_char_boundary, char_offset,
    scrub_with_stats,
};

/// Replaces the value of a query or fragment parameter, a path parameter and
/// the credentials of a URL: the literal the OpenTelemetry semantic
/// conventions use for redacted URL parts (`https://REDACTED:REDACTED@host`,
/// `?sig=REDACTED`), so the value stays a well-formed URL.
pub const URL_PART_MASK: &str = "REDACTED";
const USERINFO_MASK: &str = "REDACTED:REDACTED";

/// Checks a value that holds a URL, a path, a query or a request target, and
/// truncates it to [`DEFAULT_MAX_CHARS`] characters. Returns the input
/// borrowed when there is nothing to change.
///
/// The value is read as an absolute URL (`scheme://authority/path?query#fragment`
/// or `//authority/...`), a path or request target with an optional query
/// (`/search?q=...`), a bare query (`?q=...`, or `q=...&page=2`: no `/`
/// first and a `=` in it), or else as text. Then, component by component:
///
/// - **credentials** (`user:password@` in the authority) become
///   `REDACTED:REDACTED@` (`REDACTED@` when there is no password);
/// - **query values** are all replaced by [`URL_PART_MASK`] `REDACTED`,
///   keys kept: `?email=REDACTED&page=REDACTED`. Pairs are split on `&` and
///   `;`; an empty value stays empty, a parameter without `=` is checked as
///   text. Query strings carry search terms, emails, tokens and signatures
///   that no rule can tell from an ordinary value, so none is kept;
/// - **fragment**: when it holds `=` (`#access_token=...&state=...`, as OAuth
///   redirects put it) its values are masked like a query's; otherwise (a
///   route such as `#/orders/42`) it is checked as text;
/// - **path parameters** (`/cart;jsessionid=...`): values masked the same way;
/// - **everything else** (host, port, path segments, query keys) goes through
///   [`scrub`](super::scrub), which also reads percent- and form-encoded text
///   (`/users/jane.doe%40example.com` becomes `/users/[REDACTED:email]`).
///
/// What was replaced is counted in [`ScrubStats::url_parts`]. Truncation
/// works as in [`scrub`](super::scrub): the first `max_chars` characters
/// of the input are kept, a match or part straddling the cut is masked whole,
/// and [`TRUNCATION_MARKER`] ends a value that was cut.
///
/// ```
/// use checkout_otel::pii::scrub_url;
///
/// assert_eq!(
///     scrub_url("https://jane:hunter2@shop.example/users/jane.doe%40example.com/orders?card=4111+1111+1111+1111&page=2#access_token=abc"),
///     "https://REDACTED:REDACTED@shop.example/users/[REDACTED:email]/orders?card=REDACTED&page=REDACTED#access_token=REDACTED"
/// );
/// assert_eq!(scrub_url("email=jane%40example.com&step=payment"), "email=REDACTED&step=REDACTED");
/// assert_eq!(scrub_url("/checkout/42/payment"), "/checkout/42/payment");
/// ```
pub fn scrub_url(text: &str) -> Cow<'_, str> {
    scrub_url_with_stats(text, DEFAULT_MAX_CHARS).0
}

/// [`scrub_url`] keeping at most `max_chars` characters, also saying what was
/// masked.
pub(super) fn scrub_url_with_stats(text: &str, max_chars: usize) -> (Cow<'_, str>, ScrubStats) {
    // Nothing but a host or a path: the text rules are the whole check.
    if !text
        .bytes()
        .any(|c| matches!(c, b'?' | b'#' | b'@' | b';' | b'='))
    {
        return scrub_with_stats(text, max_chars);
    }
    let cut = char_offset(text, max_chars);
    let parse_end = if cut < text.len() {
        ceil_char_boundary(text, cut.saturating_add(SCAN_MARGIN))
    } else {
        text.len()
    };
    let parts = Parts::parse(&text.as_bytes()[..parse_end]);

    let mut out = String::with_capacity(parse_end.min(cut + 64));
    let mut stats = ScrubStats::default();
    let mut changed = false;
    let mut start = 0;
    for &(end, how) in &parts.list {
        if start >= cut {
            break;
        }
        let straddles = end > cut;
        match how {
            How::Text => {
                let limit = if straddles {
                    text[start..cut].chars().count()
                } else {
                    usize::MAX
                };
                let (scrubbed, part_stats) = scrub_with_stats(&text[start..end], limit);
                changed |= matches!(scrubbed, Cow::Owned(_));
                out.push_str(&scrubbed);
                stats.add(part_stats);
            }
            How::Mask(mask) => {
                out.push_str(mask);
                stats.url_parts += 1;
                changed = true;
            }
        }
        start = end;
    }
    if cut < text.len() && !stats.truncated {
        out.push_str(TRUNCATION_MARKER);
        stats.truncated = true;
    }
    if changed || stats.truncated {
        (Cow::Owned(out), stats)
    } else {
        (Cow::Borrowed(text), stats)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum How {
    /// Checked by the text rules.
    Text,
    /// Replaced whole.
    Mask(&'static str),
}

/// The value cut into consecutive parts, each with its end offset.
struct Parts<'a> {
    b: &'a [u8],
    list: Vec<(usize, How)>,
}

impl<'a> Parts<'a> {
    fn parse(b: &'a [u8]) -> Parts<'a> {
        let mut p = Parts {
            b,
            list: Vec::new(),
        };
        let n = b.len();
        let hash = find(b, 0, n, b"#");
        let mut i = 0;
        if let Some(after) = authority_start(b) {
            p.push(after, How::Text);
            let auth_end = find(b, after, n, b"/?#");
            if let Some(at) = b[after..auth_end].iter().rposition(|&c| c == b'@') {
                let userinfo = &b[after..after + at];
                let mask = if userinfo.contains(&b':') {
                    USERINFO_MASK
                } else {
                    URL_PART_MASK
                };
                p.push(after + at, How::Mask(mask));
            }
            p.push(auth_end, How::Text);
            i = auth_end;
        } else if b.first() != Some(&b'/')
            && !b[..hash].contains(&b'?')
            && b[..hash].contains(&b'=')
        {
            // A bare query: `url.query` holds it without its `?`.
            p.pairs(0, hash);
            i = hash;
        }
        let path_end = find(b, i, n, b"?#");
        p.path(i, path_end);
        if path_end < hash {
            p.push(path_end + 1, How::Text);
            p.pairs(path_end + 1, hash);
        }
        if hash < n {
            p.push(hash + 1, How::Text);
            if b[hash + 1..].contains(&b'=') {
                p.pairs(hash + 1, n);
            } else {
                p.push(n, How::Text);
            }
        }
        p
    }

    fn push(&mut self, end: usize, how: How) {
        let last = self.list.last().map_or(0, |&(e, _)| e);
        if end <= last {
            return;
        }
        match self.list.last_mut() {
            Some((e, How::Text)) if how == How::Text => *e = end,
            _ => self.list.push((end, how)),
        }
    }

    /// Path segments as text, the values of `;name=value` parameters masked.
    fn path(&mut self, start: usize, end: usize) {
        let mut k = start;
        while k < end {
            let segment_end = find(self.b, k, end, b"/");
            if let Some(semi) = self.b[k..segment_end].iter().position(|&c| c == b';') {
                self.push(k + semi + 1, How::Text);
                self.pairs(k + semi + 1, segment_end);
            }
            self.push((segment_end + 1).min(end), How::Text);
            k = segment_end + 1;
        }
    }

    /// `key=value` pairs split on `&` and `;`: keys as text, values masked.
    fn pairs(&mut self, start: usize, end: usize) {
        let mut k = start;
        while k < end {
            let pair_end = find(self.b, k, end, b"&;");
            match self.b[k..pair_end].iter().position(|&c| c == b'=') {
                Some(eq) => {
                    self.push(k + eq + 1, How::Text);
                    self.push(pair_end, How::Mask(URL_PART_MASK));
                }
                None => self.push(pair_end, How::Text),
            }
            self.push((pair_end + 1).min(end), How::Text);
            k = pair_end + 1;
        }
    }
}

/// First offset in `[from, end)` holding one of `set`, or `end`.
fn find(b: &[u8], from: usize, end: usize, set: &[u8]) -> usize {
    b[from..end]
        .iter()
        .position(|c| set.contains(c))
        .map_or(end, |i| from + i)
}

/// Offset after `scheme://` or a leading `//`, where the authority starts.
fn authority_start(b: &[u8]) -> Option<usize> {
    if b.starts_with(b"//") {
        return Some(2);
    }
    let colon = b.iter().position(|&c| c == b':')?;
    let scheme = &b[..colon];
    let valid = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'));
    (valid && b[colon + 1..].starts_with(b"//")).then_some(colon + 3)
}

#[cfg(test)]
mod tests;
