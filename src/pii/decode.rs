//! The decoded view of a text, for [`scrub`](fn@super::scrub): PII hidden by
//! URL or form encoding (`jane.doe%40example.com`), by the escapes of JSON,
//! Rust's `Debug` or HTML (`4111\u00a01111...`, `jane&#64;example.com`), or
//! typed in fullwidth forms (`４１１１ １１１１ …`, `ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ`, as
//! East Asian input methods write them) is found in the view and masked in
//! the original, whose other bytes stay as they were.
//!
//! Hand-written rather than with `percent-encoding`: a mask must replace
//! the exact encoded range of the original, so every decoded byte keeps the
//! offset it came from, which that crate's decoder does not expose.

/// Rounds of decoding: a value encoded twice (`%2540`), or an encoded
/// fullwidth form, is still found.
const MAX_ROUNDS: usize = 3;

/// Decoded text with, for each of its bytes, the offset in the original
/// text where that byte's encoding starts (one more entry for the end).
pub(super) struct Decoded {
    pub(super) text: String,
    pub(super) starts: Vec<usize>,
}

impl Decoded {
    /// Decodes `text[..end]` (see [`encoded_at`]). Bytes that do not form
    /// UTF-8 after decoding become `?`, one for one, so offsets stay exact.
    pub(super) fn new(text: &str, end: usize) -> Decoded {
        let mut bytes = text.as_bytes()[..end].to_vec();
        let mut starts: Vec<usize> = (0..=end).collect();
        for _ in 0..MAX_ROUNDS {
            if !needs_decoding(&bytes) {
                break;
            }
            (bytes, starts) = decode_round(&bytes, &starts);
        }
        let mut text = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            text.extend(std::iter::repeat_n('?', chunk.invalid().len()));
        }
        Decoded { text, starts }
    }

    /// The first decoded offset whose original offset is at or after `cut`.
    pub(super) fn position_of(&self, cut: usize) -> usize {
        self.starts[..self.text.len()].partition_point(|&s| s < cut)
    }
}

/// One decoded character: its bytes, and how many input bytes it replaces.
pub(super) struct Unit {
    bytes: [u8; 4],
    len: usize,
    consumed: usize,
}

impl Unit {
    fn byte(byte: u8, consumed: usize) -> Unit {
        Unit {
            bytes: [byte, 0, 0, 0],
            len: 1,
            consumed,
        }
    }

    fn char(c: char, consumed: usize) -> Unit {
        let mut bytes = [0; 4];
        let len = c.encode_utf8(&mut bytes).len();
        Unit {
            bytes,
            len,
            consumed,
        }
    }
}

/// The encoded character at `i`, if there is one:
///
/// - `%XX`, URL and form encoding (one byte);
/// - `\uXXXX` (JSON, JavaScript, Java, Python) and `\u{X...}` (Rust's
///   `Debug`, JavaScript);
/// - `&#NNN;`, `&#xHHH;`, and the named `&nbsp;`, `&commat;`, `&plus;`,
///   `&period;`, `&amp;` (HTML);
/// - the fullwidth forms of ASCII, U+FF01 to U+FF5E (`EF BC 81` to
///   `EF BD 9E`).
pub(super) fn encoded_at(b: &[u8], i: usize) -> Option<Unit> {
    let hex = |c: u8| char::from(c).to_digit(16);
    match *b.get(i..)? {
        [b'%', hi, lo, ..] => Some(Unit::byte((hex(hi)? * 16 + hex(lo)?) as u8, 3)),
        [b'\\', b'u', b'{', ..] => {
            let close = b[i + 3..].iter().take(7).position(|&c| c == b'}')?;
            let c = number(&b[i + 3..i + 3 + close], 16)?;
            Some(Unit::char(c, close + 4))
        }
        [b'\\', b'u', ..] => Some(Unit::char(number(b.get(i + 2..i + 6)?, 16)?, 6)),
        [b'&', b'#', ..] => {
            let semi = b[i + 2..].iter().take(9).position(|&c| c == b';')?;
            let body = &b[i + 2..i + 2 + semi];
            let c = match body {
                [b'x' | b'X', digits @ ..] => number(digits, 16)?,
                digits => number(digits, 10)?,
            };
            Some(Unit::char(c, semi + 3))
        }
        [b'&', ..] => {
            let semi = b[i + 1..].iter().take(8).position(|&c| c == b';')?;
            let c = match &b[i + 1..i + 1 + semi] {
                b"nbsp" => '\u{a0}',
                b"commat" => '@',
                b"plus" => '+',
                b"period" => '.',
                b"amp" => '&',
                _ => return None,
            };
            Some(Unit::char(c, semi + 2))
        }
        [0xEF, 0xBC, c @ 0x81..=0xBF, ..] => Some(Unit::byte(c - 0x81 + b'!', 3)),
        [0xEF, 0xBD, c @ 0x80..=0x9E, ..] => Some(Unit::byte(c - 0x80 + b'`', 3)),
        _ => None,
    }
}

/// The character with the code written in `digits` (1 to 7 of them).
fn number(digits: &[u8], radix: u32) -> Option<char> {
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    let mut code = 0u32;
    for &d in digits {
        code = code * radix + char::from(d).to_digit(radix)?;
    }
    char::from_u32(code)
}

/// Whether `b` holds anything [`encoded_at`] decodes.
pub(super) fn needs_decoding(b: &[u8]) -> bool {
    b.iter()
        .enumerate()
        .any(|(i, &c)| matches!(c, b'%' | b'\\' | b'&' | 0xEF) && encoded_at(b, i).is_some())
}

fn decode_round(src: &[u8], src_starts: &[usize]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(src.len());
    let mut starts = Vec::with_capacity(src.len() + 1);
    let mut i = 0;
    while i < src.len() {
        match encoded_at(src, i) {
            Some(unit) => {
                out.extend_from_slice(&unit.bytes[..unit.len]);
                starts.extend(std::iter::repeat_n(src_starts[i], unit.len));
                i += unit.consumed;
            }
            None => {
                out.push(src[i]);
                starts.push(src_starts[i]);
                i += 1;
            }
        }
    }
    starts.push(src_starts[src.len()]);
    (out, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_point_at_the_encoding() {
        let text = "a%40b%2540c";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, "a@b@c");
        assert_eq!(d.starts, [0, 1, 4, 5, 10, 11]);
        assert_eq!(d.position_of(4), 2);
        assert_eq!(d.position_of(6), 4);
    }

    #[test]
    fn invalid_utf8_becomes_question_marks() {
        let text = "x%FFy%C3%A9%E2";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, "x?yé?");
        assert_eq!(d.starts.len(), d.text.len() + 1);
    }

    #[test]
    fn malformed_escapes_stay() {
        let text = "100% %4 %zz %";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, text);
        assert!(!needs_decoding(text.as_bytes()));
        for text in [
            "\\u12",
            "\\u{110000}",
            "\\ud800",
            "&#;",
            "&#xZZ;",
            "&bogus;",
            "&nbsp",
            "&#12345678;",
        ] {
            let d = Decoded::new(text, text.len());
            assert_eq!(d.text, text);
        }
    }

    #[test]
    fn escapes_of_json_rust_and_html_decode() {
        let text = "a\\u0040b\\u{a0}c&#64;d&#x40;e&nbsp;f&commat;g";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, "a@b\u{a0}c@d@e\u{a0}f@g");
        // Both bytes of the no-break space point at its escape.
        assert_eq!(&d.starts[3..5], &[8, 8]);
        assert_eq!(d.starts.len(), d.text.len() + 1);
    }

    #[test]
    fn fullwidth_forms_fold_to_ascii() {
        let text = "４１１１ ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ ～";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, "4111 jane@example.com ~");
        assert_eq!(d.starts[5], 13);
        let fold = |s: &str| encoded_at(s.as_bytes(), 0).map(|u| u.bytes[0]);
        assert_eq!(fold("！"), Some(b'!'));
        assert_eq!(fold("｀"), Some(b'`'));
        assert_eq!(fold("｟"), None);
    }
}
