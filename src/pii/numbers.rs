//! Finding card and phone numbers in free text, for [`scrub`](fn@super::scrub):
//! digit groups joined by single separators, then the longest card (Luhn)
//! or phone shape that starts at each group.

use super::scrub::{Kind, luhn_valid};

/// Digit groups considered in one number-like token; longer tokens are split.
const MAX_GROUPS: usize = 24;

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

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Sep {
    #[default]
    None,
    Space,
    Dash,
    Dot,
}

#[derive(Clone, Copy, Default)]
struct Group {
    start: usize,
    end: usize,
    digits: usize,
    /// The separator between the previous group and this one.
    sep: Sep,
    /// The joint before this group is exactly one separator (no parentheses).
    simple: bool,
    /// `(` right before the digits.
    open: bool,
    /// `)` right after the digits.
    close: bool,
}

/// Digit groups joined by single separators: `+1 (415) 555-0123`. One is
/// reused for every token of a scrub.
pub(super) struct Token {
    groups: [Group; MAX_GROUPS],
    n: usize,
    /// First byte, including a leading `+` or `(`.
    start: usize,
    /// End of the last group.
    end: usize,
    plus: bool,
    digits: usize,
}

/// The first card or phone number starting in `[from, trigger_end)`, not
/// reading past `limit`.
pub(super) fn find_number(
    b: &[u8],
    from: usize,
    limit: usize,
    trigger_end: usize,
    token: &mut Option<Token>,
) -> Option<(usize, usize, Kind)> {
    let trigger_end = trigger_end.min(limit);
    let mut i = from;
    loop {
        i = next_candidate(b, i, trigger_end);
        if i >= trigger_end {
            return None;
        }
        if !TRIGGER[b[i] as usize] {
            i += 1;
            continue;
        }
        if b[i].is_ascii_digit() {
            // Fast path: a short number not followed by a separator (a code,
            // a count, digits in a hex id) cannot be a card or a phone.
            let mut j = i + 1;
            while j < limit && b[j].is_ascii_digit() {
                j += 1;
            }
            let joined = j < limit && matches!(b[j], b' ' | b'-' | b'.' | b'(' | b')');
            if j - i < 8 && !joined {
                i = j;
                continue;
            }
        }
        let starts_token = match b[i] {
            b'+' => {
                b.get(i + 1).is_some_and(u8::is_ascii_digit)
                    || (b.get(i + 1) == Some(&b'(') && b.get(i + 2).is_some_and(u8::is_ascii_digit))
            }
            b'(' => b.get(i + 1).is_some_and(u8::is_ascii_digit),
            _ => true,
        };
        if !starts_token {
            i += 1;
            continue;
        }
        let token = token.get_or_insert_with(Token::new);
        tokenize(b, i, limit, token);
        // Cards need 13 digits, phones 8: most tokens (amounts, codes) stop here.
        if token.digits >= 8 {
            if let Some(found) = best_match(b, token) {
                return Some(found);
            }
        }
        i = token.end.max(i + 1);
    }
}

/// Index of the first byte in `[from, end)` between `(` and `9` (where every
/// trigger lies), or `end`. Eight bytes at a time: most text is letters and
/// spaces.
fn next_candidate(b: &[u8], mut i: usize, end: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    const LOW7: u64 = ONES * 0x7f;
    // Bytes v with 0x27 < v < 0x3a, exact per byte (no carries cross bytes).
    while let Some(chunk) = b.get(i..i + 8).filter(|_| i + 8 <= end) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let low = x & LOW7;
        let hits = (ONES * (127 + 0x3a) - low) & !x & (low + ONES * (127 - 0x27)) & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < end && !(b'('..=b'9').contains(&b[i]) {
        i += 1;
    }
    i.min(end)
}

fn tokenize(b: &[u8], start: usize, limit: usize, t: &mut Token) {
    t.n = 0;
    t.start = start;
    t.end = start;
    t.plus = false;
    t.digits = 0;
    let mut i = start;
    if b[i] == b'+' {
        t.plus = true;
        i += 1;
    }
    let mut open = false;
    if i < limit && b[i] == b'(' {
        open = true;
        i += 1;
    }
    let (mut sep, mut simple) = (Sep::None, false);
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
            digits: i - group_start,
            sep,
            simple,
            open,
            close: false,
        };
        t.n += 1;
        t.digits += i - group_start;
        t.end = i;
        if t.n == MAX_GROUPS {
            break;
        }
        // Joint: optional `)`, optional one separator, optional `(`.
        let mut j = i;
        let close = j < limit && b[j] == b')';
        if close {
            t.groups[t.n - 1].close = true;
            j += 1;
        }
        sep = match b.get(j) {
            Some(b' ') if j < limit => Sep::Space,
            Some(b'-') if j < limit => Sep::Dash,
            Some(b'.') if j < limit => Sep::Dot,
            _ => Sep::None,
        };
        if sep != Sep::None {
            j += 1;
        }
        open = j < limit && b[j] == b'(';
        if open {
            j += 1;
        }
        if j == i || j >= limit || !b[j].is_ascii_digit() {
            break;
        }
        simple = sep != Sep::None && !close && !open;
        i = j;
    }
}

impl Token {
    fn new() -> Token {
        Token {
            groups: [Group::default(); MAX_GROUPS],
            n: 0,
            start: 0,
            end: 0,
            plus: false,
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
        let phone = phone_span(b, t, s).map(|(start, end)| (start, end, Kind::Phone));
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
fn card_end(b: &[u8], groups: &[Group], s: usize) -> Option<usize> {
    let mut digits = 0;
    let mut best = None;
    let sep = groups.get(s + 1).map_or(Sep::None, |g| g.sep);
    for (e, g) in groups.iter().enumerate().skip(s) {
        // One kind of separator throughout: `38 2080-02-12 258` is an amount
        // and a date, not a card.
        if e > s && !(g.simple && g.sep == sep && matches!(sep, Sep::Space | Sep::Dash)) {
            break;
        }
        digits += g.digits;
        if digits > 19 {
            break;
        }
        if digits >= 13 && luhn_valid(&b[groups[s].start..g.end]) {
            best = Some(e);
        }
    }
    best
}

/// A phone number starting at group `s`, as a byte range.
fn phone_span(b: &[u8], t: &Token, s: usize) -> Option<(usize, usize)> {
    let groups = &t.groups[..t.n];
    let first = groups[s];

    // International: `+` and 8-15 digits, any joints.
    if s == 0 && t.plus {
        let mut digits = 0;
        let mut best = None;
        for g in groups {
            digits += g.digits;
            if digits > 15 {
                break;
            }
            if digits >= 8 {
                best = Some(g.end);
            }
        }
        return best.map(|end| (t.start, end));
    }

    // National numbers must stand alone: not glued to letters or digits.
    let before_ok = s > 0 || t.start == 0 || !is_alnum_at(b, t.start - 1);
    if !before_ok {
        return None;
    }
    let standalone_end = |e: usize| !is_alnum_at(b, groups[e].end);

    // `(415) 555-0123`: area code in parentheses, then simple groups.
    if first.open && first.close && (2..=5).contains(&first.digits) {
        let mut digits = first.digits;
        let mut best = None;
        for (e, g) in groups.iter().enumerate().skip(s + 1) {
            let joint_ok = if e == s + 1 { !g.open } else { g.simple };
            if !joint_ok {
                break;
            }
            digits += g.digits;
            if digits > 13 {
                break;
            }
            if digits >= 8 && standalone_end(e) {
                best = Some(g.end);
            }
        }
        return best.map(|end| (first.start - 1, end));
    }
    if first.open || first.close {
        return None;
    }

    // Same simple separator between every group of s..=e.
    let uniform = |e: usize| {
        let sep = groups[s + 1].sep;
        groups[s + 1..=e].iter().all(|g| g.simple && g.sep == sep)
    };

    // North American 3-3-4, optionally after a `1`.
    let nanp = |at: usize| {
        at + 2 < groups.len()
            && groups[at].digits == 3
            && groups[at + 1].digits == 3
            && groups[at + 2].digits == 4
    };
    if first.digits == 3 && nanp(s) && uniform(s + 2) && standalone_end(s + 2) {
        return Some((first.start, groups[s + 2].end));
    }
    if first.digits == 1
        && b[first.start] == b'1'
        && nanp(s + 1)
        && uniform(s + 3)
        && standalone_end(s + 3)
    {
        return Some((first.start, groups[s + 3].end));
    }

    // Trunk prefix `0`: 10-12 digits in groups of two or more.
    if b[first.start] == b'0' && first.digits >= 2 {
        let mut digits = first.digits;
        let mut best = None;
        for (e, g) in groups.iter().enumerate().skip(s + 1) {
            if g.digits < 2 || !uniform(e) {
                break;
            }
            digits += g.digits;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_groups_and_joints() {
        let s = b"+1 (415) 555-0123";
        let mut t = Token::new();
        tokenize(s, 0, s.len(), &mut t);
        assert!(t.plus);
        assert_eq!(t.n, 4);
        assert_eq!(t.digits, 11);
        assert!(t.groups[1].open && t.groups[1].close);
        assert!(!t.groups[2].simple);
        assert!(t.groups[3].simple && t.groups[3].sep == Sep::Dash);
        assert_eq!(t.end, s.len());
    }
}
