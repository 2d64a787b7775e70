//! Placeholder until the chaos strategies are written (helper A replaces this file).

use super::{Context, Strategy, StrategyConfig};
use crate::domain::{market::Event, order::Intent};

/// Placeholder.
pub struct Runaway;

impl Runaway {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig, _seed: u64) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for Runaway {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// Placeholder.
pub struct RiskIgnorant;

impl RiskIgnorant {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for RiskIgnorant {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// Placeholder.
pub struct VolatilityAmplifier;

impl VolatilityAmplifier {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for VolatilityAmplifier {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// Placeholder.
pub struct CorrelationBreaker;

impl CorrelationBreaker {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for CorrelationBreaker {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

/// Placeholder.
pub struct SlowLeak;

impl SlowLeak {
    /// Placeholder.
    ///
    /// # Errors
    /// Always, until written.
    pub fn new(_config: &StrategyConfig, _seed: u64) -> Result<Self, String> {
        Err("not written yet".into())
    }
}

impl Strategy for SlowLeak {
    fn on_event(&mut self, _event: &Event, _ctx: &Context<'_>, _out: &mut Vec<Intent>) {}
    fn save(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}
