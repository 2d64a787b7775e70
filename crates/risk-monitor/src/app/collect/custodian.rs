//! One custodian instance, through its production API: every cadence tick, for each monitored
//! entity, its custody accounts (listed once and again every few ticks; an entity without one is
//! skipped quietly), their balances ([`Observation::Holdings`], totals per asset) and their pending
//! settlements ([`Observation::Settlements`], with what each still has to move).
//!
//! Every call is observed ([`Observation::Request`]); a custodian that cannot be reached is one
//! `Unavailable` request per tick while it lasts.

use std::{collections::BTreeMap, time::Instant};

use tokio_util::sync::CancellationToken;
use tse_client::Custodian;
use tse_proto::custodian::v1::{GetBalancesRequest, ListAccountsRequest, ListSettlementsRequest, Settlement};
use tse_runtime::identity::InstanceName;

use super::{
    ACCOUNTS_EVERY, Closed, Ctx, Halt, MAX_PAGES, PAGE, Warned, decimal, lookup_failure, pause, timestamp,
};
use crate::domain::observation::{Holdings, Observation, Outcome, PendingSettlement, Settlements};

/// Follows custodian `name` until `stop` (or the channel closes).
pub(super) async fn run(ctx: Ctx, name: InstanceName, stop: CancellationToken) {
    let mut entities: BTreeMap<String, Entity> = BTreeMap::new();
    let mut warned = Warned::default();
    loop {
        let ticked = tokio::select! {
            () = stop.cancelled() => return,
            ticked = tick(&ctx, &name, &mut entities, &mut warned) => ticked,
        };
        if ticked.is_err() || !pause(&stop, ctx.tick()).await {
            return;
        }
    }
}

/// What the collector remembers of one entity at the custodian.
#[derive(Default)]
struct Entity {
    /// Its custody account ids, in id order.
    accounts: Vec<String>,
    /// Ticks since they were listed.
    since_listed: u32,
}

/// One look at every entity.
async fn tick(
    ctx: &Ctx,
    name: &InstanceName,
    entities: &mut BTreeMap<String, Entity>,
    warned: &mut Warned,
) -> Result<(), Closed> {
    let venue = name.as_str();
    let started = Instant::now();
    let client = match Custodian::find(&ctx.peers, Some(name)).await {
        Ok(client) => client,
        Err(e) => {
            if let Some(outcome) = lookup_failure(venue, &e) {
                ctx.request(venue, outcome, started.elapsed()).await?;
            }
            return Ok(());
        }
    };
    for entity in ctx.entities.iter() {
        let state = entities.entry(entity.clone()).or_default();
        match look(ctx, venue, &client, entity, state, warned).await {
            Ok(()) | Err(Halt::Failed(Outcome::Error | Outcome::Ok)) => {}
            Err(Halt::Closed) => return Err(Closed),
            Err(Halt::Failed(Outcome::Unavailable)) => {
                client.forget();
                return Ok(());
            }
        }
    }
    Ok(())
}

/// One look at one entity: holdings and pending settlements.
async fn look(
    ctx: &Ctx,
    venue: &str,
    client: &Custodian,
    entity: &str,
    state: &mut Entity,
    warned: &mut Warned,
) -> Result<(), Halt> {
    if state.accounts.is_empty() || state.since_listed >= ACCOUNTS_EVERY {
        state.accounts = accounts(ctx, venue, client, entity).await?;
        state.since_listed = 0;
    } else {
        state.since_listed += 1;
    }
    if state.accounts.is_empty() {
        return Ok(());
    }

    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for account in &state.accounts {
        let balances = ctx
            .call(
                venue,
                "get_balances",
                client.get_balances(GetBalancesRequest {
                    account_id: account.clone(),
                }),
            )
            .await?;
        for b in &balances.balances {
            let total = if b.total.trim().is_empty() {
                decimal(&b.available).map(|a| a + decimal(&b.locked).unwrap_or(0.0))
            } else {
                decimal(&b.total)
            };
            match total {
                Some(t) => *totals.entry(b.asset.clone()).or_default() += t,
                None => warned.skip(venue, "balance", &b.total),
            }
        }
    }
    ctx.send(Observation::Holdings(Holdings {
        entity: entity.to_owned(),
        venue: venue.to_owned(),
        balances: totals.into_iter().collect(),
        at: ctx.clock.now(),
    }))
    .await?;

    let mut pending = Vec::new();
    for account in &state.accounts {
        let mut cursor = String::new();
        for _ in 0..MAX_PAGES {
            let page = ctx
                .call(
                    venue,
                    "list_settlements",
                    client.list_settlements(ListSettlementsRequest {
                        account_id: account.clone(),
                        status: "PENDING".to_owned(),
                        limit: PAGE,
                        cursor: cursor.clone(),
                        ..ListSettlementsRequest::default()
                    }),
                )
                .await?;
            pending.extend(
                page.settlements
                    .iter()
                    .filter_map(|s| pending_settlement(venue, s, warned)),
            );
            if page.next_cursor.is_empty() {
                break;
            }
            cursor = page.next_cursor;
        }
    }
    pending.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    ctx.send(Observation::Settlements(Settlements {
        entity: entity.to_owned(),
        custodian: venue.to_owned(),
        pending,
        at: ctx.clock.now(),
    }))
    .await?;
    Ok(())
}

/// Lists every custody account of `entity`.
async fn accounts(ctx: &Ctx, venue: &str, client: &Custodian, entity: &str) -> Result<Vec<String>, Halt> {
    let mut ids = Vec::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let page = ctx
            .call(
                venue,
                "list_accounts",
                client.list_accounts(ListAccountsRequest {
                    entity: entity.to_owned(),
                    limit: PAGE,
                    cursor: cursor.clone(),
                }),
            )
            .await?;
        ids.extend(page.accounts.into_iter().map(|a| a.id));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    Ok(ids)
}

/// Reads a pending settlement: what each leg still has to move (amount − settled); a settlement
/// without legs gets them from its trade (base ± quantity, quote ∓ quantity × price, fee paid).
fn pending_settlement(venue: &str, s: &Settlement, warned: &mut Warned) -> Option<PendingSettlement> {
    let Some(created_at) = timestamp(&s.created_at) else {
        warned.skip(venue, "settlement created_at", &s.created_at);
        return None;
    };
    let Some(due_at) = timestamp(&s.due_at) else {
        warned.skip(venue, "settlement due_at", &s.due_at);
        return None;
    };
    let legs = if s.legs.is_empty() {
        trade_legs(venue, s, warned)?
    } else {
        let mut legs = Vec::with_capacity(s.legs.len());
        for leg in &s.legs {
            let Some(amount) = decimal(&leg.amount) else {
                warned.skip(venue, "settlement leg amount", &leg.amount);
                return None;
            };
            let settled = if leg.settled.trim().is_empty() {
                0.0
            } else {
                let Some(settled) = decimal(&leg.settled) else {
                    warned.skip(venue, "settlement leg settled", &leg.settled);
                    return None;
                };
                settled
            };
            legs.push((leg.asset.clone(), amount - settled));
        }
        legs
    };
    Some(PendingSettlement {
        id: s.id.clone(),
        legs,
        created_at,
        due_at,
    })
}

/// The legs of a trade settlement, from its symbol, side, quantity, price and fee.
fn trade_legs(venue: &str, s: &Settlement, warned: &mut Warned) -> Option<Vec<(String, f64)>> {
    let Some((base, quote)) = s.symbol.split_once('-') else {
        warned.skip(venue, "settlement symbol", &s.symbol);
        return None;
    };
    let (Some(quantity), Some(price)) = (decimal(&s.quantity), decimal(&s.price)) else {
        warned.skip(venue, "settlement quantity or price", &s.quantity);
        return None;
    };
    let fee = decimal(&s.fee).unwrap_or(0.0);
    let value = quantity * price;
    match s.side.to_ascii_uppercase().as_str() {
        "BUY" => Some(vec![
            (base.to_owned(), quantity),
            (quote.to_owned(), -(value + fee)),
        ]),
        "SELL" => Some(vec![
            (base.to_owned(), -quantity),
            (quote.to_owned(), value - fee),
        ]),
        _ => {
            warned.skip(venue, "settlement side", &s.side);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use tse_proto::custodian::v1::SettlementLeg;

    use super::*;

    fn settlement() -> Settlement {
        Settlement {
            id: "stl-1".into(),
            r#type: "TRADE".into(),
            status: "PENDING".into(),
            symbol: "BTC-USD".into(),
            side: "BUY".into(),
            quantity: "2".into(),
            price: "100".into(),
            fee: "1".into(),
            created_at: "2026-01-02T00:00:00Z".into(),
            due_at: "2026-01-04T00:00:00Z".into(),
            ..Settlement::default()
        }
    }

    #[test]
    fn legs_are_what_is_left_to_move() {
        let mut warned = Warned::default();
        let s = Settlement {
            legs: vec![
                SettlementLeg {
                    asset: "BTC".into(),
                    amount: "2".into(),
                    settled: "0.5".into(),
                },
                SettlementLeg {
                    asset: "USD".into(),
                    amount: "-201".into(),
                    settled: String::new(),
                },
            ],
            ..settlement()
        };
        let p = pending_settlement("cust-A", &s, &mut warned).unwrap();
        assert_eq!(p.legs, vec![("BTC".into(), 1.5), ("USD".into(), -201.0)]);
        assert_eq!(p.due_at, timestamp("2026-01-04T00:00:00Z").unwrap());
    }

    #[test]
    fn a_trade_without_legs_gets_them_from_its_terms() {
        let mut warned = Warned::default();
        let buy = pending_settlement("cust-A", &settlement(), &mut warned).unwrap();
        assert_eq!(buy.legs, vec![("BTC".into(), 2.0), ("USD".into(), -201.0)]);
        let sell = Settlement {
            side: "sell".into(),
            ..settlement()
        };
        let sell = pending_settlement("cust-A", &sell, &mut warned).unwrap();
        assert_eq!(sell.legs, vec![("BTC".into(), -2.0), ("USD".into(), 199.0)]);
        let bad = Settlement {
            due_at: "later".into(),
            ..settlement()
        };
        assert!(pending_settlement("cust-A", &bad, &mut warned).is_none());
    }
}
