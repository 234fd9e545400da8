//! URL handling shared by every HTTP client span: what may be recorded of a URL.

/// The recordable parts of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `scheme://host[:port]/path`: no credentials, no query, no fragment.
    pub full: String,
    pub host: &'a str,
    pub port: Option<u16>,
}

/// Splits `url` into what `url.full`, `server.address` and `server.port` may
/// carry. Credentials (`user:pass@`), the query string and the fragment are
/// dropped, since they routinely carry tokens, emails and card data.
/// Returns `None` for text that is not an absolute URL.
pub(crate) fn recordable_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None if scheme.eq_ignore_ascii_case("http") => Some(80),
        None if scheme.eq_ignore_ascii_case("https") => Some(443),
        None => None,
    };
    // Most URLs carry nothing to strip: copy them as they are. Otherwise
    // assemble the parts without the formatting machinery (a hot path).
    let untouched =
        host_port.len() == authority.len() && scheme.len() + 3 + rest.len() == url.len();
    let full = if untouched {
        url.to_owned()
    } else {
        let mut full = String::with_capacity(scheme.len() + 3 + host_port.len() + path.len());
        full.push_str(scheme);
        full.push_str("://");
        full.push_str(host_port);
        full.push_str(path);
        full
    };
    Some(UrlParts { full, host, port })
}

/// The `http.request.method` value: one of the well-known methods, or
/// `_OTHER` as the semantic conventions ask (an arbitrary method string would
/// be unbounded).
pub(crate) fn request_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
        .unwrap_or("_OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials_query_and_fragment() {
        let p = recordable_url(
            "https://user:secret@pay.example.com:8443/v1/charges?card=4111111111111111#x",
        )
        .unwrap();
        assert_eq!(p.full, "https://pay.example.com:8443/v1/charges");
        assert_eq!(p.host, "pay.example.com");
        assert_eq!(p.port, Some(8443));
    }

    #[test]
    fn default_ports_and_ipv6() {
        assert_eq!(recordable_url("http://gw/charge").unwrap().port, Some(80));
        assert_eq!(recordable_url("https://gw").unwrap().port, Some(443));
        let p = recordable_url("http://[::1]:9000/x?y=1").unwrap();
        assert_eq!((p.host, p.port), ("::1", Some(9000)));
        assert_eq!(p.full, "http://[::1]:9000/x");
    }

    #[test]
    fn rejects_non_urls() {
        assert_eq!(recordable_url("not a url"), None);
        assert_eq!(recordable_url("http://:80/"), None);
        assert_eq!(recordable_url("http://host:notaport/"), None);
    }
}
