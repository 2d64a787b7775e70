//! TEMPORARY (the infra helper's settings.rs replaces this file at merge).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tse_runtime::{host::SettingsTable, identity::InstanceName};

use crate::domain::strategy::StrategyConfig;

/// Validated settings.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Strategies.
    pub strategies: Vec<StrategyConfig>,
    /// Funding by exchange and asset.
    pub funding: BTreeMap<String, BTreeMap<String, Decimal>>,
    /// Market data instance.
    pub market_data: Option<InstanceName>,
    /// Seed.
    pub seed: Option<u64>,
}

impl Settings {
    /// Parses.
    ///
    /// # Errors
    /// Never yet.
    pub fn parse(_table: &SettingsTable) -> Result<Self, String> {
        Ok(Self::default())
    }

    /// Exchanges.
    pub fn exchanges(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self
            .strategies
            .iter()
            .flat_map(|s| s.exchanges.iter())
            .chain(self.funding.keys())
        {
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        out
    }
}
