//! An independent check for PII in exported telemetry: Luhn-valid card
//! numbers (13-19 digits, optionally grouped by single spaces or dashes) and
//! email addresses. Written apart from the crate's own scrubber on purpose,
//! so that a gap in one is not hidden by the same gap in the other.

/// Lines whose numbers are machine values (timestamps, ids, measurements),
/// never text: a 19-digit nanosecond timestamp is Luhn-valid one time in ten.
const NUMERIC_LINE_PREFIXES: &[&str] = &[
    "Start time:",
    "End time:",
    "StartTimestamp:",
    "Timestamp:",
    "ObservedTimestamp:",
    "-> Timestamp:",
    "Trace ID",
    "Span ID",
    "Parent ID",
    "ID ",
    "Value:",
    "Sum:",
    "Min:",
    "Max:",
    "Count:",
    "ExplicitBounds",
    "Buckets",
];

/// Every card number or email found in `text`, with its line.
pub fn find_pii(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if NUMERIC_LINE_PREFIXES.iter().any(|p| trimmed.starts_with(p)) {
            continue;
        }
        for card in card_numbers(line) {
            found.push(format!("card number {card:?} in: {trimmed}"));
        }
        for email in emails(line) {
            found.push(format!("email {email:?} in: {trimmed}"));
        }
        // The attack suite's matcher too, over every decoding of the line:
        // emails and IBANs in any spelling or encoding. (Its card and phone
        // detectors read runs of numbers across separators, which the
        // collector's own timestamps and counts would trip.)
        for (decoding, text) in super::pii_match::decodings(line) {
            for email in super::pii_match::emails(&text) {
                found.push(format!("email {email:?} ({decoding}) in: {trimmed}"));
            }
            for iban in super::pii_match::ibans(&text) {
                found.push(format!("IBAN {iban:?} ({decoding}) in: {trimmed}"));
            }
        }
    }
    found
}

/// Luhn-valid 13-19 digit numbers standing alone (not inside a word, a hex
/// id or a decimal number).
pub fn card_numbers(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        let mut j = i;
        while j < b.len() {
            if b[j].is_ascii_digit() {
                digits.push(b[j] as char);
                j += 1;
            } else if (b[j] == b' ' || b[j] == b'-')
                && j + 1 < b.len()
                && b[j + 1].is_ascii_digit()
                && b[j - 1].is_ascii_digit()
            {
                j += 1;
            } else {
                break;
            }
        }
        let standalone = j == b.len()
            || !(b[j].is_ascii_alphanumeric()
                || (b[j] == b'.' && j + 1 < b.len() && b[j + 1].is_ascii_digit()));
        if standalone && (13..=19).contains(&digits.len()) && luhn(&digits) {
            out.push(digits);
        }
        i = j.max(i + 1);
    }
    out
}

/// `local@domain.tld` addresses.
pub fn emails(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    for (at, _) in line.match_indices('@') {
        let mut start = at;
        while start > 0 && local(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        let host = line[at + 1..end].trim_end_matches('.');
        let tld_ok = host.rsplit_once('.').is_some_and(|(name, tld)| {
            !name.is_empty() && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if start < at && tld_ok {
            out.push(line[start..at + 1 + host.len()].to_owned());
        }
    }
    out
}

/// The Luhn checksum of a string of ASCII digits.
pub fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}
