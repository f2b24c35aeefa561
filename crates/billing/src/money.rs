//! Money: an integer amount of a currency's minor unit, never a float.
//!
//! Rules:
//! - A [`Currency`] is one of the ISO 4217 codes Stripe accepts, stored in
//!   lower case as Stripe sends it. Unknown codes are rejected instead of being
//!   guessed, because guessing the minor-unit exponent wrong charges 100× too
//!   much or too little.
//! - The minor-unit exponent is the one Stripe's API uses for `amount` fields:
//!   0 for zero-decimal currencies (JPY, KRW, …), 3 for three-decimal ones
//!   (KWD, BHD, …), 2 for everything else. The zero-decimal list is Stripe's
//!   (it includes UGX). ISK is effectively zero-decimal but Stripe keeps it
//!   on two decimals in the API for backward compatibility (amounts must be
//!   multiples of 100), so it is 2 here too. Stripe also wants three-decimal
//!   amounts to end in 0 when charging; that is the Stripe adapter's concern.
//! - Arithmetic is checked: mixing currencies or overflowing `i64` is an error,
//!   not a wrong number.
//! - Display is deliberately simple and honest: English digit grouping, a
//!   symbol for the four currencies whose symbol is unambiguous enough
//!   (`$12.34`, `€12.34`, `£12.34`, `¥1,234`), otherwise the upper-case code
//!   (`12.34 CHF`). No locale machinery until a merchant needs it.

use std::fmt;

/// Why a currency code or an amount was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "`{0}` is not a currency code Billforge supports (expected an ISO 4217 code such as `usd`)"
    )]
    UnknownCurrency(String),
    #[error("cannot combine amounts in {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("the amount is too large to represent")]
    Overflow,
    #[error(
        "`{input}` is not an amount in {currency} (expected digits with at most {exponent} decimals, e.g. `{example}`)"
    )]
    MalformedAmount {
        input: String,
        currency: Currency,
        exponent: u8,
        example: &'static str,
    },
}

/// Codes with a minor-unit exponent other than 2, as Stripe's API treats them.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// Every code accepted, sorted for binary search: Stripe's presentment
/// currencies (including the zero- and three-decimal ones above).
const KNOWN: &[&str] = &[
    "aed", "afn", "all", "amd", "ang", "aoa", "ars", "aud", "awg", "azn", "bam", "bbd", "bdt",
    "bgn", "bhd", "bif", "bmd", "bnd", "bob", "brl", "bsd", "bwp", "byn", "bzd", "cad", "cdf",
    "chf", "clp", "cny", "cop", "crc", "cve", "czk", "djf", "dkk", "dop", "dzd", "egp", "etb",
    "eur", "fjd", "fkp", "gbp", "gel", "gip", "gmd", "gnf", "gtq", "gyd", "hkd", "hnl", "htg",
    "huf", "idr", "ils", "inr", "isk", "jmd", "jod", "jpy", "kes", "kgs", "khr", "kmf", "krw",
    "kwd", "kyd", "kzt", "lak", "lbp", "lkr", "lrd", "lsl", "mad", "mdl", "mga", "mkd", "mmk",
    "mnt", "mop", "mur", "mvr", "mwk", "mxn", "myr", "mzn", "nad", "ngn", "nio", "nok", "npr",
    "nzd", "omr", "pab", "pen", "pgk", "php", "pkr", "pln", "pyg", "qar", "ron", "rsd", "rub",
    "rwf", "sar", "sbd", "scr", "sek", "sgd", "shp", "sle", "sos", "srd", "std", "szl", "thb",
    "tjs", "tnd", "top", "try", "ttd", "twd", "tzs", "uah", "ugx", "usd", "uyu", "uzs", "vnd",
    "vuv", "wst", "xaf", "xcd", "xof", "xpf", "yer", "zar", "zmw",
];

/// An ISO 4217 currency Billforge can bill in. `Copy` and cheap: it points
/// into a static table, so comparing and passing it around costs nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    /// The lower-case code, always an entry of the static table.
    code: &'static str,
}

impl Currency {
    pub const USD: Currency = Currency { code: "usd" };
    pub const EUR: Currency = Currency { code: "eur" };
    pub const GBP: Currency = Currency { code: "gbp" };
    pub const JPY: Currency = Currency { code: "jpy" };

    /// Parses a code in any case (`"USD"`, `"usd"`).
    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let lower = raw.to_ascii_lowercase();
        KNOWN
            .binary_search(&lower.as_str())
            .map(|index| Currency { code: KNOWN[index] })
            .map_err(|_| MoneyError::UnknownCurrency(raw.to_owned()))
    }

    /// The lower-case code, as Stripe expects it on the wire.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// How many decimal digits the minor unit has (`usd` → 2, `jpy` → 0).
    pub fn exponent(self) -> u8 {
        if ZERO_DECIMAL.contains(&self.code) {
            0
        } else if THREE_DECIMAL.contains(&self.code) {
            3
        } else {
            2
        }
    }

    /// The symbol written before the amount, for the few currencies where it
    /// is unambiguous enough in English text.
    fn prefix_symbol(self) -> Option<&'static str> {
        match self.code {
            "usd" => Some("$"),
            "eur" => Some("€"),
            "gbp" => Some("£"),
            "jpy" => Some("¥"),
            _ => None,
        }
    }

    fn example_amount(self) -> &'static str {
        match self.exponent() {
            0 => "1200",
            3 => "12.345",
            _ => "12.34",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code.to_ascii_uppercase())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code)
    }
}

impl std::str::FromStr for Currency {
    type Err = MoneyError;
    fn from_str(raw: &str) -> Result<Self, MoneyError> {
        Self::parse(raw)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: an integer count of the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Money {
    /// The amount in minor units (cents for USD, yen for JPY), exactly what
    /// Stripe's `amount` fields carry; negative for credits and refunds.
    pub amount_minor: i64,
    /// What the minor unit is a unit of; never mixed in arithmetic.
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Parses an amount typed in major units (`"12.34"` USD → 1234 minor),
    /// as a merchant enters a price in a form. Rejects more decimals than the
    /// currency has rather than rounding, because a silently rounded price is
    /// a wrong price. A leading `-` is allowed.
    pub fn parse_major(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        let malformed = || MoneyError::MalformedAmount {
            input: input.to_owned(),
            currency,
            exponent: currency.exponent(),
            example: currency.example_amount(),
        };
        let trimmed = input.trim();
        let (negative, unsigned) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let exponent = usize::from(currency.exponent());
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || fraction.len() > exponent
            || (unsigned.contains('.') && fraction.is_empty())
        {
            return Err(malformed());
        }
        let padded = format!("{whole}{fraction:0<exponent$}");
        let magnitude: i64 = padded.parse().map_err(|_| MoneyError::Overflow)?;
        let amount_minor = if negative { -magnitude } else { magnitude };
        Ok(Self::new(amount_minor, currency))
    }

    pub fn is_negative(self) -> bool {
        self.amount_minor < 0
    }

    /// `self + other`; both must be in the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, i64::checked_add)
    }

    /// `self - other`; both must be in the same currency.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, i64::checked_sub)
    }

    /// `self × factor`, e.g. a unit price times a quantity.
    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.amount_minor
            .checked_mul(factor)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    fn combine(
        self,
        other: Money,
        operation: fn(i64, i64) -> Option<i64>,
    ) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        operation(self.amount_minor, other.amount_minor)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    /// English formatting: `$1,234.56`, `-€0.50`, `¥1,235`, `12.345 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent());
        let magnitude = self.amount_minor.unsigned_abs();
        let scale = 10u64.pow(exponent);
        let whole = group_thousands(magnitude / scale);
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let number = if exponent == 0 {
            whole
        } else {
            let width = exponent as usize;
            format!("{whole}.{:0width$}", magnitude % scale)
        };
        match self.currency.prefix_symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}{number}"),
            None => write!(f, "{sign}{number} {}", self.currency),
        }
    }
}

/// `1234567` → `"1,234,567"`.
fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn table_is_sorted_so_binary_search_works() {
        assert!(KNOWN.windows(2).all(|pair| pair[0] < pair[1]));
        for code in ZERO_DECIMAL.iter().chain(THREE_DECIMAL) {
            assert!(KNOWN.contains(code), "{code} missing from KNOWN");
        }
    }

    #[test]
    fn exponents_follow_stripe() {
        assert_eq!(currency("USD").exponent(), 2);
        assert_eq!(currency("eur").exponent(), 2);
        assert_eq!(currency("jpy").exponent(), 0);
        assert_eq!(currency("KRW").exponent(), 0);
        assert_eq!(currency("kwd").exponent(), 3);
        assert_eq!(currency("bhd").exponent(), 3);
        assert_eq!(currency("isk").exponent(), 2);
        assert_eq!(currency("ugx").exponent(), 0);
    }

    #[test]
    fn unknown_and_malformed_codes_are_rejected() {
        for bad in ["", "us", "usdx", "xyz", "€", "u$d"] {
            assert_eq!(
                Currency::parse(bad),
                Err(MoneyError::UnknownCurrency(bad.to_owned()))
            );
        }
    }

    #[test]
    fn serde_uses_the_lower_case_code() {
        let money = Money::new(1234, Currency::USD);
        let json = serde_json::to_string(&money).unwrap();
        assert_eq!(json, r#"{"amount_minor":1234,"currency":"usd"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        assert!(serde_json::from_str::<Currency>(r#""zzz""#).is_err());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let dollars = Money::new(100, Currency::USD);
        let euros = Money::new(100, Currency::EUR);
        assert_eq!(
            dollars.checked_add(euros),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::USD,
                right: Currency::EUR
            })
        );
        assert!(dollars.checked_sub(euros).is_err());
    }

    #[test]
    fn overflow_is_an_error() {
        let max = Money::new(i64::MAX, Currency::USD);
        assert_eq!(
            max.checked_add(Money::new(1, Currency::USD)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(max.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(i64::MIN, Currency::USD).checked_sub(Money::new(1, Currency::USD)),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn display_in_english() {
        let cases = [
            (Money::new(1234, Currency::USD), "$12.34"),
            (Money::new(123_456_789, Currency::USD), "$1,234,567.89"),
            (Money::new(-50, Currency::EUR), "-€0.50"),
            (Money::new(5, Currency::GBP), "£0.05"),
            (Money::new(1_234_567, Currency::JPY), "¥1,234,567"),
            (Money::new(12_345, currency("kwd")), "12.345 KWD"),
            (Money::new(100_000, currency("chf")), "1,000.00 CHF"),
            (
                Money::new(i64::MIN, currency("krw")),
                "-9,223,372,036,854,775,808 KRW",
            ),
        ];
        for (money, expected) in cases {
            assert_eq!(money.to_string(), expected);
        }
    }

    #[test]
    fn parse_major_respects_the_exponent() {
        assert_eq!(
            Money::parse_major("12.34", Currency::USD),
            Ok(Money::new(1234, Currency::USD))
        );
        assert_eq!(
            Money::parse_major("12.3", Currency::USD),
            Ok(Money::new(1230, Currency::USD))
        );
        assert_eq!(
            Money::parse_major(" 7 ", Currency::USD),
            Ok(Money::new(700, Currency::USD))
        );
        assert_eq!(
            Money::parse_major("-0.5", Currency::EUR),
            Ok(Money::new(-50, Currency::EUR))
        );
        assert_eq!(
            Money::parse_major("1200", Currency::JPY),
            Ok(Money::new(1200, Currency::JPY))
        );
        assert_eq!(
            Money::parse_major("1.005", currency("kwd")),
            Ok(Money::new(1005, currency("kwd")))
        );
        assert_eq!(
            Money::parse_major("99999999999999999999", Currency::USD),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn parse_major_rejects_rounding_and_garbage() {
        for bad in [
            "12.345", "12.", ".5", "", "-", "1,000", "1e3", "+5", "12.3.4", "--1",
        ] {
            assert!(
                matches!(
                    Money::parse_major(bad, Currency::USD),
                    Err(MoneyError::MalformedAmount { .. })
                ),
                "{bad:?} should be rejected"
            );
        }
        let error = Money::parse_major("1.5", Currency::JPY).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`1.5` is not an amount in JPY (expected digits with at most 0 decimals, e.g. `1200`)"
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(amount in -1_000_000_000_000i64..1_000_000_000_000, index in 0..KNOWN.len()) {
            let currency = Currency { code: KNOWN[index] };
            let money = Money::new(amount, currency);
            let shown = money.to_string();
            let number: String = shown.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();
            prop_assert_eq!(Money::parse_major(&number, currency), Ok(money));
        }

        #[test]
        fn add_then_sub_is_identity(a in any::<i32>(), b in any::<i32>()) {
            let a = Money::new(a.into(), Currency::EUR);
            let b = Money::new(b.into(), Currency::EUR);
            prop_assert_eq!(a.checked_add(b).and_then(|sum| sum.checked_sub(b)), Ok(a));
        }
    }
}
