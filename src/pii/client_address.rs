//! The buyer's IP address (`client.address`): kept, but anonymised the way
//! web analytics does it, so a span says where traffic comes from (a
//! network, a region, a misbehaving proxy) without naming the household.
//!
//! - IPv4: the last octet is zeroed (`203.0.113.77` → `203.0.113.0`, a /24);
//! - IPv6: everything after the first 48 bits is zeroed
//!   (`2001:db8:cafe:1::17` → `2001:db8:cafe::`, a site's /48);
//! - an IPv4 address mapped into IPv6 (`::ffff:203.0.113.77`) is treated as
//!   the IPv4 address it carries.
//!
//! The server layer records the anonymised address, and the exit check
//! anonymises any full address found under a client-address key again
//! (see [`KeyClass::ClientAddress`](super::keys::KeyClass)).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `ip` with its host part zeroed (see the module documentation).
pub(crate) fn anonymize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(anonymize_v4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(anonymize_v4(v4)),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

fn anonymize_v4(v4: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = v4.octets();
    Ipv4Addr::new(a, b, c, 0)
}

/// The IP address in `text`, as forwarding headers and peers write one:
/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, optionally in double quotes (`Forwarded`).
/// `None` for anything else (`unknown`, an obfuscated `_id`, a host name).
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    text.strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .and_then(|t| t.parse::<IpAddr>().ok())
}

/// The exit check's value for a client-address key: the anonymised address
/// when `text` holds one, `None` when it is not an IP address (then the
/// value is masked: it may be a host name that names a person).
pub(crate) fn anonymize_client_address(text: &str) -> Option<String> {
    parse_ip(text).map(|ip| anonymize_ip(ip).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroes_the_host_part() {
        for (raw, anonymised) in [
            ("203.0.113.77", "203.0.113.0"),
            ("203.0.113.77:4711", "203.0.113.0"),
            ("\"203.0.113.77\"", "203.0.113.0"),
            ("2001:db8:cafe:1::17", "2001:db8:cafe::"),
            ("[2001:db8:cafe:1::17]:4711", "2001:db8:cafe::"),
            ("\"[2001:db8:cafe:1::17]\"", "2001:db8:cafe::"),
            ("::ffff:203.0.113.77", "203.0.113.0"),
            ("127.0.0.1", "127.0.0.0"),
            ("::1", "::"),
            // Already anonymised: unchanged.
            ("203.0.113.0", "203.0.113.0"),
        ] {
            assert_eq!(
                anonymize_client_address(raw).as_deref(),
                Some(anonymised),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_ip_address() {
        for text in [
            "unknown",
            "_hidden",
            "jane.example.com",
            "",
            "1.2.3",
            "[::1",
        ] {
            assert_eq!(anonymize_client_address(text), None, "{text}");
        }
    }
}
