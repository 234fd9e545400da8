//! Lookups shared by spans, events and metric points.

/// Typed attribute getters over `self.attrs()`. The last value of a key
/// wins (the SDK does not de-duplicate keys).
macro_rules! attr_getters {
    ($lt:lifetime) => {
        /// The value of attribute `key`.
        pub fn attr(&self, key: &str) -> Option<&$lt $crate::opentelemetry::Value> {
            $crate::waterfall::last_attr(self.attrs(), key)
        }

        /// The value of `key` if it is a string.
        pub fn attr_str(&self, key: &str) -> Option<&$lt str> {
            match self.attr(key)? {
                $crate::opentelemetry::Value::String(s) => Some(s.as_str()),
                _ => None,
            }
        }

        /// The value of `key` if it is an integer.
        pub fn attr_i64(&self, key: &str) -> Option<i64> {
            match self.attr(key)? {
                $crate::opentelemetry::Value::I64(v) => Some(*v),
                _ => None,
            }
        }

        /// The value of `key` if it is a float.
        pub fn attr_f64(&self, key: &str) -> Option<f64> {
            match self.attr(key)? {
                $crate::opentelemetry::Value::F64(v) => Some(*v),
                _ => None,
            }
        }

        /// The value of `key` if it is a boolean.
        pub fn attr_bool(&self, key: &str) -> Option<bool> {
            match self.attr(key)? {
                $crate::opentelemetry::Value::Bool(v) => Some(*v),
                _ => None,
            }
        }

        /// Whether attribute `key` is present.
        pub fn has_attr(&self, key: &str) -> bool {
            self.attr(key).is_some()
        }
    };
}
pub(super) use attr_getters;

/// Distinct values in first-seen order, for "found: [...]" panic messages.
pub(super) fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}
