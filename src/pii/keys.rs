//! What an attribute key says about its value: a secret, a person's
//! identity, or neither. The exit check ([`RedactingExporter`](super::RedactingExporter))
//! masks secrets and keeps identities out of exports.

const SENSITIVE_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "cookie",
    "cvv",
    "cvv2",
    "cvc",
    "pan",
    "ssn",
    "iban",
];
const SENSITIVE_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("card", "number"),
    ("private", "key"),
    ("access", "key"),
];

/// Whether an attribute key names a secret (the rule is in
/// [`RedactingExporter`](super::RedactingExporter)'s documentation).
pub fn is_sensitive_key(key: &str) -> bool {
    let mut previous = "";
    for word in key.split(['.', '_', '-']) {
        if SENSITIVE_WORDS.iter().any(|s| s.eq_ignore_ascii_case(word))
            || SENSITIVE_PAIRS
                .iter()
                .any(|(a, b)| a.eq_ignore_ascii_case(previous) && b.eq_ignore_ascii_case(word))
        {
            return true;
        }
        previous = word;
    }
    false
}

/// What a key's value is, judged from the key alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// Nothing in the key: the value is checked like any text.
    Plain,
    /// A secret (password, token, card verification code, ...): the value
    /// is replaced by [`SENSITIVE_VALUE_MASK`](super::SENSITIVE_VALUE_MASK).
    Secret,
    /// A URL, path, query or request target: checked component by
    /// component.
    Url,
    /// A person's identity (`user.id`, `enduser.id`, an email, a name): the
    /// value never leaves raw.
    Identity,
}

/// Keys whose value identifies a person, from the semantic conventions and
/// common practice.
const IDENTITY_KEYS: &[&str] = &[
    "user.id",
    "user.email",
    "user.name",
    "user.full_name",
    "enduser.id",
    "customer.id",
];

/// Keys whose value is a URL, a path, a query or a request target.
const URL_KEYS: &[&str] = &[
    "url.full",
    "url.path",
    "url.query",
    "url.original",
    "http.url",
    "http.target",
];

/// Classifies `key` (see [`KeyClass`]).
pub(crate) fn classify_key(key: &str) -> KeyClass {
    if is_sensitive_key(key) {
        KeyClass::Secret
    } else if URL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        KeyClass::Url
    } else if IDENTITY_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        KeyClass::Identity
    } else {
        KeyClass::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in [
            "gen_ai.usage.input_tokens",
            "span.kind",
            "payment.card.last4",
            "cart.id",
            "tokenizer",
        ] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn identity_keys_are_told_from_secrets_and_plain_keys() {
        assert_eq!(classify_key("enduser.id"), KeyClass::Identity);
        assert_eq!(classify_key("user.email"), KeyClass::Identity);
        assert_eq!(classify_key("db.password"), KeyClass::Secret);
        assert_eq!(classify_key("cart.id"), KeyClass::Plain);
    }
}
