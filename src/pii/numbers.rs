//! Finding card numbers, phone numbers and IBANs in text, for
//! [`scrub`](fn@super::scrub): digit groups joined by separators, then the
//! longest card (Luhn) or phone shape that starts at each group. IBANs are
//! tried where a digit run follows two letters (the country code).

use super::decode::encoded_at;
use super::iban::iban_end;
use super::scrub::{Kind, luhn_valid};

/// Digit groups considered in one number-like token; longer tokens are split.
const MAX_GROUPS: usize = 24;
/// Separator characters in one joint between two digit groups: a double
/// space, `" - "`, `" / "` are one joint.
pub(super) const MAX_JOINT_SEPS: usize = 4;

/// Separator classes, as bits: a joint's class is the set of classes of its
/// characters.
pub(super) const SPACE: u8 = 1;
pub(super) const DASH: u8 = 2;
pub(super) const DOT: u8 = 4;
pub(super) const SLASH: u8 = 8;
pub(super) const PLUS: u8 = 16;

/// `TRIGGER[c]`: a number-like token may start at byte `c`.
static TRIGGER: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t[b'+' as usize] = true;
    t[b'(' as usize] = true;
    t
};

/// The separator character at `i`, as its length in bytes and its class:
/// ASCII blanks (space, tab, line breaks), every Unicode space separator
/// (no-break, narrow no-break, thin, ideographic, ...) and the invisible
/// joiners a copy-paste carries (zero-width space, word joiner, soft hyphen,
/// BOM) are [`SPACE`]; `-` and the Unicode hyphens, dashes and minus are
/// [`DASH`]; `.`, `_`, the middle dot and the fullwidth full stop are
/// [`DOT`]; `/` and the fullwidth solidus are [`SLASH`]; `+` (a space in a
/// form-encoded text) is [`PLUS`].
#[inline(always)]
pub(super) fn separator(b: &[u8], i: usize, limit: usize) -> Option<(usize, u8)> {
    let c = *b.get(i).filter(|_| i < limit)?;
    let class = match c {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => SPACE,
        b'-' => DASH,
        b'.' | b'_' => DOT,
        b'/' => SLASH,
        b'+' => PLUS,
        0xC2.. => return unicode_separator(c, b.get(i + 1..limit.min(b.len()))?),
        _ => return None,
    };
    Some((1, class))
}

/// [`separator`] for a lead byte `c` of a multi-byte character, followed by
/// `rest`.
fn unicode_separator(c: u8, rest: &[u8]) -> Option<(usize, u8)> {
    let class = match (c, rest) {
        (0xC2, [0xA0 | 0xAD, ..]) => return Some((2, SPACE)),
        (0xC2, [0xB7, ..]) => return Some((2, DOT)),
        (0xE1, [0x9A, 0x80, ..])
        | (0xE2, [0x80, 0x80..=0x8D | 0xA8 | 0xA9 | 0xAF, ..])
        | (0xE2, [0x81, 0x9F | 0xA0, ..])
        | (0xE3, [0x80, 0x80, ..])
        | (0xEF, [0xBB, 0xBF, ..]) => SPACE,
        (0xE2, [0x80, 0x90..=0x95, ..])
        | (0xE2, [0x88, 0x92, ..])
        | (0xEF, [0xBC, 0x8D, ..])
        | (0xEF, [0xB9, 0xA3, ..]) => DASH,
        (0xEF, [0xBC, 0x8E, ..]) => DOT,
        (0xEF, [0xBC, 0x8F, ..]) => SLASH,
        _ => return None,
    };
    Some((3, class))
}

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    /// Separator classes of the joint before this group (0 for the first).
    sep: u8,
    /// The joint before this group has separators and no parentheses.
    simple: bool,
    /// `(` right before the digits.
    open: bool,
    /// `)` right after the digits.
    close: bool,
    /// A `+` announces this group as a country code: at the token start, or
    /// right after a space or `)` (`call +44 ...`); a `+` glued to digits or
    /// to another separator is a form-encoded space (`4111+1111`, `+/+`).
    plus: bool,
    /// How many bytes before `start` a number starting at this group
    /// starts: its `+` and `(`.
    lead_back: u8,
}

impl Group {
    fn digits(&self) -> usize {
        self.end - self.start
    }

    /// Where a number starting at this group starts.
    fn lead(&self) -> usize {
        self.start - usize::from(self.lead_back)
    }
}

/// Digit groups joined by separators: `+1 (415) 555-0123`. One is reused
/// for every token of a scrub.
pub(super) struct Token {
    groups: [Group; MAX_GROUPS],
    n: usize,
    /// End of the last group.
    end: usize,
    digits: usize,
}

/// What the number finder keeps between calls of one scrub.
#[derive(Default)]
pub(super) struct NumberScan {
    /// Made at the first number-like token: most text has none. On the
    /// stack, so a text with numbers but no PII allocates nothing.
    token: Option<Token>,
    /// A `%XX` escape or a fullwidth form was seen: the text needs a decoded
    /// look too.
    pub(super) escaped: bool,
}

/// The first card, phone number or IBAN starting in `[from, trigger_end)`,
/// not reading past `limit`.
pub(super) fn find_number(
    b: &[u8],
    from: usize,
    limit: usize,
    trigger_end: usize,
    scan: &mut NumberScan,
) -> Option<(usize, usize, Kind)> {
    let trigger_end = trigger_end.min(limit);
    let mut i = from;
    loop {
        i = next_candidate(b, i, trigger_end);
        if i >= trigger_end {
            return None;
        }
        let c = b[i];
        if c >= 0x80 {
            if c == 0xEF {
                scan.escaped |= encoded_at(b, i).is_some();
            }
            // The rest of a non-ASCII run holds no trigger, only maybe more
            // fullwidth forms.
            i += 1;
            while i < trigger_end && b[i] >= 0x80 && b[i] != 0xEF {
                i += 1;
            }
            continue;
        }
        if matches!(c, b'%' | b'&' | b'\\') {
            scan.escaped |= encoded_at(b, i).is_some();
            i += 1;
            continue;
        }
        if !TRIGGER[c as usize] {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            // Two letters right before a digit run: an IBAN's country code.
            if i >= from + 2
                && b[i - 1].is_ascii_alphabetic()
                && b[i - 2].is_ascii_alphabetic()
                && (i < 3 || !b[i - 3].is_ascii_alphanumeric())
            {
                if let Some(end) = iban_end(b, i - 2, limit) {
                    return Some((i - 2, end, Kind::Iban));
                }
            }
        }
        // Fast path: fewer than 8 digits among the digits, separators and
        // parentheses from here (an amount, a date, a code) hold no card and
        // no phone number.
        let (digits, window_end) = digit_window(b, i, limit);
        if digits < 8 {
            i = window_end.max(i + 1);
            continue;
        }
        let next = |k: usize| b.get(k).filter(|_| k < limit).copied();
        let digit_at = |k: usize| next(k).is_some_and(|c| c.is_ascii_digit());
        let starts_token = match c {
            b'+' => digit_at(i + 1) || (next(i + 1) == Some(b'(') && digit_at(i + 2)),
            b'(' => digit_at(i + 1) || (next(i + 1) == Some(b'+') && digit_at(i + 2)),
            _ => true,
        };
        if !starts_token {
            i += 1;
            continue;
        }
        let token = scan.token.get_or_insert_with(Token::new);
        tokenize(b, i, limit, token);
        // Cards need 12 digits, phones 8: most tokens (amounts, codes) stop here.
        if token.digits >= 8 {
            if let Some(found) = best_match(b, token) {
                return Some(found);
            }
        }
        i = token.end.max(i + 1);
    }
}

/// Index of the first byte in `[from, end)` between `%` and `9` (where every
/// trigger and the `%` and `&` escapes lie), a `\\` (escapes too) or not
/// ASCII (where a fullwidth form may be), or `end`. Eight bytes at a time:
/// most text is letters and spaces.
fn next_candidate(b: &[u8], mut i: usize, end: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    const LOW7: u64 = ONES * 0x7f;
    while let Some(chunk) = b.get(i..i + 8).filter(|_| i + 8 <= end) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let low = x & LOW7;
        // High bit set for bytes whose low 7 bits v have 0x24 < v < 0x3a
        // (exact per byte: no carries cross bytes), or for non-ASCII bytes.
        let range = ((ONES * (127 + 0x3a) - low) & (low + ONES * (127 - 0x24))) | x;
        // And for `\\` bytes: the lowest such flag is exact, and lies below
        // any inexact one.
        let v = x ^ (ONES * u64::from(b'\\'));
        let backslash = v.wrapping_sub(ONES) & !v;
        let hits = (range | backslash) & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < end && !matches!(b[i], b'%'..=b'9' | b'\\' | 0x80..) {
        i += 1;
    }
    i.min(end)
}

/// Digits among the digits, separators and parentheses from `i` (counted up
/// to 8), and where that run ends: at least as many digits as any token
/// starting there can have.
fn digit_window(b: &[u8], i: usize, limit: usize) -> (usize, usize) {
    let (mut digits, mut j) = (0, i);
    while j < limit {
        match b[j] {
            b'0'..=b'9' => {
                digits += 1;
                if digits == 8 {
                    break;
                }
                j += 1;
            }
            b'(' | b')' | b' ' | b'-' | b'.' | b'_' | b'/' | b'+' | b'\t' | b'\n' | b'\r'
            | 0x0b | 0x0c => j += 1,
            0xC2.. => match separator(b, j, limit) {
                Some((len, _)) => j += len,
                None => break,
            },
            _ => break,
        }
    }
    (digits, j)
}

fn tokenize(b: &[u8], start: usize, limit: usize, t: &mut Token) {
    t.n = 0;
    t.end = start;
    t.digits = 0;
    let mut i = start;
    let (mut plus, mut open) = (false, false);
    if b[i] == b'(' && b.get(i + 1) == Some(&b'+') {
        (plus, open) = (true, true);
        i += 2;
    } else {
        if b[i] == b'+' {
            plus = true;
            i += 1;
        }
        if i < limit && b[i] == b'(' {
            open = true;
            i += 1;
        }
    }
    let (mut lead, mut sep, mut simple) = (start, 0u8, false);
    loop {
        let group_start = i;
        while i < limit && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == group_start {
            break;
        }
        t.groups[t.n] = Group {
            start: group_start,
            end: i,
            sep,
            simple,
            open,
            close: false,
            plus,
            // At most 2: `(+` or `+(`.
            lead_back: u8::try_from(group_start - lead).unwrap_or(0),
        };
        t.n += 1;
        t.digits += i - group_start;
        t.end = i;
        if t.n == MAX_GROUPS {
            break;
        }
        // Joint: optional `)`, up to MAX_JOINT_SEPS separators, optional `(`.
        let mut j = i;
        let close = j < limit && b[j] == b')';
        if close {
            t.groups[t.n - 1].close = true;
            j += 1;
        }
        // The class of the separator before the current one (a `)` counts
        // as a space).
        let (mut classes, mut count, mut before) = (0u8, 0, if close { SPACE } else { 0 });
        plus = false;
        while count < MAX_JOINT_SEPS {
            let Some((len, class)) = separator(b, j, limit) else {
                break;
            };
            plus = class == PLUS && before == SPACE;
            before = class;
            classes |= class;
            count += 1;
            j += len;
        }
        lead = if plus { j - 1 } else { j };
        open = j < limit && b[j] == b'(';
        if open {
            j += 1;
        }
        if j == i || j >= limit || !b[j].is_ascii_digit() {
            break;
        }
        sep = classes;
        simple = count > 0 && !close && !open;
        i = j;
    }
}

impl Token {
    fn new() -> Token {
        Token {
            groups: [Group::default(); MAX_GROUPS],
            n: 0,
            end: 0,
            digits: 0,
        }
    }
}

fn is_alnum_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_alphanumeric)
}

/// The leftmost (then longest) card or phone number in the token.
fn best_match(b: &[u8], t: &Token) -> Option<(usize, usize, Kind)> {
    let groups = &t.groups[..t.n];
    for s in 0..groups.len() {
        let card = card_end(b, groups, s).map(|e| (groups[s].start, groups[e].end, Kind::Card));
        let phone = phone_span(b, groups, s).map(|(start, end)| (start, end, Kind::Phone));
        let found = match (card, phone) {
            (Some(c), Some(p)) => Some(if p.1 > c.1 { p } else { c }),
            (c, p) => c.or(p),
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Last group of the longest Luhn-valid card number starting at group `s`.
///
/// Groups joined by one kind of joint, all spaces (or `+`, a form-encoded
/// space) or all dashes, may have any size (`4111 1111 1111 1111`,
/// `37828 22463 10005`). Other joints (dots,
/// slashes, `+`, underscores, a mix) must look like a card's print layout:
/// every group but the last of 3 to 6 digits, the last of at most 6, so that
/// dates, versions and IP addresses followed by numbers stay readable.
fn card_end(b: &[u8], groups: &[Group], s: usize) -> Option<usize> {
    let mut digits = 0;
    let mut best = None;
    // A `+` is a space, form-encoded.
    let sep_of = |g: &Group| if g.sep == PLUS { SPACE } else { g.sep };
    let first_sep = groups.get(s + 1).map_or(0, sep_of);
    let (mut uniform, mut grouped) = (matches!(first_sep, SPACE | DASH), true);
    for (e, g) in groups.iter().enumerate().skip(s) {
        if e > s {
            if !g.simple || g.plus {
                break;
            }
            uniform &= sep_of(g) == first_sep;
            grouped &= (3..=6).contains(&groups[e - 1].digits());
        }
        digits += g.digits();
        if digits > 19 {
            break;
        }
        let shape = e == s || uniform || (grouped && g.digits() <= 6);
        let number = &b[groups[s].start..g.end];
        if shape && card_length(number, digits) && luhn_valid(number) {
            best = Some(e);
        }
    }
    best
}

/// 13 to 19 digits; 12 only with a Maestro prefix (50, 56-69), the one
/// scheme that issues 12-digit cards.
fn card_length(number: &[u8], digits: usize) -> bool {
    match digits {
        13..=19 => true,
        12 => matches!(number, [b'5', b'0' | b'6'..=b'9', ..] | [b'6', ..]),
        _ => false,
    }
}

/// The `k`-th digit of the number starting at group `s`.
fn nth_digit(b: &[u8], groups: &[Group], s: usize, mut k: usize) -> Option<u8> {
    for g in &groups[s..] {
        if k < g.digits() {
            return Some(b[g.start + k]);
        }
        k -= g.digits();
    }
    None
}

/// A phone number starting at group `s`, as a byte range.
fn phone_span(b: &[u8], groups: &[Group], s: usize) -> Option<(usize, usize)> {
    let first = groups[s];

    // International: `+` and 8-15 digits, any joints.
    if first.plus {
        return longest(groups, s, 8..=15, |_| true).map(|end| (first.lead(), end));
    }

    // National numbers, and `00` international ones, must stand alone: not
    // glued to letters or digits.
    let before_ok = s > 0 || first.lead() == 0 || !is_alnum_at(b, first.lead() - 1);
    if !before_ok {
        return None;
    }
    let standalone_end = |e: usize| !is_alnum_at(b, groups[e].end);

    // International with the `00` exit code: `0044 20 7946 0958`; 9-15
    // digits after it, the first of them not 0 (zero-padded ids stay).
    if nth_digit(b, groups, s, 0) == Some(b'0')
        && nth_digit(b, groups, s, 1) == Some(b'0')
        && nth_digit(b, groups, s, 2).is_some_and(|d| d != b'0')
    {
        return longest(groups, s, 11..=17, standalone_end).map(|end| (first.lead(), end));
    }

    // `(415) 555-0123`: area code in parentheses, then simple groups.
    if first.open && first.close && (2..=5).contains(&first.digits()) {
        let mut digits = first.digits();
        let mut best = None;
        for (e, g) in groups.iter().enumerate().skip(s + 1) {
            let joint_ok = if e == s + 1 { !g.open } else { g.simple };
            if !joint_ok {
                break;
            }
            digits += g.digits();
            if digits > 13 {
                break;
            }
            if digits >= 8 && standalone_end(e) {
                best = Some(g.end);
            }
        }
        return best.map(|end| (first.lead(), end));
    }
    if first.open || first.close {
        return None;
    }

    // The same simple joint between every group of s..=e.
    let uniform = |e: usize| {
        let sep = groups[s + 1].sep;
        groups[s + 1..=e].iter().all(|g| g.simple && g.sep == sep)
    };

    // North American 3-3-4, optionally after a `1`.
    let nanp = |at: usize| {
        at + 2 < groups.len()
            && groups[at].digits() == 3
            && groups[at + 1].digits() == 3
            && groups[at + 2].digits() == 4
    };
    if first.digits() == 3 && nanp(s) && uniform(s + 2) && standalone_end(s + 2) {
        return Some((first.start, groups[s + 2].end));
    }
    if first.digits() == 1
        && b[first.start] == b'1'
        && nanp(s + 1)
        && uniform(s + 3)
        && standalone_end(s + 3)
    {
        return Some((first.start, groups[s + 3].end));
    }

    // Trunk prefix `0` then a non-zero digit: 10-12 digits in groups of
    // two or more.
    if b[first.start] == b'0' && first.digits() >= 2 && b[first.start + 1] != b'0' {
        let mut digits = first.digits();
        let mut best = None;
        for (e, g) in groups.iter().enumerate().skip(s + 1) {
            if g.digits() < 2 || !uniform(e) {
                break;
            }
            digits += g.digits();
            if digits > 12 {
                break;
            }
            if digits >= 10 && standalone_end(e) {
                best = Some(g.end);
            }
        }
        return best.map(|end| (first.start, end));
    }
    None
}

/// End of the longest run of groups from `s` whose digit count is in
/// `range` and whose last group satisfies `end_ok`; later groups may not
/// announce a country code of their own.
fn longest(
    groups: &[Group],
    s: usize,
    range: std::ops::RangeInclusive<usize>,
    end_ok: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut digits = 0;
    let mut best = None;
    for (e, g) in groups.iter().enumerate().skip(s) {
        if e > s && g.plus {
            break;
        }
        digits += g.digits();
        if digits > *range.end() {
            break;
        }
        if range.contains(&digits) && end_ok(e) {
            best = Some(g.end);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_groups_and_joints() {
        let s = b"+1 (415) 555-0123";
        let mut t = Token::new();
        tokenize(s, 0, s.len(), &mut t);
        assert!(t.groups[0].plus);
        assert_eq!(t.n, 4);
        assert_eq!(t.digits, 11);
        assert!(t.groups[1].open && t.groups[1].close);
        assert!(!t.groups[2].simple);
        assert!(t.groups[3].simple && t.groups[3].sep == DASH);
        assert_eq!(t.end, s.len());
    }

    #[test]
    fn joints_take_runs_and_unicode_separators() {
        let s = "4111\u{a0}\u{a0}1111 - 1111\u{3000}1111+1111".as_bytes();
        let mut t = Token::new();
        tokenize(s, 0, s.len(), &mut t);
        assert_eq!(t.n, 5);
        assert_eq!(t.groups[1].sep, SPACE);
        assert_eq!(t.groups[2].sep, SPACE | DASH);
        assert_eq!(t.groups[3].sep, SPACE);
        assert_eq!(t.groups[4].sep, PLUS);
        assert!(!t.groups[4].plus, "a `+` glued to digits is a separator");

        let s = b"call 555 +44 20";
        tokenize(s, 5, s.len(), &mut t);
        assert!(t.groups[1].plus && t.groups[1].lead() == 9);
    }

    #[test]
    fn every_separator_is_classified() {
        for (sep, class) in [
            ("\u{a0}", SPACE),
            ("\u{202f}", SPACE),
            ("\u{2009}", SPACE),
            ("\u{3000}", SPACE),
            ("\u{200b}", SPACE),
            ("\u{feff}", SPACE),
            ("\t", SPACE),
            ("\u{2011}", DASH),
            ("\u{2013}", DASH),
            ("\u{2212}", DASH),
            ("\u{ff0d}", DASH),
            ("\u{b7}", DOT),
            ("\u{ff0e}", DOT),
            ("\u{ff0f}", SLASH),
        ] {
            let b = sep.as_bytes();
            assert_eq!(separator(b, 0, b.len()), Some((b.len(), class)), "{sep:?}");
        }
        for other in ["a", ",", ":", "é", "中", "\u{2030}"] {
            let b = other.as_bytes();
            assert_eq!(separator(b, 0, b.len()), None, "{other:?}");
        }
        // Cut short by the limit: not read past it.
        let b = "\u{3000}".as_bytes();
        assert_eq!(separator(b, 0, 2), None);
    }
}
