//! Exchange P&L settlement: for each client entity of the settings, at every settlement point
//! (`every`, simulated time) the collector asks each of its exchanges — through their production
//! gRPC API ([`tse_client::Exchange`]), found through discovery ([`Peers`]) — for the entity's accounts and its trades since the last one
//! settled, nets them per asset (base and quote legs, fees paid), and hands the batch to the books
//! as one `EXCHANGE_PNL` instruction on the client's cycle. The instruction and the moved cursor
//! are stored together, so a restart neither loses nor repeats a trade; the external id
//! (`pnl:{exchange}:{entity}:{first}-{last}`, a prefix the API refuses from users) names the trades it
//! covers. Such an instruction is accepted whole (the trades happened) and locks nothing; its
//! outgoing amounts are looked for when it falls due, after the entity's earlier P&L has settled, and
//! it fails with the reason if the account cannot pay them. It cannot be cancelled.
//!
//! Its state shows as the instance's `exchange_pnl` check: down (the instance degraded, never
//! failed) while an exchange cannot be reached; the trades wait there and are collected later.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::Duration,
};

use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use tse_client::Exchange;
use tse_proto::exchange::v1::{ListAccountsRequest, ListTradesRequest, Trade};
use tse_runtime::{
    backoff::Backoff,
    clock::Clock,
    faults::FaultBoard,
    health::{Check, Health},
    identity::InstanceName,
    peers::Peers,
};

use super::{
    books::{CustodianError, PnlBatch},
    service::CustodianHandle,
};
use crate::{
    domain::{faults::CustodianFault, position::Side, settlement::Fill},
    settings::Client,
};

/// The name of the collector's health check.
pub const CHECK: &str = "exchange_pnl";
/// Trades asked for per page.
const PAGE: u32 = 1_000;
/// Pages read per exchange and settlement point, at most (the rest waits for the next point).
const MAX_PAGES: usize = 100;

/// What the collector needs.
pub struct PnlParts {
    /// The books.
    pub custodian: CustodianHandle,
    /// Whose P&L settles here.
    pub clients: Vec<Client>,
    /// Where exchanges are found (in the instance's environment, not unhealthy).
    pub peers: Peers,
    /// The simulated clock.
    pub clock: Clock,
    /// Faults (nothing is collected while the custodian is offline).
    pub board: FaultBoard<CustodianFault>,
    /// Where its check goes.
    pub health: Health,
    /// Ends it.
    pub stop: CancellationToken,
}

/// Runs the collector until `stop`.
pub async fn run(parts: PnlParts) {
    if parts.clients.is_empty() {
        return;
    }
    tokio::select! {
        () = parts.stop.cancelled() => return,
        () = parts.custodian.ready() => {}
    }
    let mut collector = Collector {
        clients: HashMap::new(),
        accounts: HashMap::new(),
    };
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    parts.health.set_check(CHECK, Check::up(false));
    let every = parts
        .clients
        .iter()
        .map(|c| c.every)
        .min()
        .unwrap_or(Duration::from_secs(60));
    // When each client's trades were last collected from all its exchanges.
    let mut last_point: HashMap<String, time::OffsetDateTime> = HashMap::new();
    // A failed collection is tried again soon, then less and less often: an exchange still
    // starting (a cold `tse up` starts every instance at once) registers within milliseconds, one
    // that is down may stay down for long.
    let mut retry = Backoff::default();
    let mut reported: Option<String> = None;
    loop {
        let offline = parts
            .board
            .active()
            .iter()
            .any(|f| matches!(f.spec, CustodianFault::Offline));
        if !offline {
            let now = parts.clock.now();
            for client in &parts.clients {
                let due = last_point
                    .get(&client.entity)
                    .is_none_or(|at| now - *at >= client.every);
                if !due {
                    continue;
                }
                let mut all = true;
                for exchange in &client.exchanges {
                    let key = format!("{exchange} ({})", client.entity);
                    // Cancelling a collection is safe: it only reads the exchange until its last
                    // step, one call into the books that settles the batch and moves the cursor.
                    let collected = tokio::select! {
                        () = parts.stop.cancelled() => return,
                        collected = collector.collect(&parts, client, exchange) => collected,
                    };
                    match collected {
                        Ok(()) => {
                            failures.remove(&key);
                        }
                        Err(reason) => {
                            // The next attempt looks the exchange up and connects afresh.
                            if let Some(client) = collector.clients.remove(exchange) {
                                client.forget();
                            }
                            failures.insert(key, reason);
                            all = false;
                        }
                    }
                }
                if all {
                    last_point.insert(client.entity.clone(), now);
                }
            }
            if failures.is_empty() {
                parts.health.set_check(CHECK, Check::up(false));
                reported = None;
            } else {
                let reason = failures
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                // One line per new trouble, not one per retry.
                if reported.as_ref() == Some(&reason) {
                    debug!(reason, "exchange P&L: trades still not collected");
                } else {
                    warn!(
                        reason,
                        "exchange P&L: trades could not be collected; they wait at the exchange"
                    );
                }
                parts.health.set_check(CHECK, Check::down(false, reason.clone()));
                reported = Some(reason);
            }
        }
        // A failed collection is tried again soon (an exchange still starting, a restart), not only
        // at the next settlement point.
        let wait = if offline {
            retry.max()
        } else if failures.is_empty() {
            retry.reset();
            parts.clock.wall_duration(every.min(Duration::from_secs(3600)))
        } else {
            retry.next_wait()
        };
        tokio::select! {
            () = parts.stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

struct Collector {
    clients: HashMap<InstanceName, Exchange>,
    /// The entity's accounts at each exchange: (exchange, entity) → account ids.
    accounts: HashMap<(String, String), BTreeSet<String>>,
}

impl Collector {
    /// The exchange's client: kept while calls through it succeed, so collecting does not depend
    /// on the registry once the exchange is found.
    async fn client(&mut self, parts: &PnlParts, exchange: &InstanceName) -> Result<Exchange, String> {
        if let Some(c) = self.clients.get(exchange) {
            return Ok(c.clone());
        }
        let client = Exchange::find(&parts.peers, Some(exchange))
            .await
            .map_err(|e| e.to_string())?;
        self.clients.insert(exchange.clone(), client.clone());
        Ok(client)
    }

    /// The entity's account ids at the exchange (read again when a trade names one not known).
    async fn accounts(
        &mut self,
        client: &Exchange,
        exchange: &InstanceName,
        entity: &str,
        refresh: bool,
    ) -> Result<BTreeSet<String>, String> {
        let key = (exchange.to_string(), entity.to_owned());
        if !refresh && let Some(known) = self.accounts.get(&key) {
            return Ok(known.clone());
        }
        let mut ids = BTreeSet::new();
        let mut cursor = String::new();
        loop {
            let page = client
                .list_accounts(ListAccountsRequest {
                    entity: entity.to_owned(),
                    limit: PAGE,
                    cursor: cursor.clone(),
                })
                .await
                .map_err(|e| format!("{exchange}: {}", e.message()))?;
            ids.extend(page.accounts.into_iter().map(|a| a.id));
            if page.next_cursor.is_empty() {
                break;
            }
            cursor = page.next_cursor;
        }
        self.accounts.insert(key, ids.clone());
        Ok(ids)
    }

    /// Collects and settles one exchange's new trades of one client.
    async fn collect(
        &mut self,
        parts: &PnlParts,
        client: &Client,
        exchange: &InstanceName,
    ) -> Result<(), String> {
        let entity = client.entity.clone();
        let account = {
            let (entity, funding) = (entity.clone(), client.funding.clone());
            parts
                .custodian
                .call(move |books, ctx| books.client_account(&entity, &funding, ctx.now))
                .await
                .map_err(|e| format!("custody account: {e}"))?
        };
        let grpc = self.client(parts, exchange).await?;
        let exchange_owned = exchange.to_string();
        let after = {
            let (exchange, entity) = (exchange_owned.clone(), entity.clone());
            parts
                .custodian
                .call(move |books, _| Ok(books.custody().cursor(&exchange, &entity)))
                .await
                .map_err(|e| e.to_string())?
        };
        let mut trades: Vec<Trade> = Vec::new();
        let mut last = after;
        for _ in 0..MAX_PAGES {
            let page = grpc
                .list_trades(ListTradesRequest {
                    entity: entity.clone(),
                    after: last.to_string(),
                    limit: PAGE,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("{exchange}: {}", e.message()))?
                .trades;
            let full = page.len() == PAGE as usize;
            for t in page {
                let id: u64 =
                    t.id.parse()
                        .map_err(|_| format!("{exchange} answered trade id '{}'", t.id))?;
                last = last.max(id);
                trades.push(t);
            }
            if !full {
                break;
            }
        }
        if trades.is_empty() {
            return Ok(());
        }
        let mut ours = self.accounts(&grpc, exchange, &entity, false).await?;
        let names_unknown = trades
            .iter()
            .any(|t| !ours.contains(&t.buyer_account_id) && !ours.contains(&t.seller_account_id));
        if names_unknown {
            ours = self.accounts(&grpc, exchange, &entity, true).await?;
        }
        let batch = net(exchange.as_str(), &entity, &trades, &ours, client.cycle)?;
        debug!(%exchange, entity, trades = trades.len(), "exchange P&L collected");
        parts
            .custodian
            .call(move |books, ctx| books.settle_pnl(&account, batch, ctx.now))
            .await
            .map_err(|e| match e {
                CustodianError::Custody(e) => format!("the P&L of {exchange_owned} cannot settle here: {e}"),
                other => other.to_string(),
            })?;
        Ok(())
    }
}

fn decimal(exchange: &str, field: &str, text: &str) -> Result<Decimal, String> {
    text.parse()
        .map_err(|_| format!("{exchange} answered {field} '{text}'"))
}

/// Nets `trades` for the entity whose accounts are `ours`: a buy brings the base quantity in and
/// pays value plus fee in the quote asset; a sell the reverse, less its fee.
///
/// # Errors
/// A message when the exchange answered something that does not read.
pub fn net(
    exchange: &str,
    entity: &str,
    trades: &[Trade],
    ours: &BTreeSet<String>,
    cycle: crate::domain::settlement::Cycle,
) -> Result<PnlBatch, String> {
    let mut legs: BTreeMap<String, Decimal> = BTreeMap::new();
    // (symbol, buy?) → (quantity, notional)
    let mut fills: BTreeMap<(String, bool), (Decimal, Decimal)> = BTreeMap::new();
    let (mut first, mut last, mut count) = (u64::MAX, 0, 0);
    for t in trades {
        let id: u64 =
            t.id.parse()
                .map_err(|_| format!("{exchange} answered trade id '{}'", t.id))?;
        let (base, quote) = t
            .symbol
            .split_once('-')
            .ok_or_else(|| format!("{exchange} answered symbol '{}'", t.symbol))?;
        let quantity = decimal(exchange, "quantity", &t.quantity)?;
        let value = quantity * decimal(exchange, "price", &t.price)?;
        let mut counted = false;
        let mut fill = |buy: bool| {
            let f = fills.entry((t.symbol.clone(), buy)).or_default();
            f.0 += quantity;
            f.1 += value;
        };
        if ours.contains(&t.buyer_account_id) {
            fill(true);
            *legs.entry(base.to_owned()).or_default() += quantity;
            *legs.entry(quote.to_owned()).or_default() -=
                value + decimal(exchange, "buyer_fee", &t.buyer_fee)?;
            counted = true;
        }
        if ours.contains(&t.seller_account_id) {
            fill(false);
            *legs.entry(base.to_owned()).or_default() -= quantity;
            *legs.entry(quote.to_owned()).or_default() +=
                value - decimal(exchange, "seller_fee", &t.seller_fee)?;
            counted = true;
        }
        if counted {
            count += 1;
        }
        first = first.min(id);
        last = last.max(id);
    }
    Ok(PnlBatch {
        exchange: exchange.to_owned(),
        entity: entity.to_owned(),
        first_trade_id: first,
        last_trade_id: last,
        trades: count,
        legs,
        fills: fills
            .into_iter()
            .filter(|(_, (quantity, _))| !quantity.is_zero())
            .map(|((symbol, buy), (quantity, notional))| Fill {
                symbol,
                side: if buy { Side::Buy } else { Side::Sell },
                price: (notional / quantity).round_dp(12).normalize(),
                quantity,
            })
            .collect(),
        cycle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settlement::Cycle;

    fn trade(id: u64, buyer: &str, seller: &str, qty: &str, price: &str) -> Trade {
        Trade {
            id: id.to_string(),
            symbol: "BTC-USD".into(),
            price: price.into(),
            quantity: qty.into(),
            buyer_account_id: buyer.into(),
            seller_account_id: seller.into(),
            buyer_fee: "1".into(),
            seller_fee: "2".into(),
            ..Default::default()
        }
    }

    #[test]
    fn trades_net_per_asset_with_fees() {
        let ours: BTreeSet<String> = ["acct-2".to_owned()].into();
        let trades = [
            trade(5, "acct-2", "acct-1", "0.5", "100"),
            trade(7, "acct-1", "acct-2", "0.2", "110"),
            trade(9, "acct-2", "acct-2", "1", "100"),
        ];
        let batch = net("exchange-OKX", "LH", &trades, &ours, Cycle::T1).unwrap();
        assert_eq!(
            (batch.first_trade_id, batch.last_trade_id, batch.trades),
            (5, 9, 3)
        );
        // BTC: +0.5 −0.2 (+1 −1); USD: −(50+1) +(22−2) −(100+1) +(100−2).
        assert_eq!(batch.legs["BTC"], "0.3".parse().unwrap());
        assert_eq!(batch.legs["USD"], "-34".parse().unwrap());
        // Buys 0.5 @ 100 and 1 @ 100: 1.5 @ 100; sells 0.2 @ 110 and 1 @ 100: 1.2 @ 101.67.
        assert_eq!(batch.fills.len(), 2);
        assert_eq!(
            (batch.fills[0].side, batch.fills[0].quantity),
            (Side::Sell, "1.2".parse().unwrap())
        );
        assert_eq!(
            batch.fills[0].price,
            "101.666666666667".parse::<Decimal>().unwrap()
        );
        assert_eq!(
            (batch.fills[1].side, batch.fills[1].quantity, batch.fills[1].price),
            (Side::Buy, "1.5".parse().unwrap(), "100".parse().unwrap())
        );
    }
}
