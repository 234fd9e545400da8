//! What an attribute key says about its value: a secret, a URL, a person's
//! identity, or nothing. The exit check ([`RedactingExporter`](super::RedactingExporter))
//! masks secrets, checks URLs component by component and keeps identities
//! out of exports; keys themselves are bounded and scrubbed ([`scrub_key_with_stats`]).
//!
//! Keys are read as words: split at every character that is not an ASCII
//! letter or digit (`.`, `_`, `-`, spaces, `/`, `:`) and at case changes
//! (`cardCvv`, `XApiKey`, `APIKey`, `cvv2Code`), then lowercased. Letters
//! and digits stay together (`cvc2`, `track1`). Words are matched whole, so
//! `tokenizer`, `input_tokens`, `span`, `spinner`, `company`, `shipping` and
//! `panel` contain no secret word.

use std::borrow::Cow;

use super::scrub::{ScrubStats, scrub_with_stats};

/// Longest key, in characters, that leaves the process: longer keys are cut
/// there and end with [`TRUNCATION_MARKER`](super::TRUNCATION_MARKER).
pub const MAX_KEY_CHARS: usize = 128;

/// Longest word compared with the vocabularies below (longer ones match
/// nothing).
const WORD_MAX: usize = 24;

/// One lowercased word of a key.
#[derive(Clone, Copy)]
struct Word {
    buf: [u8; WORD_MAX],
    len: usize,
}

impl Word {
    const NONE: Word = Word {
        buf: [0; WORD_MAX],
        len: 0,
    };

    fn get(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The words of a key (see the module documentation).
struct Words<'a> {
    b: &'a [u8],
    i: usize,
}

fn words(key: &str) -> Words<'_> {
    Words {
        b: key.as_bytes(),
        i: 0,
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c >= 0x80
}

impl Iterator for Words<'_> {
    type Item = Word;

    fn next(&mut self) -> Option<Word> {
        let b = self.b;
        while self.i < b.len() && !is_word_byte(b[self.i]) {
            self.i += 1;
        }
        let start = self.i;
        if start == b.len() {
            return None;
        }
        self.i += 1;
        while self.i < b.len() && is_word_byte(b[self.i]) {
            let (prev, c) = (b[self.i - 1], b[self.i]);
            let next_lower = b.get(self.i + 1).is_some_and(u8::is_ascii_lowercase);
            let camel = c.is_ascii_uppercase()
                && (prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower));
            if camel {
                break;
            }
            self.i += 1;
        }
        let word = &b[start..self.i];
        let mut w = Word::NONE;
        if word.len() <= WORD_MAX {
            w.buf[..word.len()].copy_from_slice(word);
            w.buf[..word.len()].make_ascii_lowercase();
            w.len = word.len();
        } else {
            // Too long for any vocabulary word; `-` never occurs in a word.
            w.buf[0] = b'-';
            w.len = 1;
        }
        Some(w)
    }
}

/// A word that alone makes a key secret.
fn secret_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"password"
            | b"passwd"
            | b"pwd"
            | b"passphrase"
            | b"passcode"
            | b"secret"
            | b"secrets"
            | b"token"
            | b"apikey"
            | b"apisecret"
            | b"apitoken"
            | b"accesstoken"
            | b"refreshtoken"
            | b"authtoken"
            | b"idtoken"
            | b"sessiontoken"
            | b"sessionid"
            | b"sessionkey"
            | b"clientsecret"
            | b"secretkey"
            | b"privatekey"
            | b"accesskey"
            | b"authorization"
            | b"cookie"
            | b"cookies"
            | b"setcookie"
            | b"credential"
            | b"credentials"
            | b"signature"
            | b"bearer"
            | b"jwt"
            | b"otp"
            | b"totp"
            | b"csrf"
            | b"xsrf"
            | b"cvv"
            | b"cvv2"
            | b"cvc"
            | b"cvc2"
            | b"cvc3"
            | b"cvn"
            | b"cvn2"
            | b"cvd"
            | b"csc"
            | b"cav2"
            | b"pin"
            | b"pincode"
            | b"pinblock"
            | b"cardpin"
            | b"pan"
            | b"cardnumber"
            | b"cardcvv"
            | b"cardcvc"
            | b"securitycode"
            | b"track1"
            | b"track2"
            | b"trackdata"
            | b"ssn"
            | b"iban"
            | b"accountnumber"
    )
}

/// Two consecutive words that make a key secret.
fn secret_pair(first: &[u8], second: &[u8]) -> bool {
    matches!(
        (first, second),
        (b"api", b"key" | b"secret")
            | (
                b"private" | b"secret" | b"access" | b"signing" | b"encryption",
                b"key"
            )
            | (b"session", b"id" | b"key")
            | (b"card", b"number" | b"no" | b"num" | b"code" | b"cid")
            | (b"amex", b"cid")
            | (b"security", b"code" | b"number")
            | (b"verification", b"code" | b"value")
            | (b"auth" | b"mfa", b"code")
            | (b"track", b"data" | b"1" | b"2")
            | (b"account" | b"acct", b"number" | b"no" | b"num")
    )
}

/// Whether an attribute key names a secret: its value is replaced whatever
/// it holds.
///
/// The key is split into words at every character that is not an ASCII
/// letter or digit (`.`, `_`, `-`, spaces, `/`, `:`) and at case changes
/// (`cardCvv`, `XApiKey`, `APIKey`, `cvv2Code`); letters and digits stay
/// together (`cvc2`, `track1`); words are lowercased and matched whole. A
/// key is secret when one of its words is
///
/// - a password: `password`, `passwd`, `pwd`, `passphrase`, `passcode`;
/// - a credential: `secret(s)`, `token`, `apikey`, `apisecret`, `apitoken`,
///   `accesstoken`, `refreshtoken`, `authtoken`, `idtoken`, `sessiontoken`,
///   `sessionid`, `sessionkey`, `clientsecret`, `secretkey`, `privatekey`,
///   `accesskey`, `authorization`, `cookie(s)`, `setcookie`,
///   `credential(s)`, `signature`, `bearer`, `jwt`, `otp`, `totp`, `csrf`,
///   `xsrf`;
/// - payment data: `cvv`, `cvv2`, `cvc`, `cvc2`, `cvc3`, `cvn`, `cvn2`,
///   `cvd`, `csc`, `cav2`, `pin`, `pincode`, `pinblock`, `cardpin`, `pan`,
///   `cardnumber`, `cardcvv`, `cardcvc`, `securitycode`, `track1`,
///   `track2`, `trackdata`, `ssn`, `iban`, `accountnumber`;
///
/// or two consecutive words are `api key|secret`, `private|secret|access|signing|encryption key`,
/// `session id|key`, `card number|no|num|code|cid`, `amex cid`,
/// `security code|number`, `verification code|value`, `auth|mfa code`,
/// `track data|1|2`, `account|acct number|no|num`.
///
/// So `cardCvv`, `accessToken`, `x-api-key`, `Set-Cookie`, `security_code`,
/// `sessionId`, `track_2`, `http.request.header.authorization` are secret,
/// and `tokenizer`, `gen_ai.usage.input_tokens`, `span.kind`,
/// `payment.card.last4`, `spinner`, `shipping.method` are not. `cid` alone
/// is not: it is as often a correlation or content id; `card.cid` and
/// `amex_cid` (the Amex card identification number) are.
///
/// ```
/// use checkout_otel::pii::is_sensitive_key;
///
/// assert!(is_sensitive_key("cardCvv"));
/// assert!(is_sensitive_key("x-api-key"));
/// assert!(!is_sensitive_key("gen_ai.usage.input_tokens"));
/// ```
pub fn is_sensitive_key(key: &str) -> bool {
    let mut prev = Word::NONE;
    for w in words(key) {
        if secret_word(w.get()) || secret_pair(prev.get(), w.get()) {
            return true;
        }
        prev = w;
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
    /// The buyer's IP address (`client.address`, `http.client_ip`): kept
    /// anonymised (see [`client_address`](super::client_address)), anything
    /// else under the key masked.
    ClientAddress,
}

/// Keys whose value is a URL, a path, a query or a request target, besides
/// every key whose last word is `url`, `uri`, `href`, `referer` or
/// `referrer` (`url`, `uri` as tower-http's `TraceLayer` records it,
/// `http.url`, `http.uri`, `redirect_uri`, `http.request.header.referer`).
/// `url.template` (a route template), `url.scheme`, `url.domain` are not
/// URLs. Neither is `target`: tracing-opentelemetry records a `tracing`
/// event's target there, a module path, while request targets go under
/// `http.target`.
const URL_KEYS: &[&str] = &[
    "url.full",
    "url.path",
    "url.query",
    "url.fragment",
    "url.original",
    "http.target",
    "http.response.header.location",
];

fn url_word(w: &[u8]) -> bool {
    matches!(w, b"url" | b"uri" | b"href" | b"referer" | b"referrer")
}

/// A key's last word that names a person's identity.
fn identity_word(w: &[u8]) -> bool {
    matches!(
        w,
        b"email"
            | b"emailaddress"
            | b"phone"
            | b"phonenumber"
            | b"telephone"
            | b"msisdn"
            | b"mobilephone"
            | b"mobilenumber"
            | b"firstname"
            | b"lastname"
            | b"surname"
            | b"fullname"
            | b"givenname"
            | b"familyname"
            | b"middlename"
            | b"username"
            | b"userid"
            | b"customerid"
            | b"enduserid"
            | b"dob"
            | b"birthdate"
            | b"birthday"
            | b"dateofbirth"
            | b"cardholder"
            | b"cardholdername"
            | b"holdername"
            | b"streetaddress"
    )
}

/// A key's last two words that name a person's identity.
fn identity_pair(first: &[u8], last: &[u8]) -> bool {
    matches!(
        (first, last),
        (
            b"user" | b"enduser" | b"customer" | b"buyer" | b"shopper" | b"member",
            b"id"
        ) | (b"user" | b"e", b"mail")
            | (b"user" | b"customer" | b"buyer", b"email" | b"name")
            | (
                b"full"
                    | b"first"
                    | b"last"
                    | b"given"
                    | b"family"
                    | b"middle"
                    | b"holder"
                    | b"cardholder",
                b"name"
            )
            | (b"account", b"holder")
            | (b"phone" | b"mobile" | b"telephone", b"number" | b"no")
            | (b"mobile", b"phone")
            | (b"of", b"birth")
            | (b"birth", b"date")
            | (
                b"billing"
                    | b"shipping"
                    | b"street"
                    | b"home"
                    | b"postal"
                    | b"mailing"
                    | b"delivery"
                    | b"email",
                b"address"
            )
            | (b"address", b"line" | b"line1" | b"line2")
    )
}

/// A key of one word that names a person.
fn identity_alone(w: &[u8]) -> bool {
    matches!(w, b"address" | b"user" | b"customer" | b"enduser")
}

/// Classifies `key` (see [`KeyClass`]); a secret wins over a URL, a URL over
/// an identity.
///
/// A key is an identity when its last word, or its last two words, name a
/// person, so `customer.email` and `userId` are and `email.sent`,
/// `user.id_type`, `customer.email_hash`, `user.hash` are not:
///
/// - ids: `user id`, `enduser id`, `customer id`, `buyer id`, `shopper id`,
///   `member id` (`user.id`, `enduser.id`, `customer_id`, `userId`; also
///   written as one word: `userid`, `customerid`, `enduserid`);
/// - emails: `email`, `emailaddress`, `e mail` (`e_mail`), `user mail`,
///   `user|customer|buyer email|name` (`user.email`, `user.name`);
/// - names: `full|first|last|given|family|middle|holder|cardholder name`
///   (`user.full_name`, `lastName`), `firstname`, `lastname`, `surname`,
///   `fullname`, `givenname`, `familyname`, `middlename`, `username`,
///   `cardholder`, `cardholdername`, `holdername`, `account holder`;
/// - phones: `phone`, `phonenumber`, `telephone`, `msisdn`, `mobilephone`,
///   `mobilenumber`, `phone|mobile|telephone number|no`, `mobile phone`;
/// - birth: `dob`, `birthdate`, `birthday`, `dateofbirth`, `of birth`
///   (`date_of_birth`), `birth date`;
/// - addresses: `billing|shipping|street|home|postal|mailing|delivery|email address`,
///   `streetaddress`, `address line|line1|line2`, and the key `address` alone;
///   `server.address` and `network.peer.address` are not (a host, or on
///   server spans usually the proxy in front);
/// - the one-word keys `user`, `customer`, `enduser`.
///
/// A key whose last two words are `client address|ip` (`client.address`,
/// `http.client_ip`) is a [`KeyClass::ClientAddress`]: on server spans the
/// semantic conventions put the originating client there, behind proxies,
/// which for a checkout is the buyer's IP address. It is personal data, but
/// not an identity to hash into `user.hash` (one household's address is not
/// one customer): it is anonymised instead.
///
/// Not identities: `enduser.pseudo.id` (random by definition, meant to be
/// exported), `user.roles` (roles, not a person), `user.hash` (the crate's
/// keyed hash).
pub(crate) fn classify_key(key: &str) -> KeyClass {
    let (mut prev, mut last, mut count) = (Word::NONE, Word::NONE, 0);
    for w in words(key) {
        if secret_word(w.get()) || secret_pair(last.get(), w.get()) {
            return KeyClass::Secret;
        }
        (prev, last) = (last, w);
        count += 1;
    }
    if URL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) || url_word(last.get()) {
        KeyClass::Url
    } else if prev.get() == b"client" && matches!(last.get(), b"address" | b"ip") {
        KeyClass::ClientAddress
    } else if identity_word(last.get())
        || identity_pair(prev.get(), last.get())
        || (count == 1 && identity_alone(last.get()))
    {
        KeyClass::Identity
    } else {
        KeyClass::Plain
    }
}

/// A key as it may leave the process, or `None` when it needs no change:
/// cut to [`MAX_KEY_CHARS`] characters and scrubbed like a value (an email or
/// a card number used as a key is masked).
#[cfg(test)]
pub(crate) fn scrub_key(key: &str) -> Option<String> {
    match scrub_key_with_stats(key).0 {
        Cow::Borrowed(_) => None,
        Cow::Owned(key) => Some(key),
    }
}

/// A key as it may leave the process: cut to [`MAX_KEY_CHARS`] characters and
/// scrubbed like a value, with the counts of what was masked.
pub(crate) fn scrub_key_with_stats(key: &str) -> (Cow<'_, str>, ScrubStats) {
    scrub_with_stats(key, MAX_KEY_CHARS)
}

#[cfg(test)]
mod tests;
