//! Payment methods (see [`PaymentMethod`]).

use std::fmt;

use opentelemetry::{KeyValue, Value};

use super::scrub::luhn_valid;
use super::wipe;
use crate::attributes::{PAYMENT_CARD_BRAND, PAYMENT_CARD_LAST4, PAYMENT_METHOD_TYPE, string_enum};
use crate::error::ValueError;

string_enum! {
    /// The kind of payment method (`payment.method_type`).
    pub enum PaymentMethodType {
        /// A payment card.
        Card => "card",
        /// A digital wallet (Apple Pay, Google Pay, PayPal, ...).
        Wallet => "wallet",
        /// A bank transfer or direct debit.
        BankTransfer => "bank_transfer",
        /// Anything else.
        Other => "other",
    }
}

string_enum! {
    /// A card brand (`payment.card.brand`), detected from the issuer
    /// identification number (the leading digits).
    pub enum CardBrand {
        /// Visa: 4.
        Visa => "visa",
        /// Mastercard: 51-55, 2221-2720.
        Mastercard => "mastercard",
        /// American Express: 34, 37.
        Amex => "amex",
        /// Discover: 6011, 644-649, 65.
        Discover => "discover",
        /// JCB: 3528-3589.
        Jcb => "jcb",
        /// Diners Club: 300-305, 309, 36, 38, 39.
        Diners => "diners",
        /// UnionPay: 62, 81.
        UnionPay => "unionpay",
        /// Not recognised.
        Unknown => "unknown",
    }
}

string_enum! {
    /// A digital wallet. Not recorded as an attribute (the telemetry contract
    /// has no key for it): only `payment.method_type = wallet` is.
    pub enum WalletKind {
        /// Apple Pay.
        ApplePay => "apple_pay",
        /// Google Pay.
        GooglePay => "google_pay",
        /// PayPal.
        PayPal => "paypal",
        /// Any other wallet.
        Other => "other",
    }
}

impl CardBrand {
    /// Brand of a card from its digits (at least 6, ASCII).
    fn detect(digits: &[u8]) -> CardBrand {
        let prefix = |n: usize| {
            digits
                .iter()
                .take(n)
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
        if p1 == 4 {
            CardBrand::Visa
        } else if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
            CardBrand::Mastercard
        } else if p2 == 34 || p2 == 37 {
            CardBrand::Amex
        } else if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 {
            CardBrand::Discover
        } else if (3528..=3589).contains(&p4) {
            CardBrand::Jcb
        } else if (300..=305).contains(&p3) || p3 == 309 || matches!(p2, 36 | 38 | 39) {
            CardBrand::Diners
        } else if p2 == 62 || p2 == 81 {
            CardBrand::UnionPay
        } else {
            CardBrand::Unknown
        }
    }
}

/// A card reduced to what may be recorded: brand and last four digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Card {
    brand: CardBrand,
    last4: [u8; 4],
}

impl Card {
    /// The brand.
    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        // Only ever built from four ASCII digits.
        std::str::from_utf8(&self.last4).unwrap_or("????")
    }
}

/// Every four-digit string, so that a card's last four are recorded without
/// an allocation on every payment span.
static LAST4: [[u8; 4]; 10_000] = {
    let mut table = [[0u8; 4]; 10_000];
    let mut i = 0;
    while i < 10_000 {
        table[i] = [
            b'0' + (i / 1000) as u8,
            b'0' + (i / 100 % 10) as u8,
            b'0' + (i / 10 % 10) as u8,
            b'0' + (i % 10) as u8,
        ];
        i += 1;
    }
    table
};

impl Card {
    /// The `payment.card.last4` value, borrowed from [`LAST4`].
    fn last4_value(&self) -> Value {
        let index = self.last4.iter().try_fold(0usize, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
        });
        let digits = index.and_then(|i| LAST4.get(i));
        match digits.and_then(|d| std::str::from_utf8(d).ok()) {
            Some(digits) => Value::from(digits),
            None => Value::from(self.last4().to_owned()),
        }
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("brand", &self.brand)
            .field("last4", &self.last4())
            .finish()
    }
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ****{}", self.brand, self.last4())
    }
}

/// How a customer pays. Recorded only as `payment.method_type`, plus
/// `payment.card.brand` and `payment.card.last4` for cards.
///
/// A `PaymentMethod` cannot hold a full card number, token, expiry or CVV:
/// [`PaymentMethod::card_from_number`] borrows the number (the gateway still
/// needs it), keeps only the brand and the last four digits, and leaves no
/// copy of the number behind. `Debug` and `Display` show no more than the
/// attributes do.
///
/// ```
/// use checkout_otel::pii::{CardBrand, PaymentMethod, PaymentMethodType};
///
/// let pm = PaymentMethod::card_from_number("4242 4242 4242 4242").unwrap();
/// assert_eq!(pm.method_type(), PaymentMethodType::Card);
/// assert_eq!(format!("{pm}"), "card visa ****4242");
///
/// let attrs: Vec<_> = pm.key_values().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
/// assert_eq!(attrs, [
///     ("payment.method_type".to_string(), "card".to_string()),
///     ("payment.card.brand".to_string(), "visa".to_string()),
///     ("payment.card.last4".to_string(), "4242".to_string()),
/// ]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PaymentMethod {
    /// A payment card (brand and last four only).
    Card(Card),
    /// A digital wallet.
    Wallet(WalletKind),
    /// A bank transfer or direct debit.
    BankTransfer,
    /// Anything else.
    Other,
}

/// Overwrites the digits copied out of a card number however the function
/// returns.
struct Wiped<const N: usize>([u8; N]);

impl<const N: usize> Drop for Wiped<N> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

impl PaymentMethod {
    /// A card from its full number, borrowed: only the brand (detected from
    /// the leading digits) and the last four digits are kept. The digits are
    /// copied once, into a buffer on the stack that is overwritten before the
    /// function returns, so no copy of the number outlives the call; the
    /// caller's string is left as it was, for the gateway (zeroing it after
    /// the charge, e.g. with `zeroize`, is the caller's to do).
    ///
    /// Spaces and dashes between digits are ignored. Fails with
    /// [`ValueError::InvalidCardNumber`] (which never shows the number) unless the
    /// number has 12 to 19 digits and passes the Luhn check.
    pub fn card_from_number(number: &str) -> Result<PaymentMethod, ValueError> {
        let mut digits = Wiped([0u8; 19]);
        let mut n = 0;
        for &c in number.as_bytes() {
            match c {
                b'0'..=b'9' => {
                    if n == digits.0.len() {
                        return Err(ValueError::InvalidCardNumber(
                            "a card number has 12 to 19 digits",
                        ));
                    }
                    digits.0[n] = c;
                    n += 1;
                }
                b' ' | b'-' => {}
                _ => {
                    return Err(ValueError::InvalidCardNumber(
                        "a card number has only digits, spaces and dashes",
                    ));
                }
            }
        }
        let digits = &digits.0[..n];
        if n < 12 {
            return Err(ValueError::InvalidCardNumber(
                "a card number has 12 to 19 digits",
            ));
        }
        if !luhn_valid(digits) {
            return Err(ValueError::InvalidCardNumber(
                "the card number fails the Luhn check",
            ));
        }
        let mut last4 = [0u8; 4];
        last4.copy_from_slice(&digits[n - 4..]);
        Ok(PaymentMethod::Card(Card {
            brand: CardBrand::detect(digits),
            last4,
        }))
    }

    /// A card from its brand and last four digits, e.g. as returned by the
    /// payment gateway. Fails with [`ValueError::InvalidCardNumber`] unless `last4`
    /// is exactly four ASCII digits.
    pub fn card(brand: CardBrand, last4: &str) -> Result<PaymentMethod, ValueError> {
        let bytes = last4.as_bytes();
        if bytes.len() != 4 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(ValueError::InvalidCardNumber(
                "last four must be exactly four digits",
            ));
        }
        let mut digits = [0u8; 4];
        digits.copy_from_slice(bytes);
        Ok(PaymentMethod::Card(Card {
            brand,
            last4: digits,
        }))
    }

    /// The kind of payment method.
    pub fn method_type(&self) -> PaymentMethodType {
        match self {
            PaymentMethod::Card(_) => PaymentMethodType::Card,
            PaymentMethod::Wallet(_) => PaymentMethodType::Wallet,
            PaymentMethod::BankTransfer => PaymentMethodType::BankTransfer,
            PaymentMethod::Other => PaymentMethodType::Other,
        }
    }

    /// The card, if this is one.
    pub fn as_card(&self) -> Option<&Card> {
        match self {
            PaymentMethod::Card(card) => Some(card),
            _ => None,
        }
    }

    /// The attributes: `payment.method_type`, and for cards
    /// `payment.card.brand` and `payment.card.last4`.
    pub fn key_values(&self) -> impl Iterator<Item = KeyValue> + use<> {
        let (brand, last4) = match self {
            PaymentMethod::Card(card) => (
                Some(KeyValue::new(PAYMENT_CARD_BRAND, card.brand)),
                Some(KeyValue::new(PAYMENT_CARD_LAST4, card.last4_value())),
            ),
            _ => (None, None),
        };
        [
            Some(KeyValue::new(PAYMENT_METHOD_TYPE, self.method_type())),
            brand,
            last4,
        ]
        .into_iter()
        .flatten()
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentMethod::Card(card) => write!(f, "card {card}"),
            PaymentMethod::Wallet(kind) => write!(f, "wallet {kind}"),
            PaymentMethod::BankTransfer => f.write_str("bank_transfer"),
            PaymentMethod::Other => f.write_str("other"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last four are recorded from a static table, without allocating:
    /// every one of the 10 000 values must come out as its own digits, as a
    /// borrowed `'static` string.
    #[test]
    fn last4_attribute_is_the_digits_for_every_value() {
        for i in 0..10_000 {
            let digits = format!("{i:04}");
            let card = PaymentMethod::card(CardBrand::Visa, &digits).unwrap();
            let last4 = card
                .key_values()
                .find(|kv| kv.key.as_str() == PAYMENT_CARD_LAST4)
                .unwrap();
            match last4.value {
                Value::String(s) => {
                    assert_eq!(s.as_str(), digits);
                    let at = s.as_str().as_ptr().cast::<[u8; 4]>();
                    assert!(LAST4.as_ptr_range().contains(&at), "{digits} was copied");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
