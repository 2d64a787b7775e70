//! `arbitrage`: takes on two exchanges when one's bid pays for the other's ask, both taker fees and
//! a threshold.
//!
//! On each book top of a symbol at either exchange it compares the bid at each exchange with the
//! ask at the other. It trades when the sale would bring, after its taker fee, more than the
//! purchase costs after its own by more than `threshold_bps` of the purchase price:
//! `bid_A × (1 − fee_A) − ask_B × (1 + fee_B) > ask_B × threshold`. That is a little stricter than
//! `bid_A − ask_B > ask_B × (fee_A + fee_B + threshold)` (the fee on the sale is on the higher
//! price), and it is what guarantees it never buys above the other venue's bid minus fees.
//!
//! The pair is two immediate-or-cancel limit orders: buy at B at `ask_B`, sell at A at `bid_A`.
//! Their quantity is the smallest of `size`, the quantity at both tops, `max_order_size` and the
//! room each leg has under `max_position`, rounded down to both instruments' lots. It does not fire
//! again on a symbol while a leg of its previous pair is open, nor within `cooldown` (simulated) of
//! its last pair.
//!
//! Params: `threshold_bps` (default 2), `size` (default 0.01 base), `cooldown` (default `"1s"`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tse_market::{Side, Symbol};

use super::{
    Context, Strategy, StrategyConfig,
    common::{busy, check_basics},
};
use crate::domain::{
    market::{Event, Instrument},
    order::{Intent, OrderSpec, OrderType, TimeInForce},
};

/// Basis points in one.
const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Cross-exchange arbitrage.
pub struct Arbitrage {
    exchanges: [String; 2],
    /// Smallest edge after fees, as a fraction of the purchase price.
    threshold: Decimal,
    size: Decimal,
    cooldown: time::Duration,
    /// When each symbol last fired.
    last: BTreeMap<Symbol, OffsetDateTime>,
}

/// When a symbol last fired, as saved.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fired {
    symbol: Symbol,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

/// What [`Arbitrage::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    fired: Vec<Fired>,
}

/// Rounds `quantity` down to a multiple of both instruments' lots (zero when there is none below).
fn floor_to_both(quantity: Decimal, a: &Instrument, b: &Instrument) -> Decimal {
    let mut q = quantity;
    // Lots are powers of ten in practice, where one pass settles it; a few more cover the rest.
    for _ in 0..8 {
        let next = b.floor_quantity(a.floor_quantity(q));
        if next == q {
            return q;
        }
        q = next;
    }
    Decimal::ZERO
}

impl Arbitrage {
    /// Arbitrage between `config`'s two exchanges on its symbols.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly two different exchanges, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["threshold_bps", "size", "cooldown"])?;
        let threshold = p.decimal_in("threshold_bps", Decimal::TWO, Decimal::ZERO, BPS)?;
        let size = p.positive("size", Decimal::new(1, 2))?;
        let cooldown = p.duration("cooldown", std::time::Duration::from_secs(1))?;
        let cooldown = time::Duration::try_from(cooldown).map_err(|e| format!("param cooldown: {e}"))?;
        check_basics(config)?;
        let exchanges = match config.exchanges.as_slice() {
            [a, b] if a != b => [a.clone(), b.clone()],
            other => {
                return Err(format!(
                    "arbitrage trades on exactly two different exchanges, got {}",
                    other.join(", ")
                ));
            }
        };
        Ok(Arbitrage {
            exchanges,
            threshold: threshold / BPS,
            size,
            cooldown,
            last: BTreeMap::new(),
        })
    }

    /// Fires a pair on `symbol` if one exchange's bid pays for the other's ask.
    fn look(&mut self, ctx: &Context<'_>, symbol: &Symbol, out: &mut Vec<Intent>) {
        if busy(ctx, symbol)
            || self
                .last
                .get(symbol)
                .is_some_and(|t| t.checked_add(self.cooldown).is_none_or(|end| ctx.now < end))
        {
            return;
        }
        let held = ctx.position(symbol);
        let limit = ctx.config.max_position;
        let room = (limit - held).min(limit + held);
        for (sell, buy) in [(0, 1), (1, 0)] {
            let (sell_at, buy_at) = (&self.exchanges[sell], &self.exchanges[buy]);
            let (Some(seller), Some(buyer)) = (
                ctx.market.instrument(sell_at, symbol),
                ctx.market.instrument(buy_at, symbol),
            ) else {
                return;
            };
            let bid = ctx.market.book(sell_at, symbol).and_then(|b| b.bid);
            let ask = ctx.market.book(buy_at, symbol).and_then(|b| b.ask);
            let (Some(bid), Some(ask)) = (bid, ask) else {
                continue;
            };
            if ask.price <= Decimal::ZERO {
                continue;
            }
            let proceeds = bid.price * (Decimal::ONE - seller.taker_fee);
            let cost = ask.price * (Decimal::ONE + buyer.taker_fee);
            if proceeds - cost <= ask.price * self.threshold {
                continue;
            }
            let quantity = self
                .size
                .min(bid.quantity)
                .min(ask.quantity)
                .min(ctx.config.max_order_size)
                .min(room);
            let quantity = floor_to_both(quantity.max(Decimal::ZERO), seller, buyer);
            if quantity <= Decimal::ZERO {
                continue;
            }
            let leg = |exchange: &str, side, price| {
                Intent::Place(OrderSpec {
                    exchange: exchange.to_owned(),
                    symbol: symbol.clone(),
                    side,
                    order_type: OrderType::Limit {
                        price,
                        time_in_force: TimeInForce::Ioc,
                        post_only: false,
                    },
                    quantity,
                })
            };
            out.push(leg(buy_at, Side::Buy, ask.price));
            out.push(leg(sell_at, Side::Sell, bid.price));
            self.last.insert(symbol.clone(), ctx.now);
            return;
        }
    }
}

impl Strategy for Arbitrage {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        if let Event::Book { exchange, symbol, .. } = event
            && self.exchanges.contains(exchange)
            && ctx.config.symbols.contains(symbol)
        {
            self.look(ctx, symbol, out);
        }
    }

    fn save(&self) -> serde_json::Value {
        let fired = self
            .last
            .iter()
            .map(|(symbol, at)| Fired {
                symbol: symbol.clone(),
                at: *at,
            })
            .collect();
        serde_json::to_value(Saved { fired }).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: Saved =
            serde_json::from_value(state.clone()).map_err(|e| format!("arbitrage state: {e}"))?;
        self.last = saved.fired.into_iter().map(|f| (f.symbol, f.at)).collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{
        market::{BookTop, Top},
        strategy::{
            StrategyKind,
            fixtures::{World, at, btc, config, d},
        },
    };

    fn arbitrage(params: serde_json::Value) -> (Arbitrage, StrategyConfig) {
        let c = config(StrategyKind::Arbitrage, &["a", "b"], &[btc()], params);
        (Arbitrage::new(&c).unwrap(), c)
    }

    fn book(exchange: &str, bid: (&str, &str), ask: (&str, &str)) -> Event {
        let top = |(p, q): (&str, &str)| {
            Some(Top {
                price: d(p),
                quantity: d(q),
            })
        };
        Event::Book {
            exchange: exchange.into(),
            symbol: btc(),
            top: BookTop {
                bid: top(bid),
                ask: top(ask),
            },
        }
    }

    /// The exchange, side, IOC price and quantity of a leg.
    fn leg(intent: &Intent) -> (String, Side, Decimal, Decimal) {
        match intent {
            Intent::Place(OrderSpec {
                exchange,
                side,
                order_type:
                    OrderType::Limit {
                        price,
                        time_in_force: TimeInForce::Ioc,
                        post_only: false,
                    },
                quantity,
                ..
            }) => (exchange.clone(), *side, *price, *quantity),
            other => panic!("not an IOC leg: {other:?}"),
        }
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let bad = |params, exchanges: &[&str]| {
            let c = config(StrategyKind::Arbitrage, exchanges, &[btc()], params);
            Arbitrage::new(&c).err().unwrap()
        };
        assert!(bad(json!({}), &["a"]).contains("exactly two different exchanges"));
        assert!(bad(json!({}), &["a", "a"]).contains("exactly two different exchanges"));
        assert!(bad(json!({"cooldown": 5}), &["a", "b"]).contains("not a duration"));
        assert!(bad(json!({"threshold_bps": -1}), &["a", "b"]).contains("between"));
        assert!(bad(json!({"spread": 1}), &["a", "b"]).contains("unknown param"));
    }

    #[test]
    fn takes_only_when_the_edge_pays_both_fees_and_the_threshold() {
        // Fees 0.0005 each side, threshold 2 bps: at ask 1000 the bid must beat about 1001.2.
        let (mut m, c) = arbitrage(json!({"threshold_bps": 2, "size": "0.05"}));
        let mut w = World::new(&["a", "b"]);
        w.feed(&mut m, &c, at(0), &book("b", ("999", "1"), ("1000", "0.5")));
        let out = w.feed(&mut m, &c, at(0), &book("a", ("1001.1", "1"), ("1002", "1")));
        assert!(out.is_empty(), "{out:?}");
        let out = w.feed(&mut m, &c, at(0), &book("a", ("1001.3", "0.0155"), ("1002", "1")));
        let legs: Vec<_> = out.iter().map(leg).collect();
        // min(size 0.05, bid qty 0.0155, max_order_size 0.02) → 0.015 at the lot.
        assert_eq!(
            legs,
            [
                ("b".into(), Side::Buy, d("1000"), d("0.015")),
                ("a".into(), Side::Sell, d("1001.3"), d("0.015")),
            ]
        );
        // Legs open: no second pair.
        w.track(&out[0], false);
        w.track(&out[1], true);
        assert!(
            w.feed(&mut m, &c, at(5), &book("a", ("1010", "1"), ("1011", "1")))
                .is_empty()
        );
        // Legs done but within the cooldown: none either; after it, the other way round.
        w.orders.clear();
        assert!(
            w.feed(&mut m, &c, at(0), &book("a", ("1010", "1"), ("1011", "1")))
                .is_empty()
        );
        let out = w.feed(&mut m, &c, at(1), &book("a", ("990", "1"), ("995", "1")));
        let sides: Vec<_> = out.iter().map(leg).map(|l| (l.0, l.1)).collect();
        assert_eq!(sides, [("a".into(), Side::Buy), ("b".into(), Side::Sell)]);
    }

    #[test]
    fn each_leg_stays_within_max_position() {
        let (mut m, c) = arbitrage(json!({}));
        let mut w = World::new(&["a", "b"]);
        w.hold(&btc(), d("0.045"));
        w.feed(&mut m, &c, at(0), &book("b", ("999", "1"), ("1000", "1")));
        let out = w.feed(&mut m, &c, at(0), &book("a", ("1010", "1"), ("1011", "1")));
        assert_eq!(
            out.iter().map(leg).map(|l| l.3).collect::<Vec<_>>(),
            [d("0.005"), d("0.005")]
        );
        w.hold(&btc(), d("0.05"));
        assert!(
            w.feed(&mut m, &c, at(9), &book("a", ("1010", "1"), ("1011", "1")))
                .is_empty()
        );
    }

    #[test]
    fn quantities_fit_both_lots() {
        let mut coarse = crate::domain::strategy::fixtures::instrument(btc());
        coarse.lot = d("0.004");
        let fine = crate::domain::strategy::fixtures::instrument(btc());
        assert_eq!(floor_to_both(d("0.0155"), &coarse, &fine), d("0.012"));
        let mut odd = fine.clone();
        odd.lot = d("0.003");
        assert_eq!(floor_to_both(d("0.0155"), &coarse, &odd), d("0.012"));
        assert_eq!(floor_to_both(d("0.011"), &coarse, &odd), Decimal::ZERO);
    }

    #[test]
    fn state_survives_save_and_restore_and_garbage_is_refused() {
        let (mut m, c) = arbitrage(json!({}));
        let mut w = World::new(&["a", "b"]);
        w.feed(&mut m, &c, at(0), &book("b", ("999", "1"), ("1000", "1")));
        assert_eq!(
            w.feed(&mut m, &c, at(7), &book("a", ("1010", "1"), ("1011", "1")))
                .len(),
            2
        );
        let saved = m.save();
        let (mut back, _) = arbitrage(json!({}));
        back.restore(&saved).unwrap();
        assert_eq!(back.last, m.last);
        assert_eq!(back.last.get(&btc()), Some(&at(7)));
        assert!(
            back.restore(&json!({"fired": [{"symbol": "BTC-USD", "at": "yesterday"}]}))
                .is_err()
        );
        assert!(back.restore(&json!({})).is_err());
    }
}
