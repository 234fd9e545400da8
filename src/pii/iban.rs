//! IBANs (ISO 13616) in text, for [`scrub`](fn@super::scrub).

use super::numbers::{MAX_JOINT_SEPS, PLUS, SPACE, separator};

/// IBAN length per country: the SWIFT IBAN registry, the territories that
/// use their parent's format under their own code, and the countries that
/// issue IBANs outside the registry (mostly in Africa). The length is what
/// tells where an IBAN ends in running text.
const LENGTHS: &[([u8; 2], u8)] = &[
    (*b"AD", 24),
    (*b"AE", 23),
    (*b"AL", 28),
    (*b"AO", 25),
    (*b"AT", 20),
    (*b"AX", 18),
    (*b"AZ", 28),
    (*b"BA", 20),
    (*b"BE", 16),
    (*b"BF", 28),
    (*b"BG", 22),
    (*b"BH", 22),
    (*b"BI", 27),
    (*b"BJ", 28),
    (*b"BL", 27),
    (*b"BR", 29),
    (*b"BY", 28),
    (*b"CF", 27),
    (*b"CG", 27),
    (*b"CH", 21),
    (*b"CI", 28),
    (*b"CM", 27),
    (*b"CR", 22),
    (*b"CV", 25),
    (*b"CY", 28),
    (*b"CZ", 24),
    (*b"DE", 22),
    (*b"DJ", 27),
    (*b"DK", 18),
    (*b"DO", 28),
    (*b"DZ", 26),
    (*b"EE", 20),
    (*b"EG", 29),
    (*b"ES", 24),
    (*b"FI", 18),
    (*b"FK", 18),
    (*b"FO", 18),
    (*b"FR", 27),
    (*b"GA", 27),
    (*b"GB", 22),
    (*b"GE", 22),
    (*b"GF", 27),
    (*b"GG", 22),
    (*b"GI", 23),
    (*b"GL", 18),
    (*b"GP", 27),
    (*b"GQ", 27),
    (*b"GR", 27),
    (*b"GT", 28),
    (*b"GW", 25),
    (*b"HN", 28),
    (*b"HR", 21),
    (*b"HU", 28),
    (*b"IE", 22),
    (*b"IL", 23),
    (*b"IM", 22),
    (*b"IQ", 23),
    (*b"IR", 26),
    (*b"IS", 26),
    (*b"IT", 27),
    (*b"JE", 22),
    (*b"JO", 30),
    (*b"KM", 27),
    (*b"KW", 30),
    (*b"KZ", 20),
    (*b"LB", 28),
    (*b"LC", 32),
    (*b"LI", 21),
    (*b"LT", 20),
    (*b"LU", 20),
    (*b"LV", 21),
    (*b"LY", 25),
    (*b"MA", 28),
    (*b"MC", 27),
    (*b"MD", 24),
    (*b"ME", 22),
    (*b"MF", 27),
    (*b"MG", 27),
    (*b"MK", 19),
    (*b"ML", 28),
    (*b"MN", 20),
    (*b"MQ", 27),
    (*b"MR", 27),
    (*b"MT", 31),
    (*b"MU", 30),
    (*b"MZ", 25),
    (*b"NC", 27),
    (*b"NE", 28),
    (*b"NI", 28),
    (*b"NL", 18),
    (*b"NO", 15),
    (*b"OM", 23),
    (*b"PF", 27),
    (*b"PK", 24),
    (*b"PL", 28),
    (*b"PM", 27),
    (*b"PS", 29),
    (*b"PT", 25),
    (*b"QA", 29),
    (*b"RE", 27),
    (*b"RO", 24),
    (*b"RS", 22),
    (*b"RU", 33),
    (*b"SA", 24),
    (*b"SC", 31),
    (*b"SD", 18),
    (*b"SE", 24),
    (*b"SI", 19),
    (*b"SK", 24),
    (*b"SM", 27),
    (*b"SN", 28),
    (*b"SO", 23),
    (*b"ST", 25),
    (*b"SV", 28),
    (*b"TD", 27),
    (*b"TF", 27),
    (*b"TG", 28),
    (*b"TL", 23),
    (*b"TN", 24),
    (*b"TR", 26),
    (*b"UA", 29),
    (*b"VA", 22),
    (*b"VG", 24),
    (*b"WF", 27),
    (*b"XK", 20),
    (*b"YE", 30),
    (*b"YT", 27),
];

const MAX_LEN: usize = 34;

fn length(country: [u8; 2]) -> Option<usize> {
    LENGTHS
        .binary_search_by(|(code, _)| code.cmp(&country))
        .ok()
        .map(|i| usize::from(LENGTHS[i].1))
}

/// End of the IBAN whose country code starts at `start`, if there is one.
///
/// An IBAN is its country's exact length of letters and digits, in any case:
/// the country code, two check digits (02 to 98), the account number. It is
/// written unseparated (`DE89370400440532013000`), with spaces (any Unicode
/// space, or `+`) every four characters (`DE89 3704 0044 0532 0130 00`, the
/// print format), or with any separators (see [`separator`]) anywhere when
/// the account number is all digits (`DE89-3704-0044-0532-0130-00`). The
/// whole must pass the ISO 7064 mod-97 check, so ordinary words after
/// `AT10 ` or a product code are not taken, nor a UUID that starts like one
/// (`bf74aa27-fe8e-...`: dashes, letters).
pub(super) fn iban_end(b: &[u8], start: usize, limit: usize) -> Option<usize> {
    let at = |i: usize| b.get(i).filter(|_| i < limit).copied();
    let country = [
        at(start)?.to_ascii_uppercase(),
        at(start + 1)?.to_ascii_uppercase(),
    ];
    let len = length(country)?;
    let mut chars = [0u8; MAX_LEN];
    let mut i = start;
    let (mut separated, mut print_format) = (false, true);
    for (n, slot) in chars.iter_mut().enumerate().take(len) {
        if n >= 4 {
            let mut seps = 0;
            while seps < MAX_JOINT_SEPS {
                let Some((width, class)) = separator(b, i, limit) else {
                    break;
                };
                print_format &= matches!(class, SPACE | PLUS);
                i += width;
                seps += 1;
            }
            if seps > 0 {
                separated = true;
                print_format &= n % 4 == 0;
            }
        }
        let c = at(i)?;
        if !c.is_ascii_alphanumeric() {
            return None;
        }
        *slot = c.to_ascii_uppercase();
        i += 1;
    }
    let chars = &chars[..len];
    let check = &chars[2..4];
    if !check.iter().all(u8::is_ascii_digit) || matches!(check, b"00" | b"01" | b"99") {
        return None;
    }
    if separated && !print_format && !chars[4..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    mod97(chars).then_some(i)
}

/// ISO 7064 MOD 97-10 over the IBAN moved four characters left, letters as
/// 10 to 35.
fn mod97(chars: &[u8]) -> bool {
    let mut rest = 0u32;
    for &c in chars[4..].iter().chain(&chars[..4]) {
        rest = if c.is_ascii_digit() {
            (rest * 10 + u32::from(c - b'0')) % 97
        } else {
            (rest * 100 + u32::from(c - b'A') + 10) % 97
        };
    }
    rest == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(text: &str) -> Option<usize> {
        iban_end(text.as_bytes(), 0, text.len())
    }

    #[test]
    fn table_is_sorted_and_in_range() {
        assert!(LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(
            LENGTHS
                .iter()
                .all(|(_, n)| (15..=34).contains(&usize::from(*n)))
        );
    }

    #[test]
    fn registry_examples() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "de89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "FR14 2004 1010 0505 0001 3M02 606",
            "NL91 ABNA 0417 1643 00",
            "BE68 5390 0754 7034",
            "NO93 8601 1117 947",
            "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
            "CH93 0076 2011 6238 5295 7",
            "DE89-3704-0044-0532-0130-00",
            "DE89 370 400 440 532 013 000",
        ] {
            assert_eq!(end(iban), Some(iban.len()), "{iban}");
        }
    }

    #[test]
    fn near_misses_are_not_ibans() {
        for text in [
            "DE88370400440532013000",
            "DE89 3704 0044 0532 0130 0",
            "XX89370400440532013000",
            "GB82 WE ST12 3456 9876 5432",
            "GB82-WEST-1234-5698-7654-32",
            "bf74aa27-fe8e-4ecf-a0df-36819c00aa00",
            "AT10 and more words here",
            "DE00370400440532013000",
        ] {
            assert_eq!(end(text), None, "{text}");
        }
    }
}
