//! The `tracestate` list of W3C Trace Context (level 2 grammar): parsing a
//! combined header value, and writing one.
//!
//! What the specification leaves to the vendor, and what we chose:
//! - a list that does not follow the grammar (a member without `=`, a key or
//!   value outside the grammar, an empty value) or has more than 32 members
//!   is discarded whole: the processing model allows discarding a header that
//!   cannot be parsed, and a peer that validates would reject it anyway;
//! - empty and whitespace-only members are allowed and dropped (they come
//!   from combining several header fields), and do not count as members;
//! - a key repeated later in the list is dropped, the first (left-most, the
//!   most recent position) kept: the specification lets a vendor discard
//!   duplicate keys, and a list must not hold a key twice.

use opentelemetry::trace::TraceState;

/// The most list members a `tracestate` may hold.
pub(crate) const MAX_MEMBERS: usize = 32;
/// The longest key and the longest value, in characters.
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// Optional whitespace around list members.
const OWS: [char; 2] = [' ', '\t'];

/// The members of `list` (a `tracestate` value, several header fields
/// already joined with commas), in order, or `None` when the list must be
/// discarded.
pub(crate) fn parse(list: &str) -> Option<Vec<(&str, &str)>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut count = 0;
    for member in list.split(',') {
        let member = member.trim_matches(OWS);
        if member.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_MEMBERS {
            return None;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
        if !members.iter().any(|(seen, _)| *seen == key) {
            members.push((key, value));
        }
    }
    Some(members)
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, where `keychar` is
/// `lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`. Level 2's grammar
/// accepts every level 1 key (simple and `tenant@system`) too.
pub(crate) fn valid_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let Some((first, rest)) = bytes.split_first() else {
        return false;
    };
    bytes.len() <= MAX_KEY_LEN
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && rest.iter().all(|&b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// `value = 0*255(chr) nblk-chr`: one to 256 printable ASCII characters
/// other than `,` and `=`, not ending in a space.
pub(crate) fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let Some(last) = bytes.last() else {
        return false;
    };
    bytes.len() <= MAX_VALUE_LEN
        && *last != b' '
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// The list as one header value: members joined by `,` without whitespace.
/// Empty for no members (never sent).
pub(crate) fn header<'a>(members: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut header = String::new();
    for (key, value) in members {
        if !header.is_empty() {
            header.push(',');
        }
        header.push_str(key);
        header.push('=');
        header.push_str(value);
    }
    header
}

/// The members as an opentelemetry [`TraceState`] (what a span context
/// holds), and, when that type cannot hold every key (it only knows level
/// 1's `tenant@system` keys, with at most one `@` and a system of at most 14
/// characters), the whole list as a header so the propagator can still
/// forward it unchanged.
pub(crate) fn to_trace_state(members: &[(&str, &str)]) -> (TraceState, Option<String>) {
    if let Ok(state) = TraceState::from_key_value(members.iter().copied()) {
        return (state, None);
    }
    let held = members
        .iter()
        .copied()
        .filter(|member| TraceState::from_key_value([*member]).is_ok());
    let state = TraceState::from_key_value(held).unwrap_or_default();
    (state, Some(header(members.iter().copied())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_trimmed_of_ows_and_empty_members_dropped() {
        assert_eq!(
            parse(" a=1 \t,, \t b=2,\t").unwrap(),
            [("a", "1"), ("b", "2")]
        );
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse(" , ,").unwrap(), []);
    }

    #[test]
    fn leading_spaces_of_a_value_are_part_of_it() {
        assert_eq!(parse("a= 1").unwrap(), [("a", " 1")]);
    }

    #[test]
    fn one_bad_member_discards_the_list() {
        for list in [
            "a=1,b",
            "a=1,b=",
            "a=1,b=x=y",
            "a=1,B=2",
            "a=1,@b=2",
            "a=1,b c=2",
            "a=1,_b=2",
            "a=1,b=\u{e9}",
            "a=1,b=x\ty",
        ] {
            assert_eq!(parse(list), None, "{list:?}");
        }
    }

    #[test]
    fn key_grammar_is_level_2() {
        for key in [
            "a",
            "0a",
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "t@vvvvvvvvvvvvvvv",
            "a_-*/@x",
        ] {
            assert!(valid_key(key), "{key:?}");
        }
        assert!(valid_key(&"z".repeat(256)));
        assert!(!valid_key(&"z".repeat(257)));
        for key in ["", "@a", "-a", "A", "a.b", "a b"] {
            assert!(!valid_key(key), "{key:?}");
        }
    }

    #[test]
    fn value_grammar() {
        assert!(valid_value(&"v".repeat(256)));
        assert!(!valid_value(&"v".repeat(257)));
        assert!(valid_value(" !\"#$%&'()*+-./09:;<>?@AZ[\\]^_`az{|}~"));
        for value in ["", "a ", "a=b", "a,b", "\t", "a\u{7f}"] {
            assert!(!valid_value(value), "{value:?}");
        }
    }

    #[test]
    fn thirty_two_members_pass_and_thirty_three_discard() {
        let list = |n: usize| {
            (1..=n)
                .map(|i| format!("k{i}={i}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(parse(&list(32)).map(|m| m.len()), Some(32));
        assert_eq!(parse(&list(33)), None);
    }

    #[test]
    fn a_repeated_key_keeps_its_first_value() {
        assert_eq!(parse("a=1,b=2,a=3").unwrap(), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn keys_the_opentelemetry_type_cannot_hold_are_kept_as_a_header() {
        let (state, header) = to_trace_state(&[("a@b@c", "1"), ("d", "2")]);
        assert_eq!(state.header(), "d=2");
        assert_eq!(header.as_deref(), Some("a@b@c=1,d=2"));
        let (state, header) = to_trace_state(&[("a@b", "1"), ("d", "2")]);
        assert_eq!(state.header(), "a@b=1,d=2");
        assert_eq!(header, None);
    }
}
