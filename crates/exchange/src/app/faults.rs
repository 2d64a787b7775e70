//! A snapshot of the exchange's active faults that the hot path reads without touching the board:
//! rebuilt whenever a fault starts or ends.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio_util::sync::CancellationToken;
use tse_runtime::faults::FaultBoard;
use uuid::Uuid;

use crate::domain::faults::{ExchangeFault, Operation};

/// What the active faults ask of the exchange right now.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// Production API down (injection event of the fault).
    pub downtime: Option<Uuid>,
    /// Added delay per operation.
    pub latency: BTreeMap<&'static str, Duration>,
    /// Halted symbols (symbol → injection event).
    pub halted: BTreeMap<String, Uuid>,
    /// Rejection share: per symbol, or for every symbol under `"*"` (→ (fraction, injection event)).
    pub rejections: BTreeMap<String, (f64, Uuid)>,
    /// Liquidity provider spread multiplier per symbol (or `"*"`).
    pub spread: BTreeMap<String, f64>,
    /// Liquidity provider size multiplier per symbol (or `"*"`).
    pub size: BTreeMap<String, f64>,
}

fn key(op: Operation) -> &'static str {
    match op {
        Operation::Place => "place",
        Operation::Cancel => "cancel",
        Operation::Query => "query",
    }
}

impl Effects {
    fn of(board: &FaultBoard<ExchangeFault>) -> Self {
        let mut effects = Effects::default();
        let scope = |symbols: &[String]| {
            if symbols.is_empty() {
                vec!["*".to_owned()]
            } else {
                symbols.to_vec()
            }
        };
        for fault in board.active() {
            let cause = fault.injection_event;
            match &fault.spec {
                ExchangeFault::Downtime => effects.downtime = Some(cause),
                ExchangeFault::Latency { delay, operations } => {
                    for op in operations {
                        let entry = effects.latency.entry(key(*op)).or_default();
                        *entry = (*entry).max(*delay);
                    }
                }
                ExchangeFault::SymbolHalt { symbols } => {
                    for s in symbols {
                        effects.halted.insert(s.clone(), cause);
                    }
                }
                ExchangeFault::RejectOrders { fraction, symbols } => {
                    for s in scope(symbols) {
                        effects.rejections.insert(s, (*fraction, cause));
                    }
                }
                ExchangeFault::SpreadWidening { factor, symbols } => {
                    for s in scope(symbols) {
                        *effects.spread.entry(s).or_insert(1.0) *= factor;
                    }
                }
                ExchangeFault::LiquidityReduction { factor, symbols } => {
                    for s in scope(symbols) {
                        *effects.size.entry(s).or_insert(1.0) *= factor;
                    }
                }
            }
        }
        effects
    }

    /// Returns the added delay of `op`.
    pub fn delay(&self, op: Operation) -> Option<Duration> {
        self.latency.get(key(op)).copied()
    }

    /// Returns the rejection share and its cause for `symbol`.
    pub fn rejection(&self, symbol: &str) -> Option<(f64, Uuid)> {
        self.rejections
            .get(symbol)
            .or_else(|| self.rejections.get("*"))
            .copied()
    }

    /// Returns the liquidity provider's (spread, size) multipliers for `symbol`.
    pub fn liquidity(&self, symbol: &str) -> (f64, f64) {
        let pick = |map: &BTreeMap<String, f64>| {
            map.get(symbol).copied().unwrap_or(1.0) * map.get("*").copied().unwrap_or(1.0)
        };
        (pick(&self.spread), pick(&self.size))
    }
}

/// The shared snapshot.
#[derive(Clone, Default)]
pub struct FaultState {
    current: Arc<RwLock<Arc<Effects>>>,
}

impl FaultState {
    /// Returns the effects in force now.
    pub fn now(&self) -> Arc<Effects> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Keeps the snapshot in step with `board` until `stop`.
    pub async fn follow(self, board: FaultBoard<ExchangeFault>, stop: CancellationToken) {
        let mut changes = board.subscribe();
        loop {
            let effects = Arc::new(Effects::of(&board));
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = effects;
            tokio::select! {
                () = stop.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
                // Faults also end by time; the board marks them within a second, this catches up sooner.
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}
