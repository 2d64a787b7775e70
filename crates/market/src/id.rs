//! Identifiers: a listed pair, an asset, an account, a client's order id. Each is checked once by
//! `parse` and then trusted.

use std::{borrow::Borrow, fmt, ops::Deref, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest `client_order_id`: ids are kept for every order, so their size is bounded.
pub const MAX_CLIENT_ORDER_ID: usize = 64;

/// Why a text is not an identifier; the message names the text and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not `BASE-QUOTE`.
    #[error("'{0}' is not a symbol: write BASE-QUOTE, e.g. BTC-USD")]
    Symbol(String),
    /// Not an asset code.
    #[error("'{0}' is not an asset: write 2 to 10 letters or digits, e.g. BTC")]
    Asset(String),
    /// An empty account id.
    #[error("an account id cannot be empty")]
    AccountId,
    /// Not a client order id.
    #[error("client_order_id must be 1 to {MAX_CLIENT_ORDER_ID} ASCII letters, digits and - _ . : /")]
    ClientOrderId(String),
}

/// Implements what every identifier shares: text access, `Display`, `FromStr`, serde as a string.
macro_rules! identifier {
    ($name:ident) => {
        impl $name {
            /// Returns the identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Lets maps keyed by the identifier be searched with a text: equality, order and hash
        /// are the text's.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Whether `code` is an asset code (upper case already): 2 to 10 ASCII letters or digits.
fn asset_code(code: &str) -> bool {
    (2..=10).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A pair, `BASE-QUOTE` (`BTC-USD`), in upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(String);

identifier!(Symbol);

impl Symbol {
    /// Parses `BASE-QUOTE` in any case, around blanks: two different asset codes.
    ///
    /// # Errors
    /// [`IdError::Symbol`] naming the text.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.split_once('-') {
            Some((base, quote)) if asset_code(base) && asset_code(quote) && base != quote => Ok(Self(upper)),
            _ => Err(IdError::Symbol(text.to_owned())),
        }
    }

    /// Returns the base asset (`BTC` of `BTC-USD`).
    pub fn base(&self) -> Asset {
        Asset(self.0.split_once('-').map_or("", |(b, _)| b).to_owned())
    }

    /// Returns the quote asset (`USD` of `BTC-USD`).
    pub fn quote(&self) -> Asset {
        Asset(self.0.split_once('-').map_or("", |(_, q)| q).to_owned())
    }
}

/// An asset code (`BTC`), in upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asset(String);

identifier!(Asset);

impl Asset {
    /// Parses 2 to 10 ASCII letters or digits in any case, around blanks.
    ///
    /// # Errors
    /// [`IdError::Asset`] naming the text.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let upper = text.trim().to_ascii_uppercase();
        if asset_code(&upper) {
            Ok(Self(upper))
        } else {
            Err(IdError::Asset(text.to_owned()))
        }
    }
}

/// An account id as its service writes it (`acct-7` at an exchange, `cust-3` at a custodian).
/// Any non-empty text parses; whether the account exists is the service's question, which it
/// answers naming the id as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

identifier!(AccountId);

impl AccountId {
    /// Parses an account id: any non-empty text, kept as written.
    ///
    /// # Errors
    /// [`IdError::AccountId`] for an empty text.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.is_empty() {
            return Err(IdError::AccountId);
        }
        Ok(Self(text.to_owned()))
    }

    /// Returns the id a service numbers its accounts with, `{prefix}{number}` (`cust-7`): never
    /// empty, so it needs no check.
    pub fn numbered(prefix: &str, number: u64) -> Self {
        Self(format!("{prefix}{number}"))
    }
}

/// A client's id for its order: 1 to 64 ASCII letters, digits and `- _ . : /`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientOrderId(String);

identifier!(ClientOrderId);

impl ClientOrderId {
    /// Parses a client order id, kept as written.
    ///
    /// # Errors
    /// [`IdError::ClientOrderId`] for an empty or longer text, or one with other characters.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
        if text.is_empty() || text.len() > MAX_CLIENT_ORDER_ID || !text.chars().all(allowed) {
            return Err(IdError::ClientOrderId(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_base_dash_quote_in_upper_case() {
        let s = Symbol::parse(" btc-usd ").unwrap();
        assert_eq!(
            (s.as_str(), s.base().as_str(), s.quote().as_str()),
            ("BTC-USD", "BTC", "USD")
        );
        for bad in ["BTC", "BTC-BTC", "B-USD", "BTC-US D", "BTC_USD", ""] {
            assert_eq!(
                Symbol::parse(bad).unwrap_err().to_string(),
                format!("'{bad}' is not a symbol: write BASE-QUOTE, e.g. BTC-USD")
            );
        }
    }

    #[test]
    fn assets_are_short_codes_in_upper_case() {
        assert_eq!(Asset::parse(" usdt").unwrap().to_string(), "USDT");
        assert!(matches!(Asset::parse("X"), Err(IdError::Asset(_))));
        assert!(matches!(Asset::parse("DOGE COIN"), Err(IdError::Asset(_))));
    }

    #[test]
    fn account_ids_are_kept_as_written() {
        assert_eq!(AccountId::parse("acct-7").unwrap().as_str(), "acct-7");
        assert_eq!(AccountId::parse(" x ").unwrap().as_str(), " x ");
        assert_eq!(AccountId::parse(""), Err(IdError::AccountId));
        assert_eq!(AccountId::numbered("cust-", 7).as_str(), "cust-7");
    }

    #[test]
    fn client_order_ids_are_bounded_and_plain() {
        assert!(ClientOrderId::parse("mine-1:a/b_c.d").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                ClientOrderId::parse(bad).unwrap_err().to_string(),
                "client_order_id must be 1 to 64 ASCII letters, digits and - _ . : /"
            );
        }
    }

    #[test]
    fn maps_keyed_by_identifiers_are_searched_with_text() {
        let ids = std::collections::BTreeSet::from([AccountId::parse("cust-1").unwrap()]);
        assert!(ids.contains("cust-1"));
    }

    #[test]
    fn identifiers_are_plain_strings_in_serde() {
        let s: Symbol = serde_json::from_str("\"eth-usd\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"ETH-USD\"");
        assert!(serde_json::from_str::<Asset>("\"?\"").is_err());
    }
}
