//! Buy or sell.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Bids.
    Buy,
    /// Asks.
    Sell,
}

/// Why a text is not a side.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("side '{0}' is not BUY or SELL")]
pub struct SideError(pub String);

impl Side {
    /// Returns the other side.
    pub fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// Returns `BUY` or `SELL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// Parses `BUY` or `SELL` in any case, around blanks.
    ///
    /// # Errors
    /// [`SideError`] naming the text (trimmed).
    pub fn parse(text: &str) -> Result<Self, SideError> {
        let text = text.trim();
        match text.to_ascii_uppercase().as_str() {
            "BUY" => Ok(Side::Buy),
            "SELL" => Ok(Side::Sell),
            _ => Err(SideError(text.to_owned())),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Side {
    type Err = SideError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for Side {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Side {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse_in_any_case_and_say_what_is_wrong() {
        assert_eq!(Side::parse(" buy "), Ok(Side::Buy));
        assert_eq!(Side::parse("Sell"), Ok(Side::Sell));
        assert_eq!(
            Side::parse(" hold ").unwrap_err().to_string(),
            "side 'hold' is not BUY or SELL"
        );
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(serde_json::to_string(&Side::Sell).unwrap(), "\"SELL\"");
        assert_eq!(serde_json::from_str::<Side>("\"buy\"").unwrap(), Side::Buy);
        assert!(serde_json::from_str::<Side>("\"up\"").is_err());
    }
}
