//! Placeholder until the strategy is written (helper A replaces this file).

use super::{Context, Strategy, StrategyConfig};
use crate::domain::{market::Event, order::Intent};

/// Placeholder.
pub struct MarketMaking;

impl MarketMaking {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for MarketMaking {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}
