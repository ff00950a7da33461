//! Reading QBO's JSON as real companies' documents have it, not only as the API reference spells
//! it: enums in any spelling (`NeedToPrint`, `NEED_TO_PRINT`), and the scalar mix-ups real
//! documents show (an empty string where a date belongs, an integer where an id is a string,
//! `"Qty": "2"`, `"true"` for a boolean, `null` anywhere, one object where an array belongs).
//!
//! Every field of the QBO model is read one of two ways:
//! - **a field the mapping needs** (money, quantities, the lines, the ids) is converted when its
//!   meaning is plain (`"10.00"` is 10.00, `5` is the id `"5"`, `""` and `null` are absent) and
//!   fails, naming what it got, when it is not: such a failure is reported, never guessed past;
//! - **a field the mapping does not need** is read when it can be and is absent otherwise
//!   ([`or_none`], [`vec_lenient`], [`decimal_or_none`], [`opt_date`], ...), so it can never make a
//!   document, a transaction or a line unreadable.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Normalises an enum spelling: ASCII letters and digits only, lower case.
pub(crate) fn fold(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Declares a string enum that reads any spelling whose folded form matches a variant, keeps
/// unknown spellings in `Other`, and writes the canonical PascalCase spelling. Any scalar reads
/// (a number as its text); an object or an array is `Other("")`: an enum never fails a document.
macro_rules! lenient_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $canon:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A spelling this crate does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The canonical spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $canon,)+
                    $name::Other(s) => s,
                }
            }

            /// Reads any spelling of a variant (case, `_` and spaces ignored).
            pub fn parse(s: &str) -> Self {
                let folded = $crate::model::lenient::fold(s);
                $(if folded == $crate::model::lenient::fold($canon) { return $name::$variant; })+
                $name::Other(s.to_string())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                Ok($name::parse(&$crate::model::lenient::scalar_text(&v).unwrap_or_default()))
            }
        }
    };
}

pub(crate) use lenient_enum;

/// The text of a scalar: a string as sent, a number or a boolean written out; `None` for `null`,
/// an object or an array.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Object(_) | Value::Array(_) => None,
    }
}

/// A string field (an id, a type name): a number or a boolean is read as its text (`TxnId: 123`
/// is `"123"`), `null` is empty; an object or an array fails, naming what it got (an id is
/// never guessed).
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(String::new()),
        v => scalar_text(&v).ok_or_else(|| {
            D::Error::custom(format!("expected text or a number, got {}", kind(&v)))
        }),
    }
}

/// An optional text field: a number or a boolean is read as its text; `null`, an object or an
/// array is absent.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(&Value::deserialize(d)?))
}

/// An optional boolean: `true`/`false`, their text in any case, `1`/`0`; anything else is absent.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_u64().filter(|n| *n <= 1).map(|n| n == 1),
        _ => None,
    })
}

/// An optional small count or position (`LineNum`, `startPosition`): a whole number or its text;
/// anything else is absent.
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Value::deserialize(d)?;
    let n = match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    Ok(n.and_then(|n| u32::try_from(n).ok()))
}

/// An optional date (`TxnDate`, `ShipDate`, `DueDate`, `ServiceDate`): `YYYY-MM-DD`, or the date
/// part of a date-time; an empty string, `null` or anything unreadable is absent.
pub(crate) fn opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => {
            let s = s.trim();
            s.get(..10).and_then(|head| NaiveDate::parse_from_str(head, "%Y-%m-%d").ok())
        }
        _ => None,
    })
}

/// An optional date-time the mapping does not need (`CreateTime`, `DeliveryTime`): RFC 3339;
/// anything else is absent.
pub(crate) fn opt_datetime<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim()).ok(),
        _ => None,
    })
}

/// An optional date-time the sync needs (`LastUpdatedTime`, its cursor): RFC 3339; an empty
/// string or `null` is absent; anything else fails, naming what it got.
pub(crate) fn opt_datetime_strict<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim()).map(Some).map_err(|_| {
            D::Error::custom(format!("`{}` is not an RFC 3339 date-time", clipped(&s)))
        }),
        other => Err(D::Error::custom(format!("expected a date-time, got {}", kind(&other)))),
    }
}

/// Reads a decimal from a JSON value: a number, or a string holding one (`"10.00"`, `" 2 "`);
/// `null` and an empty string are absent. Anything else is an error that says what it got.
pub(crate) fn parse_decimal(v: &Value) -> Result<Option<Decimal>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => number(s.trim()).map(Some),
        Value::Number(n) => number(&n.to_string()).map(Some),
        other => Err(format!("expected a number, got {}", kind(other))),
    }
}

fn number(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        // `275.0` is 275, as a float reader would have it.
        .map(|d| d.normalize())
        .map_err(|_| format!("`{}` is not a number (or is out of range)", clipped(text)))
}

/// A decimal the mapping needs (`Amount`, `Qty`, `UnitPrice`, `TotalAmt`, `TotalTax`): read by
/// [`parse_decimal`], written as a JSON number. Use with `#[serde(with = ...)]`.
pub(crate) mod decimal {
    use super::*;

    /// Writes the decimal as a JSON number (Ordoro and QBO type amounts as numbers).
    pub(crate) fn serialize<S: serde::Serializer>(
        v: &Option<Decimal>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        rust_decimal::serde::float_option::serialize(v, s)
    }

    /// Reads a number or numeric text; fails on anything else.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Decimal>, D::Error> {
        parse_decimal(&Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// A decimal the mapping does not need (`Balance`, `Deposit`, `TaxInclusiveAmt`, ...): read like
/// [`decimal`], absent when it does not read. Use with `#[serde(with = ...)]`.
pub(crate) mod decimal_or_none {
    use super::*;

    /// Writes the decimal as a JSON number.
    pub(crate) use super::decimal::serialize;

    /// Reads a number or numeric text; anything else is absent.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Decimal>, D::Error> {
        Ok(parse_decimal(&Value::deserialize(d)?).ok().flatten())
    }
}

/// A field the mapping does not need, of any type: absent when it does not read.
pub(crate) fn or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(if v.is_null() { None } else { T::deserialize(&v).ok() })
}

/// A list the mapping does not need (`LinkedTxn`, `CustomField`, `TaxLine`): `null` is empty, a
/// single object is a list of one, and elements that do not read are left out.
pub(crate) fn vec_lenient<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter_map(|v| T::deserialize(v).ok()).collect(),
        one => T::deserialize(&one).ok().into_iter().collect(),
    })
}

/// A list the mapping needs (`Line`): `null` is empty and a single object is a list of one; an
/// element that does not read fails the list (the line type itself never fails, so no line is
/// ever dropped).
pub(crate) fn vec_or_one<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => {
            items.iter().map(|v| T::deserialize(v).map_err(D::Error::custom)).collect()
        }
        one => Ok(vec![T::deserialize(&one).map_err(D::Error::custom)?]),
    }
}

/// Reads `T` from a JSON object, keeping what reads: `T` itself when the whole object reads;
/// otherwise `T` from the members that read alone, with each member that does not named with
/// why (`TotalAmt: ...`). `None` when `v` is not an object or even its readable members do not
/// make a `T`. Every member of `T` must have a default.
pub(crate) fn partial<T: DeserializeOwned>(v: &Value) -> (Option<T>, Vec<String>) {
    if let Ok(t) = T::deserialize(v) {
        return (Some(t), Vec::new());
    }
    let Some(members) = v.as_object() else {
        return (None, vec![format!("expected an object, got {}", kind(v))]);
    };
    let mut readable = serde_json::Map::new();
    let mut problems = Vec::new();
    for (name, value) in members {
        let alone = Value::Object(serde_json::Map::from_iter([(name.clone(), value.clone())]));
        match T::deserialize(&alone) {
            Ok(_) => {
                readable.insert(name.clone(), value.clone());
            }
            Err(e) => problems.push(format!("{name}: {}", clipped(&e.to_string()))),
        }
    }
    (T::deserialize(&Value::Object(readable)).ok(), problems)
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `text` cut to 160 characters: serde quotes the value it could not read, which can be
/// megabytes, and the reason goes into log entries.
pub(crate) fn clipped(text: &str) -> String {
    const MAX: usize = 160;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe {
        #[serde(with = "decimal")]
        amount: Option<Decimal>,
        #[serde(with = "decimal_or_none")]
        balance: Option<Decimal>,
        #[serde(deserialize_with = "opt_date")]
        date: Option<NaiveDate>,
        #[serde(deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(deserialize_with = "string")]
        id: String,
        #[serde(deserialize_with = "opt_u32")]
        num: Option<u32>,
        #[serde(deserialize_with = "vec_lenient")]
        list: Vec<u32>,
    }

    fn probe(v: Value) -> Probe {
        Probe::deserialize(&v).unwrap()
    }

    #[test]
    fn scalars_convert_when_their_meaning_is_plain() {
        let p = probe(json!({"amount": "10.00", "balance": " 3 ", "date": "2024-06-03",
            "flag": "TRUE", "id": 5, "num": "7", "list": 4}));
        assert_eq!(p.amount, Some(Decimal::new(1000, 2)));
        assert_eq!(p.balance, Some(Decimal::from(3)));
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2024, 6, 3));
        assert_eq!(p.flag, Some(true));
        assert_eq!(p.id, "5");
        assert_eq!(p.num, Some(7));
        assert_eq!(p.list, vec![4]);
        let p = probe(json!({"date": "2024-06-03T10:00:00-07:00", "amount": 1e3}));
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2024, 6, 3));
        assert_eq!(p.amount, Some(Decimal::from(1000)));
    }

    #[test]
    fn empty_and_null_are_absent() {
        let p = probe(json!({"amount": "", "balance": null, "date": "", "flag": null,
            "id": null, "num": "", "list": null}));
        assert_eq!((p.amount, p.balance, p.date, p.flag, p.num), (None, None, None, None, None));
        assert_eq!(p.id, "");
        assert!(p.list.is_empty());
    }

    #[test]
    fn an_unneeded_field_never_fails_but_a_needed_one_says_what_it_got() {
        let p = probe(json!({"balance": "lots", "date": "soon", "flag": "maybe", "num": -1,
            "list": [1, "x", 3]}));
        assert_eq!((p.balance, p.date, p.flag, p.num), (None, None, None, None));
        assert_eq!(p.list, vec![1, 3]);
        let (read, problems) = partial::<Probe>(&json!({"amount": "abc", "id": "9"}));
        assert_eq!(read.map(|p| p.id).as_deref(), Some("9"));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("amount: `abc` is not a number"), "{problems:?}");
        let (_, problems) = partial::<Probe>(&json!({"amount": {"value": 1}}));
        assert!(problems[0].contains("expected a number, got an object"), "{problems:?}");
    }

    #[test]
    fn clipped_cuts_long_text() {
        assert_eq!(clipped("short"), "short");
        assert!(clipped(&"x".repeat(500)).ends_with("..."));
    }
}
