//! Text scrubbing: properties over arbitrary text, plus the documented
//! examples of what is and is not masked.

use std::borrow::Cow;

use checkout_otel::pii::{
    CARD_MASK, DEFAULT_MAX_CHARS, EMAIL_MASK, PHONE_MASK, TRUNCATION_MARKER, scrub,
    scrub_with_limit, scrub_with_stats,
};
use proptest::prelude::*;

/// Appends the Luhn check digit to `body`.
fn with_check_digit(body: &[u8]) -> Vec<u8> {
    let mut sum = 0;
    for (i, &d) in body.iter().rev().enumerate() {
        // The check digit will sit to the right, so the rightmost body digit
        // is doubled.
        let mut v = d;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += u32::from(v);
    }
    let check = ((10 - sum % 10) % 10) as u8;
    let mut all = body.to_vec();
    all.push(check);
    all
}

/// A Luhn-valid card number of 13-19 digits, as digits.
fn card_digits() -> impl Strategy<Value = Vec<u8>> {
    (12usize..=18)
        .prop_flat_map(|len| proptest::collection::vec(0u8..=9, len))
        .prop_map(|body| with_check_digit(&body))
}

/// How the digits are written: no separator, every four digits, or between
/// arbitrary groups, with spaces or dashes.
fn format_card(digits: &[u8], style: u8, cuts: &[bool]) -> String {
    let sep = if style % 2 == 0 { ' ' } else { '-' };
    let mut s = String::new();
    for (i, d) in digits.iter().enumerate() {
        let split = match style / 2 {
            0 => false,
            1 => i > 0 && i % 4 == 0,
            _ => i > 0 && cuts.get(i).copied().unwrap_or(false),
        };
        if split {
            s.push(sep);
        }
        s.push(char::from(b'0' + d));
    }
    s
}

fn formatted_card() -> impl Strategy<Value = (String, String)> {
    (
        card_digits(),
        0u8..6,
        proptest::collection::vec(any::<bool>(), 19),
    )
        .prop_map(|(digits, style, cuts)| {
            let bare: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
            (format_card(&digits, style, &cuts), bare)
        })
}

/// Text around an embedded value: arbitrary unicode. A digit directly
/// touching the card would make it a longer number (not a card), so the
/// joint is a non-digit when the neighbour is an ASCII digit.
fn surround(prefix: &str, value: &str, suffix: &str, joint: &str) -> String {
    let mut s = String::from(prefix);
    if s.ends_with(|c: char| c.is_ascii_digit()) {
        s.push_str(joint);
    }
    s.push_str(value);
    if suffix.starts_with(|c: char| c.is_ascii_digit()) {
        s.push_str(joint);
    }
    s.push_str(suffix);
    s
}

/// Arbitrary unicode, or ASCII heavy in digits and separators (the
/// neighbours most likely to confuse the scanner).
fn around() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,60}", "[0-9a-z @.+()_-]{0,40}"]
}

fn joint() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(" "), Just("-"), Just(": "), Just("x"), Just(", ")]
}

/// Text without digits, `@`, or `+`: nothing in it can be PII by our rules.
fn clean_text() -> impl Strategy<Value = String> {
    "[a-zA-Z .,;:!?()'\"/_=#%&*éüßж中文🙂-]{0,200}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn luhn_valid_cards_never_survive(
        (card, bare) in formatted_card(),
        prefix in around(),
        suffix in around(),
        joint in joint(),
    ) {
        let text = surround(&prefix, &card, &suffix, joint);
        let out = scrub_with_limit(&text, 10_000);
        prop_assert!(!out.contains(&card), "card {card:?} survived in {out:?}");
        prop_assert!(!out.contains(&bare), "card digits {bare} survived in {out:?}");
        prop_assert!(out.contains(CARD_MASK) || out.contains(EMAIL_MASK) || out.contains(PHONE_MASK),
            "nothing masked in {out:?}");
    }

    #[test]
    fn cards_alone_are_masked_exactly((card, _) in formatted_card()) {
        let text = format!("card {card} declined");
        prop_assert_eq!(scrub(&text), format!("card {CARD_MASK} declined"));
    }

    #[test]
    fn emails_never_survive(
        local in "[a-zA-Z0-9][a-zA-Z0-9._%+-]{0,20}",
        domain in "[a-z0-9][a-z0-9-]{0,15}(\\.[a-z0-9-]{1,10}){0,2}",
        tld in "[a-z]{2,6}",
        prefix in around(),
        suffix in around(),
    ) {
        let email = format!("{local}@{domain}.{tld}");
        let text = format!("{prefix}{email}{suffix}");
        let out = scrub_with_limit(&text, 10_000);
        prop_assert!(!out.contains(&email), "email {email:?} survived in {out:?}");
        prop_assert!(!out.contains(&format!("@{domain}.{tld}")) || prefix.contains('@') || suffix.contains('@'),
            "domain of {email:?} survived in {out:?}");
    }

    #[test]
    fn text_without_pii_comes_back_borrowed(text in clean_text()) {
        let out = scrub(&text);
        prop_assert!(matches!(out, Cow::Borrowed(_)), "allocated for {text:?}");
        prop_assert_eq!(out, text.as_str());
    }

    #[test]
    fn ordinary_numbers_come_back_borrowed(
        words in proptest::collection::vec(
            prop_oneof![
                // amounts, short codes, dates, times, versions, percentages
                "[0-9]{1,6}\\.[0-9]{2}",
                "[0-9]{1,4}",
                "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
                "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]",
                "v[0-9]\\.[0-9]{1,2}\\.[0-9]{1,2}",
                "[0-9]{1,2}%",
                "[a-z]{1,10}",
            ],
            0..20,
        ),
    ) {
        // Numbers in a message are separated by words or punctuation; a run
        // of numbers joined by single spaces totalling 13+ digits would be
        // indistinguishable from a card written in groups.
        let text = words.join(", ");
        let out = scrub_with_limit(&text, 10_000);
        prop_assert!(matches!(out, Cow::Borrowed(_)), "changed {text:?} into {out:?}");
    }

    #[test]
    fn arbitrary_unicode_never_panics_and_stays_bounded(text in "\\PC{0,600}", limit in 0usize..300) {
        let (out, stats) = scrub_with_stats(&text, limit);
        let out_chars = out.chars().count();
        // Kept input is at most `limit` characters; masks may be longer than
        // what they replace (a 13-digit card becomes a 15-character token),
        // and a match straddling the cut is masked whole.
        prop_assert!(out_chars <= 3 * limit + 40 + TRUNCATION_MARKER.chars().count(),
            "{out_chars} chars for limit {limit}");
        prop_assert_eq!(stats.truncated, out.ends_with(TRUNCATION_MARKER) && text.chars().count() > limit);
        if !stats.changed() {
            prop_assert!(matches!(out, Cow::Borrowed(_)));
        }
    }

    #[test]
    fn text_dense_in_triggers_never_panics(text in "[0-9 ()+.@a-zé中🙂_-]{0,300}", limit in 0usize..300) {
        let (out, stats) = scrub_with_stats(&text, limit);
        // Unchanged exactly when nothing was masked or cut.
        prop_assert_eq!(out == text, !stats.changed());
    }
}

#[test]
fn documented_cards() {
    for (input, expected) in [
        ("4111111111111111", CARD_MASK.to_string()),
        ("4111 1111 1111 1111", CARD_MASK.to_string()),
        ("4111-1111-1111-1111", CARD_MASK.to_string()),
        ("amex 3782 822463 10005.", format!("amex {CARD_MASK}.")),
        // Next to other numbers: groups are tried as units.
        (
            "qty 2 4111 1111 1111 1111 exp 2030",
            format!("qty 2 {CARD_MASK} exp 2030"),
        ),
        ("4111 1111 1111 1111 2030", format!("{CARD_MASK} 2030")),
        // Glued to letters is still a card.
        ("pan=4111111111111111;", format!("pan={CARD_MASK};")),
        // Dots, as some forms print them.
        ("4111.1111.1111.1111", CARD_MASK.to_string()),
    ] {
        assert_eq!(scrub(input), expected, "{input}");
    }
    // Luhn-invalid or glued to more digits: a different number.
    for input in ["4111111111111112", "94111111111111111"] {
        assert_eq!(scrub(input), input, "{input}");
    }
}

#[test]
fn documented_phones() {
    for input in [
        "+1 (415) 555-0123",
        "+14155550123",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+49 151 23456789",
        "(415) 555-0123",
        "415-555-0123",
        "415.555.0123",
        "415 555 0123",
        "1-800-555-0123",
        "020 7946 0958",
        "06 12 34 56 78",
        "07700 900123",
    ] {
        let text = format!("call {input} now");
        assert_eq!(
            scrub(&text),
            format!("call {PHONE_MASK} now"),
            "{input} should be a phone"
        );
    }
}

#[test]
fn ids_amounts_and_timestamps_are_not_phones() {
    for input in [
        "order 4155550123 failed",
        "cart c_4155550123",
        "ORD-2024-000123",
        "at 2024-01-15 10:30:45.123Z",
        "2024-01-15T10:30:45Z",
        "epoch 1705314645",
        "amount 1,299.00 EUR",
        "amount 12.34",
        "from 192.168.100.200",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "version 1.2.3",
        "code 51, ref 415-555",
        "sku 0042-77",
        "x415-555-0123",
        "415-555-0123x",
    ] {
        assert!(
            matches!(scrub(input), Cow::Borrowed(_)),
            "{input:?} became {:?}",
            scrub(input)
        );
    }
}

#[test]
fn documented_emails() {
    for (input, expected) in [
        ("jane.doe@example.com", EMAIL_MASK.to_string()),
        ("<Jane+tag@mail.example.co.uk>", format!("<{EMAIL_MASK}>")),
        ("contact: j@ex.io.", format!("contact: {EMAIL_MASK}.")),
        ("user@münchen.de ok", format!("{EMAIL_MASK} ok")),
        // A number inside an email belongs to the email.
        ("+4155550123@sms.example.com", EMAIL_MASK.to_string()),
        ("4111111111111111@x.com", EMAIL_MASK.to_string()),
    ] {
        assert_eq!(scrub(input), expected, "{input}");
    }
    for input in [
        "@home",
        "a@b",
        "user@localhost",
        "x@y.1",
        "me @ example.com",
    ] {
        assert_eq!(scrub(input), input, "{input}");
    }
}

#[test]
fn mixed_message_counts_each_kind() {
    let (out, stats) = scrub_with_stats(
        "card 5555 5555 5555 4444 of ann@x.org, ann2@y.net, phone +33 6 12 34 56 78",
        DEFAULT_MAX_CHARS,
    );
    assert_eq!(
        out,
        format!("card {CARD_MASK} of {EMAIL_MASK}, {EMAIL_MASK}, phone {PHONE_MASK}")
    );
    assert_eq!((stats.cards, stats.emails, stats.phones), (1, 2, 1));
    assert!(!stats.truncated);
}

#[test]
fn truncation_is_on_a_char_boundary_with_a_marker() {
    assert_eq!(scrub_with_limit("héllo wörld", 4), "héll…[truncated]");
    assert_eq!(scrub_with_limit("🙂🙂🙂", 2), "🙂🙂…[truncated]");
    assert_eq!(scrub_with_limit("short", 5), "short");
    assert!(matches!(scrub_with_limit("short", 5), Cow::Borrowed(_)));
    assert_eq!(scrub_with_limit("", 0), "");

    let long = "a".repeat(DEFAULT_MAX_CHARS + 10);
    let (out, stats) = scrub_with_stats(&long, DEFAULT_MAX_CHARS);
    assert!(stats.truncated);
    assert_eq!(
        out,
        format!("{}{TRUNCATION_MARKER}", "a".repeat(DEFAULT_MAX_CHARS))
    );
}

#[test]
fn a_match_straddling_the_cut_is_masked_whole() {
    let text = "card 4111 1111 1111 1111 tail";
    // The cut (10 chars) falls inside the card number.
    let out = scrub_with_limit(text, 10);
    assert_eq!(out, format!("card {CARD_MASK}{TRUNCATION_MARKER}"));

    let text = "mail jane.doe@example.com tail";
    assert_eq!(
        scrub_with_limit(text, 12),
        format!("mail {EMAIL_MASK}{TRUNCATION_MARKER}")
    );
    // A match starting after the cut is simply cut off.
    assert_eq!(
        scrub_with_limit("hello 4111111111111111", 5),
        format!("hello{TRUNCATION_MARKER}")
    );
}
