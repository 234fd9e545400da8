//! Free-text scrubbing (see [`scrub`]).

use std::borrow::Cow;

use super::decode::{Decoded, needs_decoding};
use super::numbers::{NumberScan, find_number};

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
/// Replaces an IBAN.
pub const IBAN_MASK: &str = "[REDACTED:iban]";

/// How far past the cut the scanner looks, so that a match starting before
/// the cut is seen whole (an email is at most 254 bytes).
pub(super) const SCAN_MARGIN: usize = 320;

/// What one scrub masked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrubStats {
    /// Card numbers masked.
    pub cards: u32,
    /// Email addresses masked.
    pub emails: u32,
    /// Phone numbers masked.
    pub phones: u32,
    /// IBANs masked.
    pub ibans: u32,
    /// Parts of a URL replaced by [`URL_PART_MASK`](super::URL_PART_MASK)
    /// (query and fragment values, credentials, path parameters; see
    /// [`scrub_url`](super::scrub_url)).
    pub url_parts: u32,
    /// Whether the value was truncated.
    pub truncated: bool,
}

impl ScrubStats {
    /// Card numbers, emails, phone numbers, IBANs and URL parts masked.
    pub fn masked(&self) -> u32 {
        self.cards + self.emails + self.phones + self.ibans + self.url_parts
    }

    /// Whether anything was masked or truncated.
    pub fn changed(&self) -> bool {
        self.masked() > 0 || self.truncated
    }

    /// Adds `other`'s counts (a URL is scrubbed part by part).
    pub(super) fn add(&mut self, other: ScrubStats) {
        self.cards += other.cards;
        self.emails += other.emails;
        self.phones += other.phones;
        self.ibans += other.ibans;
        self.url_parts += other.url_parts;
        self.truncated |= other.truncated;
    }

    fn count(&mut self, kind: Kind) {
        match kind {
            Kind::Card => self.cards += 1,
            Kind::Email => self.emails += 1,
            Kind::Phone => self.phones += 1,
            Kind::Iban => self.ibans += 1,
        }
    }
}

/// Masks card numbers, emails, phone numbers and IBANs in `text`, also where
/// they are percent- or form-encoded, and truncates it to
/// [`DEFAULT_MAX_CHARS`] characters. Returns the input borrowed, without
/// allocating, when there is nothing to change.
///
/// The scanner is hand-written (no regex engine): it runs on every exception
/// and decline message, and on every string attribute in the
/// [`RedactingExporter`](super::RedactingExporter), so it has to be cheap.
///
/// # What is masked
///
/// A *separator* below is any of: a space, a tab or a line break, every
/// Unicode space separator (no-break, narrow no-break, thin, ideographic,
/// ...) and the invisible characters a copy-paste carries (zero-width space,
/// word joiner, soft hyphen, byte order mark); `-` and the Unicode hyphens,
/// dashes and minus sign; `.`, `_` and the middle dot; `/`; `+` (a space in
/// form-encoded text); the fullwidth `－ ． ／`. A *joint* between two digit
/// groups is a run of one to four separators (`"  "`, `" - "`, `" / "`).
///
/// | Kind | Replacement | Rule |
/// |------|-------------|------|
/// | card number | [`CARD_MASK`] `[REDACTED:card]` | 13 to 19 digits (12 with a Maestro prefix: 50, 56-69) passing the Luhn check, bare or split into groups by joints. When every joint is the same run of spaces (`+` counting as a space) or the same run of dashes, the groups may have any size; otherwise (dots, slashes, `+`, mixed joints) every group but the last has 3 to 6 digits and the last at most 6, as cards are printed (`4111.1111.1111.1111`, `4111 1111-1111/1111`, `3782 822463 10005`). Groups are tried as units, so a card next to another number (`"qty 2 4111 1111 1111 1111 exp 2030"`) is still found. Digits glued to further digits without a separator are one longer number, not a card. |
/// | email | [`EMAIL_MASK`] `[REDACTED:email]` | `local@domain.tld`: a local part of letters, digits and `. _ % + - ' ! ~ *` (and any non-ASCII letter), an `@`, then dot-separated labels whose last label starts with at least two letters. |
/// | phone | [`PHONE_MASK`] `[REDACTED:phone]` | International: `+` (at the start, or after a space or a parenthesis) followed by 8 to 15 digits with any joints and parentheses (`+1 (415) 555-0123`, `+44 20 7946 0958`, `(+44) 20 7946 0958`, `+49-30-1234567`, `+4915123456789`), or the `00` exit code followed by 9 to 15 digits, the first not 0 (`0044 20 7946 0958`). National, only when written in a phone-like grouping and not glued to letters or digits: an area code in parentheses followed by groups, 8 to 13 digits in all (`(415) 555-0123`); the North American `3-3-4` grouping with the same joint throughout, optionally after a `1` (`415-555-0123`, `1 800 555 0123`); or a trunk-prefix number, `0` then a non-zero digit, 10 to 12 digits in groups of at least two with the same joint throughout (`020 7946 0958`, `06 12 34 56 78`, `030/1234567`). The `00` and national forms must not be glued to letters or digits. |
/// | IBAN | [`IBAN_MASK`] `[REDACTED:iban]` | ISO 13616, any case: a country code of the IBAN registry (or one that issues IBANs outside it) not glued to a preceding letter or digit, two check digits, then exactly that country's length of letters and digits, unseparated, with spaces every four characters (the print format), or with any joints anywhere when the account number is all digits; the whole passes the mod-97 check (`DE89 3704 0044 0532 0130 00`, `gb82west12345698765432`). |
///
/// # Encoded text
///
/// When the text holds escapes or fullwidth forms, it is also read decoded,
/// and what is found there is masked in the original over its encoded
/// extent. Decoded are: `%XX` (URL and form encoding, up to three times, for
/// double encoding: `jane.doe%40example.com`, `%2540`); `\uXXXX` and
/// `\u{X}` (JSON, JavaScript, Rust's `Debug`: `4111\u00a01111...`);
/// `&#NN;`, `&#xHH;`, `&nbsp;`, `&commat;`, `&plus;`, `&period;`, `&amp;`
/// (HTML); and the fullwidth forms of ASCII (`４１１１`, `＠`, as East Asian
/// input methods type them). A `+` already counts as a separator and in an
/// email's local part, so form-encoded values (`4111+1111+1111+1111`,
/// `%2B44+20+7946+0958`) are found without decoding. Decoding allocates;
/// text without escapes, fullwidth forms or PII is scanned in place.
///
/// # Kept
///
/// Deliberately *not* masked, so ids, amounts and timestamps stay readable: a
/// plain run of digits without `+` (`order 4155550123`, an epoch timestamp)
/// unless it is a Luhn-valid card length; amounts (`12.34`, `1,299.00`);
/// dates and times (`2024-01-15 10:30:45`, `15.01.2024`); versions, ports,
/// HTTP status codes; IP addresses; zero-padded ids; hexadecimal ids. A
/// number of card length that happens to pass the Luhn check (one in ten
/// do) is indistinguishable from a card number and is masked, including a
/// bare 16-digit integer and a run of 13+ decimal digits inside a hex id
/// (rare: well under 1% of 32-character hex ids).
///
/// Matches are found left to right; an email wins over a number inside it
/// (`+4155550123@example.com` is one email), and matches that overlap (in
/// the text and in its decoded view) are masked as one.
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
/// assert_eq!(
///     scrub("pay to DE89 3704 0044 0532 0130 00 from 4111\u{a0}1111.1111\t1111"),
///     "pay to [REDACTED:iban] from [REDACTED:card]"
/// );
/// assert_eq!(
///     scrub("GET /account?user=jane.doe%40example.com&card=4111+1111+1111+1111"),
///     "GET /account?user=[REDACTED:email]&card=[REDACTED:card]"
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

/// The check of a value that holds a URL, a path, a query or a request
/// target: see [`scrub_url`](super::scrub_url).
pub fn scrub_url_with_stats(text: &str, max_chars: usize) -> (Cow<'_, str>, ScrubStats) {
    super::url::scrub_url_with_stats(text, max_chars)
}

/// [`scrub_with_limit`], also saying what was masked.
pub fn scrub_with_stats(text: &str, max_chars: usize) -> (Cow<'_, str>, ScrubStats) {
    let bytes = text.as_bytes();
    let cut = char_offset(text, max_chars);
    let scan_end = if cut < bytes.len() {
        ceil_char_boundary(text, cut.saturating_add(SCAN_MARGIN))
    } else {
        bytes.len()
    };

    let mut scanner = Scanner::default();
    scanner.scan(text, cut, scan_end);
    // An escape past the cut can complete a match that starts before it.
    if scanner.numbers.escaped || (cut < scan_end && needs_decoding(&bytes[cut..scan_end])) {
        scanner.scan_decoded(text, cut, scan_end);
    }

    let mut stats = ScrubStats::default();
    if scanner.found.is_empty() && cut == bytes.len() {
        return (Cow::Borrowed(text), stats);
    }
    let mut out = String::with_capacity(cut + TRUNCATION_MARKER.len() + 32);
    let mut last = 0;
    for &(start, end, kind) in scanner.found.iter() {
        if end <= last {
            continue;
        }
        if start >= last {
            out.push_str(&text[last..start]);
            out.push_str(kind.mask());
            stats.count(kind);
        }
        // Overlapping the previous match: masked as part of it.
        last = end;
    }
    // A match straddling the cut was kept whole.
    let keep_to = cut.max(last);
    out.push_str(&text[last.min(keep_to)..keep_to]);
    if keep_to < bytes.len() {
        out.push_str(TRUNCATION_MARKER);
        stats.truncated = true;
    }
    (Cow::Owned(out), stats)
}

/// Byte offset of the `max_chars`-th character, or the length.
pub(super) fn char_offset(text: &str, max_chars: usize) -> usize {
    // Byte length bounds the char count, so short texts skip the char walk.
    if text.len() <= max_chars {
        text.len()
    } else {
        text.char_indices()
            .nth(max_chars)
            .map_or(text.len(), |(i, _)| i)
    }
}

/// What a match is, so the right mask and count go with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Card,
    Email,
    Phone,
    Iban,
}

impl Kind {
    fn mask(self) -> &'static str {
        match self {
            Kind::Card => CARD_MASK,
            Kind::Email => EMAIL_MASK,
            Kind::Phone => PHONE_MASK,
            Kind::Iban => IBAN_MASK,
        }
    }
}

/// The matches of one scrub, as byte ranges of the original text, in order
/// of their start.
#[derive(Default)]
struct Scanner {
    numbers: NumberScan,
    found: Matches,
}

/// Matches kept inline before any allocation: a message rarely has more.
const INLINE_MATCHES: usize = 6;

type Match = (usize, usize, Kind);

/// A list of matches; the first [`INLINE_MATCHES`] are kept without
/// allocating.
struct Matches {
    inline: [Match; INLINE_MATCHES],
    n: usize,
    spill: Vec<Match>,
}

impl Default for Matches {
    fn default() -> Self {
        Matches {
            inline: [(0, 0, Kind::Card); INLINE_MATCHES],
            n: 0,
            spill: Vec::new(),
        }
    }
}

impl Matches {
    fn push(&mut self, m: Match) {
        match self.inline.get_mut(self.n) {
            Some(slot) => {
                *slot = m;
                self.n += 1;
            }
            None => self.spill.push(m),
        }
    }

    fn is_empty(&self) -> bool {
        self.n == 0 && self.spill.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &Match> {
        self.inline[..self.n].iter().chain(&self.spill)
    }

    /// Orders by start, the longest first among equal starts.
    fn sort(&mut self) {
        let mut all: Vec<Match> = self.iter().copied().collect();
        all.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        self.n = 0;
        self.spill = all;
    }
}

impl Scanner {
    /// Finds the matches starting before `cut`, reading up to `scan_end`.
    fn scan(&mut self, text: &str, cut: usize, scan_end: usize) {
        let bytes = text.as_bytes();
        let mut pos = 0;
        'outer: while pos < cut {
            // Emails first: a number starting inside an email belongs to the email.
            let email = find_email(text, pos, scan_end);
            let email_start = email.map_or(scan_end, |(start, _)| start);
            let mut i = pos;
            while let Some((start, end, kind)) =
                find_number(bytes, i, scan_end, cut.min(email_start), &mut self.numbers)
            {
                if let Some((_, email_end)) = email.filter(|_| end > email_start) {
                    // A number running into the email's local part
                    // (`4111 1111 1111 1111@x.com`): one mask for both, so no
                    // part of either is left.
                    self.found.push((start, email_end, kind));
                    pos = email_end;
                    continue 'outer;
                }
                self.found.push((start, end, kind));
                i = end;
            }
            match email {
                Some((start, end)) if start < cut => {
                    self.found.push((start, end, Kind::Email));
                    pos = end;
                }
                _ => break,
            }
        }
    }

    /// Adds the matches of the decoded text, mapped back to the original.
    fn scan_decoded(&mut self, text: &str, cut: usize, scan_end: usize) {
        let decoded = Decoded::new(text, scan_end);
        let mut inner = Scanner::default();
        inner.scan(&decoded.text, decoded.position_of(cut), decoded.text.len());
        for &(start, end, kind) in inner.found.iter() {
            let start = floor_char_boundary(text, decoded.starts[start]);
            let end = ceil_char_boundary(text, decoded.starts[end]);
            self.found.push((start, end, kind));
        }
        self.found.sort();
    }
}

pub(super) fn ceil_char_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    if i >= text.len() {
        return text.len();
    }
    while !text.is_char_boundary(i) {
        i -= 1;
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
