//! How limits are written: USD amounts as JSON strings, durations as text.

/// A USD amount written as a JSON string (`"20000000"`, shortest exact form); reads a string or a
/// number.
pub mod usd_text {
    use serde::{Deserializer, Serializer, de};

    /// Writes `"20000000"`.
    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads `"20000000"` or `20000000`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(Amount)
    }

    struct Amount;

    impl de::Visitor<'_> for Amount {
        type Value = f64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a USD amount (a number or a string such as \"20000000\")")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<f64, E> {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| E::custom(format!("`{text}` is not a USD amount")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }

        #[allow(clippy::cast_precision_loss)]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }

        #[allow(clippy::cast_precision_loss)]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
}

/// A map of USD amounts (or prices) written as JSON strings; reads strings or numbers.
pub mod usd_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Amount(#[serde(with = "super::usd_text")] f64);

    /// Writes `{"BTC": "5000000"}`.
    pub fn serialize<S: Serializer>(map: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&String, Amount> = map.iter().map(|(k, v)| (k, Amount(*v))).collect();
        text.serialize(s)
    }

    /// Reads `{"BTC": "5000000"}` or `{"BTC": 5000000}`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let text = BTreeMap::<String, Amount>::deserialize(d)?;
        Ok(text.into_iter().map(|(k, v)| (k, v.0)).collect())
    }
}

/// [`Bands`] of USD amounts, each written as a JSON string; reads strings or numbers.
pub mod usd_bands {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::domain::limits::Bands;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        #[serde(with = "super::usd_text")]
        warning: f64,
        #[serde(with = "super::usd_text")]
        critical: f64,
    }

    /// Writes `{"warning": "20000000", "critical": "50000000"}`.
    pub fn serialize<S: Serializer>(b: &Bands, s: S) -> Result<S::Ok, S::Error> {
        Text {
            warning: b.warning,
            critical: b.critical,
        }
        .serialize(s)
    }

    /// Reads strings or numbers.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bands, D::Error> {
        let t = Text::deserialize(d)?;
        Ok(Bands {
            warning: t.warning,
            critical: t.critical,
        })
    }
}

/// A `time::Duration` written as a duration string (`"30s"`, `"5m"`).
pub mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes `"30s"`.
    pub fn serialize<S: Serializer>(d: &time::Duration, s: S) -> Result<S::Ok, S::Error> {
        let std = std::time::Duration::try_from(*d).unwrap_or_default();
        s.serialize_str(&tse_runtime::config::format_duration(std))
    }

    /// Reads `"30s"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<time::Duration, D::Error> {
        let text = String::deserialize(d)?;
        let std = tse_runtime::config::parse_duration(&text).map_err(D::Error::custom)?;
        time::Duration::try_from(std).map_err(D::Error::custom)
    }
}
