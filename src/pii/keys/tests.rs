use super::*;

fn all_words(key: &str) -> Vec<String> {
    words(key)
        .map(|w| String::from_utf8_lossy(w.get()).into_owned())
        .collect()
}

#[test]
fn keys_split_into_lowercase_words() {
    for (key, expected) in [
        ("cardCvv", &["card", "cvv"][..]),
        ("XApiKey", &["x", "api", "key"]),
        ("APIKey", &["api", "key"]),
        ("HTTPAuthorization", &["http", "authorization"]),
        ("cvv2Code", &["cvv2", "code"]),
        ("cvc2", &["cvc2"]),
        ("Set-Cookie", &["set", "cookie"]),
        (
            "http.request.header.x-api-key",
            &["http", "request", "header", "x", "api", "key"],
        ),
        ("date of birth", &["date", "of", "birth"]),
        ("__a..b__", &["a", "b"]),
        ("", &[]),
        ("kundenNummerä", &["kunden", "nummerä"]),
    ] {
        assert_eq!(all_words(key), expected, "{key}");
    }
    let long = "a".repeat(WORD_MAX + 1);
    assert_eq!(all_words(&format!("{long}.pin")), ["-", "pin"]);
}

#[test]
fn sensitive_keys_by_word() {
    for key in [
        "http.request.header.authorization",
        "payment.token",
        "card_number",
        "Card-Number",
        "db.password",
        "x.api_key",
        "customer.cvv",
        "cardCvv",
        "accessToken",
        "cvc2",
        "security_code",
        "securityCode",
        "x-api-key",
        "X-API-Key",
        "Authorization",
        "Set-Cookie",
        "sessionId",
        "session_id",
        "refreshToken",
        "clientSecret",
        "pin",
        "cardPin",
        "pan",
        "PAN",
        "track1",
        "track2",
        "trackData",
        "track_2",
        "cvn",
        "csc",
        "cvv2",
        "card.cid",
        "amexCid",
        "otp",
        "privateKey",
        "bearer",
        "jwt",
        "password",
        "passwd",
        "pwd",
        "ssn",
        "iban",
        "accountNumber",
        "account_no",
        "apikey",
        "accesstoken",
        "user password",
        "http.response.header.set-cookie",
        "proxy-authorization",
        "cardCode",
        "verification_code",
        "mfaCode",
        "client_secret",
    ] {
        assert!(is_sensitive_key(key), "{key}");
        assert_eq!(classify_key(key), KeyClass::Secret, "{key}");
    }
    for key in [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "span.kind",
        "span",
        "payment.card.last4",
        "payment.card.brand",
        "cart.id",
        "tokenizer",
        "pending",
        "company",
        "spinner",
        "shipping",
        "shipping.method",
        "panel",
        "japan",
        "cid",
        "request.cid",
        "opinion",
        "keyboard",
        "passenger",
        "compass",
        "session.count",
        "payment.decline_code",
        "error.code",
        "checkout.step",
        "url.template",
        "server.address",
        "user.hash",
    ] {
        assert!(!is_sensitive_key(key), "{key}");
    }
}

#[test]
fn contract_keys_are_never_secret_or_identity() {
    for key in crate::attributes::CONTRACT_ATTRIBUTE_KEYS {
        let class = classify_key(key);
        let expected = match *key {
            crate::attributes::URL_FULL | crate::attributes::URL_PATH => KeyClass::Url,
            // Anonymised by the exit check as well as by the server layer.
            crate::attributes::CLIENT_ADDRESS => KeyClass::ClientAddress,
            _ => KeyClass::Plain,
        };
        assert_eq!(class, expected, "{key}");
    }
}

#[test]
fn url_keys_by_name_and_last_word() {
    for key in [
        "url.full",
        "url.path",
        "url.query",
        "url.fragment",
        "url.original",
        "http.url",
        "http.target",
        "http.uri",
        "uri",
        "url",
        "URL",
        "redirect_uri",
        "returnUrl",
        "http.request.header.referer",
        "http.response.header.location",
    ] {
        assert_eq!(classify_key(key), KeyClass::Url, "{key}");
    }
    for key in [
        "url.template",
        "url.scheme",
        "url.domain",
        "url.port",
        "target",
        "http.route",
        "url_count",
    ] {
        assert_eq!(classify_key(key), KeyClass::Plain, "{key}");
    }
}

#[test]
fn identity_keys_by_last_words() {
    for key in [
        "user.id",
        "enduser.id",
        "customer.id",
        "user.email",
        "user.name",
        "user.full_name",
        "userId",
        "UserID",
        "customer_id",
        "customerEmail",
        "email",
        "e_mail",
        "E-Mail",
        "phone",
        "phoneNumber",
        "phone_no",
        "first_name",
        "lastName",
        "address",
        "date_of_birth",
        "dateOfBirth",
        "dob",
        "shipping.address",
        "billing_address",
        "address_line1",
        "payment.cardholder_name",
        "cardholder",
        "username",
        "user",
        "msisdn",
    ] {
        assert_eq!(classify_key(key), KeyClass::Identity, "{key}");
    }
    for key in [
        "enduser.pseudo.id",
        "user.roles",
        "user.hash",
        "user_agent.original",
        "email.sent",
        "email_count",
        "customer.email_hash",
        "user.id_type",
        "server.address",
        "network.peer.address",
        "shipping.address.country",
        "service.name",
        "name",
        "notification.channel",
        "cart.id",
        "order.id",
        "client.port",
    ] {
        assert_eq!(classify_key(key), KeyClass::Plain, "{key}");
    }
}

#[test]
fn client_address_keys_are_anonymised_not_hashed() {
    for key in [
        "client.address",
        "http.client_ip",
        "clientAddress",
        "CLIENT_IP",
    ] {
        assert_eq!(classify_key(key), KeyClass::ClientAddress, "{key}");
    }
    for key in ["client.port", "server.address", "network.peer.address"] {
        assert_eq!(classify_key(key), KeyClass::Plain, "{key}");
    }
}

#[test]
fn keys_are_bounded_and_scrubbed() {
    assert_eq!(scrub_key("payment.status"), None);
    assert_eq!(
        scrub_key("visits/jane.doe@example.com").as_deref(),
        Some("visits/[REDACTED:email]")
    );
    assert_eq!(
        scrub_key("card_4111111111111111_attempts").as_deref(),
        Some("card_[REDACTED:card]_attempts")
    );
    let huge = "k".repeat(10_000_000);
    let (key, stats) = scrub_key_with_stats(&huge);
    assert!(stats.truncated);
    assert_eq!(
        key,
        format!(
            "{}{}",
            "k".repeat(MAX_KEY_CHARS),
            super::super::TRUNCATION_MARKER
        )
    );
    let exact = "k".repeat(MAX_KEY_CHARS);
    assert_eq!(scrub_key(&exact), None);
}

mod spellings {
    use proptest::prelude::*;

    use super::super::*;

    /// Renders words the way different codebases write keys.
    fn render(words: &[&str], style: u8) -> String {
        let cap = |w: &str| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        };
        match style % 8 {
            0 => words.join("_"),
            1 => words.join("-"),
            2 => words.join("."),
            3 => words.join(" "),
            4 => words.join("_").to_uppercase(),
            5 => words.iter().map(|w| cap(w)).collect(),
            6 => {
                let mut s = words[0].to_string();
                s.extend(words[1..].iter().map(|w| cap(w)));
                s
            }
            _ => words.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
        }
    }

    const SECRETS: &[&[&str]] = &[
        &["card", "cvv"],
        &["access", "token"],
        &["refresh", "token"],
        &["security", "code"],
        &["x", "api", "key"],
        &["set", "cookie"],
        &["session", "id"],
        &["client", "secret"],
        &["card", "pin"],
        &["track", "data"],
        &["private", "key"],
        &["account", "number"],
        &["card", "number"],
        &["cvc2"],
        &["password"],
        &["authorization"],
    ];

    const IDENTITIES: &[&[&str]] = &[
        &["user", "id"],
        &["customer", "id"],
        &["customer", "email"],
        &["phone", "number"],
        &["first", "name"],
        &["last", "name"],
        &["date", "of", "birth"],
        &["shipping", "address"],
        &["e", "mail"],
    ];

    const SECRET_PREFIXES: &[&[&str]] = &[&[], &["http", "request", "header"], &["payment"]];
    const IDENTITY_PREFIXES: &[&[&str]] = &[&[], &["checkout"]];

    const PLAIN: &[&[&str]] = &[
        &["input", "tokens"],
        &["span", "kind"],
        &["company", "name"],
        &["shipping", "method"],
        &["panel", "state"],
        &["spinner", "shown"],
        &["pending", "count"],
        &["tokenizer", "model"],
        &["order", "id"],
        &["email", "sent"],
    ];

    proptest! {
        #[test]
        fn secrets_in_every_key_style(
            phrase in proptest::sample::select(SECRETS),
            prefix in proptest::sample::select(SECRET_PREFIXES),
            style in any::<u8>(),
        ) {
            let words: Vec<&str> = prefix.iter().chain(phrase.iter()).copied().collect();
            let key = render(&words, style);
            prop_assert!(is_sensitive_key(&key), "{}", key);
            prop_assert_eq!(classify_key(&key), KeyClass::Secret, "{}", key);
        }

        #[test]
        fn identities_in_every_key_style(
            phrase in proptest::sample::select(IDENTITIES),
            prefix in proptest::sample::select(IDENTITY_PREFIXES),
            style in any::<u8>(),
        ) {
            let words: Vec<&str> = prefix.iter().chain(phrase.iter()).copied().collect();
            let key = render(&words, style);
            prop_assert_eq!(classify_key(&key), KeyClass::Identity, "{}", key);
        }

        #[test]
        fn ordinary_keys_in_every_key_style(
            phrase in proptest::sample::select(PLAIN),
            style in any::<u8>(),
        ) {
            let key = render(phrase, style);
            prop_assert_eq!(classify_key(&key), KeyClass::Plain, "{}", key);
        }

        #[test]
        fn arbitrary_keys_never_panic(key in "\\PC{0,80}") {
            let _ = classify_key(&key);
            let (out, _) = scrub_key_with_stats(&key);
            prop_assert!(out.chars().count() <= MAX_KEY_CHARS + 64);
        }
    }
}
