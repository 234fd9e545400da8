//! Money and currencies (see [`Money`]).

use std::fmt;

use opentelemetry::{KeyValue, Value};

use super::scrub::scrub_with_limit;
use crate::attributes::{
    CHECKOUT_CURRENCY, CHECKOUT_TOTAL, CHECKOUT_TOTAL_MINOR, PAYMENT_AMOUNT, PAYMENT_AMOUNT_MINOR,
    PAYMENT_CURRENCY,
};
use crate::error::ValueError;

/// Active ISO 4217 codes with their minor-unit exponents, sorted by code.
/// Codes without a minor unit (precious metals, XDR, XXX, ...) are left out.
/// ANG and XCG are both listed while the Caribbean guilder replaces the
/// Antillean one.
static TABLE: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An ISO 4217 currency with its minor-unit exponent.
///
/// Only codes in the crate's ISO 4217 table can be made, so a currency is
/// always valid and knows how many decimals it has (JPY 0, USD 2, BHD 3,
/// CLF 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// US dollar (2 decimals).
    pub const USD: Currency = Currency::known("USD", 2);
    /// Euro (2 decimals).
    pub const EUR: Currency = Currency::known("EUR", 2);
    /// Pound sterling (2 decimals).
    pub const GBP: Currency = Currency::known("GBP", 2);
    /// Japanese yen (0 decimals).
    pub const JPY: Currency = Currency::known("JPY", 0);
    /// Swiss franc (2 decimals).
    pub const CHF: Currency = Currency::known("CHF", 2);
    /// Canadian dollar (2 decimals).
    pub const CAD: Currency = Currency::known("CAD", 2);
    /// Australian dollar (2 decimals).
    pub const AUD: Currency = Currency::known("AUD", 2);
    /// South Korean won (0 decimals).
    pub const KRW: Currency = Currency::known("KRW", 0);
    /// Bahraini dinar (3 decimals).
    pub const BHD: Currency = Currency::known("BHD", 3);
    /// Kuwaiti dinar (3 decimals).
    pub const KWD: Currency = Currency::known("KWD", 3);

    const fn known(code: &'static str, exponent: u8) -> Currency {
        Currency { code, exponent }
    }

    /// The currency with ISO 4217 code `code` (case-insensitive, surrounding
    /// whitespace ignored). Fails with [`ValueError::InvalidCurrency`] for
    /// anything else.
    pub fn from_code(code: &str) -> Result<Currency, ValueError> {
        let trimmed = code.trim();
        let bytes = trimmed.as_bytes();
        let upper = match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => [
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ],
            _ => return Err(invalid_currency(code)),
        };
        TABLE
            .binary_search_by(|(known, _)| known.as_bytes().cmp(&upper[..]))
            .map(|i| Currency {
                code: TABLE[i].0,
                exponent: TABLE[i].1,
            })
            .map_err(|_| invalid_currency(code))
    }

    /// Every currency in the table, sorted by code.
    pub fn all() -> impl Iterator<Item = Currency> {
        TABLE
            .iter()
            .map(|&(code, exponent)| Currency { code, exponent })
    }

    /// The three-letter code, upper case.
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// Number of decimals of the minor unit (USD 2, JPY 0, BHD 3).
    pub const fn exponent(&self) -> u8 {
        self.exponent
    }
}

fn invalid_currency(code: &str) -> ValueError {
    // Whatever was passed may be free text: keep the error short and clean.
    ValueError::InvalidCurrency(scrub_with_limit(code, 16).into_owned())
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl From<Currency> for Value {
    fn from(c: Currency) -> Value {
        Value::from(c.code)
    }
}

/// An amount of money: integer minor units with an ISO 4217 [`Currency`].
///
/// No floating point anywhere: amounts are `i64` minor units (cents, yen,
/// fils), decimal strings are parsed digit by digit, arithmetic is checked
/// (overflow and mixed currencies are errors, never wrap-around), and the
/// `payment.amount` / `checkout.total` attribute value is the exact decimal
/// string. Converting `12.34` with `Math.round(amount * 100)` is the bug this
/// type exists to avoid.
///
/// ```
/// use checkout_otel::pii::{Currency, Money};
///
/// let price = Money::parse("19.99", Currency::USD).unwrap();
/// let total = price.checked_mul(3).unwrap();
/// assert_eq!(total.minor_units(), 5997);
/// assert_eq!(total.to_decimal_string(), "59.97");
/// assert_eq!(total.to_string(), "59.97 USD");
///
/// let yen = Money::parse("1234", Currency::from_code("jpy").unwrap()).unwrap();
/// assert_eq!(yen.minor_units(), 1234);
/// assert!(price.checked_add(yen).is_err()); // USD + JPY
/// assert!(Money::parse("19.999", Currency::USD).is_err()); // USD has 2 decimals
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` minor units of `currency` (`Money::from_minor(1234, USD)` is
    /// 12.34 USD).
    pub const fn from_minor(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses a decimal amount in major units exactly: an optional leading
    /// `-`, digits, and optionally `.` followed by at most
    /// [`Currency::exponent`] digits (`"12.34"`, `"-0.05"`, `"7"`; JPY
    /// `"1234"`). Anything else, including thousands separators, exponents,
    /// whitespace and a leading `+`, is [`ValueError::InvalidAmount`]; a value
    /// outside `i64` minor units is [`ValueError::AmountOverflow`].
    pub fn parse(decimal: &str, currency: Currency) -> Result<Money, ValueError> {
        let invalid = |reason: &'static str| ValueError::InvalidAmount {
            value: scrub_with_limit(decimal, 32).into_owned(),
            reason,
        };
        let (negative, body) = match decimal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, decimal),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        let has_point = int_part.len() != body.len();
        if int_part.is_empty() {
            return Err(invalid("expected digits before the decimal point"));
        }
        let all_digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        if !all_digits(int_part) || !all_digits(frac_part) {
            return Err(invalid(
                "expected digits with an optional leading '-' and one '.'",
            ));
        }
        if has_point && frac_part.is_empty() {
            return Err(invalid("expected digits after the decimal point"));
        }
        if frac_part.len() > usize::from(currency.exponent) {
            return Err(invalid("more decimals than the currency's minor unit"));
        }
        let mut magnitude: u64 = 0;
        for c in int_part.bytes().chain(frac_part.bytes()) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(c - b'0')))
                .ok_or(ValueError::AmountOverflow)?;
        }
        // frac_part.len() <= exponent <= 4, so the shift fits in u32.
        let shift = u32::from(currency.exponent) - frac_part.len() as u32;
        magnitude = magnitude
            .checked_mul(10u64.pow(shift))
            .ok_or(ValueError::AmountOverflow)?;
        let signed = if negative {
            -i128::from(magnitude)
        } else {
            i128::from(magnitude)
        };
        let minor = i64::try_from(signed).map_err(|_| ValueError::AmountOverflow)?;
        Ok(Money { minor, currency })
    }

    /// The amount in minor units.
    pub const fn minor_units(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is below zero (a refund, a discount line).
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// `self + other`: [`ValueError::CurrencyMismatch`] for different currencies,
    /// [`ValueError::AmountOverflow`] on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, ValueError> {
        self.same_currency(other)?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money { minor, ..self })
            .ok_or(ValueError::AmountOverflow)
    }

    /// `self - other`: [`ValueError::CurrencyMismatch`] for different currencies,
    /// [`ValueError::AmountOverflow`] on overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, ValueError> {
        self.same_currency(other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Money { minor, ..self })
            .ok_or(ValueError::AmountOverflow)
    }

    /// `self × quantity` (a line total): [`ValueError::AmountOverflow`] on overflow.
    pub fn checked_mul(self, quantity: u64) -> Result<Money, ValueError> {
        let product = i128::from(self.minor) * i128::from(quantity);
        i64::try_from(product)
            .map(|minor| Money { minor, ..self })
            .map_err(|_| ValueError::AmountOverflow)
    }

    fn same_currency(self, other: Money) -> Result<(), ValueError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(ValueError::CurrencyMismatch {
                left: self.currency.code,
                right: other.currency.code,
            })
        }
    }

    /// The exact amount in major units with the currency's number of
    /// decimals: `"12.34"`, `"-0.05"`, JPY `"1234"`, BHD `"1.234"`. This is
    /// the value of `payment.amount` and `checkout.total`.
    pub fn to_decimal_string(&self) -> String {
        // Written digit by digit, right to left: this runs for every payment
        // and checkout span, and `format!` with a padded fraction costs more
        // than all their other attributes together.
        let exponent = usize::from(self.currency.exponent);
        let mut magnitude = self.minor.unsigned_abs();
        // 20 digits of u64::MAX, leading zeros up to the exponent, '.', '-'.
        let mut buf = [0u8; 48];
        let mut at = buf.len();
        let mut digits = 0;
        loop {
            if digits == exponent && exponent > 0 {
                at -= 1;
                buf[at] = b'.';
            }
            at -= 1;
            buf[at] = b'0' + (magnitude % 10) as u8;
            magnitude /= 10;
            digits += 1;
            if magnitude == 0 && digits > exponent {
                break;
            }
        }
        if self.minor < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        // Only ASCII digits, '.' and '-' were written: never invalid UTF-8.
        String::from_utf8(buf[at..].to_vec()).unwrap_or_default()
    }

    /// `payment.amount` (exact decimal), `payment.amount_minor` and
    /// `payment.currency`.
    pub fn payment_key_values(&self) -> [KeyValue; 3] {
        [
            KeyValue::new(PAYMENT_AMOUNT, self.to_decimal_string()),
            KeyValue::new(PAYMENT_AMOUNT_MINOR, self.minor),
            KeyValue::new(PAYMENT_CURRENCY, self.currency),
        ]
    }

    /// `checkout.total` (exact decimal), `checkout.total_minor` and
    /// `checkout.currency`.
    pub fn checkout_total_key_values(&self) -> [KeyValue; 3] {
        [
            KeyValue::new(CHECKOUT_TOTAL, self.to_decimal_string()),
            KeyValue::new(CHECKOUT_TOTAL_MINOR, self.minor),
            KeyValue::new(CHECKOUT_CURRENCY, self.currency),
        ]
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

/// `"12.34 USD"`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit writer agrees with `format!` for every exponent in
    /// use, at the edges of `i64` and around every power of ten.
    #[test]
    fn decimal_string_matches_format() {
        fn reference(m: Money) -> String {
            let sign = if m.minor < 0 { "-" } else { "" };
            let magnitude = m.minor.unsigned_abs();
            let scale = 10u64.pow(u32::from(m.currency.exponent()));
            let (major, fraction) = (magnitude / scale, magnitude % scale);
            match m.currency.exponent {
                0 => format!("{sign}{major}"),
                width => format!(
                    "{sign}{major}.{fraction:0width$}",
                    width = usize::from(width)
                ),
            }
        }
        let mut values = vec![
            0,
            1,
            -1,
            5,
            -5,
            99,
            100,
            4_998,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ];
        let mut p: i64 = 1;
        while let Some(next) = p.checked_mul(10) {
            values.extend([p - 1, p, p + 1, -p, next / 3]);
            p = next;
        }
        for currency in [Currency::JPY, Currency::USD, Currency::BHD] {
            for &minor in &values {
                let m = Money::from_minor(minor, currency);
                assert_eq!(m.to_decimal_string(), reference(m), "{minor} {currency}");
            }
        }
    }

    #[test]
    fn table_is_sorted_unique_and_consts_agree() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        for c in [
            Currency::USD,
            Currency::EUR,
            Currency::GBP,
            Currency::JPY,
            Currency::CHF,
            Currency::CAD,
            Currency::AUD,
            Currency::KRW,
            Currency::BHD,
            Currency::KWD,
        ] {
            assert_eq!(Currency::from_code(c.code()).unwrap(), c);
        }
    }
}
