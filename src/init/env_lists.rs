//! The list-valued variables: `key=value` lists with percent-encoded values
//! (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_*HEADERS`) and the
//! export headers they make.

use http::{HeaderName, HeaderValue};

use super::env::Env;
use super::limits::{MAX_EXPORT_HEADER_BYTES, MAX_EXPORT_HEADERS};
use crate::error::{ConfigError, ConfigSource, echo};

/// Headers from `var` (`k=v,...`, percent-decoded); `None` when unset.
pub(crate) fn parse_headers(
    env: &Env<'_>,
    var: &'static str,
) -> Result<Option<Vec<(HeaderName, HeaderValue)>>, ConfigError> {
    env.parse(var, |value, source_of| {
        let pairs = parse_key_values(value, MAX_EXPORT_HEADERS).map_err(|reason| {
            ConfigError::InvalidHeaders {
                source_of: source_of.clone(),
                reason,
            }
        })?;
        let mut headers = Vec::new();
        for (k, v) in pairs {
            set_header(&mut headers, &k, &v, source_of.clone())?;
        }
        check_headers(&headers, source_of)?;
        Ok(headers)
    })
}

/// Sets header `key` (replacing one of the same name). Errors never quote the value.
pub(crate) fn set_header(
    headers: &mut Vec<(HeaderName, HeaderValue)>,
    key: &str,
    value: &str,
    source_of: ConfigSource,
) -> Result<(), ConfigError> {
    let key = key.trim();
    let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| ConfigError::InvalidHeaders {
        source_of: source_of.clone(),
        reason: format!("{:?} is not a valid header name", echo(key)),
    })?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| ConfigError::InvalidHeaders {
        source_of,
        reason: format!(
            "the value of header {:?} is not a valid header value",
            echo(key)
        ),
    })?;
    headers.retain(|(k, _)| *k != name);
    headers.push((name, value));
    Ok(())
}

/// At most [`MAX_EXPORT_HEADERS`] headers of at most
/// [`MAX_EXPORT_HEADER_BYTES`] together.
pub(crate) fn check_headers(
    headers: &[(HeaderName, HeaderValue)],
    source_of: ConfigSource,
) -> Result<(), ConfigError> {
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    let reason = if headers.len() > MAX_EXPORT_HEADERS {
        format!(
            "{} headers, at most {MAX_EXPORT_HEADERS} are allowed",
            headers.len()
        )
    } else if bytes > MAX_EXPORT_HEADER_BYTES {
        format!("{bytes} bytes of headers, at most {MAX_EXPORT_HEADER_BYTES} are allowed")
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidHeaders { source_of, reason })
}

/// Parses `key1=value1,key2=value2` with percent-encoded values (the W3C
/// baggage octet rules used by `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`), at most `max_entries` of them. Errors never
/// quote a value.
pub(crate) fn parse_key_values(
    input: &str,
    max_entries: usize,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, entry) in input.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if out.len() == max_entries {
            return Err(format!(
                "more than {max_entries} entries, at most {max_entries} are allowed"
            ));
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {} has no '='", i + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {} has an empty key", i + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of {:?} has invalid percent-encoding", echo(key)))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// Decodes `%XX` escapes: exactly two hex digits each (no sign, no short
/// escape), into UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            // Two hex digits are at most 0xff.
            out.push(u8::try_from(hi << 4 | lo).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_decode_percent_and_reject_malformed() {
        assert_eq!(
            parse_key_values("a=1, b = x%2Cy ,,c=%C3%A9", 8).unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x,y".into()),
                ("c".into(), "é".into())
            ]
        );
        assert_eq!(parse_key_values("a", 8).unwrap_err(), "entry 1 has no '='");
        assert_eq!(
            parse_key_values("=1", 8).unwrap_err(),
            "entry 1 has an empty key"
        );
        for malformed in [
            "k=%zz", "k=%+1", "k=%-1", "k=% 1", "k=%4", "k=%", "k=%é1", "k=%ff",
        ] {
            let err = parse_key_values(malformed, 8).unwrap_err();
            assert!(err.contains("\"k\""), "{malformed}: {err}");
        }
        assert_eq!(
            parse_key_values("a=1,b=2,c=3", 2).unwrap_err(),
            "more than 2 entries, at most 2 are allowed"
        );
    }
}
