//! Seeded price processes: pure and deterministic, no I/O.
//!
//! Every leg (a symbol that is not a cross) has its own ChaCha8 stream, derived from the seed and the
//! leg's position, and each step draws exactly three numbers from it. Step *k* therefore always reads
//! the same words of the stream, so the series depends only on the seed and the configuration, and a
//! generator can resume at any step by seeking its streams ([`Generator::resume`]).

use std::time::Duration;

use rand_chacha::{
    ChaCha8Rng,
    rand_core::{Rng, SeedableRng},
};

use super::symbol::{Jumps, Process, Symbol, SymbolSpec};

/// ChaCha words (32-bit) consumed per leg per step: three 64-bit draws.
const WORDS_PER_STEP: u128 = 6;

/// Seconds in a year: process parameters are annualised.
const YEAR_SECONDS: f64 = 365.0 * 86_400.0;

#[derive(Clone, Debug)]
enum Dynamics {
    Gbm {
        drift: f64,
        volatility: f64,
        jumps: Option<Jumps>,
    },
    MeanReverting {
        peg: f64,
        reversion: f64,
        volatility: f64,
    },
}

#[derive(Clone, Debug)]
struct Leg {
    symbol: Symbol,
    dynamics: Dynamics,
    /// Log price (GBM) or log deviation from the peg (mean reversion).
    state: f64,
    rng: ChaCha8Rng,
}

/// The legs of a market, stepped together one tick at a time.
#[derive(Clone, Debug)]
pub struct Generator {
    legs: Vec<Leg>,
    dt: f64,
    tick: u64,
}

fn stream(seed: u64, leg: usize, tick: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(leg as u64);
    rng.set_word_pos(u128::from(tick) * WORDS_PER_STEP);
    rng
}

/// A uniform number in (0, 1].
fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
}

impl Generator {
    /// A generator at step 0 for the legs of `specs` (crosses are derived, not generated), stepping
    /// `interval` of simulated time per tick.
    pub fn new(specs: &[SymbolSpec], seed: u64, interval: Duration) -> Self {
        let dt = interval.as_secs_f64() / YEAR_SECONDS;
        let legs = specs
            .iter()
            .filter_map(|spec| {
                let (dynamics, state) = match &spec.process {
                    Process::Gbm {
                        initial,
                        drift,
                        volatility,
                        jumps,
                    } => (
                        Dynamics::Gbm {
                            drift: *drift,
                            volatility: *volatility,
                            jumps: *jumps,
                        },
                        initial.ln(),
                    ),
                    Process::MeanReverting {
                        peg,
                        reversion,
                        volatility,
                    } => (
                        Dynamics::MeanReverting {
                            peg: *peg,
                            reversion: *reversion,
                            volatility: *volatility,
                        },
                        0.0,
                    ),
                    Process::Cross { .. } => return None,
                };
                Some((spec.symbol.clone(), dynamics, state))
            })
            .enumerate()
            .map(|(i, (symbol, dynamics, state))| Leg {
                symbol,
                dynamics,
                state,
                rng: stream(seed, i, 0),
            })
            .collect();
        Self { legs, dt, tick: 0 }
    }

    /// A generator resumed at step `tick` with leg states `states` (as [`Generator::states`] gave
    /// them): it continues exactly as the original would have.
    ///
    /// # Errors
    /// Returns a message when `states` does not match the legs of `specs`.
    pub fn resume(
        specs: &[SymbolSpec],
        seed: u64,
        interval: Duration,
        tick: u64,
        states: &[f64],
    ) -> Result<Self, String> {
        let mut generator = Self::new(specs, seed, interval);
        if states.len() != generator.legs.len() || states.iter().any(|s| !s.is_finite()) {
            return Err(format!(
                "saved state has {} legs, the configuration {}",
                states.len(),
                generator.legs.len()
            ));
        }
        for (i, (leg, state)) in generator.legs.iter_mut().zip(states).enumerate() {
            leg.state = *state;
            leg.rng = stream(seed, i, tick);
        }
        generator.tick = tick;
        Ok(generator)
    }

    /// Returns how many steps have been taken.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Returns the legs' internal states, to save.
    pub fn states(&self) -> Vec<f64> {
        self.legs.iter().map(|l| l.state).collect()
    }

    /// Advances every leg by one tick.
    pub fn step(&mut self) {
        let dt = self.dt;
        for leg in &mut self.legs {
            let (u1, u2, u3) = (
                uniform(&mut leg.rng),
                uniform(&mut leg.rng),
                uniform(&mut leg.rng),
            );
            // Box–Muller: two independent standard normals from two uniforms.
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            let (z0, z1) = (radius * angle.cos(), radius * angle.sin());
            match leg.dynamics {
                Dynamics::Gbm {
                    drift,
                    volatility,
                    jumps,
                } => {
                    leg.state += (drift - volatility * volatility / 2.0) * dt + volatility * dt.sqrt() * z0;
                    if let Some(j) = jumps
                        && u3 <= 1.0 - (-j.intensity * dt).exp()
                    {
                        leg.state += j.mean + j.stdev * z1;
                    }
                }
                Dynamics::MeanReverting {
                    reversion,
                    volatility,
                    ..
                } => {
                    // Exact discretisation of the Ornstein–Uhlenbeck process.
                    let decay = (-reversion * dt).exp();
                    let spread = volatility * ((1.0 - decay * decay) / (2.0 * reversion)).sqrt();
                    leg.state = leg.state * decay + spread * z0;
                }
            }
        }
        self.tick += 1;
    }

    /// Returns each leg's current price.
    pub fn prices(&self) -> impl Iterator<Item = (&Symbol, f64)> {
        self.legs.iter().map(|leg| {
            let price = match leg.dynamics {
                Dynamics::Gbm { .. } => leg.state.exp(),
                Dynamics::MeanReverting { peg, .. } => peg * leg.state.exp(),
            };
            (&leg.symbol, price)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::symbol::default_symbols;

    fn series(seed: u64, steps: usize) -> Vec<Vec<f64>> {
        let mut generator = Generator::new(&default_symbols(), seed, Duration::from_secs(1));
        (0..steps)
            .map(|_| {
                generator.step();
                generator.prices().map(|(_, p)| p).collect()
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_series_and_another_seed_another() {
        assert_eq!(series(7, 500), series(7, 500));
        assert_ne!(series(7, 500), series(8, 500));
    }

    #[test]
    fn a_resumed_generator_continues_exactly() {
        let specs = default_symbols();
        let mut original = Generator::new(&specs, 42, Duration::from_secs(1));
        for _ in 0..1_000 {
            original.step();
        }
        let mut resumed = Generator::resume(
            &specs,
            42,
            Duration::from_secs(1),
            original.tick(),
            &original.states(),
        )
        .unwrap();
        for _ in 0..1_000 {
            original.step();
            resumed.step();
        }
        let a: Vec<f64> = original.prices().map(|(_, p)| p).collect();
        let b: Vec<f64> = resumed.prices().map(|(_, p)| p).collect();
        assert_eq!(a, b);
        assert!(Generator::resume(&specs, 42, Duration::from_secs(1), 5, &[1.0]).is_err());
    }

    #[test]
    fn only_legs_are_generated() {
        let generator = Generator::new(&default_symbols(), 1, Duration::from_secs(1));
        let legs: Vec<&str> = generator.prices().map(|(s, _)| s.as_str()).collect();
        assert_eq!(legs, ["BTC-USD", "ETH-USD", "USDT-USD"]);
    }
}
