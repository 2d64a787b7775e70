//! `[instance.settings]` of a trading system instance, validated before anything starts.
//!
//! ```toml
//! [instance.settings]
//! market_data = "market-data-Coinmetrics"   # the market data instance to follow; default: the first found
//! seed = 7                                   # default: derived from the ecosystem seed and the instance name
//!
//! [instance.settings.funding]                # deposited once, when the desk's account there is opened
//! "exchange-OKX" = { USD = "2000000", BTC = "20", ETH = "200" }
//!
//! [[instance.settings.strategies]]
//! name = "mm-okx"                  # 1 to 32 of a-z 0-9 _ -, starting with a letter; unique
//! kind = "market_making"           # market_making, arbitrage, momentum, mean_reversion, or a chaos kind
//! exchanges = ["exchange-OKX"]     # exchange instances
//! symbols = ["BTC-USD"]
//! max_position = "1"               # largest absolute position per symbol, base asset
//! max_order_size = "0.1"           # largest order, base asset; at most max_position
//! enabled = true                   # default: true, false for a chaos kind (which cannot be true here)
//! [instance.settings.strategies.params]   # the kind's own (crate::domain::strategy)
//! spread_bps = 10
//! ```
//!
//! Decimals may be written as text (`"0.1"`) or as numbers (`0.1`, `5`). Unknown keys are refused.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use tse_market::{Asset, Symbol};
use tse_runtime::identity::InstanceName;

use crate::domain::strategy::{self, Params, StrategyConfig, StrategyKind};

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The strategies, in settings order.
    pub strategies: Vec<StrategyConfig>,
    /// Deposited when the desk's account at an exchange is first opened: exchange instance →
    /// asset (upper case) → amount.
    pub funding: BTreeMap<String, BTreeMap<String, Decimal>>,
    /// Market data instance to follow; `None`: the first one registered.
    pub market_data: Option<InstanceName>,
    /// Explicit seed; `None`: derived from the ecosystem seed and the instance name.
    pub seed: Option<u64>,
}

/// Longest strategy name.
const MAX_NAME: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    market_data: Option<String>,
    seed: Option<u64>,
    funding: Option<BTreeMap<String, toml::Table>>,
    strategies: Option<Vec<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    name: String,
    kind: String,
    exchanges: Vec<String>,
    symbols: Vec<String>,
    max_position: toml::Value,
    max_order_size: toml::Value,
    enabled: Option<bool>,
    params: Option<toml::Table>,
}

impl Settings {
    /// Parses and validates `[instance.settings]`, each strategy's params included (by building
    /// it).
    ///
    /// # Errors
    /// A message naming the setting and what is wrong with it (`strategies[1].max_position: ...`).
    pub fn parse(table: &toml::Table) -> Result<Self, String> {
        let settings = Self::parse_shape(table)?;
        settings.check_strategies()?;
        Ok(settings)
    }

    /// Returns every exchange named by a strategy or by funding, in order of first appearance
    /// (strategies first).
    pub fn exchanges(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let named = self
            .strategies
            .iter()
            .flat_map(|s| s.exchanges.iter())
            .chain(self.funding.keys());
        for exchange in named {
            if !out.contains(exchange) {
                out.push(exchange.clone());
            }
        }
        out
    }

    /// Builds every strategy once, so its kind can judge its params, exchanges and symbols.
    ///
    /// # Errors
    /// The first strategy that cannot be built, and why.
    pub fn check_strategies(&self) -> Result<(), String> {
        for (i, config) in self.strategies.iter().enumerate() {
            strategy::build(config, 0).map_err(|e| format!("strategies[{i}]: {e}"))?;
        }
        Ok(())
    }

    /// Every rule of the settings themselves; the strategies' own rules are
    /// [`Settings::check_strategies`].
    fn parse_shape(table: &toml::Table) -> Result<Self, String> {
        let raw: Raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("trading system settings: {}", e.message().trim()))?;
        let market_data = raw
            .market_data
            .map(|name| InstanceName::parse(name.trim()).map_err(|e| format!("market_data: {e}")))
            .transpose()?;
        let mut funding = BTreeMap::new();
        for (exchange, assets) in raw.funding.unwrap_or_default() {
            let at = format!("funding.{exchange}");
            let exchange = instance(&at, &exchange)?;
            let mut amounts = BTreeMap::new();
            for (asset, amount) in &assets {
                let code = Asset::parse(asset).map_err(|e| format!("{at}: {e}"))?;
                let amount = positive(&format!("{at}.{asset}"), amount)?;
                if amounts.insert(code.as_str().to_owned(), amount).is_some() {
                    return Err(format!("{at}: {code} is listed twice"));
                }
            }
            funding.insert(exchange, amounts);
        }
        let mut strategies: Vec<StrategyConfig> = Vec::new();
        for (i, table) in raw.strategies.unwrap_or_default().into_iter().enumerate() {
            let at = format!("strategies[{i}]");
            let config = parse_strategy(&at, table)?;
            if strategies.iter().any(|s| s.name == config.name) {
                return Err(format!("{at}.name: {} is used twice", config.name));
            }
            strategies.push(config);
        }
        Ok(Self {
            strategies,
            funding,
            market_data,
            seed: raw.seed,
        })
    }
}

/// One `[[strategies]]` entry, `at` naming it in errors.
fn parse_strategy(at: &str, table: toml::Table) -> Result<StrategyConfig, String> {
    let raw: RawStrategy = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("{at}: {}", e.message().trim()))?;
    let name = strategy_name(&raw.name).map_err(|e| format!("{at}.name: {e}"))?;
    let kind = StrategyKind::parse(&raw.kind).ok_or_else(|| {
        let known: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
        format!("{at}.kind: '{}' is not one of {}", raw.kind, known.join(", "))
    })?;
    if raw.exchanges.is_empty() {
        return Err(format!("{at}.exchanges: name at least one exchange instance"));
    }
    let mut exchanges: Vec<String> = Vec::new();
    for text in &raw.exchanges {
        let exchange = instance(&format!("{at}.exchanges"), text)?;
        if exchanges.contains(&exchange) {
            return Err(format!("{at}.exchanges: {exchange} is listed twice"));
        }
        exchanges.push(exchange);
    }
    if raw.symbols.is_empty() {
        return Err(format!("{at}.symbols: name at least one symbol"));
    }
    let mut symbols: Vec<Symbol> = Vec::new();
    for text in &raw.symbols {
        let symbol = Symbol::parse(text).map_err(|e| format!("{at}.symbols: {e}"))?;
        if symbols.contains(&symbol) {
            return Err(format!("{at}.symbols: {symbol} is listed twice"));
        }
        symbols.push(symbol);
    }
    let max_position = positive(&format!("{at}.max_position"), &raw.max_position)?;
    let max_order_size = positive(&format!("{at}.max_order_size"), &raw.max_order_size)?;
    if max_order_size > max_position {
        return Err(format!(
            "{at}.max_order_size: {max_order_size} is above max_position {max_position}"
        ));
    }
    let enabled = match raw.enabled {
        Some(true) if kind.is_chaos() => {
            return Err(format!(
                "{at}.enabled: {kind} is a chaos strategy; chaos strategies start through the back door"
            ));
        }
        Some(enabled) => enabled,
        None => !kind.is_chaos(),
    };
    let params = match raw.params {
        None => Params::default(),
        Some(table) => {
            let json = json(&toml::Value::Table(table)).map_err(|e| format!("{at}.params: {e}"))?;
            Params::from_json(&json).map_err(|e| format!("{at}.params: {e}"))?
        }
    };
    Ok(StrategyConfig {
        name,
        kind,
        exchanges,
        symbols,
        params,
        max_position,
        max_order_size,
        enabled,
    })
}

/// A strategy's name: 1 to 32 of `a-z 0-9 _ -`, starting with a letter, and not a chaos kind's
/// name (the back door names the strategy a fault starts after its kind).
fn strategy_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    let first_is_letter = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    let rest_allowed = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if name.len() > MAX_NAME || !first_is_letter || !rest_allowed {
        return Err(format!(
            "'{text}' is not a strategy name: 1 to {MAX_NAME} of a-z 0-9 _ -, starting with a letter"
        ));
    }
    if StrategyKind::parse(name).is_some_and(StrategyKind::is_chaos) {
        return Err(format!(
            "'{name}' is the name of the strategy its back-door fault starts; choose another"
        ));
    }
    Ok(name.to_owned())
}

/// An instance name, checked and kept as written.
fn instance(at: &str, text: &str) -> Result<String, String> {
    InstanceName::parse(text.trim())
        .map(|name| name.as_str().to_owned())
        .map_err(|e| format!("{at}: {e}"))
}

/// A positive decimal written as text (`"0.5"`) or as a number (`0.5`, `5`).
fn positive(at: &str, value: &toml::Value) -> Result<Decimal, String> {
    let text = match value {
        toml::Value::String(s) => s.trim().to_owned(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        other => return Err(format!("{at}: expected a decimal, got a {}", other.type_str())),
    };
    let amount: Decimal = text
        .parse()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| format!("{at}: '{text}' is not a decimal"))?;
    if amount <= Decimal::ZERO {
        return Err(format!("{at}: must be positive, got {amount}"));
    }
    Ok(amount)
}

/// A TOML value as JSON, as a strategy's [`Params`] hold it.
fn json(value: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The settings' own rules, before the strategies judge their params.
    fn shape(text: &str) -> Result<Settings, String> {
        Settings::parse_shape(&text.parse::<toml::Table>().unwrap())
    }

    fn err(text: &str) -> String {
        shape(text).unwrap_err()
    }

    /// One `[[strategies]]` entry of these fields.
    fn one(fields: &str) -> String {
        format!("[[strategies]]\n{fields}\n")
    }

    const MM: &str = "name = \"mm\"\nkind = \"market_making\"\nexchanges = [\"exchange-OKX\"]\n\
                      symbols = [\"BTC-USD\"]\nmax_position = \"1\"\nmax_order_size = \"0.1\"";

    /// The [`MM`] entry with `replace` replaced by `by`.
    fn with(replace: &str, by: &str) -> String {
        let fields = MM.replace(replace, by);
        assert_ne!(fields, MM, "{replace} is not in the template");
        one(&fields)
    }

    #[test]
    fn an_empty_table_is_no_strategies_and_no_funding() {
        let s = Settings::parse(&toml::Table::new()).unwrap();
        assert_eq!(
            s,
            Settings {
                strategies: vec![],
                funding: BTreeMap::new(),
                market_data: None,
                seed: None
            }
        );
        assert!(s.exchanges().is_empty());
    }

    #[test]
    fn a_full_strategy_is_read_as_written() {
        let s = shape(&format!(
            "market_data = \"market-data-Coinmetrics\"\nseed = 7\n{}",
            one(&format!(
                "{}\nenabled = false\n[strategies.params]\nspread_bps = 10\nsize = \"0.05\"\nratio = 1.5\nside = \"buy\"\nevery = \"5s\"",
                MM.replace("[\"BTC-USD\"]", "[\"btc-usd\", \"ETH-USD\"]")
                    .replace("\"market_making\"", "\"Market_Making\"")
                    .replace("\"0.1\"", "0.25")
            ))
        ))
        .unwrap();
        assert_eq!(s.seed, Some(7));
        assert_eq!(s.market_data.unwrap().as_str(), "market-data-Coinmetrics");
        let c = &s.strategies[0];
        assert_eq!(c.name, "mm");
        assert_eq!(c.kind, StrategyKind::MarketMaking);
        assert_eq!(c.exchanges, ["exchange-OKX"]);
        assert_eq!(
            c.symbols,
            [
                Symbol::parse("BTC-USD").unwrap(),
                Symbol::parse("ETH-USD").unwrap()
            ]
        );
        assert_eq!(c.max_position, Decimal::ONE);
        assert_eq!(c.max_order_size, Decimal::new(25, 2));
        assert!(!c.enabled);
        assert_eq!(
            c.params.to_json(),
            json!({"spread_bps": 10, "size": "0.05", "ratio": 1.5, "side": "buy", "every": "5s"})
        );
        assert_eq!(
            c.params.decimal("ratio", Decimal::ZERO).unwrap(),
            Decimal::new(15, 1)
        );
    }

    #[test]
    fn enabled_defaults_to_true_and_to_false_for_chaos_kinds() {
        assert!(shape(&one(MM)).unwrap().strategies[0].enabled);
        let chaos = shape(&with("\"market_making\"", "\"runaway\"")).unwrap();
        assert!(!chaos.strategies[0].enabled);
        let explicit = shape(&one(&format!("{MM}\nenabled = false"))).unwrap();
        assert!(!explicit.strategies[0].enabled);
    }

    #[test]
    fn a_chaos_kind_enabled_in_settings_is_refused() {
        let e = err(&format!(
            "{}enabled = true\n",
            with("\"market_making\"", "\"slow_leak\"")
        ));
        assert_eq!(
            e,
            "strategies[0].enabled: slow_leak is a chaos strategy; chaos strategies start through the back door"
        );
    }

    #[test]
    fn strategy_names_are_short_lower_case_words_starting_with_a_letter() {
        for good in ["a", "mm-okx", "arb_2", &"x".repeat(32)] {
            let s = shape(&with("\"mm\"", &format!("\"{good}\""))).unwrap();
            assert_eq!(s.strategies[0].name, good);
        }
        for bad in ["", "1mm", "-mm", "MM", "mm okx", "mm.okx", &"x".repeat(33)] {
            let e = err(&with("\"mm\"", &format!("\"{bad}\"")));
            assert!(e.starts_with("strategies[0].name: "), "{e}");
            assert!(e.contains("not a strategy name"), "{e}");
        }
        let reserved = err(&with("\"mm\"", "\"runaway\""));
        assert!(reserved.contains("back-door fault"), "{reserved}");
        // A well-behaved kind's name is free to use.
        assert!(shape(&with("\"mm\"", "\"momentum\"")).is_ok());
    }

    #[test]
    fn strategy_names_are_unique() {
        let e = err(&format!("{}{}", one(MM), one(MM)));
        assert_eq!(e, "strategies[1].name: mm is used twice");
    }

    #[test]
    fn the_kind_is_one_of_the_kinds_in_any_case() {
        for kind in StrategyKind::ALL {
            let upper = kind.name().to_ascii_uppercase();
            let s = shape(&with("\"market_making\"", &format!("\"{upper}\""))).unwrap();
            assert_eq!(s.strategies[0].kind, kind);
        }
        let e = err(&with("\"market_making\"", "\"scalping\""));
        assert!(
            e.starts_with("strategies[0].kind: 'scalping' is not one of market_making, arbitrage"),
            "{e}"
        );
    }

    #[test]
    fn exchanges_are_instance_names_listed_once() {
        assert!(
            err(&with("[\"exchange-OKX\"]", "[]")).contains("strategies[0].exchanges: name at least one")
        );
        let bad = err(&with("[\"exchange-OKX\"]", "[\"exchange_OKX\"]"));
        assert!(bad.starts_with("strategies[0].exchanges: "), "{bad}");
        assert!(bad.contains("exchange_OKX"), "{bad}");
        assert_eq!(
            err(&with(
                "[\"exchange-OKX\"]",
                "[\"exchange-OKX\", \"exchange-OKX\"]"
            )),
            "strategies[0].exchanges: exchange-OKX is listed twice"
        );
    }

    #[test]
    fn symbols_are_pairs_listed_once() {
        assert!(err(&with("[\"BTC-USD\"]", "[]")).contains("strategies[0].symbols: name at least one"));
        let bad = err(&with("[\"BTC-USD\"]", "[\"BTCUSD\"]"));
        assert!(
            bad.starts_with("strategies[0].symbols: 'BTCUSD' is not a symbol"),
            "{bad}"
        );
        assert_eq!(
            err(&with("[\"BTC-USD\"]", "[\"BTC-USD\", \"btc-usd\"]")),
            "strategies[0].symbols: BTC-USD is listed twice"
        );
    }

    #[test]
    fn limits_are_positive_decimals_and_an_order_fits_the_position() {
        let e = err(&with("max_position = \"1\"", "max_position = \"0\""));
        assert_eq!(e, "strategies[0].max_position: must be positive, got 0");
        let e = err(&with("max_order_size = \"0.1\"", "max_order_size = -1"));
        assert_eq!(e, "strategies[0].max_order_size: must be positive, got -1");
        let e = err(&with("max_position = \"1\"", "max_position = \"lots\""));
        assert_eq!(e, "strategies[0].max_position: 'lots' is not a decimal");
        let e = err(&with("max_position = \"1\"", "max_position = true"));
        assert_eq!(e, "strategies[0].max_position: expected a decimal, got a boolean");
        let e = err(&with("max_order_size = \"0.1\"", "max_order_size = \"2\""));
        assert_eq!(e, "strategies[0].max_order_size: 2 is above max_position 1");
        let whole = shape(&with("max_position = \"1\"", "max_position = 3")).unwrap();
        assert_eq!(whole.strategies[0].max_position, Decimal::from(3));
    }

    #[test]
    fn a_missing_or_unknown_field_names_its_strategy() {
        let missing = err(&one(&MM.replace("max_order_size = \"0.1\"", "")));
        assert!(
            missing.starts_with("strategies[0]: missing field `max_order_size`"),
            "{missing}"
        );
        let unknown = err(&format!(
            "{}{}",
            one(MM),
            with("\"mm\"", "\"b\"") + "colour = 1\n"
        ));
        assert!(
            unknown.starts_with("strategies[1]: unknown field `colour`"),
            "{unknown}"
        );
        let params =
            err(&with("\"mm\"", "\"b\"").replace("[[strategies]]\n", "[[strategies]]\nparams = 3\n"));
        assert!(params.starts_with("strategies[0]: "), "{params}");
    }

    #[test]
    fn unknown_top_level_keys_and_bad_values_are_refused() {
        let e = err("strategy = []");
        assert!(
            e.starts_with("trading system settings: unknown field `strategy`"),
            "{e}"
        );
        assert!(err("seed = -1").starts_with("trading system settings: "));
        let e = err("market_data = \"market_data\"");
        assert!(e.starts_with("market_data: "), "{e}");
    }

    #[test]
    fn funding_is_positive_amounts_of_assets_per_exchange_instance() {
        let s = shape(
            "[funding]\n\"exchange-OKX\" = { usd = \"2000000\", BTC = 20, ETH = 200.5 }\n\
             \"exchange-Binance\" = { USDT = \"1e3\" }",
        )
        .unwrap();
        let okx = &s.funding["exchange-OKX"];
        assert_eq!(okx["USD"], Decimal::from(2_000_000));
        assert_eq!(okx["BTC"], Decimal::from(20));
        assert_eq!(okx["ETH"], Decimal::new(2005, 1));
        assert_eq!(s.funding["exchange-Binance"]["USDT"], Decimal::from(1000));
        assert!(s.strategies.is_empty());
        let e = err("[funding]\n\"exchange-OKX\" = { BTC = \"0\" }");
        assert_eq!(e, "funding.exchange-OKX.BTC: must be positive, got 0");
        let e = err("[funding]\n\"exchange-OKX\" = { B = 1 }");
        assert!(e.starts_with("funding.exchange-OKX: 'B' is not an asset"), "{e}");
        let e = err("[funding]\n\"exchange-OKX\" = { btc = 1, BTC = 2 }");
        assert_eq!(e, "funding.exchange-OKX: BTC is listed twice");
        let e = err("[funding]\n\"exchange OKX\" = { BTC = 1 }");
        assert!(e.starts_with("funding.exchange OKX: "), "{e}");
        assert!(err("[funding]\n\"exchange-OKX\" = 5").starts_with("trading system settings: "));
    }

    #[test]
    fn exchanges_lists_strategies_then_funding_each_once() {
        let s = shape(&format!(
            "[funding]\n\"exchange-A\" = {{ USD = 1 }}\n\"exchange-OKX\" = {{ USD = 1 }}\n{}{}",
            with("[\"exchange-OKX\"]", "[\"exchange-OKX\", \"exchange-Binance\"]"),
            with("\"mm\"", "\"b\"").replace("[\"exchange-OKX\"]", "[\"exchange-Binance\"]")
        ))
        .unwrap();
        assert_eq!(s.exchanges(), ["exchange-OKX", "exchange-Binance", "exchange-A"]);
    }

    #[test]
    fn params_keep_their_toml_values_as_json() {
        let value: toml::Value = "a = [1, 2.5, \"x\", true]\nb = { c = 1979-05-27 }"
            .parse::<toml::Table>()
            .map(toml::Value::Table)
            .unwrap();
        assert_eq!(
            json(&value).unwrap(),
            json!({"a": [1, 2.5, "x", true], "b": {"c": "1979-05-27"}})
        );
        assert!(json(&toml::Value::Float(f64::NAN)).is_err());
    }

    /// `trading-system-LH`'s settings in the built-in default ecosystem.
    fn default_desk() -> toml::Table {
        tse_runtime::config::topology::Topology::default_ecosystem()
            .instances
            .into_iter()
            .find(|i| i.name.as_deref() == Some("trading-system-LH"))
            .unwrap()
            .settings
    }

    #[test]
    fn the_default_desk_is_funded_on_both_exchanges_and_runs_three_strategies() {
        let s = Settings::parse_shape(&default_desk()).unwrap();
        assert_eq!(s.exchanges(), ["exchange-OKX", "exchange-Binance"]);
        for exchange in ["exchange-OKX", "exchange-Binance"] {
            let assets: Vec<&str> = s.funding[exchange].keys().map(String::as_str).collect();
            assert_eq!(assets, ["BTC", "ETH", "USD", "USDT"]);
        }
        let strategies: Vec<(&str, StrategyKind, bool)> = s
            .strategies
            .iter()
            .map(|c| (c.name.as_str(), c.kind, c.enabled))
            .collect();
        assert_eq!(
            strategies,
            [
                ("mm-okx", StrategyKind::MarketMaking, true),
                ("arb-okx-binance", StrategyKind::Arbitrage, true),
                ("momentum-btc", StrategyKind::Momentum, true)
            ]
        );
    }

    /// Needs the strategies themselves (`crate::domain::strategy::*::new`).
    #[test]
    fn the_default_desks_params_are_its_strategies_params() {
        if let Err(e) = Settings::parse(&default_desk()) {
            panic!("{e}");
        }
    }

    /// Needs the strategies themselves (`crate::domain::strategy::*::new`): each kind judges its
    /// own params, and `parse` asks it.
    #[test]
    fn parse_asks_each_strategy_to_judge_its_params() {
        let good = format!("{}[strategies.params]\nspread_bps = 10\n", one(MM));
        let table: toml::Table = good.parse().unwrap();
        assert!(Settings::parse(&table).is_ok(), "{:?}", Settings::parse(&table));
        let bad = format!("{}[strategies.params]\nspreed_bps = 10\n", one(MM));
        let e = Settings::parse(&bad.parse().unwrap()).unwrap_err();
        assert!(e.starts_with("strategies[0]: strategy mm: "), "{e}");
        assert!(e.contains("spreed_bps"), "{e}");
        // Arbitrage needs two exchanges.
        let lonely = with("\"market_making\"", "\"arbitrage\"");
        let e = Settings::parse(&lonely.parse().unwrap()).unwrap_err();
        assert!(e.starts_with("strategies[0]: strategy mm: "), "{e}");
    }
}
