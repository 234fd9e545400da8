//! The attacker's matcher: finds PII in text that left the process, written
//! independently of the crate's scrubber (no `checkout_otel::pii` call), so
//! that a gap in one is not hidden by the same gap in the other.
//!
//! Every text is looked at in several decodings (as it is; with `\u{..}` and
//! `\t` escapes undone; percent-decoded, repeatedly; form-decoded; with HTML
//! character references undone), and in each:
//!
//! - **generic** detectors: card numbers (digit groups joined across any run
//!   of separators, every contiguous run of groups of 13-19 digits checked
//!   with Luhn), emails (a pattern with Unicode domains), IBANs (a country's
//!   exact length, mod 97), phone numbers (`+` or `00` and a country code,
//!   8-15 digits in any grouping);
//! - **targeted** search for what was planted ([`Sample::canonical`]): its
//!   digits among the text's digits, its address in the lower-cased text,
//!   its IBAN among the text's letters and digits. This finds a planted value
//!   whatever was done to its spelling short of removing it.

use std::sync::LazyLock;

use regex::Regex;

use super::pii_gen::{Kind, Sample};
use super::pii_scan::luhn;

/// One piece of PII found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: Kind,
    /// What was found, normalised (digits, lower-case address, compact IBAN).
    pub found: String,
    /// Which decoding of the text showed it.
    pub decoding: &'static str,
    /// `generic` or `planted`.
    pub detector: &'static str,
    /// Index of the planted sample it is, if any.
    pub sample: Option<usize>,
}

/// The decodings of `text` the matchers look at, without duplicates.
pub fn decodings(text: &str) -> Vec<(&'static str, String)> {
    let unescaped = unescape(text);
    let pct = percent_decode_repeatedly(&unescaped);
    let form = percent_decode_repeatedly(&unescaped.replace('+', " "));
    let html = html_unescape(&pct);
    let mut out: Vec<(&'static str, String)> = vec![("raw", text.to_owned())];
    for (name, v) in [
        ("unescaped", unescaped),
        ("percent-decoded", pct),
        ("form-decoded", form),
        ("html-decoded", html),
    ] {
        if !out.iter().any(|(_, seen)| *seen == v) {
            out.push((name, v));
        }
    }
    out
}

/// Every hit in `text`: generic detectors and the planted `samples`.
pub fn scan(text: &str, samples: &[Sample]) -> Vec<Hit> {
    let mut hits: Vec<Hit> = Vec::new();
    for (decoding, v) in decodings(text) {
        for (kind, found) in generic(&v) {
            // A generic find overlapping a planted value of another kind (a
            // Luhn-valid run of an IBAN's or a phone number's digits)
            // belongs to that value.
            let overlaps =
                |s: &&Sample| found.contains(&s.canonical) || s.canonical.contains(&found);
            let sample = samples
                .iter()
                .position(|s| s.kind == kind && overlaps(&s))
                .or_else(|| samples.iter().position(|s| overlaps(&s)));
            push_unique(
                &mut hits,
                Hit {
                    kind,
                    found,
                    decoding,
                    detector: "generic",
                    sample,
                },
            );
        }
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        let lower = v.to_lowercase();
        let alnum: String = v
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        for (i, s) in samples.iter().enumerate() {
            let present = match s.kind {
                Kind::Card | Kind::Phone => digits.contains(&s.canonical),
                Kind::Email => lower.contains(&s.canonical),
                Kind::Iban => alnum.contains(&s.canonical),
            };
            if present {
                push_unique(
                    &mut hits,
                    Hit {
                        kind: s.kind,
                        found: s.canonical.clone(),
                        decoding,
                        detector: "planted",
                        sample: Some(i),
                    },
                );
            }
        }
    }
    hits
}

fn push_unique(hits: &mut Vec<Hit>, hit: Hit) {
    if !hits.iter().any(|h| {
        h.kind == hit.kind
            && h.found == hit.found
            && h.sample == hit.sample
            && h.detector == hit.detector
    }) {
        hits.push(hit);
    }
}

/// Generic detection in one decoding.
pub fn generic(text: &str) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    out.extend(cards(text).into_iter().map(|c| (Kind::Card, c)));
    out.extend(emails(text).into_iter().map(|e| (Kind::Email, e)));
    out.extend(ibans(text).into_iter().map(|i| (Kind::Iban, i)));
    out.extend(phones(text).into_iter().map(|p| (Kind::Phone, p)));
    out
}

// ---------------------------------------------------------------- decoding

/// `\u{a0}`, `\u00a0`, `\t`, `\n`, `\r`, `\"`, `\\` (Rust `Debug` and JSON
/// escapes, as log lines print values).
pub fn unescape(text: &str) -> String {
    static ESCAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\\u\{([0-9a-fA-F]{1,6})\}|\\u([0-9a-fA-F]{4})|\\([tnr"'\\])"#)
            .expect("escape pattern")
    });
    ESCAPE
        .replace_all(text, |c: &regex::Captures<'_>| {
            let hex = c.get(1).or_else(|| c.get(2));
            match (hex, c.get(3).map(|m| m.as_str())) {
                (Some(h), _) => u32::from_str_radix(h.as_str(), 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
                    .unwrap_or_default(),
                (None, Some("t")) => "\t".to_owned(),
                (None, Some("n")) => "\n".to_owned(),
                (None, Some("r")) => "\r".to_owned(),
                (None, Some(other)) => other.to_owned(),
                (None, None) => String::new(),
            }
        })
        .into_owned()
}

/// Percent-decoding, bytes reassembled as UTF-8 (lossy), up to three times
/// (`%2540` is `%40` is `@`).
pub fn percent_decode_repeatedly(text: &str) -> String {
    let mut current = text.to_owned();
    for _ in 0..3 {
        let next = percent_decode(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

fn percent_decode(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let escape = (b[i] == b'%' && i + 2 < b.len())
            .then(|| hex(b[i + 1]).zip(hex(b[i + 2])))
            .flatten();
        match escape {
            Some((h, l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `&#64;`, `&#x40;` and the few named references that spell an address.
fn html_unescape(text: &str) -> String {
    static REF: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));|&(commat|period|plus|nbsp);")
            .expect("reference pattern")
    });
    REF.replace_all(text, |c: &regex::Captures<'_>| {
        let code = match (c.get(1), c.get(2), c.get(3).map(|m| m.as_str())) {
            (Some(h), _, _) => u32::from_str_radix(h.as_str(), 16).ok(),
            (_, Some(d), _) => d.as_str().parse().ok(),
            (_, _, Some("commat")) => Some(0x40),
            (_, _, Some("period")) => Some(0x2e),
            (_, _, Some("plus")) => Some(0x2b),
            (_, _, Some(_)) => Some(0xa0),
            _ => None,
        };
        code.and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default()
    })
    .into_owned()
}

// ---------------------------------------------------------------- cards

/// What may stand between the digit groups of a card number: any Unicode
/// white space, zero-width characters, dots, dashes of every kind, slashes,
/// underscores.
pub fn is_card_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '-' | '/' | '_' | '\u{200b}' | '\u{2060}' | '\u{feff}' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{fe58}'
                    | '\u{fe63}'
                    | '\u{ff0d}'
                    | '\u{ff0e}'
                    | '\u{ff0f}'
        )
}

/// Identifiers that are hex, not text: UUIDs, `traceparent` values, trace
/// ids and hashes, and (for the card detector, `min_run` 16) any hex run of
/// at least `min_run` characters with a letter in it. They are hidden from
/// the generic detectors: a 64-character hash has a Luhn-valid run of digits
/// or an IBAN-shaped stretch now and then. The planted values are still
/// looked for everywhere.
fn hide_hex_ids(text: &str, min_run: usize) -> String {
    static HEX_ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|[0-9a-f]{16,}",
        )
        .expect("hex id pattern")
    });
    HEX_ID
        .replace_all(text, |c: &regex::Captures<'_>| {
            let m = c.get(0).map(|m| m.as_str()).unwrap_or_default();
            let has_letter = m.chars().any(|c| c.is_ascii_alphabetic());
            if has_letter && (m.contains('-') || m.len() >= min_run) {
                "#".repeat(m.chars().count())
            } else {
                m.to_owned()
            }
        })
        .into_owned()
}

/// Luhn-valid runs of 13-19 digits, groups joined across separators.
pub fn cards(text: &str) -> Vec<String> {
    // A percent escape's hex digits are not the number's: `%2060` is a
    // space and `60`.
    static ESCAPE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new("%[0-9A-Fa-f]{2}").expect("escape pattern"));
    let text = ESCAPE.replace_all(text, " ");
    let chars: Vec<char> = hide_hex_ids(&text, 16).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut groups: Vec<String> = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(chars[start..j].iter().collect());
            let mut k = j;
            while k < chars.len() && k - j < 4 && is_card_separator(chars[k]) {
                k += 1;
            }
            if k > j && k < chars.len() && chars[k].is_ascii_digit() {
                j = k;
            } else {
                break;
            }
        }
        for a in 0..groups.len() {
            let mut run = String::new();
            for g in &groups[a..] {
                run.push_str(g);
                if run.len() > 19 {
                    break;
                }
                if run.len() >= 13 && luhn(&run) && !out.contains(&run) {
                    out.push(run.clone());
                }
            }
        }
        i = j.max(i + 1);
    }
    out
}

// ---------------------------------------------------------------- emails

/// `local@domain.tld`, lower case; Unicode domains and punycode included.
pub fn emails(text: &str) -> Vec<String> {
    static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)[a-z0-9!#$%&'*+/=?^_`{|}~.-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.(?:\p{L}{2,}|xn--[a-z0-9-]+)",
        )
        .expect("email pattern")
    });
    EMAIL
        .find_iter(text)
        .map(|m| m.as_str().to_lowercase())
        .collect()
}

// ---------------------------------------------------------------- IBANs

/// IBAN length by country (the SWIFT registry, the countries a European
/// checkout sees).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AT", 20),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("ME", 22),
    ("MK", 19),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TR", 26),
    ("UA", 29),
];

fn iban_checksum_ok(iban: &str) -> bool {
    let rearranged = format!("{}{}", &iban[4..], &iban[..4]);
    let mut r: u32 = 0;
    for c in rearranged.chars() {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r == 1
}

/// IBANs in any case, compact or grouped by any white space, dots or dashes.
pub fn ibans(text: &str) -> Vec<String> {
    // A lower-case IBAN can be all hex (`de89370400440532013000`): only
    // runs longer than any IBAN are hidden.
    let chars: Vec<char> = hide_hex_ids(text, 35).chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len().saturating_sub(4) {
        let starts = chars[i].is_ascii_alphabetic()
            && chars[i + 1].is_ascii_alphabetic()
            && chars[i + 2].is_ascii_digit()
            && chars[i + 3].is_ascii_digit();
        if !starts {
            continue;
        }
        let country: String = chars[i..i + 2].iter().collect::<String>().to_uppercase();
        let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| *cc == country) else {
            continue;
        };
        let mut compact = String::new();
        let mut j = i;
        while j < chars.len() && compact.len() < len {
            let c = chars[j];
            if c.is_ascii_alphanumeric() {
                compact.push(c.to_ascii_uppercase());
            } else if !(c.is_whitespace() || c == '-' || c == '.') {
                break;
            }
            j += 1;
        }
        if compact.len() == len && iban_checksum_ok(&compact) && !out.contains(&compact) {
            out.push(compact);
        }
    }
    out
}

// ---------------------------------------------------------------- phones

/// International numbers: `+` or `00`, a country code, and 8-15 digits in
/// all, grouped by any white space, dots, dashes, slashes or parentheses
/// (a trunk `(0)` not counted). Returns the digits after the prefix.
pub fn phones(text: &str) -> Vec<String> {
    const GROUPS: &str = r"(?:[\s.\-/\u{2010}-\u{2015}\u{2212}]{0,3}(?:\(0\))?\(?[0-9]{1,6}\)?)";
    static PLUS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(r"\+\s*\(?[0-9]{{1,4}}\)?{GROUPS}{{1,7}}")).expect("phone pattern")
    });
    // `00` only before a country code and a separator: `000123456789` is an id.
    static DOUBLE_ZERO: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!(
            r"(?:^|[^0-9])00([1-9][0-9]{{0,2}}[\s.\-]+{GROUPS}{{1,7}})"
        ))
        .expect("phone pattern")
    });
    let digits_of = |s: &str| -> String {
        s.replace("(0)", "")
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    };
    PLUS.find_iter(text)
        .map(|m| digits_of(m.as_str()))
        .chain(
            DOUBLE_ZERO
                .captures_iter(text)
                .filter_map(|c| c.get(1).map(|m| digits_of(m.as_str()))),
        )
        .filter(|digits| (8..=15).contains(&digits.len()))
        .collect()
}
