//! Pseudonymised users (see [`UserHasher`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hmac::{Hmac, KeyInit, Mac};
use opentelemetry::KeyValue;
use sha2::Sha256;

use super::wipe;
use crate::attributes::USER_HASH;
use crate::error::{ConfigError, ConfigSource, ValueError};

/// Environment variable holding the pseudonymisation key:
/// `CHECKOUT_OTEL_USER_HASH_KEY`.
pub const USER_HASH_KEY_ENV: &str = "CHECKOUT_OTEL_USER_HASH_KEY";
/// Minimum key length in bytes (after decoding).
pub const MIN_KEY_BYTES: usize = 32;
/// Length of a `user.hash` value: 64 lowercase hex characters (256 bits).
pub const USER_HASH_HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Computes `user.hash` values: a customer is recorded only as this
/// pseudonym, HMAC-SHA256 of the customer id with a secret key.
///
/// Cheap to clone (the keyed state is about 200 bytes). `Debug` never shows
/// the key.
///
/// The hash is HMAC-SHA256 keyed with a secret shared by every service, written
/// as 64 lowercase hex characters ([`USER_HASH_HEX_LEN`]). The same customer id
/// gives the same hash in every service configured with the same key, so one
/// customer's checkouts correlate across services without the id itself
/// leaving the process. Without the key the hash cannot be reversed or
/// recomputed from a guessed id.
///
/// # Key
///
/// At least [`MIN_KEY_BYTES`] (32) bytes, given to the crate's builder or in
/// the environment variable [`USER_HASH_KEY_ENV`] (`CHECKOUT_OTEL_USER_HASH_KEY`),
/// in one of three spellings ([`UserHasher::parse`]):
///
/// - hex (only `0-9a-fA-F`, even length): the decoded bytes are the key;
///   `openssl rand -hex 32` makes one;
/// - base64 (standard or URL-safe alphabet, padding optional): the decoded
///   bytes are the key; `openssl rand -base64 32` makes one;
/// - `raw:` followed by text: the UTF-8 bytes of the text are the key, as the
///   collector uses it (see below).
///
/// Anything shorter or malformed is a [`ValueError::InvalidKey`] (from the
/// constructors) or a [`ConfigError::InvalidKey`] naming the variable or
/// builder method (from the set-up); the key itself never appears in errors
/// or `Debug` output.
///
/// With no key configured, the process uses a random key
/// ([`UserHasher::random`]) and logs one warning: hashes are then stable
/// within the process but do not correlate across services or restarts.
///
/// # Matching the OpenTelemetry collector
///
/// The collector's `redaction` processor with `hash_function: hmac-sha256`
/// computes `hex(HMAC-SHA256(key = the bytes of the hmac_key string as
/// written, message = the attribute value))`, lowercase, full length: the same
/// construction as [`UserHasher::hash`]. The collector does not decode
/// `hmac_key`, so the two agree when both sides use the same *bytes*:
///
/// ```yaml
/// # collector: hash the raw ids a service without this crate still sends
/// processors:
///   redaction:
///     allow_all_keys: true
///     blocked_key_patterns: ["^user\\.id$"]
///     hash_function: hmac-sha256
///     hmac_key: ${env:USER_HASH_SECRET}    # e.g. 64 hex characters from `openssl rand -hex 32`
/// ```
///
/// and in the services: `CHECKOUT_OTEL_USER_HASH_KEY=raw:<the same text>`
/// (or [`UserHasher::from_text`]). Do **not** give the services the bare hex
/// string: it would be hex-decoded into 32 different bytes and the hashes
/// would not match. The collector hashes the value of whichever key it
/// matches, and keeps the key name (`user.id` above).
///
/// ```
/// use checkout_otel::pii::UserHasher;
///
/// let hasher = UserHasher::parse("raw:a shared secret of at least thirty-two bytes").unwrap();
/// let user = hasher.hash("customer-42");
/// assert_eq!(user.hash().len(), 64);
/// assert_eq!(user.hash(), hasher.hash("customer-42").hash());
/// // Debug shows the hash, never the id.
/// assert!(!format!("{user:?}").contains("customer-42"));
/// ```
#[derive(Clone)]
pub struct UserHasher {
    /// HMAC state with the key already absorbed; cloned per hash.
    mac: HmacSha256,
    random: bool,
}

impl UserHasher {
    /// A hasher keyed with `key` (at least [`MIN_KEY_BYTES`] bytes).
    pub fn from_bytes(key: &[u8]) -> Result<Self, ValueError> {
        Self::from_key(key).map_err(invalid("UserHasher::from_bytes"))
    }

    /// A hasher keyed with the hex-decoded `key`.
    pub fn from_hex(key: &str) -> Result<Self, ValueError> {
        let mut bytes = decode_hex(key.trim()).map_err(invalid("UserHasher::from_hex"))?;
        let hasher = Self::from_key(&bytes);
        wipe(&mut bytes);
        hasher.map_err(invalid("UserHasher::from_hex"))
    }

    /// A hasher keyed with the base64-decoded `key` (standard or URL-safe
    /// alphabet, padding optional).
    pub fn from_base64(key: &str) -> Result<Self, ValueError> {
        let mut bytes = decode_base64(key.trim()).map_err(invalid("UserHasher::from_base64"))?;
        let hasher = Self::from_key(&bytes);
        wipe(&mut bytes);
        hasher.map_err(invalid("UserHasher::from_base64"))
    }

    /// A hasher keyed with the UTF-8 bytes of `key`, exactly as the
    /// collector's redaction processor uses its `hmac_key`.
    pub fn from_text(key: &str) -> Result<Self, ValueError> {
        Self::from_key(key.as_bytes()).map_err(invalid("UserHasher::from_text"))
    }

    /// A hasher from a key in any of the accepted spellings: `raw:<text>`,
    /// hex (when the value is only hex digits) or base64 (otherwise).
    /// Surrounding whitespace is ignored.
    pub fn parse(key: &str) -> Result<Self, ValueError> {
        Self::parse_any(key).map_err(invalid("UserHasher::parse"))
    }

    /// The hasher configured in [`USER_HASH_KEY_ENV`], parsed as by
    /// [`UserHasher::parse`]; `Ok(None)` when the variable is unset or empty.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let source = ConfigSource::Env(USER_HASH_KEY_ENV);
        match std::env::var(USER_HASH_KEY_ENV) {
            Ok(value) if value.trim().is_empty() => Ok(None),
            Ok(mut value) => {
                let hasher = Self::parse_config(&value, source);
                // Our copy of the secret: overwrite it before it is freed.
                let mut bytes = std::mem::take(&mut value).into_bytes();
                wipe(&mut bytes);
                hasher.map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            // Never converted lossily: that would be another key.
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(ConfigError::NotUnicode { source_of: source })
            }
        }
    }

    /// [`UserHasher::parse`] for a key from the configuration: the error
    /// names `source_of`.
    pub(crate) fn parse_config(key: &str, source_of: ConfigSource) -> Result<Self, ConfigError> {
        Self::parse_any(key).map_err(|reason| ConfigError::InvalidKey { source_of, reason })
    }

    /// A hasher with a random key from the operating system. Its hashes are
    /// stable for the life of this value but match no other process.
    pub fn random() -> Self {
        // A full SHA-256 block (64 bytes), so the infallible constructor applies.
        let mut key = [0u8; 64];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness: fall back to std's randomly seeded hasher
            // keys rather than failing instrumentation.
            use std::hash::{BuildHasher, Hasher};
            for chunk in key.chunks_mut(8) {
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_usize(chunk.as_ptr() as usize);
                chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
            }
        }
        let mut block = hmac::digest::Key::<HmacSha256>::from(key);
        let mac = <HmacSha256 as KeyInit>::new(&block);
        wipe(&mut key);
        wipe(&mut block);
        UserHasher { mac, random: true }
    }

    /// Whether this hasher uses a random per-process key.
    pub fn is_random(&self) -> bool {
        self.random
    }

    /// The `user.hash` of `customer_id`: lowercase hex of
    /// HMAC-SHA256(key, UTF-8 bytes of `customer_id`), [`USER_HASH_HEX_LEN`]
    /// characters. The id is hashed exactly as given (no trimming or case
    /// folding), so pass it the same way everywhere.
    pub fn hash(&self, customer_id: &str) -> UserRef {
        // Hex on the stack, then one allocation for the shared string (a
        // `String` first would cost a second allocation and a copy).
        let mut mac = self.mac.clone();
        mac.update(customer_id.as_bytes());
        let mut hex = [0u8; USER_HASH_HEX_LEN];
        hex_lower_into(&mac.finalize().into_bytes(), &mut hex);
        UserRef {
            // Only ASCII hex digits were written: never invalid UTF-8.
            hash: Arc::from(std::str::from_utf8(&hex).unwrap_or_default()),
        }
    }

    /// A short, non-secret fingerprint of the key (16 hex characters), to
    /// check that two services share the same key without showing it.
    pub fn fingerprint(&self) -> String {
        let mut hex = self.hash_hex(b"checkout-otel key fingerprint");
        hex.truncate(16);
        hex
    }

    fn hash_hex(&self, message: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(message);
        hex_lower(&mac.finalize().into_bytes())
    }

    /// Why `key` cannot be a key, or the hasher. Reasons never quote the key.
    fn from_key(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key is {} bytes, at least {MIN_KEY_BYTES} are needed",
                key.len()
            ));
        }
        HmacSha256::new_from_slice(key)
            .map(|mac| UserHasher { mac, random: false })
            .map_err(|_| "HMAC rejected the key".to_owned())
    }

    fn parse_any(key: &str) -> Result<Self, String> {
        let key = key.trim();
        if let Some(text) = key.strip_prefix("raw:") {
            return Self::from_key(text.as_bytes());
        }
        let mut bytes = if !key.is_empty() && key.bytes().all(|c| c.is_ascii_hexdigit()) {
            decode_hex(key)
        } else {
            decode_base64(key)
        }?;
        let hasher = Self::from_key(&bytes);
        wipe(&mut bytes);
        hasher
    }
}

impl fmt::Debug for UserHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserHasher")
            .field("key", &"<redacted>")
            .field("random", &self.random)
            .finish()
    }
}

/// The error of the public constructor `parser`.
fn invalid(parser: &'static str) -> impl Fn(String) -> ValueError {
    move |reason| ValueError::InvalidKey { parser, reason }
}

fn hex_lower(bytes: &[u8]) -> String {
    let mut hex = vec![0u8; bytes.len() * 2];
    hex_lower_into(bytes, &mut hex);
    hex.into_iter().map(char::from).collect()
}

/// Writes the lowercase hex of `bytes` into the start of `out` (which holds
/// at least twice as many bytes; any extra bytes are left as they are).
fn hex_lower_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (&b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

fn decode_hex(s: &str) -> std::result::Result<Vec<u8>, String> {
    if s.is_empty() {
        return Err("the key is empty".into());
    }
    if s.len() % 2 != 0 {
        return Err("a hex key needs an even number of digits".into());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() / 2);
    for pair in s.as_bytes().chunks_exact(2) {
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => {
                wipe(&mut out);
                return Err("not valid hex".into());
            }
        }
    }
    Ok(out)
}

fn decode_base64(s: &str) -> std::result::Result<Vec<u8>, String> {
    let body = s
        .strip_suffix("==")
        .or_else(|| s.strip_suffix('='))
        .unwrap_or(s);
    if body.is_empty() {
        return Err("the key is empty".into());
    }
    if body.len() % 4 == 1 || (body.len() != s.len() && s.len() % 4 != 0) {
        return Err("not valid base64 (wrong length)".into());
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => {
                wipe(&mut out);
                return Err("not valid base64".into());
            }
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Process-wide hasher
// ---------------------------------------------------------------------------

static GLOBAL: RwLock<Option<Arc<UserHasher>>> = RwLock::new(None);

/// Installs the process-wide hasher used by [`UserRef::new`],
/// [`user_hasher`] and [`hash_customer_id`], replacing any previous one. The
/// crate's initialisation calls this with the configured key.
pub fn install_user_hasher(hasher: UserHasher) {
    let mut slot = GLOBAL
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = Some(Arc::new(hasher));
    RANDOM_KEY.store(false, Ordering::Relaxed);
}

/// Whether the process-wide hasher is a random one made for want of a key.
static RANDOM_KEY: AtomicBool = AtomicBool::new(false);

/// The process-wide hasher (a cheap reference-counted handle).
///
/// If none was installed, a random one is created on first use: hashes then
/// do not correlate across services. `build` and `init` without a key make
/// it and log the WARN (target [`INIT_LOG_TARGET`](crate::init::INIT_LOG_TARGET));
/// without either, the first use logs it.
pub fn user_hasher() -> Arc<UserHasher> {
    let (hasher, created) = global_or_random();
    if created {
        warn_random_key();
    }
    hasher
}

/// At `build`: makes the process-wide hasher now, not inside the first
/// customer's span, and logs the WARN if its key is a random one.
pub(crate) fn report_random_key_at_init() {
    let _ = global_or_random();
    if RANDOM_KEY.load(Ordering::Relaxed) {
        warn_random_key();
    }
}

/// The process-wide hasher, and whether this call created it (random).
fn global_or_random() -> (Arc<UserHasher>, bool) {
    if let Some(hasher) = GLOBAL
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
    {
        return (Arc::clone(hasher), false);
    }
    let mut slot = GLOBAL
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(hasher) = slot.as_ref() {
        return (Arc::clone(hasher), false);
    }
    let hasher = Arc::new(UserHasher::random());
    *slot = Some(Arc::clone(&hasher));
    RANDOM_KEY.store(true, Ordering::Relaxed);
    (hasher, true)
}

/// Logged outside the lock (a subscriber may do anything), with no parent
/// span: never an event of a customer's span, and under a target the
/// OpenTelemetry layer never exports.
fn warn_random_key() {
    tracing::warn!(
        target: crate::init::INIT_LOG_TARGET,
        parent: None,
        env_var = USER_HASH_KEY_ENV,
        "no user hash key configured: using a random per-process key, so user.hash values will not correlate across services or restarts; set {USER_HASH_KEY_ENV}"
    );
}

/// The `user.hash` value of `customer_id` under the process-wide key, for
/// support tooling: search your tracing backend for this value to find a
/// customer's traces.
pub fn hash_customer_id(customer_id: &str) -> String {
    user_hasher().hash(customer_id).hash.to_string()
}

// ---------------------------------------------------------------------------
// UserRef
// ---------------------------------------------------------------------------

/// Whether `value` has the shape of a `user.hash` value: exactly
/// [`USER_HASH_HEX_LEN`] lowercase hex characters.
pub(crate) fn is_user_hash(value: &str) -> bool {
    value.len() == USER_HASH_HEX_LEN
        && value
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// A pseudonymised customer: holds only the `user.hash` value, never the id.
///
/// `Debug` and `Display` show the hash.
///
/// ```
/// use checkout_otel::pii::{install_user_hasher, UserHasher, UserRef};
///
/// install_user_hasher(UserHasher::from_hex(&"ab".repeat(32)).unwrap());
/// let user = UserRef::new("customer-42");
/// let kv = user.key_value();
/// assert_eq!(kv.key.as_str(), "user.hash");
/// assert_eq!(kv.value.as_str(), user.hash());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UserRef {
    hash: Arc<str>,
}

impl UserRef {
    /// Pseudonymises `customer_id` with the process-wide hasher
    /// ([`user_hasher`]).
    pub fn new(customer_id: &str) -> UserRef {
        user_hasher().hash(customer_id)
    }

    /// A `UserRef` from a hash computed elsewhere (e.g. received from an
    /// upstream service): `None` unless it is exactly
    /// [`USER_HASH_HEX_LEN`] lowercase hex characters, so a raw id cannot
    /// pass for a hash.
    pub fn from_hash(hash: &str) -> Option<UserRef> {
        is_user_hash(hash).then(|| UserRef {
            hash: Arc::from(hash),
        })
    }

    /// The hash: [`USER_HASH_HEX_LEN`] lowercase hex characters.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The `user.hash` attribute.
    pub fn key_value(&self) -> KeyValue {
        KeyValue::new(USER_HASH, Arc::clone(&self.hash))
    }
}

impl fmt::Debug for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UserRef").field(&&*self.hash).finish()
    }
}

impl fmt::Display for UserRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decoder_matches_known_values() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(
            decode_base64("-_-_").unwrap(),
            decode_base64("+/+/").unwrap()
        );
        assert!(decode_base64("aGVsbG8*").is_err());
        assert!(decode_base64("a").is_err());
    }

    #[test]
    fn hex_encoder_is_lowercase() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
    }
}
