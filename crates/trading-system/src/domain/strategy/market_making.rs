//! `market_making`: a two-sided, post-only quote around the mid of each symbol on one exchange.
//!
//! The mid is the reference price (market data), else the exchange's book mid. Both quotes sit
//! `spread_bps` from a centre that is the mid shifted against the inventory by
//! `skew_bps × position / max_position` (a long desk quotes lower, to sell more and buy less); the
//! bid is rounded down to the tick and the ask up, and neither is allowed to cross the exchange's
//! book (a post-only order that would take is refused). The bid's size is capped so that the
//! position plus the bid stays within `max_position` (no bid at the cap), the same for the ask.
//!
//! At most one bid and one ask rest per symbol. A resting quote is amended (price and quantity)
//! once the wanted price has moved `requote_bps` from the one last asked, or its size should
//! change; a quote still waiting for its acknowledgement is left alone. The quotes are never
//! crossed, even while amends travel: a new or amended bid must be below every ask as it rests
//! *or* as last asked, and the same for asks, so whichever way the exchange answers, the bid stays
//! below the ask (a quote that would cross waits for the other side to move first).
//!
//! Params: `spread_bps` (default 10, each side), `size` (default 0.01 base), `skew_bps`
//! (default 5), `requote_bps` (default 5).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tse_market::{ClientOrderId, Side, Symbol};

use super::{
    Context, Strategy, StrategyConfig,
    common::{check_basics, one_exchange},
};
use crate::domain::{
    market::{Event, Instrument},
    order::{Intent, OrderSpec, OrderType, TimeInForce, TrackedOrder},
};

/// Basis points in one.
const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Two-sided quotes with inventory skew.
pub struct MarketMaking {
    exchange: String,
    /// Half-spread, as a fraction of the mid.
    spread: Decimal,
    size: Decimal,
    /// Largest shift of the centre, as a fraction of the mid.
    skew: Decimal,
    /// Smallest move that replaces a quote, as a fraction of its price.
    requote: Decimal,
    /// Price and total quantity last asked of each amended quote (what it rests at once the
    /// exchange has applied the amend).
    asked: BTreeMap<ClientOrderId, Asked>,
}

/// An amend's price and total quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Asked {
    price: Decimal,
    quantity: Decimal,
}

/// What [`MarketMaking::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    asked: BTreeMap<ClientOrderId, Asked>,
}

/// One side's wish: a price and an open quantity (zero: no quote on that side).
struct Wish {
    side: Side,
    price: Decimal,
    open: Decimal,
}

impl MarketMaking {
    /// Market making on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["spread_bps", "size", "skew_bps", "requote_bps"])?;
        let spread = p.positive("spread_bps", Decimal::TEN)?;
        if spread >= BPS {
            return Err(format!("param spread_bps: {spread} must be below 10000"));
        }
        let size = p.positive("size", Decimal::new(1, 2))?;
        let skew = p.decimal_in(
            "skew_bps",
            Decimal::new(5, 0),
            Decimal::ZERO,
            Decimal::new(5_000, 0),
        )?;
        let requote = p.decimal_in("requote_bps", Decimal::new(5, 0), Decimal::ZERO, BPS)?;
        check_basics(config)?;
        Ok(MarketMaking {
            exchange: one_exchange(config)?,
            spread: spread / BPS,
            size,
            skew: skew / BPS,
            requote: requote / BPS,
            asked: BTreeMap::new(),
        })
    }

    /// Returns the bid and ask wanted for `symbol` now.
    fn wishes(&self, ctx: &Context<'_>, symbol: &Symbol, instrument: &Instrument) -> Option<(Wish, Wish)> {
        let mid = ctx.market.mark(&self.exchange, symbol)?;
        if mid <= Decimal::ZERO {
            return None;
        }
        let position = ctx.position(symbol);
        let limit = ctx.config.max_position;
        let skew = (self.skew * position / limit).clamp(-self.skew, self.skew);
        let centre = mid * (Decimal::ONE - skew);
        let mut bid = instrument.floor_price(centre * (Decimal::ONE - self.spread));
        let mut ask = instrument.ceil_price(centre * (Decimal::ONE + self.spread));
        // Post-only: never at or through the other side of the exchange's book.
        if let Some(book) = ctx.market.book(&self.exchange, symbol) {
            if let Some(top) = book.ask {
                bid = bid.min(instrument.floor_price(top.price - instrument.tick));
            }
            if let Some(top) = book.bid {
                ask = ask.max(instrument.ceil_price(top.price + instrument.tick));
            }
        }
        let most = self.size.min(ctx.config.max_order_size);
        let open = |room: Decimal| instrument.floor_quantity(most.min(room).max(Decimal::ZERO));
        let mut bid_open = open(limit - position);
        if bid <= Decimal::ZERO {
            bid_open = Decimal::ZERO;
        }
        let ask_open = open(limit + position);
        // Floor and ceiling keep bid < ask for a positive spread; never quote otherwise.
        if bid >= ask {
            return None;
        }
        Some((
            Wish {
                side: Side::Buy,
                price: bid,
                open: bid_open,
            },
            Wish {
                side: Side::Sell,
                price: ask,
                open: ask_open,
            },
        ))
    }

    /// Returns the price `order` rests at or was last asked to move to, whichever is worse for
    /// crossing: the higher for a bid, the lower for an ask.
    fn reach(&self, order: &TrackedOrder) -> Decimal {
        let tracked = order.spec.price().unwrap_or_default();
        match (self.asked.get(&order.client_order_id), order.spec.side) {
            (Some(asked), Side::Buy) => tracked.max(asked.price),
            (Some(asked), Side::Sell) => tracked.min(asked.price),
            (None, _) => tracked,
        }
    }

    /// Places, amends or cancels the quotes of `symbol`.
    fn quote(&mut self, ctx: &Context<'_>, symbol: &Symbol, out: &mut Vec<Intent>) {
        let Some(instrument) = ctx.market.instrument(&self.exchange, symbol) else {
            return;
        };
        let mine: Vec<&TrackedOrder> = ctx
            .orders
            .values()
            .filter(|o| &o.spec.symbol == symbol && o.spec.exchange == self.exchange)
            .collect();
        let highest_bid = mine
            .iter()
            .filter(|o| o.spec.side == Side::Buy)
            .map(|o| self.reach(o))
            .max();
        let lowest_ask = mine
            .iter()
            .filter(|o| o.spec.side == Side::Sell)
            .map(|o| self.reach(o))
            .min();
        let wishes = self.wishes(ctx, symbol, instrument);
        for side in [Side::Buy, Side::Sell] {
            let mut quotes = mine.iter().filter(|o| o.spec.side == side);
            let current = quotes.next();
            // More than one quote on a side (after a restart, say): the extra ones go.
            for extra in quotes {
                if extra.order_id.is_some() {
                    out.push(Intent::Cancel {
                        client_order_id: extra.client_order_id.clone(),
                    });
                }
            }
            let wish = wishes
                .as_ref()
                .map(|(bid, ask)| if side == Side::Buy { bid } else { ask });
            let uncrossed = wish.is_some_and(|w| match side {
                Side::Buy => lowest_ask.is_none_or(|ask| w.price < ask),
                Side::Sell => highest_bid.is_none_or(|bid| w.price > bid),
            });
            match (current, wish) {
                (None, Some(w)) if w.open > Decimal::ZERO && uncrossed => {
                    out.push(Intent::Place(OrderSpec {
                        exchange: self.exchange.clone(),
                        symbol: symbol.clone(),
                        side: w.side,
                        order_type: OrderType::Limit {
                            price: w.price,
                            time_in_force: TimeInForce::Gtc,
                            post_only: true,
                        },
                        quantity: w.open,
                    }));
                }
                (None, _) => {}
                // Waiting for the exchange's answer: nothing can be changed yet.
                (Some(order), _) if order.order_id.is_none() => {}
                (Some(order), Some(w)) if w.open > Decimal::ZERO => {
                    self.requote(ctx, order, w, uncrossed, out);
                }
                (Some(order), _) => out.push(Intent::Cancel {
                    client_order_id: order.client_order_id.clone(),
                }),
            }
        }
    }

    /// Amends `order` to `wish` when it has moved enough (and would not cross), or cancels it when
    /// the amend would exceed `max_order_size` (the next quote is placed afresh).
    fn requote(
        &mut self,
        ctx: &Context<'_>,
        order: &TrackedOrder,
        wish: &Wish,
        uncrossed: bool,
        out: &mut Vec<Intent>,
    ) {
        let last = self.asked.get(&order.client_order_id).copied().unwrap_or(Asked {
            price: order.spec.price().unwrap_or_default(),
            quantity: order.spec.quantity,
        });
        let total = order.filled + wish.open;
        let moved = wish.price != last.price && (wish.price - last.price).abs() >= last.price * self.requote;
        if !(moved || total != last.quantity) || !uncrossed {
            return;
        }
        if total > ctx.config.max_order_size {
            out.push(Intent::Cancel {
                client_order_id: order.client_order_id.clone(),
            });
            return;
        }
        let asked = Asked {
            price: wish.price,
            quantity: total,
        };
        self.asked.insert(order.client_order_id.clone(), asked);
        out.push(Intent::Amend {
            client_order_id: order.client_order_id.clone(),
            price: asked.price,
            quantity: asked.quantity,
        });
    }
}

impl Strategy for MarketMaking {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        match event {
            Event::Price { symbol, .. } => self.quote(ctx, symbol, out),
            Event::Book { exchange, symbol, .. } if *exchange == self.exchange => {
                self.quote(ctx, symbol, out)
            }
            Event::Book { .. } => {}
            // An answer or a fill only updates what is resting; the next timer quotes again, so a
            // refused quote is not sent again at once (and again, and again).
            Event::Fill(_) | Event::Order(_) => {
                self.asked.retain(|id, _| ctx.orders.contains_key(id));
            }
            Event::Timer => {
                self.asked.retain(|id, _| ctx.orders.contains_key(id));
                for symbol in &ctx.config.symbols {
                    self.quote(ctx, symbol, out);
                }
            }
        }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(Saved {
            asked: self.asked.clone(),
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: Saved =
            serde_json::from_value(state.clone()).map_err(|e| format!("market_making state: {e}"))?;
        self.asked = saved.asked;
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
            fixtures::{World, at, btc, config, d, price},
        },
    };

    fn maker(params: serde_json::Value) -> (MarketMaking, StrategyConfig) {
        let c = config(StrategyKind::MarketMaking, &["x"], &[btc()], params);
        (MarketMaking::new(&c).unwrap(), c)
    }

    /// The side, price and quantity of a post-only GTC placement.
    fn quote(intent: &Intent) -> (Side, Decimal, Decimal) {
        match intent {
            Intent::Place(OrderSpec {
                side,
                order_type:
                    OrderType::Limit {
                        price,
                        time_in_force: TimeInForce::Gtc,
                        post_only: true,
                    },
                quantity,
                ..
            }) => (*side, *price, *quantity),
            other => panic!("not a quote: {other:?}"),
        }
    }

    fn book(bid: &str, ask: &str) -> Event {
        let top = |p: &str| {
            Some(Top {
                price: d(p),
                quantity: d("1"),
            })
        };
        Event::Book {
            exchange: "x".into(),
            symbol: btc(),
            top: BookTop {
                bid: top(bid),
                ask: top(ask),
            },
        }
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let bad = |params| {
            let c = config(StrategyKind::MarketMaking, &["x"], &[btc()], params);
            MarketMaking::new(&c).err().unwrap()
        };
        assert!(bad(json!({"spread_bps": 0})).contains("positive"));
        assert!(bad(json!({"spread_bps": 10000})).contains("below 10000"));
        assert!(bad(json!({"skew_bps": -1})).contains("between"));
        assert!(bad(json!({"size": "lots"})).contains("not a decimal"));
        assert!(bad(json!({"spread": 3})).contains("unknown param 'spread'"));
    }

    #[test]
    fn quotes_both_sides_around_the_reference_price_rounded_outwards() {
        let (mut m, c) = maker(json!({"spread_bps": 10, "size": "0.01"}));
        let mut w = World::new(&["x"]);
        // No price yet: nothing.
        assert!(w.feed(&mut m, &c, at(0), &Event::Timer).is_empty());
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000.005"));
        let quotes: Vec<_> = out.iter().map(quote).collect();
        // 1000.005 × 0.999 = 999.004995 → 999.00; × 1.001 = 1001.005005 → 1001.01.
        assert_eq!(
            quotes,
            [
                (Side::Buy, d("999.00"), d("0.01")),
                (Side::Sell, d("1001.01"), d("0.01"))
            ]
        );
        // Pending quotes are left alone, even when the price moves far.
        w.track(&out[0], false);
        w.track(&out[1], false);
        assert!(w.feed(&mut m, &c, at(1), &price(&btc(), "1100")).is_empty());
    }

    #[test]
    fn skews_against_inventory_and_caps_sizes_by_max_position() {
        let (mut m, c) = maker(json!({"spread_bps": 10, "skew_bps": 100, "size": "0.02"}));
        let mut w = World::new(&["x"]);
        // Long 0.04 of max 0.05: centre 1000 × (1 − 0.01 × 0.8) = 992; bid room 0.01.
        w.hold(&btc(), d("0.04"));
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        let quotes: Vec<_> = out.iter().map(quote).collect();
        assert_eq!(
            quotes,
            [
                (Side::Buy, d("991.00"), d("0.01")),
                (Side::Sell, d("993.00"), d("0.02"))
            ]
        );
        // At the cap: no bid at all.
        w.hold(&btc(), d("0.05"));
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        assert_eq!(
            out.iter().map(quote).map(|q| q.0).collect::<Vec<_>>(),
            [Side::Sell]
        );
    }

    #[test]
    fn never_quotes_through_the_exchange_book() {
        let (mut m, c) = maker(json!({"spread_bps": 10}));
        let mut w = World::new(&["x"]);
        w.feed(&mut m, &c, at(0), &book("1009.00", "1009.50"));
        // The reference price is far below the exchange's book: the ask goes above its bid.
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        let quotes: Vec<_> = out.iter().map(quote).collect();
        assert_eq!(
            quotes,
            [
                (Side::Buy, d("999.00"), d("0.01")),
                (Side::Sell, d("1009.01"), d("0.01"))
            ]
        );
    }

    #[test]
    fn requotes_by_amend_only_when_moved_and_never_crosses_the_other_side() {
        let (mut m, c) = maker(json!({"spread_bps": 10, "requote_bps": 5}));
        let mut w = World::new(&["x"]);
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        let bid = w.track(&out[0], true);
        let ask = w.track(&out[1], true);
        // 2 bps: not enough to requote.
        assert!(w.feed(&mut m, &c, at(1), &price(&btc(), "1000.2")).is_empty());
        // Up 1%: the new bid (1008.99) would cross the resting ask (1001.00): only the ask moves.
        let out = w.feed(&mut m, &c, at(2), &price(&btc(), "1010"));
        assert_eq!(
            out,
            [Intent::Amend {
                client_order_id: ask.clone(),
                price: d("1011.01"),
                quantity: d("0.01"),
            }]
        );
        // Not yet applied by the exchange: the bid still waits, and the ask is not asked twice.
        assert!(w.feed(&mut m, &c, at(3), &price(&btc(), "1010")).is_empty());
        // Applied: now the bid follows.
        if let Some(order) = w.orders.get_mut(&ask)
            && let OrderType::Limit { price, .. } = &mut order.spec.order_type
        {
            *price = d("1011.01");
        }
        let out = w.feed(&mut m, &c, at(4), &price(&btc(), "1010"));
        assert_eq!(
            out,
            [Intent::Amend {
                client_order_id: bid,
                price: d("1008.99"),
                quantity: d("0.01"),
            }]
        );
    }

    #[test]
    fn cancels_a_side_at_the_cap_and_extra_quotes() {
        let (mut m, c) = maker(json!({}));
        let mut w = World::new(&["x"]);
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        let bid = w.track(&out[0], true);
        let extra = w.track(&out[0], true);
        w.track(&out[1], true);
        w.hold(&btc(), d("0.05"));
        let out = w.feed(&mut m, &c, at(1), &Event::Timer);
        assert!(out.contains(&Intent::Cancel { client_order_id: bid }));
        assert!(out.contains(&Intent::Cancel {
            client_order_id: extra
        }));
    }

    #[test]
    fn state_survives_save_and_restore_and_garbage_is_refused() {
        let (mut m, c) = maker(json!({}));
        let mut w = World::new(&["x"]);
        let out = w.feed(&mut m, &c, at(0), &price(&btc(), "1000"));
        w.track(&out[0], true);
        w.track(&out[1], true);
        // Down 10%: the bid moves (by amend); the ask waits until the bid is below it.
        assert_eq!(w.feed(&mut m, &c, at(1), &price(&btc(), "900")).len(), 1);
        let saved = m.save();
        let (mut back, _) = maker(json!({}));
        back.restore(&saved).unwrap();
        assert_eq!(back.asked, m.asked);
        assert_eq!(back.asked.len(), 1);
        assert!(back.restore(&json!({"asked": {"s-1": {"price": "x"}}})).is_err());
        assert!(back.restore(&json!([])).is_err());
    }
}
