//! The pure core of market data: symbols, seeded price processes, pricing under faults, candles.
//! No I/O, no clock: everything here is a function of its inputs, so it is tested directly.

pub mod candles;
pub mod faults;
pub mod pricing;
pub mod process;
pub mod symbol;

#[cfg(test)]
mod properties {
    use std::{collections::BTreeMap, time::Duration};

    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use time::OffsetDateTime;

    use super::{
        pricing::price,
        process::Generator,
        symbol::{Jumps, Process, Symbol, SymbolSpec, default_symbols},
    };

    fn publish(specs: &[SymbolSpec], generator: &Generator) -> BTreeMap<String, Decimal> {
        let legs: BTreeMap<Symbol, f64> = generator.prices().map(|(s, p)| (s.clone(), p)).collect();
        price(
            specs,
            &legs,
            &BTreeMap::new(),
            &[],
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            OffsetDateTime::UNIX_EPOCH,
        )
        .into_iter()
        .map(|q| (q.symbol.to_string(), q.price))
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn prices_stay_positive_and_crosses_equal_the_ratio_of_their_legs(
            seed in any::<u64>(),
            steps in 1usize..400,
            interval_secs in 1u64..3_600,
        ) {
            let specs = default_symbols();
            let mut generator = Generator::new(&specs, seed, Duration::from_secs(interval_secs));
            for _ in 0..steps {
                generator.step();
                let prices = publish(&specs, &generator);
                for (symbol, p) in &prices {
                    prop_assert!(*p > Decimal::ZERO, "{symbol} = {p}");
                }
                for spec in &specs {
                    if let Process::Cross { numerator, denominator } = &spec.process {
                        let ratio = prices[numerator.as_str()] / prices[denominator.as_str()];
                        let cross = prices[spec.symbol.as_str()];
                        prop_assert!(
                            (cross - ratio).abs() <= spec.tick_size / Decimal::TWO,
                            "{} = {cross}, legs give {ratio}", spec.symbol
                        );
                    }
                }
            }
        }
    }

    /// Annualised standard deviation of log returns over a long run.
    fn realised_volatility(process: Process, steps: usize, interval: Duration) -> f64 {
        let spec = SymbolSpec {
            symbol: Symbol::parse("AAA-USD").unwrap(),
            process,
            tick_size: Decimal::new(1, 8),
        };
        let mut generator = Generator::new(std::slice::from_ref(&spec), 2024, interval);
        let mut previous = generator.prices().next().unwrap().1.ln();
        let mut returns = Vec::with_capacity(steps);
        for _ in 0..steps {
            generator.step();
            let now = generator.prices().next().unwrap().1.ln();
            returns.push(now - previous);
            previous = now;
        }
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
        let per_year = 365.0 * 86_400.0 / interval.as_secs_f64();
        (variance * per_year).sqrt()
    }

    #[test]
    fn estimated_volatility_matches_the_configured_one() {
        for configured in [0.2, 0.6, 1.2] {
            let realised = realised_volatility(
                Process::Gbm {
                    initial: 100.0,
                    drift: 0.05,
                    volatility: configured,
                    jumps: None,
                },
                200_000,
                Duration::from_secs(60),
            );
            assert!(
                (realised / configured - 1.0).abs() < 0.02,
                "configured {configured}, realised {realised}"
            );
        }
    }

    #[test]
    fn jumps_add_to_the_diffusion() {
        let without = realised_volatility(
            Process::Gbm {
                initial: 100.0,
                drift: 0.0,
                volatility: 0.5,
                jumps: None,
            },
            200_000,
            Duration::from_secs(60),
        );
        let with = realised_volatility(
            Process::Gbm {
                initial: 100.0,
                drift: 0.0,
                volatility: 0.5,
                jumps: Some(Jumps {
                    intensity: 50.0,
                    mean: 0.0,
                    stdev: 0.05,
                }),
            },
            200_000,
            Duration::from_secs(60),
        );
        // Total variance: 0.25 + intensity * stdev^2 = 0.25 + 0.125.
        assert!(
            (with - 0.375f64.sqrt()).abs() / 0.375f64.sqrt() < 0.1,
            "with jumps {with}"
        );
        assert!(with > without);
    }

    #[test]
    fn a_pegged_leg_stays_near_its_peg_with_the_stationary_spread() {
        let (reversion, volatility) = (2_000.0, 0.01);
        let spec = SymbolSpec {
            symbol: Symbol::parse("USDT-USD").unwrap(),
            process: Process::MeanReverting {
                peg: 1.0,
                reversion,
                volatility,
            },
            tick_size: Decimal::new(1, 8),
        };
        let mut generator = Generator::new(std::slice::from_ref(&spec), 9, Duration::from_secs(60));
        let mut deviations = Vec::new();
        for _ in 0..100_000 {
            generator.step();
            deviations.push(generator.prices().next().unwrap().1.ln());
        }
        let spread = (deviations.iter().map(|d| d * d).sum::<f64>() / deviations.len() as f64).sqrt();
        let expected = volatility / (2.0 * reversion).sqrt();
        assert!(
            (spread / expected - 1.0).abs() < 0.1,
            "spread {spread}, expected {expected}"
        );
        assert!(
            deviations.iter().all(|d| d.abs() < 0.01),
            "stays within 1% of the peg"
        );
    }
}
