//! TEMP STUB (not committed)
#![allow(missing_docs, dead_code)]
use opentelemetry::KeyValue;
use std::borrow::Cow;
pub fn scrub(t: &str) -> Cow<'_, str> { Cow::Borrowed(t) }
#[derive(Debug, Clone)] pub struct UserRef(String);
impl UserRef { pub fn new(id: &str) -> Self { UserRef(id.to_string()) } pub fn key_value(&self) -> KeyValue { KeyValue::new("user.hash", self.0.clone()) } }
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub struct Currency(&'static str);
impl Currency { pub const USD: Currency = Currency("USD"); pub fn code(&self) -> &'static str { self.0 } }
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub struct Money(i64, Currency);
impl Money { pub fn from_minor(m: i64, c: Currency) -> Self { Money(m, c) } pub fn parse(_s: &str, c: Currency) -> crate::Result<Self> { Ok(Money(4998, c)) } pub fn minor_units(&self) -> i64 { self.0 } pub fn currency(&self) -> Currency { self.1 } pub fn to_decimal_string(&self) -> String { format!("{}.{:02}", self.0/100, self.0%100) } }
#[derive(Debug, Clone)] pub enum PaymentMethod { Card }
impl PaymentMethod { pub fn card_from_number(_n: String) -> crate::Result<Self> { Ok(PaymentMethod::Card) } pub fn key_values(&self) -> impl Iterator<Item = KeyValue> + '_ { std::iter::once(KeyValue::new("payment.method_type", "card")) } }
