//! A strategy's `params`: a table of named numbers (and a few words) read with typed getters that
//! say what is wrong in one line, and refuse names the strategy does not know.

use std::{collections::BTreeMap, time::Duration};

use rust_decimal::Decimal;
use tse_runtime::config::parse_duration;

/// A strategy's parameters as written (TOML in settings, JSON in a fault's params).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Params(BTreeMap<String, serde_json::Value>);

impl Params {
    /// Params from a JSON object.
    ///
    /// # Errors
    /// When `value` is neither an object nor null.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::Null => Ok(Self::default()),
            serde_json::Value::Object(map) => {
                Ok(Self(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
            }
            other => Err(format!("params must be a table, got {other}")),
        }
    }

    /// Adds or replaces one parameter.
    pub fn set(&mut self, name: &str, value: serde_json::Value) {
        self.0.insert(name.to_owned(), value);
    }

    /// Returns one parameter, as written.
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    /// Removes one parameter and returns it.
    pub fn take(&mut self, name: &str) -> Option<serde_json::Value> {
        self.0.remove(name)
    }

    /// Returns the params as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone().into_iter().collect())
    }

    /// Refuses any parameter not in `known`.
    ///
    /// # Errors
    /// Names the first unknown parameter and the known ones.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(unknown) => Err(format!(
                "unknown param '{unknown}'; known: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )),
            None => Ok(()),
        }
    }

    /// Reads a decimal (written `"0.5"`, `0.5` or `5`), or `default` when absent.
    ///
    /// # Errors
    /// When it is not a decimal.
    pub fn decimal(&self, name: &str, default: Decimal) -> Result<Decimal, String> {
        match self.0.get(name) {
            None => Ok(default),
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("param {name}: '{s}' is not a decimal")),
            Some(serde_json::Value::Number(n)) => n
                .to_string()
                .parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .or_else(|e| below_precision(n.as_f64()).ok_or(e))
                .map_err(|_| format!("param {name}: {n} is not a decimal")),
            Some(other) => Err(format!("param {name}: {other} is not a decimal")),
        }
    }

    /// Reads a decimal in `[min, max]`, or `default` when absent.
    ///
    /// # Errors
    /// When it is not a decimal or out of range.
    pub fn decimal_in(
        &self,
        name: &str,
        default: Decimal,
        min: Decimal,
        max: Decimal,
    ) -> Result<Decimal, String> {
        let value = self.decimal(name, default)?;
        if value < min || value > max {
            return Err(format!("param {name}: {value} is not between {min} and {max}"));
        }
        Ok(value)
    }

    /// Reads a positive decimal, or `default` when absent.
    ///
    /// # Errors
    /// When it is not a positive decimal.
    pub fn positive(&self, name: &str, default: Decimal) -> Result<Decimal, String> {
        let value = self.decimal(name, default)?;
        if value <= Decimal::ZERO {
            return Err(format!("param {name}: must be positive, got {value}"));
        }
        Ok(value)
    }

    /// Reads a whole number in `[min, max]`, or `default` when absent.
    ///
    /// # Errors
    /// When it is not a whole number in range.
    pub fn count(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
        let value = match self.0.get(name) {
            None => default,
            // JSON does not tell 606 from 606.0: both are the whole number 606.
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9.0e15)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| format!("param {name}: {n} is not a whole number"))?,
            Some(serde_json::Value::String(s)) => s
                .trim()
                .parse()
                .map_err(|_| format!("param {name}: '{s}' is not a whole number"))?,
            Some(other) => return Err(format!("param {name}: {other} is not a whole number")),
        };
        if value < min || value > max {
            return Err(format!("param {name}: {value} is not between {min} and {max}"));
        }
        Ok(value)
    }

    /// Reads a simulated duration (`"500ms"`, `"10s"`, `"5m"`), or `default` when absent.
    ///
    /// # Errors
    /// When it is not a duration.
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, String> {
        match self.0.get(name) {
            None => Ok(default),
            Some(serde_json::Value::String(s)) => parse_duration(s).map_err(|e| format!("param {name}: {e}")),
            Some(other) => Err(format!("param {name}: {other} is not a duration like \"10s\"")),
        }
    }

    /// Reads a word from `allowed` (any case), or `default` when absent.
    ///
    /// # Errors
    /// When it is not one of them.
    pub fn word(
        &self,
        name: &str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str, String> {
        match self.0.get(name) {
            None => Ok(default),
            Some(serde_json::Value::String(s)) => {
                let lower = s.trim().to_ascii_lowercase();
                allowed
                    .iter()
                    .find(|w| **w == lower)
                    .copied()
                    .ok_or_else(|| format!("param {name}: '{s}' is not one of {}", allowed.join(", ")))
            }
            Some(other) => Err(format!(
                "param {name}: {other} is not one of {}",
                allowed.join(", ")
            )),
        }
    }
}

/// A number too small for a decimal's 28 places (`4.2e-207`) reads as the nearest decimal that
/// keeps its sign: zero for zero, else the smallest decimal of that sign.
fn below_precision(x: Option<f64>) -> Option<Decimal> {
    let x = x.filter(|x| x.is_finite() && x.abs() < 1e-28)?;
    let smallest = Decimal::new(1, 28);
    Some(if x > 0.0 {
        smallest
    } else if x < 0.0 {
        -smallest
    } else {
        Decimal::ZERO
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_number_below_a_decimals_precision_keeps_its_sign() {
        let p = Params::from_json(&json!({"a": 4.2e-207, "b": -1e-300, "c": 0.0})).unwrap();
        assert_eq!(p.decimal("a", Decimal::ONE).unwrap(), Decimal::new(1, 28));
        assert_eq!(p.decimal("b", Decimal::ONE).unwrap(), -Decimal::new(1, 28));
        assert_eq!(p.decimal("c", Decimal::ONE).unwrap(), Decimal::ZERO);
    }

    #[test]
    fn typed_getters_read_and_refuse_in_one_line() {
        let p = Params::from_json(
            &json!({"spread_bps": 10, "size": "0.01", "window": 20, "every": "5s", "side": "SELL"}),
        )
        .unwrap();
        assert_eq!(p.decimal("spread_bps", Decimal::ONE).unwrap(), Decimal::from(10));
        assert_eq!(p.positive("size", Decimal::ONE).unwrap(), "0.01".parse().unwrap());
        assert_eq!(p.count("window", 5, 2, 100).unwrap(), 20);
        let float = Params::from_json(&json!({"window": 20.0, "half": 2.5})).unwrap();
        assert_eq!(float.count("window", 5, 2, 100).unwrap(), 20);
        assert!(float.count("half", 5, 2, 100).is_err());
        assert_eq!(
            p.duration("every", Duration::ZERO).unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(p.word("side", "buy", &["buy", "sell"]).unwrap(), "sell");
        assert_eq!(p.decimal("absent", Decimal::TWO).unwrap(), Decimal::TWO);
        assert!(p.only(&["spread_bps"]).unwrap_err().contains("unknown param"));
        assert!(p.count("window", 5, 2, 10).unwrap_err().contains("between"));
        assert!(Params::from_json(&json!(3)).is_err());
        assert!(
            Params::from_json(&json!({"size": -1}))
                .unwrap()
                .positive("size", Decimal::ONE)
                .is_err()
        );
    }
}
