//! The hosts that may receive inbound `baggage` and `tracestate`.

use std::fmt;
use std::net::Ipv6Addr;
use std::sync::Arc;

use crate::error::{ConfigError, ConfigSource, echo};
use crate::init::limits::MAX_PROPAGATION_HOSTS;

/// The environment variable of the propagation allow-list: host names
/// separated by commas (see [`AllowedHosts`]).
pub const PROPAGATION_ALLOWED_HOSTS_ENV: &str = "CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS";

/// The longest host name (RFC 1035).
const MAX_HOST_BYTES: usize = 253;

/// The hosts an outgoing request may carry inbound `baggage` and
/// `tracestate` to; every other host gets `traceparent` only. Empty by
/// default.
///
/// Entries, matched against the request URL's host (case-insensitive,
/// ports ignored):
/// - a host name or IP address, matched exactly: `inventory`,
///   `payments.internal.example.com`, `10.0.0.7`, `[::1]` (or `::1`);
/// - `*.` and a domain: any host *below* that domain, at any depth
///   (`*.internal.example.com` matches `cart.internal.example.com` and
///   `a.b.internal.example.com`, not `internal.example.com` itself).
///
/// There is no "every host" entry: list the hosts that are yours (or
/// trusted with your callers' data).
///
/// ```
/// use checkout_otel::propagation::AllowedHosts;
///
/// let hosts = AllowedHosts::new(["inventory", "*.internal.example.com"])?;
/// assert!(hosts.allows("inventory"));
/// assert!(hosts.allows("Cart.Internal.Example.com"));
/// assert!(!hosts.allows("internal.example.com"));
/// assert!(!hosts.allows("api.payments-provider.example"));
/// assert!(!AllowedHosts::default().allows("inventory"));
/// # Ok::<(), checkout_otel::ConfigError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    /// The allow-list of `hosts` (see the type's docs for the spellings).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPropagationHost`] for an entry that is not a
    /// host name, IP address or `*.` wildcard, or more than
    /// [`MAX_PROPAGATION_HOSTS`] entries.
    pub fn new(hosts: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ConfigError> {
        Self::parse(hosts, ConfigSource::Builder("AllowedHosts::new"))
    }

    /// [`AllowedHosts::new`] with errors naming `source_of`.
    pub(crate) fn parse(
        hosts: impl IntoIterator<Item = impl AsRef<str>>,
        source_of: ConfigSource,
    ) -> Result<Self, ConfigError> {
        let mut entries: Vec<String> = Vec::new();
        for host in hosts {
            let host = host.as_ref();
            if entries.len() == MAX_PROPAGATION_HOSTS {
                return Err(ConfigError::InvalidPropagationHost {
                    value: echo(host),
                    source_of,
                    reason: format!("more than {MAX_PROPAGATION_HOSTS} hosts"),
                });
            }
            let entry =
                normalize_entry(host).map_err(|reason| ConfigError::InvalidPropagationHost {
                    value: echo(host),
                    source_of: source_of.clone(),
                    reason: reason.to_owned(),
                })?;
            if !entries.contains(&entry) {
                entries.push(entry);
            }
        }
        Ok(AllowedHosts(entries.into()))
    }

    /// `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS`: entries separated by
    /// commas, blanks ignored.
    pub(crate) fn parse_list(value: &str, source_of: ConfigSource) -> Result<Self, ConfigError> {
        Self::parse(
            value.split(',').map(str::trim).filter(|h| !h.is_empty()),
            source_of,
        )
    }

    /// Whether a request to `host` (a URL's host, e.g. from
    /// `url.host_str()`) may carry inbound `baggage` and `tracestate`.
    pub fn allows(&self, host: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let host = normalize_host(host);
        self.0.iter().any(|entry| match entry.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .and_then(|sub| sub.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty()),
            None => *entry == host,
        })
    }

    /// Whether no host is allowed (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, normalised (lowercase, IPv6 in brackets).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Debug for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A host as a URL gives it, in the form entries are stored in.
fn normalize_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    match parse_ipv6(host) {
        Some(ip) => format!("[{ip}]"),
        None => host.to_ascii_lowercase(),
    }
}

/// An IPv6 address, bracketed or not.
fn parse_ipv6(host: &str) -> Option<Ipv6Addr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

/// The stored form of an allow-list entry, or why it cannot be one.
fn normalize_entry(entry: &str) -> Result<String, &'static str> {
    let entry = entry.trim();
    if let Some(ip) = parse_ipv6(entry) {
        return Ok(format!("[{ip}]"));
    }
    if matches!(entry, "*" | "*.") {
        return Err("a bare * would allow every host: list the hosts or domains");
    }
    let (wildcard, name) = match entry.strip_prefix("*.") {
        Some(domain) => (true, domain),
        None => (false, entry),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty host");
    }
    if name.len() > MAX_HOST_BYTES {
        return Err("longer than 253 bytes");
    }
    if name.contains('*') {
        return Err("a wildcard may only be a leading `*.`");
    }
    if name.contains("://") || name.contains(['/', ':', '@', '?', '#']) {
        return Err("a host name only: no scheme, port, path or user");
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !name.split('.').all(label_ok) {
        return Err("not a host name (labels of letters, digits, '-' and '_', 1 to 63 each)");
    }
    let name = name.to_ascii_lowercase();
    Ok(if wildcard { format!("*.{name}") } else { name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_suffix_entries_match_as_documented() {
        let hosts =
            AllowedHosts::new(["Inventory", "*.internal.example.com.", "10.0.0.7", "::1"]).unwrap();
        assert_eq!(
            hosts.iter().collect::<Vec<_>>(),
            ["inventory", "*.internal.example.com", "10.0.0.7", "[::1]"]
        );
        for allowed in [
            "inventory",
            "INVENTORY.",
            "cart.internal.example.com",
            "a.b.internal.example.com",
            "10.0.0.7",
            "[::1]",
            "[0:0:0:0:0:0:0:1]",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in [
            "internal.example.com",
            "xinternal.example.com",
            "inventory.evil.example",
            "payments.example",
            "10.0.0.70",
            "",
            ".internal.example.com",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn malformed_entries_are_errors_naming_their_source() {
        for (entry, why) in [
            ("*", "bare *"),
            ("*.", "bare *"),
            ("", "empty host"),
            ("a.*.example.com", "leading `*.`"),
            ("https://payments.example", "no scheme"),
            ("payments.example:443", "no scheme, port"),
            ("pay ments.example", "not a host name"),
            ("a..b", "not a host name"),
        ] {
            match AllowedHosts::parse([entry], ConfigSource::Env(PROPAGATION_ALLOWED_HOSTS_ENV)) {
                Err(ConfigError::InvalidPropagationHost {
                    source_of, reason, ..
                }) => {
                    assert_eq!(source_of, ConfigSource::Env(PROPAGATION_ALLOWED_HOSTS_ENV));
                    assert!(reason.contains(why), "{entry:?}: {reason}");
                }
                other => panic!("{entry:?}: {other:?}"),
            }
        }
        let long = format!("{}.example", "a".repeat(300));
        assert!(AllowedHosts::new([long]).is_err());
    }

    #[test]
    fn the_list_is_bounded() {
        let at_bound: Vec<String> = (0..MAX_PROPAGATION_HOSTS)
            .map(|i| format!("h{i}"))
            .collect();
        assert_eq!(
            AllowedHosts::new(&at_bound).unwrap().iter().count(),
            MAX_PROPAGATION_HOSTS
        );
        let over: Vec<String> = (0..=MAX_PROPAGATION_HOSTS)
            .map(|i| format!("h{i}"))
            .collect();
        assert!(matches!(
            AllowedHosts::new(over),
            Err(ConfigError::InvalidPropagationHost { .. })
        ));
    }
}
