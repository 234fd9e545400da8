//! PII-safe value types: user hashing, payment methods, money and currencies,
//! including every bad input's typed error.

use std::sync::{Arc, Mutex};

use checkout_otel::error::{ConfigError, ConfigSource, ValueError};
use checkout_otel::opentelemetry::Value;
use checkout_otel::pii::{
    CardBrand, Currency, Money, PaymentMethod, PaymentMethodType, USER_HASH_KEY_ENV, UserHasher,
    UserRef, WalletKind, hash_customer_id, install_user_hasher, user_hasher,
};
use proptest::prelude::*;

/// Serialises the tests that touch or read the environment (proptest reads
/// its configuration from it).
static ENV_LOCK: Mutex<()> = Mutex::new(());

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

// ---------------------------------------------------------------------------
// User hashing
// ---------------------------------------------------------------------------

/// RFC 4231 test cases 6 and 7 (keys longer than a block, 131 bytes of 0xaa).
const RFC4231_KEY: [u8; 131] = [0xaa; 131];
const RFC4231_CASES: [(&str, &str); 2] = [
    (
        "Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
];

#[test]
fn hash_is_standard_hmac_sha256_lowercase_hex() {
    let hasher = UserHasher::from_bytes(&RFC4231_KEY).unwrap();
    for (message, expected) in RFC4231_CASES {
        let user = hasher.hash(message);
        assert_eq!(user.hash(), expected);
        assert_eq!(user.hash().len(), checkout_otel::pii::USER_HASH_HEX_LEN);
    }
}

#[test]
fn every_key_spelling_decodes_to_the_same_key() {
    let (message, expected) = RFC4231_CASES[0];
    let spellings = [
        UserHasher::from_hex(&hex(&RFC4231_KEY)).unwrap(),
        UserHasher::from_hex(&hex(&RFC4231_KEY).to_uppercase()).unwrap(),
        UserHasher::from_base64(&base64(&RFC4231_KEY)).unwrap(),
        UserHasher::from_base64(base64(&RFC4231_KEY).trim_end_matches('=')).unwrap(),
        UserHasher::from_base64(&base64(&RFC4231_KEY).replace('+', "-").replace('/', "_")).unwrap(),
        UserHasher::parse(&format!("  {}\n", hex(&RFC4231_KEY))).unwrap(),
        UserHasher::parse(&base64(&RFC4231_KEY)).unwrap(),
    ];
    for hasher in spellings {
        assert_eq!(hasher.hash(message).hash(), expected);
        assert!(!hasher.is_random());
    }
}

#[test]
fn raw_text_keys_match_the_collector_construction() {
    // The collector's redaction processor keys HMAC with the bytes of its
    // `hmac_key` string as written. `raw:` and `from_text` do the same.
    let secret = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b2d4f6e8a0c2e4f6a8b0d2f4e6a8c0b";
    let by_bytes = UserHasher::from_bytes(secret.as_bytes()).unwrap();
    let by_text = UserHasher::from_text(secret).unwrap();
    let by_raw = UserHasher::parse(&format!("raw:{secret}")).unwrap();
    let id = "customer-42";
    assert_eq!(by_text.hash(id), by_bytes.hash(id));
    assert_eq!(by_raw.hash(id), by_bytes.hash(id));
    assert_eq!(by_raw.fingerprint(), by_bytes.fingerprint());
    // The trap the docs warn about: the bare hex string is hex-decoded into a
    // different (32-byte) key.
    let decoded = UserHasher::parse(secret).unwrap();
    assert_ne!(decoded.hash(id), by_bytes.hash(id));
    assert_ne!(decoded.fingerprint(), by_bytes.fingerprint());
}

#[test]
fn hashes_depend_on_key_and_id_exactly() {
    let a = UserHasher::from_bytes(&[1; 32]).unwrap();
    let b = UserHasher::from_bytes(&[2; 32]).unwrap();
    assert_eq!(a.hash("c-1"), a.clone().hash("c-1"));
    assert_ne!(a.hash("c-1"), b.hash("c-1"));
    assert_ne!(a.hash("c-1"), a.hash("c-2"));
    assert_ne!(a.hash("c-1"), a.hash(" c-1"));
    assert_ne!(a.hash("C-1"), a.hash("c-1"));
    let r1 = UserHasher::random();
    let r2 = UserHasher::random();
    assert!(r1.is_random());
    assert_ne!(r1.hash("c-1"), r2.hash("c-1"));
}

#[test]
fn short_or_malformed_keys_are_typed_errors_without_the_key() {
    let short_hex = "ab".repeat(31); // 31 bytes
    let short_b64 = base64(&[7u8; 31]);
    let cases: Vec<(Result<UserHasher, ValueError>, &str, &str)> = vec![
        (
            UserHasher::from_bytes(&[0; 31]),
            "UserHasher::from_bytes",
            "31 bytes",
        ),
        (
            UserHasher::from_bytes(&[]),
            "UserHasher::from_bytes",
            "0 bytes",
        ),
        (
            UserHasher::from_hex(&short_hex),
            "UserHasher::from_hex",
            "31 bytes",
        ),
        (
            UserHasher::from_hex("abc"),
            "UserHasher::from_hex",
            "even number",
        ),
        (
            UserHasher::from_hex(&"zz".repeat(32)),
            "UserHasher::from_hex",
            "not valid hex",
        ),
        (UserHasher::from_hex(""), "UserHasher::from_hex", "empty"),
        (
            UserHasher::from_base64(&short_b64),
            "UserHasher::from_base64",
            "31 bytes",
        ),
        (
            UserHasher::from_base64("not base64 at all!!"),
            "UserHasher::from_base64",
            "base64",
        ),
        (
            UserHasher::from_base64("A"),
            "UserHasher::from_base64",
            "length",
        ),
        (
            UserHasher::from_text("too short"),
            "UserHasher::from_text",
            "9 bytes",
        ),
        (
            UserHasher::parse(&short_hex),
            "UserHasher::parse",
            "31 bytes",
        ),
        (
            UserHasher::parse(&short_b64),
            "UserHasher::parse",
            "31 bytes",
        ),
        (
            UserHasher::parse("raw:short secret"),
            "UserHasher::parse",
            "12 bytes",
        ),
        (UserHasher::parse("   "), "UserHasher::parse", "empty"),
        (
            UserHasher::parse("key with spaces and $ymbols"),
            "UserHasher::parse",
            "base64",
        ),
    ];
    for (result, method, reason_part) in cases {
        match result {
            Err(err @ ValueError::InvalidKey { .. }) => {
                let ValueError::InvalidKey { parser, reason } = &err else {
                    unreachable!()
                };
                assert_eq!(*parser, method);
                assert!(
                    reason.contains(reason_part),
                    "{reason:?} lacks {reason_part:?}"
                );
                let message = err.to_string();
                assert!(
                    !message.contains(&short_hex) && !message.contains("short secret"),
                    "{message}"
                );
            }
            other => panic!("{method} ({reason_part}): expected InvalidKey, got {other:?}"),
        }
    }
}

#[test]
fn from_env_reads_the_documented_variable() {
    let _env = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(USER_HASH_KEY_ENV, "CHECKOUT_OTEL_USER_HASH_KEY");
    let set = |value: Option<&str>| {
        // SAFETY: ENV_LOCK serialises every test of this binary that reads
        // or writes the environment.
        unsafe {
            match value {
                Some(v) => std::env::set_var(USER_HASH_KEY_ENV, v),
                None => std::env::remove_var(USER_HASH_KEY_ENV),
            }
        }
    };

    set(None);
    assert!(UserHasher::from_env().unwrap().is_none());
    set(Some(""));
    assert!(UserHasher::from_env().unwrap().is_none());

    set(Some(&hex(&RFC4231_KEY)));
    let hasher = UserHasher::from_env().unwrap().unwrap();
    let (message, expected) = RFC4231_CASES[1];
    assert_eq!(hasher.hash(message).hash(), expected);

    set(Some("deadbeef"));
    match UserHasher::from_env() {
        Err(ConfigError::InvalidKey { source_of, reason }) => {
            assert_eq!(source_of, ConfigSource::Env("CHECKOUT_OTEL_USER_HASH_KEY"));
            assert!(reason.contains("4 bytes"), "{reason}");
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    set(None);
}

#[test]
fn debug_never_shows_key_or_id() {
    let key = [0x5a; 40];
    let hasher = UserHasher::from_bytes(&key).unwrap();
    let debug = format!("{hasher:?}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(
        !debug.contains("5a5a") && !debug.contains("90, 90"),
        "{debug}"
    );

    let user = hasher.hash("jane@example.com");
    for shown in [format!("{user:?}"), format!("{user}")] {
        assert!(!shown.contains("jane"), "{shown}");
        assert!(shown.contains(user.hash()), "{shown}");
    }
    let kv = user.key_value();
    assert_eq!(kv.key.as_str(), "user.hash");
    assert_eq!(kv.value, Value::from(user.hash().to_string()));
}

#[test]
fn user_ref_from_hash_accepts_only_hashes() {
    let hasher = UserHasher::from_bytes(&[3; 32]).unwrap();
    let user = hasher.hash("c-9");
    assert_eq!(UserRef::from_hash(user.hash()), Some(user.clone()));
    assert_eq!(UserRef::from_hash(&user.hash().to_uppercase()), None);
    assert_eq!(UserRef::from_hash("customer-42"), None);
    assert_eq!(UserRef::from_hash(&user.hash()[..63]), None);
    assert_eq!(UserRef::from_hash(&"g".repeat(64)), None);
}

/// Counts WARN events mentioning the user hash key.
struct WarnCounter(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WarnCounter {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

/// The only test in this binary that touches the process-wide hasher, so the
/// "nothing installed yet" state is really the start state.
#[test]
fn process_wide_hasher_lazily_random_then_installed() {
    use tracing_subscriber::layer::SubscriberExt;

    let warnings = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(WarnCounter(Arc::clone(&warnings)));
    tracing::subscriber::with_default(subscriber, || {
        let first = user_hasher();
        let second = user_hasher();
        assert!(first.is_random());
        assert!(Arc::ptr_eq(&first, &second), "one random key per process");
        let user = UserRef::new("c-1");
        assert_eq!(user, first.hash("c-1"));
        assert_eq!(hash_customer_id("c-1"), user.hash());
    });
    let seen = warnings.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "exactly one warning: {seen:?}");
    assert!(
        seen[0].contains("will not correlate across services"),
        "{seen:?}"
    );
    assert!(seen[0].contains(USER_HASH_KEY_ENV), "{seen:?}");

    // Installing a configured key replaces the random one.
    let (message, expected) = RFC4231_CASES[0];
    install_user_hasher(UserHasher::from_bytes(&RFC4231_KEY).unwrap());
    assert!(!user_hasher().is_random());
    assert_eq!(hash_customer_id(message), expected);
    assert_eq!(UserRef::new(message).hash(), expected);
    assert_eq!(warnings.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------
// Payment methods
// ---------------------------------------------------------------------------

/// A Luhn-valid 16-digit number starting with `prefix`.
fn luhn_complete(prefix: &str, len: usize) -> String {
    let mut digits: Vec<u32> = prefix.bytes().map(|b| u32::from(b - b'0')).collect();
    digits.resize(len - 1, 0);
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits
        .iter()
        .map(|d| char::from_digit(*d, 10).unwrap())
        .collect()
}

#[test]
fn brands_are_detected_from_the_leading_digits() {
    for (number, brand, last4) in [
        ("4111 1111 1111 1111", CardBrand::Visa, "1111"),
        ("4242-4242-4242-4242", CardBrand::Visa, "4242"),
        ("4222222222222", CardBrand::Visa, "2222"),
        ("5555555555554444", CardBrand::Mastercard, "4444"),
        ("2223003122003222", CardBrand::Mastercard, "3222"),
        ("378282246310005", CardBrand::Amex, "0005"),
        ("6011111111111117", CardBrand::Discover, "1117"),
        ("3530111333300000", CardBrand::Jcb, "0000"),
        ("30569309025904", CardBrand::Diners, "5904"),
        ("36227206271667", CardBrand::Diners, "1667"),
        ("6200000000000005", CardBrand::UnionPay, "0005"),
    ] {
        let pm = PaymentMethod::card_from_number(number).unwrap();
        let card = pm.as_card().unwrap();
        assert_eq!((card.brand(), card.last4()), (brand, last4), "{number}");
    }
    for (prefix, brand) in [
        ("65", CardBrand::Discover),
        ("644", CardBrand::Discover),
        ("2720", CardBrand::Mastercard),
        ("3589", CardBrand::Jcb),
        ("81", CardBrand::UnionPay),
        ("9", CardBrand::Unknown),
        ("1", CardBrand::Unknown),
    ] {
        let number = luhn_complete(prefix, 16);
        let pm = PaymentMethod::card_from_number(&number).unwrap();
        assert_eq!(pm.as_card().unwrap().brand(), brand, "{number}");
    }
}

#[test]
fn bad_card_numbers_are_typed_errors_without_the_number() {
    for (number, reason) in [
        ("4111111111111112", "Luhn"),
        ("41111111111", "12 to 19 digits"),
        ("41111111111111111111", "12 to 19 digits"),
        ("4111 1111 1111 111x", "only digits"),
        ("4111.1111.1111.1111", "only digits"),
        ("", "12 to 19 digits"),
    ] {
        match PaymentMethod::card_from_number(number) {
            Err(err @ ValueError::InvalidCardNumber(_)) => {
                let message = err.to_string();
                assert!(message.contains(reason), "{number}: {message}");
                assert!(!message.contains("1111"), "{message}");
            }
            other => panic!("{number}: expected InvalidCardNumber, got {other:?}"),
        }
    }
    for last4 in ["424", "42424", "42a2", "４２４２"] {
        assert!(matches!(
            PaymentMethod::card(CardBrand::Visa, last4),
            Err(ValueError::InvalidCardNumber(_))
        ));
    }
}

#[test]
fn payment_methods_show_and_record_only_type_brand_last4() {
    let card = PaymentMethod::card_from_number("5555 5555 5555 4444").unwrap();
    for shown in [
        format!("{card}"),
        format!("{card:?}"),
        format!("{:#?}", card),
    ] {
        assert!(!shown.contains("5555"), "{shown}");
        assert!(
            shown.contains("4444") && shown.to_lowercase().contains("mastercard"),
            "{shown}"
        );
    }
    assert_eq!(card.to_string(), "card mastercard ****4444");

    let attrs = |pm: PaymentMethod| -> Vec<(String, String)> {
        pm.key_values()
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        attrs(card),
        [
            pair("payment.method_type", "card"),
            pair("payment.card.brand", "mastercard"),
            pair("payment.card.last4", "4444"),
        ]
    );
    assert_eq!(
        attrs(PaymentMethod::card(CardBrand::Amex, "0005").unwrap()),
        [
            pair("payment.method_type", "card"),
            pair("payment.card.brand", "amex"),
            pair("payment.card.last4", "0005"),
        ]
    );
    assert_eq!(
        attrs(PaymentMethod::Wallet(WalletKind::ApplePay)),
        [pair("payment.method_type", "wallet")]
    );
    assert_eq!(
        attrs(PaymentMethod::BankTransfer),
        [pair("payment.method_type", "bank_transfer")]
    );
    assert_eq!(
        attrs(PaymentMethod::Other),
        [pair("payment.method_type", "other")]
    );
    assert_eq!(
        PaymentMethodType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>(),
        ["card", "wallet", "bank_transfer", "other"]
    );
    assert_eq!(
        CardBrand::ALL
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>(),
        [
            "visa",
            "mastercard",
            "amex",
            "discover",
            "jcb",
            "diners",
            "unionpay",
            "unknown"
        ]
    );
}

// ---------------------------------------------------------------------------
// Currencies and money
// ---------------------------------------------------------------------------

#[test]
fn currencies_come_from_the_iso_table_with_exponents() {
    for (code, exponent) in [
        ("USD", 2),
        ("usd", 2),
        (" eur ", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("ISK", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("TND", 3),
        ("CLF", 4),
        ("UYW", 4),
        ("GBP", 2),
    ] {
        let c = Currency::from_code(code).unwrap();
        assert_eq!(c.code(), code.trim().to_uppercase());
        assert_eq!(c.exponent(), exponent, "{code}");
    }
    assert_eq!(Currency::from_code("jpy").unwrap(), Currency::JPY);
    assert!(Currency::all().count() >= 150);
    assert_eq!(Currency::USD.to_string(), "USD");
    assert_eq!(Value::from(Currency::EUR), Value::from("EUR"));

    for bad in [
        "",
        "US",
        "USDD",
        "XXX",
        "XAU",
        "ABC",
        "U$D",
        "ＵＳＤ",
        "HRK",
    ] {
        match Currency::from_code(bad) {
            Err(ValueError::InvalidCurrency(shown)) => assert_eq!(shown, bad),
            other => panic!("{bad:?}: expected InvalidCurrency, got {other:?}"),
        }
    }
    // Free text in the error is scrubbed and bounded.
    match Currency::from_code("refund to jane@example.com please") {
        Err(ValueError::InvalidCurrency(shown)) => {
            assert!(!shown.contains("jane"), "{shown}");
        }
        other => panic!("expected InvalidCurrency, got {other:?}"),
    }
}

#[test]
fn decimal_strings_parse_exactly() {
    let bhd = Currency::BHD;
    let clf = Currency::from_code("CLF").unwrap();
    for (text, currency, minor) in [
        ("12.34", Currency::USD, 1234),
        ("12.3", Currency::USD, 1230),
        ("12", Currency::USD, 1200),
        ("-0.05", Currency::USD, -5),
        ("-0", Currency::USD, 0),
        ("007.50", Currency::EUR, 750),
        ("0.10", Currency::USD, 10),
        ("1234", Currency::JPY, 1234),
        ("1.234", bhd, 1234),
        ("1.5", bhd, 1500),
        ("0.0001", clf, 1),
        ("92233720368547758.07", Currency::USD, i64::MAX),
        ("-92233720368547758.08", Currency::USD, i64::MIN),
        ("9223372036854775807", Currency::JPY, i64::MAX),
    ] {
        let m = Money::parse(text, currency).unwrap();
        assert_eq!((m.minor_units(), m.currency()), (minor, currency), "{text}");
    }
    // The float classic: 0.1 + 0.2, and 19.99 * 100.
    let a = Money::parse("0.1", Currency::USD).unwrap();
    let b = Money::parse("0.2", Currency::USD).unwrap();
    assert_eq!(
        a.checked_add(b).unwrap(),
        Money::parse("0.3", Currency::USD).unwrap()
    );
    assert_eq!(
        Money::parse("19.99", Currency::USD).unwrap().minor_units(),
        1999
    );
}

#[test]
fn malformed_decimals_are_typed_errors() {
    for (text, currency, reason) in [
        ("", Currency::USD, "before the decimal point"),
        ("-", Currency::USD, "before the decimal point"),
        (".5", Currency::USD, "before the decimal point"),
        ("12.", Currency::USD, "after the decimal point"),
        ("12.345", Currency::USD, "more decimals"),
        ("1.0", Currency::JPY, "more decimals"),
        ("1.2345", Currency::BHD, "more decimals"),
        ("1,000.00", Currency::USD, "expected digits"),
        ("1e3", Currency::USD, "expected digits"),
        (" 12.34", Currency::USD, "expected digits"),
        ("12.34 ", Currency::USD, "expected digits"),
        ("+12", Currency::USD, "expected digits"),
        ("--1", Currency::USD, "expected digits"),
        ("12..3", Currency::USD, "expected digits"),
        ("1.2.3", Currency::USD, "expected digits"),
        ("١٢", Currency::USD, "expected digits"),
        ("NaN", Currency::USD, "expected digits"),
    ] {
        match Money::parse(text, currency) {
            Err(ValueError::InvalidAmount { value, reason: why }) => {
                assert_eq!(value, text, "{text}");
                assert!(why.contains(reason), "{text}: {why}");
            }
            other => panic!("{text:?}: expected InvalidAmount, got {other:?}"),
        }
    }
    // Text in the error is scrubbed.
    match Money::parse("card 4111 1111 1111 1111", Currency::USD) {
        Err(ValueError::InvalidAmount { value, .. }) => {
            assert_eq!(value, "card [REDACTED:card]");
        }
        other => panic!("expected InvalidAmount, got {other:?}"),
    }
    for text in [
        "92233720368547758.08",
        "-92233720368547758.09",
        "9223372036854775808",
        "99999999999999999999999999",
    ] {
        let currency = if text.contains('.') {
            Currency::USD
        } else {
            Currency::JPY
        };
        assert!(
            matches!(
                Money::parse(text, currency),
                Err(ValueError::AmountOverflow)
            ),
            "{text}"
        );
    }
}

#[test]
fn arithmetic_is_checked() {
    let usd = |m| Money::from_minor(m, Currency::USD);
    assert_eq!(usd(1999).checked_mul(3).unwrap(), usd(5997));
    assert_eq!(usd(-250).checked_mul(4).unwrap(), usd(-1000));
    assert_eq!(usd(0).checked_mul(u64::MAX).unwrap(), usd(0));
    assert_eq!(usd(100).checked_sub(usd(250)).unwrap(), usd(-150));
    assert_eq!(usd(100).checked_add(usd(-100)).unwrap(), usd(0));

    assert!(matches!(
        usd(i64::MAX).checked_add(usd(1)),
        Err(ValueError::AmountOverflow)
    ));
    assert!(matches!(
        usd(i64::MIN).checked_sub(usd(1)),
        Err(ValueError::AmountOverflow)
    ));
    assert!(matches!(
        usd(i64::MAX / 2 + 1).checked_mul(2),
        Err(ValueError::AmountOverflow)
    ));
    assert!(matches!(
        usd(1).checked_mul(u64::MAX),
        Err(ValueError::AmountOverflow)
    ));
    assert!(matches!(
        usd(-1).checked_mul(u64::MAX),
        Err(ValueError::AmountOverflow)
    ));

    let eur = Money::from_minor(100, Currency::EUR);
    for result in [usd(100).checked_add(eur), usd(100).checked_sub(eur)] {
        match result {
            Err(ValueError::CurrencyMismatch { left, right }) => {
                assert_eq!((left, right), ("USD", "EUR"))
            }
            other => panic!("expected CurrencyMismatch, got {other:?}"),
        }
    }
}

#[test]
fn display_and_attributes_are_exact() {
    let clf = Currency::from_code("CLF").unwrap();
    for (minor, currency, decimal) in [
        (1234, Currency::USD, "12.34"),
        (-5, Currency::USD, "-0.05"),
        (0, Currency::USD, "0.00"),
        (7, Currency::EUR, "0.07"),
        (1234, Currency::JPY, "1234"),
        (-1234, Currency::JPY, "-1234"),
        (1234, Currency::BHD, "1.234"),
        (5, clf, "0.0005"),
        (i64::MIN, Currency::USD, "-92233720368547758.08"),
        (i64::MAX, Currency::KWD, "9223372036854775.807"),
    ] {
        let m = Money::from_minor(minor, currency);
        assert_eq!(m.to_decimal_string(), decimal);
        assert_eq!(m.to_string(), format!("{decimal} {}", currency.code()));
    }
    assert_eq!(
        format!("{:?}", Money::from_minor(1234, Currency::USD)),
        "Money(12.34 USD)"
    );

    let m = Money::from_minor(12999, Currency::EUR);
    let kv = |kvs: [checkout_otel::opentelemetry::KeyValue; 3]| {
        kvs.map(|kv| (kv.key.to_string(), kv.value))
    };
    assert_eq!(
        kv(m.payment_key_values()),
        [
            ("payment.amount".to_string(), Value::from("129.99")),
            ("payment.amount_minor".to_string(), Value::from(12999i64)),
            ("payment.currency".to_string(), Value::from("EUR")),
        ]
    );
    assert_eq!(
        kv(m.checkout_total_key_values()),
        [
            ("checkout.total".to_string(), Value::from("129.99")),
            ("checkout.total_minor".to_string(), Value::from(12999i64)),
            ("checkout.currency".to_string(), Value::from("EUR")),
        ]
    );
}

fn any_currency() -> impl Strategy<Value = Currency> {
    let all: Vec<Currency> = Currency::all().collect();
    proptest::sample::select(all)
}

#[test]
fn decimal_string_round_trips_for_every_amount_and_currency() {
    let _env = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    proptest!(ProptestConfig::with_cases(2000), |(minor in any::<i64>(), currency in any_currency())| {
        let m = Money::from_minor(minor, currency);
        let text = m.to_decimal_string();
        prop_assert_eq!(Money::parse(&text, currency).unwrap(), m);
        let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
        prop_assert_eq!(decimals, usize::from(currency.exponent()));
    });
}
