use proptest::prelude::*;

use super::*;
use crate::pii::{CARD_MASK, EMAIL_MASK, PHONE_MASK};

fn url(text: &str) -> String {
    scrub_url_with_stats(text, 4096).0.into_owned()
}

#[test]
fn components_are_checked_one_by_one() {
    for (input, expected) in [
        (
            "https://shop.example/checkout?email=jane%40example.com&page=2",
            "https://shop.example/checkout?email=REDACTED&page=REDACTED",
        ),
        (
            "https://user:pass@shop.example:8443/a",
            "https://REDACTED:REDACTED@shop.example:8443/a",
        ),
        (
            "ftp://anonymous@files.example/",
            "ftp://REDACTED@files.example/",
        ),
        (
            "//jane:pw@cdn.example/x",
            "//REDACTED:REDACTED@cdn.example/x",
        ),
        (
            "/users/jane.doe%40example.com/orders",
            &format!("/users/{EMAIL_MASK}/orders"),
        ),
        (
            "/pay/4111-1111-1111-1111/confirm?x",
            &format!("/pay/{CARD_MASK}/confirm?x"),
        ),
        ("?q=jane+doe&empty=&flag", "?q=REDACTED&empty=&flag"),
        (
            "email=jane%40example.com&step=payment",
            "email=REDACTED&step=REDACTED",
        ),
        ("a=1;b=2", "a=REDACTED;b=REDACTED"),
        (
            "/cart;jsessionid=1A2B3C4D/items;v=2/x",
            "/cart;jsessionid=REDACTED/items;v=REDACTED/x",
        ),
        (
            "https://shop.example/cb#access_token=abc&state=xyz",
            "https://shop.example/cb#access_token=REDACTED&state=REDACTED",
        ),
        ("/app#/orders/42", "/app#/orders/42"),
        (
            "/app#/call/+44%2020%207946%200958",
            &format!("/app#/call/{PHONE_MASK}"),
        ),
        (
            "https://shop.example/s?jane.doe%40example.com",
            &format!("https://shop.example/s?{EMAIL_MASK}"),
        ),
        (
            "https://shop.example/s?jane%40example.com=1",
            &format!("https://shop.example/s?{EMAIL_MASK}=REDACTED"),
        ),
        ("mailto:jane@example.com", &format!("mailto:{EMAIL_MASK}")),
        ("GET /s?q=x HTTP/1.1", "GET /s?q=REDACTED"),
        ("*", "*"),
        ("shop.example:443", "shop.example:443"),
        ("", ""),
    ] {
        assert_eq!(url(input), expected, "{input}");
    }
}

#[test]
fn clean_urls_come_back_borrowed() {
    for input in [
        "https://shop.example/checkout/42/payment",
        "/api/v2/orders/ORD-2024-000123",
        "/search?",
        "/app#/orders/42",
        "https://shop.example/a?flag",
    ] {
        let (out, stats) = scrub_url_with_stats(input, 4096);
        assert!(matches!(out, Cow::Borrowed(_)), "{input} became {out}");
        assert!(!stats.changed());
    }
}

#[test]
fn parts_are_counted() {
    let (_, stats) = scrub_url_with_stats("https://u:p@h.example/u/jane%40x.org?a=1&b=2#t=3", 4096);
    assert_eq!((stats.url_parts, stats.emails), (4, 1));
}

#[test]
fn truncation_keeps_parts_whole() {
    let text = "https://shop.example/pay?card=4111111111111111&next=1";
    let (out, stats) = scrub_url_with_stats(text, 32);
    assert_eq!(
        out,
        format!("https://shop.example/pay?card=REDACTED{TRUNCATION_MARKER}")
    );
    assert!(stats.truncated);
    // Cut right before the value: nothing of it is shown.
    let (out, _) = scrub_url_with_stats(text, 30);
    assert_eq!(
        out,
        format!("https://shop.example/pay?card={TRUNCATION_MARKER}")
    );

    let text = "/users/jane.doe%40example.com/orders";
    let (out, _) = scrub_url_with_stats(text, 12);
    assert_eq!(out, format!("/users/{EMAIL_MASK}{TRUNCATION_MARKER}"));

    let (out, _) = scrub_url_with_stats("/a?b=c", 0);
    assert_eq!(out, TRUNCATION_MARKER);

    let long = format!("/x?{}", "k=v&".repeat(100_000));
    let (out, stats) = scrub_url_with_stats(&long, 64);
    // 64 characters of input kept: `/x?`, 15 pairs, each value masked, and a `k`.
    assert!(stats.truncated);
    assert_eq!(
        out,
        format!("/x?{}k{TRUNCATION_MARKER}", "k=REDACTED&".repeat(15))
    );
    assert_eq!(stats.url_parts, 15);
}

/// Percent-encodes every byte of `s` that is not unreserved, the way a
/// browser builds a query; `plus` writes spaces as `+`.
fn form_encode(s: &str, plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b' ' if plus => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9._+-]{0,12}[a-z0-9]",
        "[a-z]{2,10}",
        "[a-z]{2,5}",
    )
        .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn query_values_never_survive(
        value in prop_oneof![email(), "[ -~]{1,30}"],
        key in "[a-z_]{1,10}",
        plus in any::<bool>(),
        other in "[a-z]{1,8}",
    ) {
        let encoded = form_encode(&value, plus);
        let text = format!("https://shop.example/c?{other}=1&{key}={encoded}&z=2");
        let (out, stats) = scrub_url_with_stats(&text, 4096);
        prop_assert_eq!(
            out,
            format!("https://shop.example/c?{other}=REDACTED&{key}=REDACTED&z=REDACTED")
        );
        prop_assert_eq!(stats.url_parts, 3);
    }

    #[test]
    fn emails_in_paths_userinfo_and_query_keys_never_survive(
        e in email(),
        encode in any::<bool>(),
        place in 0u8..4,
    ) {
        let spelled = if encode { form_encode(&e, false) } else { e.clone() };
        let text = match place {
            0 => format!("https://shop.example/users/{spelled}/orders"),
            1 => format!("https://{spelled}:pw@shop.example/"),
            2 => format!("/s?{spelled}"),
            _ => format!("/s#{spelled}"),
        };
        let (out, stats) = scrub_url_with_stats(&text, 4096);
        let local = e.split('@').next().unwrap_or_default();
        prop_assert!(!out.contains(&spelled), "{} kept in {}", spelled, out);
        prop_assert!(!out.contains(&format!("{local}@")), "{}", out);
        prop_assert!(stats.masked() >= 1);
    }

    #[test]
    fn arbitrary_input_never_panics(text in "[a-z0-9:/?#@;=&%+. é]{0,80}", limit in 0usize..100) {
        let (out, stats) = scrub_url_with_stats(&text, limit);
        prop_assert_eq!(out == text, !stats.changed());
    }
}
