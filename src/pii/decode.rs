//! The decoded view of a text, for [`scrub`](fn@super::scrub): PII hidden by
//! URL or form encoding (`jane.doe%40example.com`) or typed in fullwidth
//! forms (`４１１１ １１１１ …`, `ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ`, as East Asian input
//! methods write them) is found in the view and masked in the original,
//! whose other bytes stay as they were.
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
    /// Percent-decodes `text[..end]` and folds the fullwidth forms of ASCII
    /// (U+FF01 to U+FF5E) to ASCII. Bytes that do not form UTF-8 after
    /// decoding become `?`, one for one, so offsets stay exact.
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

/// `%` followed by two hexadecimal digits at `i`.
pub(super) fn escape_at(b: &[u8], i: usize) -> Option<u8> {
    let hex = |c: u8| char::from(c).to_digit(16);
    match b.get(i..i + 3)? {
        [b'%', hi, lo] => Some((hex(*hi)? * 16 + hex(*lo)?) as u8),
        _ => None,
    }
}

/// The ASCII character whose fullwidth form (U+FF01 to U+FF5E, three bytes
/// `EF BC 81` to `EF BD 9E`) is at `i`.
pub(super) fn fullwidth_at(b: &[u8], i: usize) -> Option<u8> {
    match *b.get(i..i + 3)? {
        [0xEF, 0xBC, c @ 0x81..=0xBF] => Some(c - 0x81 + b'!'),
        [0xEF, 0xBD, c @ 0x80..=0x9E] => Some(c - 0x80 + b'`'),
        _ => None,
    }
}

/// Whether `b` holds a `%XX` escape or a fullwidth form.
pub(super) fn needs_decoding(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| {
        (c == b'%' && escape_at(b, i).is_some()) || (c == 0xEF && fullwidth_at(b, i).is_some())
    })
}

fn decode_round(src: &[u8], src_starts: &[usize]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(src.len());
    let mut starts = Vec::with_capacity(src.len() + 1);
    let mut i = 0;
    while i < src.len() {
        starts.push(src_starts[i]);
        match escape_at(src, i).or_else(|| fullwidth_at(src, i)) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(src[i]);
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
    }

    #[test]
    fn fullwidth_forms_fold_to_ascii() {
        let text = "４１１１ ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ ～";
        let d = Decoded::new(text, text.len());
        assert_eq!(d.text, "4111 jane@example.com ~");
        assert_eq!(d.starts[5], 13);
        assert_eq!(fullwidth_at("！".as_bytes(), 0), Some(b'!'));
        assert_eq!(fullwidth_at("｀".as_bytes(), 0), Some(b'`'));
        assert_eq!(fullwidth_at("｟".as_bytes(), 0), None);
    }
}
