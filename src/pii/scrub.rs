//! Free-text scrubbing (see [`scrub`]).

use std::borrow::Cow;

use super::numbers::find_number;

/// Default number of characters [`scrub`] keeps.
pub const DEFAULT_MAX_CHARS: usize = 256;
/// Appended when a value was truncated.
pub const TRUNCATION_MARKER: &str = "…[truncated]";
/// Replaces a card number.
pub const CARD_MASK: &str = "[REDACTED:card]";
/// Replaces an email address.
pub const EMAIL_MASK: &str = "[REDACTED:email]";
/// Replaces a phone number.
pub const PHONE_MASK: &str = "[REDACTED:phone]";

/// How far past the cut the scanner looks, so that a match starting before
/// the cut is seen whole (an email is at most 254 bytes).
const SCAN_MARGIN: usize = 320;

/// What one scrub masked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrubStats {
    /// Card numbers masked.
    pub cards: u32,
    /// Email addresses masked.
    pub emails: u32,
    /// Phone numbers masked.
    pub phones: u32,
    /// Whether the value was truncated.
    pub truncated: bool,
}

impl ScrubStats {
    /// Card numbers, emails and phone numbers masked.
    pub fn masked(&self) -> u32 {
        self.cards + self.emails + self.phones
    }

    /// Whether anything was masked or truncated.
    pub fn changed(&self) -> bool {
        self.masked() > 0 || self.truncated
    }
}

/// Masks card numbers, emails and phone numbers in `text` and truncates it to
/// [`DEFAULT_MAX_CHARS`] characters. Returns the input borrowed, without
/// allocating, when there is nothing to change.
///
/// The scanner is hand-written (no regex engine): it runs on every exception
/// and decline message, and on every string attribute in the
/// [`RedactingExporter`](super::RedactingExporter), so it has to be cheap.
///
/// # What is masked
///
/// | Kind | Replacement | Rule |
/// |------|-------------|------|
/// | card number | [`CARD_MASK`] `[REDACTED:card]` | 13 to 19 digits, optionally split into groups of any size by single spaces or by single dashes (one kind per number), passing the Luhn check. Groups are tried as units, so a card next to another number (`"qty 2 4111 1111 1111 1111 exp 2030"`) is still found. Digits glued to further digits without a separator are one longer number, not a card. |
/// | email | [`EMAIL_MASK`] `[REDACTED:email]` | `local@domain.tld`: a local part of letters, digits and `. _ % + - ' ! ~ *` (and any non-ASCII letter), an `@`, then dot-separated labels whose last label starts with at least two letters. |
/// | phone | [`PHONE_MASK`] `[REDACTED:phone]` | International: `+` followed by 8 to 15 digits, with single spaces, dashes, dots or parentheses between groups (`+1 (415) 555-0123`, `+44 20 7946 0958`, `+4915123456789`). National, only when written in a phone-like grouping and not glued to letters or digits: an area code in parentheses followed by groups, 8 to 13 digits in all (`(415) 555-0123`); the North American `3-3-4` grouping with one kind of separator, optionally after a `1` (`415-555-0123`, `1 800 555 0123`); or a trunk-prefix number starting with `0`, 10 to 12 digits in groups of at least two with one kind of separator (`020 7946 0958`, `06 12 34 56 78`). |
///
/// Deliberately *not* masked, so ids, amounts and timestamps stay readable: a
/// plain run of digits without `+` (`order 4155550123`, an epoch timestamp)
/// unless it is a Luhn-valid 13-19 digit number; amounts (`12.34`,
/// `1,299.00`); dates and times (`2024-01-15 10:30:45`); IP addresses;
/// hexadecimal ids. A 13-19 digit number that happens to pass the Luhn check
/// (one in ten do) is indistinguishable from a card number and is masked,
/// including a run of 13+ decimal digits inside a hex id (rare: well under
/// 1% of 32-character hex ids).
///
/// Matches are found left to right; an email wins over a number inside it
/// (`+4155550123@example.com` is one email).
///
/// # Truncation
///
/// Only the first `max_chars` characters of the input are kept
/// ([`DEFAULT_MAX_CHARS`] = 256 for [`scrub`]); the rest is replaced by
/// [`TRUNCATION_MARKER`] `…[truncated]`. The cut is on a character boundary.
/// A match that starts before the cut is masked whole, so a card number or an
/// email can never be cut in half and leak its first part. Masking happens
/// before the cut, and the replacement tokens can be longer than what they
/// replace, so a scrubbed value can be somewhat longer than `max_chars`.
///
/// ```
/// use checkout_otel::pii::{scrub, scrub_with_limit};
/// use std::borrow::Cow;
///
/// let msg = "Card 4111 1111 1111 1111 declined for jane.doe@example.com, call +1 (415) 555-0123";
/// assert_eq!(
///     scrub(msg),
///     "Card [REDACTED:card] declined for [REDACTED:email], call [REDACTED:phone]"
/// );
///
/// // Nothing to mask: the input comes back borrowed.
/// assert!(matches!(scrub("insufficient funds (code 51), amount 12.34 USD"), Cow::Borrowed(_)));
///
/// assert_eq!(scrub_with_limit("abcdef", 3), "abc…[truncated]");
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    scrub_with_stats(text, DEFAULT_MAX_CHARS).0
}

/// [`scrub`] keeping at most `max_chars` characters of the input.
pub fn scrub_with_limit(text: &str, max_chars: usize) -> Cow<'_, str> {
    scrub_with_stats(text, max_chars).0
}

/// The exit check of a value held under a URL key (see
/// `keys::KeyClass::Url`): the URL is checked component by component.
pub(crate) fn scrub_url_with_stats(text: &str, max_chars: usize) -> (Cow<'_, str>, ScrubStats) {
    scrub_with_stats(text, max_chars)
}

/// [`scrub_with_limit`], also saying what was masked.
pub fn scrub_with_stats(text: &str, max_chars: usize) -> (Cow<'_, str>, ScrubStats) {
    let bytes = text.as_bytes();
    let mut stats = ScrubStats::default();

    // Byte length bounds the char count, so short texts skip the char walk.
    let cut = if bytes.len() <= max_chars {
        bytes.len()
    } else {
        text.char_indices()
            .nth(max_chars)
            .map_or(bytes.len(), |(i, _)| i)
    };
    let scan_end = if cut < bytes.len() {
        ceil_char_boundary(text, cut.saturating_add(SCAN_MARGIN))
    } else {
        bytes.len()
    };

    let mut out = Output {
        text,
        capacity: cut + 32,
        buf: None,
        last: 0,
    };
    let mut pos = 0;
    // Made at the first number-like token: most text has none.
    let mut token = None;
    'outer: while pos < cut {
        // Emails first: a number starting inside an email belongs to the email.
        let email = find_email(text, pos, scan_end);
        let email_start = email.map_or(scan_end, |(start, _)| start);
        let mut i = pos;
        while let Some((start, end, kind)) =
            find_number(bytes, i, scan_end, cut.min(email_start), &mut token)
        {
            if let Some((_, email_end)) = email.filter(|_| end > email_start) {
                // A number running into the email's local part
                // (`4111 1111 1111 1111@x.com`): one mask for both, so no
                // part of either is left.
                out.mask(start, email_end, kind, &mut stats);
                pos = email_end;
                continue 'outer;
            }
            out.mask(start, end, kind, &mut stats);
            i = end;
        }
        match email {
            Some((start, end)) if start < cut => {
                out.mask(start, end, Kind::Email, &mut stats);
                pos = end;
            }
            _ => break,
        }
    }

    // A match straddling the cut was kept whole.
    let keep_to = cut.max(out.last);
    if out.buf.is_none() && keep_to == bytes.len() {
        return (Cow::Borrowed(text), stats);
    }
    let last = out.last;
    let buf = out
        .buf
        .get_or_insert_with(|| String::with_capacity(cut + TRUNCATION_MARKER.len()));
    buf.push_str(&text[last..keep_to]);
    if keep_to < bytes.len() {
        buf.push_str(TRUNCATION_MARKER);
        stats.truncated = true;
    }
    (Cow::Owned(out.buf.unwrap_or_default()), stats)
}

/// What a match is, so the right mask and count go with it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Card,
    Email,
    Phone,
}

/// The scrubbed text, allocated at the first mask.
struct Output<'a> {
    text: &'a str,
    capacity: usize,
    buf: Option<String>,
    /// Everything before this byte offset is in `buf` (or masked).
    last: usize,
}

impl Output<'_> {
    fn mask(&mut self, start: usize, end: usize, kind: Kind, stats: &mut ScrubStats) {
        let (text, capacity) = (self.text, self.capacity);
        let buf = self
            .buf
            .get_or_insert_with(|| String::with_capacity(capacity));
        buf.push_str(&text[self.last..start]);
        buf.push_str(match kind {
            Kind::Card => CARD_MASK,
            Kind::Email => EMAIL_MASK,
            Kind::Phone => PHONE_MASK,
        });
        match kind {
            Kind::Card => stats.cards += 1,
            Kind::Email => stats.emails += 1,
            Kind::Phone => stats.phones += 1,
        }
        self.last = end;
    }
}

fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Luhn checksum over the ASCII digits of `bytes` (other bytes are skipped).
pub(crate) fn luhn_valid(bytes: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    for &c in bytes.iter().rev() {
        if c.is_ascii_digit() {
            let mut d = u32::from(c - b'0');
            if double {
                d *= 2;
                if d > 9 {
                    d -= 9;
                }
            }
            sum += d;
            double = !double;
        }
    }
    sum % 10 == 0
}

// ---------------------------------------------------------------------------
// Emails
// ---------------------------------------------------------------------------

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'.' | b'_' | b'%' | b'+' | b'-' | b'\'' | b'!' | b'~' | b'*'
        )
        || c >= 0x80
}

fn is_label(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c >= 0x80
}

/// The first email starting at or after `from`, as a byte range.
fn find_email(text: &str, from: usize, end: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut search = from;
    while search < end {
        // `str::find` with an ASCII char is a memchr; `search` and `end` are
        // char boundaries (after an `@`, or the caller's boundaries).
        let at = search + text.get(search..end)?.find('@')?;
        let mut start = at;
        while start > from && is_local(b[start - 1]) {
            start -= 1;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        if start < at {
            if let Some(domain_end) = domain_end(b, at + 1, end) {
                return Some((start, domain_end));
            }
        }
        search = at + 1;
    }
    None
}

/// End of the longest `label(.label)+` whose last label starts with two
/// letters; the match ends after those letters (`ex.com5` ends at `m`).
fn domain_end(b: &[u8], start: usize, end: usize) -> Option<usize> {
    let mut i = start;
    let mut valid = None;
    let mut first = true;
    loop {
        let label = i;
        while i < end && is_label(b[i]) {
            i += 1;
        }
        if i == label {
            break;
        }
        if !first {
            let letters = b[label..i]
                .iter()
                .take_while(|&&c| c.is_ascii_alphabetic() || c >= 0x80)
                .count();
            if letters >= 2 {
                valid = Some(label + letters);
            }
        }
        first = false;
        if i < end && b[i] == b'.' {
            i += 1;
        } else {
            break;
        }
    }
    valid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_known_values() {
        assert!(luhn_valid(b"4111111111111111"));
        assert!(luhn_valid(b"4111 1111-1111 1111"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert!(luhn_valid(b"378282246310005"));
    }
}
