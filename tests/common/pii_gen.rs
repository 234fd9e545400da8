//! PII as people, forms, gateways and URLs spell it, for the attacker's
//! suite (`tests/pii_attack.rs`): card numbers of every brand with any
//! separators, IBANs, emails in plain and encoded forms, international phone
//! numbers. Each [`Sample`] knows its canonical form, so the independent
//! matcher (`pii_match`) can look for it in whatever arrives.
//!
//! One strategy per spelling family; [`every_family`] yields one sample of
//! each, so every case of a property covers every spelling.

use proptest::prelude::*;
use proptest::sample::Index;

use super::pii_scan::luhn;

/// What kind of PII a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Card,
    Email,
    Iban,
    Phone,
}

/// One generated piece of PII in one spelling.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The spelling family, e.g. `card/nbsp`.
    pub family: &'static str,
    pub kind: Kind,
    /// The value as spelled.
    pub text: String,
    /// What must never arrive in any spelling: card digits, lower-case
    /// address, compact upper-case IBAN, the phone's national significant
    /// number.
    pub canonical: String,
    /// The spelling is already URL-encoded: put it in URLs as it is.
    pub url_encoded: bool,
    /// Which sentence the value sits in ([`Sample::in_text`]).
    pub context: usize,
}

/// Sentences around a value, as messages and notes carry it.
const CONTEXTS: &[&str] = &[
    "{}",
    "card {} declined",
    "contact: {}",
    "({})",
    "note={};",
    "Refund to {} failed, retry later",
];

impl Sample {
    /// The value inside its sentence.
    pub fn in_text(&self) -> String {
        CONTEXTS[self.context % CONTEXTS.len()].replace("{}", &self.text)
    }

    /// The card number as an integer, when it is one and fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        (self.kind == Kind::Card)
            .then(|| self.canonical.parse().ok())
            .flatten()
    }

    /// The value as a URL path segment.
    pub fn url_path(&self) -> String {
        if self.url_encoded {
            self.text.clone()
        } else {
            percent_encode(&self.text, |c| {
                c.is_ascii_alphanumeric() || "-._~@:+,;=!$'()*".contains(c)
            })
        }
    }

    /// The value as a form-encoded query value (`application/x-www-form-urlencoded`:
    /// space as `+`, `@` as `%40`).
    pub fn url_form(&self) -> String {
        if self.url_encoded {
            self.text.clone()
        } else {
            form_encode(&self.text)
        }
    }

    /// The value as a query value written by hand: only what must be
    /// escaped is (`@`, `+`, `:` and `/` stay).
    pub fn url_query_raw(&self) -> String {
        if self.url_encoded {
            self.text.clone()
        } else {
            percent_encode(&self.text, |c| {
                c.is_ascii_alphanumeric() || "-._~@:+,;!$'()*/".contains(c)
            })
        }
    }

    /// A value a W3C `tracestate` entry accepts: printable ASCII without
    /// `,` and `=`, no trailing space; anything else percent-encoded.
    pub fn tracestate_value(&self) -> String {
        let raw_ok = self
            .text
            .chars()
            .all(|c| (' '..='~').contains(&c) && c != ',' && c != '=' && c != '%')
            && !self.text.ends_with(' ')
            && self.text.len() <= 200;
        if raw_ok || self.url_encoded {
            self.text.clone()
        } else {
            percent_encode(&self.text, |c| {
                c.is_ascii_alphanumeric() || "-._~@:+/".contains(c)
            })
        }
    }

    /// A W3C `baggage` value: percent-encoded.
    pub fn baggage_value(&self) -> String {
        percent_encode(&self.in_text(), |c| {
            c.is_ascii_alphanumeric() || "-._~".contains(c)
        })
    }
}

/// `%XX` (upper-case hex) for every byte of a character `keep` refuses.
pub fn percent_encode(text: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if keep(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `application/x-www-form-urlencoded`, as browsers send forms.
pub fn form_encode(text: &str) -> String {
    percent_encode(text, |c| c.is_ascii_alphanumeric() || "*-._ ".contains(c)).replace(' ', "+")
}

// ---------------------------------------------------------------- cards

/// Brands: name, leading digits, lengths.
const BRANDS: &[(&str, &[&str], &[usize])] = &[
    ("visa", &["4"], &[13, 16, 19]),
    ("mastercard", &["51", "53", "55", "2221", "2720"], &[16]),
    ("amex", &["34", "37"], &[15]),
    ("discover", &["6011", "644", "65"], &[16, 19]),
    ("jcb", &["3528", "3589"], &[16, 19]),
    ("diners", &["300", "305", "36", "38"], &[14]),
    ("unionpay", &["62"], &[16, 17, 18, 19]),
    ("maestro", &["5018", "6304", "6759"], &[13, 15, 19]),
];

/// A Luhn-valid card number of a real brand, as digits, with its brand.
pub fn card_digits() -> impl Strategy<Value = (String, &'static str)> {
    (
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
        prop::collection::vec(0u8..=9, 19),
    )
        .prop_map(|(brand, prefix, len, body)| {
            let (name, prefixes, lengths) = BRANDS[brand.index(BRANDS.len())];
            let prefix = prefixes[prefix.index(prefixes.len())];
            let len = lengths[len.index(lengths.len())];
            let mut digits: String = prefix.to_owned();
            for d in body {
                if digits.len() == len - 1 {
                    break;
                }
                digits.push(char::from(b'0' + d));
            }
            for check in '0'..='9' {
                let candidate = format!("{digits}{check}");
                if luhn(&candidate) {
                    return (candidate, name);
                }
            }
            unreachable!("one check digit always completes a Luhn number")
        })
}

/// Every space a keyboard, a PDF or a form pastes.
pub const UNICODE_SPACES: &[&str] = &[
    "\u{a0}", "\u{202f}", "\u{2009}", "\u{3000}", "\u{2007}", "\u{2002}", "\u{200a}",
];
/// Dashes other than `-`: hyphen, non-breaking hyphen, figure dash, en dash,
/// minus sign, full-width hyphen-minus.
pub const UNICODE_DASHES: &[&str] = &[
    "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "\u{2212}", "\u{ff0d}",
];
const ALL_CARD_SEPARATORS: &[&str] = &[
    " ", "\t", ".", "-", "/", "\u{a0}", "\u{202f}", "\u{2009}", "\u{3000}", "\u{2013}", "\u{2212}",
];

/// Group sizes of a card number written `style`: 0 four by four, 1 the
/// brand's grouping (Amex 4-6-5, Diners 4-6-4), 2 random groups of 3 to 6.
fn card_groups(digits: &str, brand: &str, style: u8, cuts: &[bool]) -> Vec<String> {
    let sizes: Vec<usize> = match (style % 3, brand, digits.len()) {
        (1, "amex", 15) => vec![4, 6, 5],
        (1, "diners", 14) => vec![4, 6, 4],
        (0 | 1, _, n) => {
            let mut v = vec![4; n / 4];
            if n % 4 != 0 {
                v.push(n % 4);
            }
            v
        }
        (_, _, n) => {
            let mut v = Vec::new();
            let mut run = 0;
            // Groups of 3 to 6 digits (the last one shorter), as people and
            // forms cut a number: two-digit groups with dots or slashes are
            // dates, times and lists of amounts, which the scrubber keeps.
            for i in 0..n {
                run += 1;
                if i + 1 < n && ((cuts[i % cuts.len()] && run >= 3) || run == 6) {
                    v.push(run);
                    run = 0;
                }
            }
            v.push(run);
            v
        }
    };
    let mut out = Vec::new();
    let mut at = 0;
    for size in sizes {
        out.push(digits[at..at + size].to_owned());
        at += size;
    }
    out
}

/// A card number whose groups are separated by runs of `seps` (one chosen
/// per gap) of `runs` length.
fn card_family(
    family: &'static str,
    seps: &'static [&'static str],
    runs: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<Sample> {
    (
        card_digits(),
        0u8..3,
        prop::collection::vec(any::<bool>(), 19),
        prop::collection::vec((any::<Index>(), runs), 19),
        any::<Index>(),
    )
        .prop_map(move |((digits, brand), style, cuts, gaps, context)| {
            let text = if seps.is_empty() {
                digits.clone()
            } else {
                let groups = card_groups(&digits, brand, style, &cuts);
                let mut text = String::new();
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        let (sep, run) = &gaps[i];
                        text.push_str(&sep.get(seps).repeat(*run));
                    }
                    text.push_str(g);
                }
                text
            };
            Sample {
                family,
                kind: Kind::Card,
                text,
                canonical: digits,
                url_encoded: false,
                context: context.index(CONTEXTS.len()),
            }
        })
        .boxed()
}

// ---------------------------------------------------------------- IBANs

/// Country, BBAN pattern: `n` digit, `a` upper-case letter, `c` either.
pub const IBAN_FORMATS: &[(&str, &str)] = &[
    ("DE", "nnnnnnnnnnnnnnnnnn"),
    ("GB", "aaaannnnnnnnnnnnnn"),
    ("FR", "nnnnnnnnnncccccccccccnn"),
    ("NL", "aaaannnnnnnnnn"),
    ("ES", "nnnnnnnnnnnnnnnnnnnn"),
    ("IT", "annnnnnnnnncccccccccccc"),
    ("BE", "nnnnnnnnnnnn"),
    ("CH", "nnnnncccccccccccc"),
    ("AT", "nnnnnnnnnnnnnnnn"),
    ("PL", "nnnnnnnnnnnnnnnnnnnnnnnn"),
    ("NO", "nnnnnnnnnnn"),
    ("MT", "aaaannnnncccccccccccccccccc"),
    ("IE", "aaaannnnnnnnnnnnnn"),
    ("LU", "nnnccccccccccccc"),
];

/// The remainder of an IBAN-style number (letters as 10..35) modulo 97.
pub fn mod97(alnum: &str) -> u32 {
    let mut r: u32 = 0;
    for c in alnum.chars() {
        let v = c.to_digit(36).unwrap_or(0);
        r = if v >= 10 {
            (r * 100 + v) % 97
        } else {
            (r * 10 + v) % 97
        };
    }
    r
}

/// A valid IBAN (mod 97 = 1), compact and upper case.
pub fn iban() -> impl Strategy<Value = String> {
    (any::<Index>(), prop::collection::vec(0u8..36, 30)).prop_map(|(country, noise)| {
        let (cc, pattern) = IBAN_FORMATS[country.index(IBAN_FORMATS.len())];
        let bban: String = pattern
            .chars()
            .zip(noise)
            .map(|(p, n)| match p {
                'a' => char::from(b'A' + n % 26),
                'c' if n >= 10 => char::from(b'A' + (n - 10) % 26),
                _ => char::from(b'0' + n % 10),
            })
            .collect();
        let check = 98 - mod97(&format!("{bban}{cc}00"));
        let iban = format!("{cc}{check:02}{bban}");
        debug_assert_eq!(mod97(&format!("{}{}", &iban[4..], &iban[..4])), 1);
        iban
    })
}

fn iban_family(family: &'static str, spell: fn(&str, &[Index]) -> String) -> BoxedStrategy<Sample> {
    (
        iban(),
        prop::collection::vec(any::<Index>(), 10),
        any::<Index>(),
    )
        .prop_map(move |(compact, picks, context)| Sample {
            family,
            kind: Kind::Iban,
            text: spell(&compact, &picks),
            canonical: compact,
            url_encoded: false,
            context: context.index(CONTEXTS.len()),
        })
        .boxed()
}

fn grouped(compact: &str, seps: &[&str], picks: &[Index]) -> String {
    let mut out = String::new();
    for (i, chunk) in compact.as_bytes().chunks(4).enumerate() {
        if i > 0 {
            let sep: &&str = picks[i % picks.len()].get(seps);
            out.push_str(sep);
        }
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    out
}

// ---------------------------------------------------------------- emails

fn address() -> impl Strategy<Value = (String, String)> {
    (
        prop::collection::vec("[a-z][a-z0-9]{0,7}", 1..=3),
        prop::sample::select(vec![".", "_", "-"]),
        "[a-z][a-z0-9]{1,9}",
        prop::option::of("[a-z]{2,6}"),
        prop::sample::select(vec!["com", "org", "de", "co.uk", "io", "shop", "fr"]),
    )
        .prop_map(|(parts, joint, domain, sub, tld)| {
            let local = parts.join(joint);
            let host = match sub {
                Some(sub) => format!("{sub}.{domain}.{tld}"),
                None => format!("{domain}.{tld}"),
            };
            (local, host)
        })
}

fn email_family(
    family: &'static str,
    url_encoded: bool,
    spell: fn(&str, &str, &[bool]) -> (String, String),
) -> BoxedStrategy<Sample> {
    (
        address(),
        prop::collection::vec(any::<bool>(), 64),
        any::<Index>(),
    )
        .prop_map(move |((local, host), coin, context)| {
            let (text, canonical) = spell(&local, &host, &coin);
            Sample {
                family,
                kind: Kind::Email,
                text,
                canonical,
                url_encoded,
                context: context.index(CONTEXTS.len()),
            }
        })
        .boxed()
}

fn plain(local: &str, host: &str) -> String {
    format!("{local}@{host}")
}

// ---------------------------------------------------------------- phones

/// Country code, national significant number length, allowed first digits.
const PHONE_PLANS: &[(&str, usize, &str)] = &[
    ("1", 10, "23456789"),
    ("44", 10, "1237"),
    ("49", 11, "13"),
    ("33", 9, "1234567"),
    ("61", 9, "2378"),
    ("91", 10, "6789"),
    ("81", 10, "3679"),
    ("353", 9, "18"),
    ("358", 9, "49"),
    ("34", 9, "69"),
];

/// (country code, national significant number, group sizes).
fn phone_number() -> impl Strategy<Value = (String, String, Vec<usize>)> {
    (
        any::<Index>(),
        any::<Index>(),
        prop::collection::vec(0u8..=9, 12),
        any::<bool>(),
    )
        .prop_map(|(plan, first, rest, alt)| {
            let (cc, len, firsts) = PHONE_PLANS[plan.index(PHONE_PLANS.len())];
            let mut nsn = String::new();
            nsn.push(char::from(first.get(firsts.as_bytes()).to_owned()));
            for d in rest.into_iter().take(len - 1) {
                nsn.push(char::from(b'0' + d));
            }
            let groups = match (len, alt) {
                (9, false) => vec![1, 2, 2, 2, 2],
                (9, true) => vec![3, 3, 3],
                (10, false) => vec![3, 3, 4],
                (10, true) => vec![2, 4, 4],
                (_, false) => vec![3, 4, 4],
                (_, true) => vec![4, 3, 4],
            };
            (cc.to_owned(), nsn, groups)
        })
}

fn split(nsn: &str, sizes: &[usize]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    for &s in sizes {
        let end = (at + s).min(nsn.len());
        out.push(nsn[at..end].to_owned());
        at = end;
    }
    out
}

fn phone_family(
    family: &'static str,
    url_encoded: bool,
    spell: fn(&str, &[String]) -> String,
) -> BoxedStrategy<Sample> {
    (phone_number(), any::<Index>())
        .prop_map(move |((cc, nsn, sizes), context)| Sample {
            family,
            kind: Kind::Phone,
            text: spell(&cc, &split(&nsn, &sizes)),
            canonical: nsn,
            url_encoded,
            context: context.index(CONTEXTS.len()),
        })
        .boxed()
}

// ---------------------------------------------------------------- all

/// One strategy per spelling family.
pub fn families() -> Vec<BoxedStrategy<Sample>> {
    vec![
        // Cards: every separator a person or a form produces, and runs of them.
        card_family("card/compact", &[], 1..=1),
        card_family("card/space", &[" "], 1..=1),
        card_family("card/nbsp", &["\u{a0}"], 1..=1),
        card_family("card/narrow-nbsp", &["\u{202f}"], 1..=1),
        card_family("card/thin-space", &["\u{2009}"], 1..=1),
        card_family("card/ideographic-space", &["\u{3000}"], 1..=1),
        card_family("card/other-unicode-space", UNICODE_SPACES, 1..=1),
        card_family("card/tab", &["\t"], 1..=1),
        card_family("card/space-run", &[" "], 2..=3),
        card_family("card/dot", &["."], 1..=1),
        card_family("card/dash", &["-"], 1..=1),
        card_family("card/slash", &["/"], 1..=1),
        card_family("card/unicode-dash", UNICODE_DASHES, 1..=1),
        card_family("card/mixed", ALL_CARD_SEPARATORS, 1..=2),
        // IBANs, valid mod 97.
        iban_family("iban/compact", |c, _| c.to_owned()),
        iban_family("iban/grouped", |c, p| grouped(c, &[" "], p)),
        iban_family("iban/lower-grouped", |c, p| {
            grouped(c, &[" "], p).to_lowercase()
        }),
        iban_family("iban/lower-compact", |c, _| c.to_lowercase()),
        iban_family("iban/unicode-space-grouped", |c, p| {
            grouped(c, &["\u{a0}", "\u{202f}", "\u{2009}"], p)
        }),
        // Emails.
        email_family("email/plain", false, |l, h, _| (plain(l, h), plain(l, h))),
        email_family("email/upper", false, |l, h, _| {
            (plain(l, h).to_uppercase(), plain(l, h))
        }),
        email_family("email/mixed-case", false, |l, h, coin| {
            let text = plain(l, h)
                .chars()
                .zip(coin.iter().cycle())
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            (text, plain(l, h))
        }),
        email_family("email/subaddress", false, |l, h, _| {
            let a = format!("{l}+promo@{h}");
            (a.clone(), a)
        }),
        email_family("email/pct-at", true, |l, h, _| {
            (format!("{l}%40{h}"), plain(l, h))
        }),
        email_family("email/pct-all", true, |l, h, _| {
            (percent_encode(&plain(l, h), |_| false), plain(l, h))
        }),
        email_family("email/form-encoded", true, |l, h, _| {
            let a = format!("{l}+orders@{h}");
            (form_encode(&a), a)
        }),
        email_family("email/double-pct", true, |l, h, _| {
            (format!("{l}%2540{h}"), plain(l, h))
        }),
        email_family("email/mailto", false, |l, h, _| {
            (format!("mailto:{}?subject=order", plain(l, h)), plain(l, h))
        }),
        email_family("email/display-name", false, |l, h, _| {
            (format!("\"Jane Doe\" <{}>", plain(l, h)), plain(l, h))
        }),
        email_family("email/idn", false, |l, h, _| {
            let host = format!("bücher-{h}");
            (plain(l, &host), plain(l, &host))
        }),
        // Phones in international spellings.
        phone_family("phone/e164", false, |cc, g| format!("+{cc}{}", g.concat())),
        phone_family("phone/spaced", false, |cc, g| {
            format!("+{cc} {}", g.join(" "))
        }),
        phone_family("phone/dashes", false, |cc, g| {
            format!("+{cc}-{}", g.join("-"))
        }),
        phone_family("phone/dots", false, |cc, g| {
            format!("+{cc}.{}", g.join("."))
        }),
        phone_family("phone/parens", false, |cc, g| {
            format!("+{cc} ({}) {}", g[0], g[1..].join("-"))
        }),
        phone_family("phone/00-prefix", false, |cc, g| {
            format!("00{cc} {}", g.join(" "))
        }),
        phone_family("phone/trunk-zero", false, |cc, g| {
            format!("+{cc} (0){} {}", g[0], g[1..].join(" "))
        }),
        phone_family("phone/tel-uri", false, |cc, g| {
            format!("tel:+{cc}-{}", g.join("-"))
        }),
        phone_family("phone/nbsp", false, |cc, g| {
            format!("+{cc}\u{a0}{}", g.join("\u{a0}"))
        }),
        phone_family("phone/pct-encoded", true, |cc, g| {
            percent_encode(&format!("+{cc} {}", g.join(" ")), |c| c.is_ascii_digit())
        }),
    ]
}

/// One sample of every family.
pub fn every_family() -> impl Strategy<Value = Vec<Sample>> {
    families()
}

/// How many families there are.
pub fn family_count() -> usize {
    families().len()
}

/// The name of every family.
pub fn family_names() -> Vec<&'static str> {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    families()
        .iter()
        .filter_map(|f| f.new_tree(&mut runner).ok())
        .map(|tree| proptest::strategy::ValueTree::current(&tree).family)
        .collect()
}
