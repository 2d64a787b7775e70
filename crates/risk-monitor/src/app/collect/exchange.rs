//! One exchange instance, through its production API, in two halves running side by side:
//!
//! - the poll: every cadence tick, for each monitored entity, its accounts there (listed once and
//!   again every few ticks; an entity without an account yet is skipped quietly), their balances
//!   ([`Observation::Holdings`], totals per asset over its accounts), the orders created since the
//!   last look (newest first down to the newest one seen, at most [`LOOKBACK`] before the previous
//!   look, at most [`MAX_PAGES`] pages) and those
//!   still open ([`Observation::Orders`]), and every trade after the last one seen, one
//!   [`Observation::Fill`] per side of it the entity holds;
//! - the books: one market stream of every symbol, whose book changes become
//!   [`Observation::Book`]s — the latest per symbol, sent once per tick, so a busy book does not
//!   flood the monitor; the books are read once on (re)connecting so a quiet one is seen too.
//!
//! Every call is observed ([`Observation::Request`]); an exchange that cannot be reached is one
//! `Unavailable` request per tick while it lasts, and the poll's state (the last order and trade
//! seen) carries over, so nothing is counted twice when it is back.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tse_client::Exchange;
use tse_proto::exchange::v1::{
    GetBalancesRequest, GetOrderBookRequest, ListAccountsRequest, ListOrdersRequest, ListSymbolsRequest,
    ListTradesRequest, Order, OrderBook, StreamMarketRequest, Trade, market_event,
};
use tse_runtime::{backoff::Backoff, identity::InstanceName};

use super::{
    ACCOUNTS_EVERY, Closed, Ctx, Halt, LOOKBACK, MAX_PAGES, PAGE, Warned, decimal, lookup_failure,
    outcome_of, pause, timestamp,
};
use crate::domain::observation::{
    BookTop, FillSeen, Holdings, Observation, OrderActivity, OrderSeen, Outcome,
};

/// Follows exchange `name` until `stop` (or the channel closes).
pub(super) async fn run(ctx: Ctx, name: InstanceName, stop: CancellationToken) {
    // Either half finding the channel closed ends both.
    let local = stop.child_token();
    tokio::join!(poll(&ctx, &name, &local), books(&ctx, &name, &local));
}

/// What the poll remembers of one entity at the exchange.
#[derive(Default)]
struct Entity {
    /// Its account ids there, in id order.
    accounts: Vec<String>,
    /// Ticks since the accounts were listed.
    since_listed: u32,
    /// The newest order id seen, per account.
    newest_order: BTreeMap<String, u64>,
    /// The last trade id seen (`None`: not looked yet).
    last_trade: Option<String>,
    /// When (simulated) its orders were last looked at.
    looked_at: Option<time::OffsetDateTime>,
}

async fn poll(ctx: &Ctx, name: &InstanceName, stop: &CancellationToken) {
    let mut entities: BTreeMap<String, Entity> = BTreeMap::new();
    let mut warned = Warned::default();
    loop {
        let ticked = tokio::select! {
            () = stop.cancelled() => return,
            ticked = tick(ctx, name, &mut entities, &mut warned) => ticked,
        };
        if ticked.is_err() {
            stop.cancel();
            return;
        }
        if !pause(stop, ctx.tick()).await {
            return;
        }
    }
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
    let client = match Exchange::find(&ctx.peers, Some(name)).await {
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
                // Unreachable: the other entities would fail too; connect afresh next tick.
                client.forget();
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Lists every account of `entity` at the exchange.
async fn accounts(ctx: &Ctx, venue: &str, client: &Exchange, entity: &str) -> Result<Vec<String>, Halt> {
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

/// One look at one entity: holdings, orders, fills.
async fn look(
    ctx: &Ctx,
    venue: &str,
    client: &Exchange,
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
            match total(&b.total, &b.available, &b.locked) {
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

    let mut new = Vec::new();
    let mut open = Vec::new();
    let mut tops = Vec::new();
    // New orders are looked for back to LOOKBACK before the previous look (or now, the first
    // time): a tick longer than LOOKBACK (a fast clock) misses none.
    let now = ctx.clock.now();
    let horizon = state.looked_at.unwrap_or(now) - LOOKBACK;
    for account in &state.accounts {
        let seen = state.newest_order.get(account).copied();
        let (orders, top) = new_orders(ctx, venue, client, account, (seen, horizon), warned).await?;
        new.extend(orders);
        if let Some(top) = top {
            tops.push((account.clone(), top));
        }
        open.extend(open_orders(ctx, venue, client, account, warned).await?);
    }
    new.sort_by_key(|o| (o.created_at, order_number(&o.id)));
    ctx.send(Observation::Orders(OrderActivity {
        entity: entity.to_owned(),
        venue: venue.to_owned(),
        new,
        open,
        at: ctx.clock.now(),
    }))
    .await?;
    // Only once they are handed on: a failed look sees them again next tick.
    state.newest_order.extend(tops);
    state.looked_at = Some(now);

    fills(ctx, venue, client, entity, state, warned).await
}

fn order_number(id: &str) -> u64 {
    id.parse().unwrap_or(0)
}

/// A balance's total (available + locked when the total is not given).
fn total(total: &str, available: &str, locked: &str) -> Option<f64> {
    if total.trim().is_empty() {
        return Some(decimal(available)? + decimal(locked).unwrap_or(0.0));
    }
    decimal(total)
}

/// The orders of `account` newer than order `seen` and created at `horizon` or later, newest
/// first, and the newest id among them.
async fn new_orders(
    ctx: &Ctx,
    venue: &str,
    client: &Exchange,
    account: &str,
    (seen, horizon): (Option<u64>, time::OffsetDateTime),
    warned: &mut Warned,
) -> Result<(Vec<OrderSeen>, Option<u64>), Halt> {
    let mut found = Vec::new();
    let mut top = None;
    let mut cursor = String::new();
    'pages: for _ in 0..MAX_PAGES {
        let page = ctx
            .call(
                venue,
                "list_orders",
                client.list_orders(ListOrdersRequest {
                    account_id: account.to_owned(),
                    limit: PAGE,
                    cursor: cursor.clone(),
                    ..ListOrdersRequest::default()
                }),
            )
            .await?;
        for order in &page.orders {
            let Ok(id) = order.id.parse::<u64>() else {
                warned.skip(venue, "order id", &order.id);
                continue;
            };
            if seen.is_some_and(|seen| id <= seen) {
                break 'pages;
            }
            let Some(seen_order) = order_seen(venue, order, warned) else {
                continue;
            };
            if seen_order.created_at < horizon {
                break 'pages;
            }
            top = top.max(Some(id));
            found.push(seen_order);
        }
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    Ok((found, top))
}

/// Every open order of `account`.
async fn open_orders(
    ctx: &Ctx,
    venue: &str,
    client: &Exchange,
    account: &str,
    warned: &mut Warned,
) -> Result<Vec<OrderSeen>, Halt> {
    let mut open = Vec::new();
    let mut cursor = String::new();
    for _ in 0..MAX_PAGES {
        let page = ctx
            .call(
                venue,
                "list_orders",
                client.list_orders(ListOrdersRequest {
                    account_id: account.to_owned(),
                    status: "OPEN".to_owned(),
                    limit: PAGE,
                    cursor: cursor.clone(),
                    ..ListOrdersRequest::default()
                }),
            )
            .await?;
        open.extend(page.orders.iter().filter_map(|o| order_seen(venue, o, warned)));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    Ok(open)
}

/// Reads an order as the exchange reports it.
fn order_seen(venue: &str, order: &Order, warned: &mut Warned) -> Option<OrderSeen> {
    // A market order has no price; an order nothing filled may have no filled quantity.
    let mut or_zero = |what: &'static str, text: &str| {
        if text.trim().is_empty() {
            return Some(0.0);
        }
        let read = decimal(text);
        if read.is_none() {
            warned.skip(venue, what, text);
        }
        read
    };
    let price = or_zero("order price", &order.price)?;
    let filled = or_zero("order filled quantity", &order.filled_quantity)?;
    let Some(quantity) = decimal(&order.quantity) else {
        warned.skip(venue, "order quantity", &order.quantity);
        return None;
    };
    let Some(created_at) = timestamp(&order.created_at) else {
        warned.skip(venue, "order created_at", &order.created_at);
        return None;
    };
    Some(OrderSeen {
        id: order.id.clone(),
        symbol: order.symbol.clone(),
        side: order.side.to_ascii_uppercase(),
        price,
        remaining: (quantity - filled).max(0.0),
        status: order.status.to_ascii_uppercase(),
        created_at,
    })
}

/// Hands on the entity's trades after the last one seen (on the first look: those of the last
/// [`LOOKBACK`]), oldest first.
async fn fills(
    ctx: &Ctx,
    venue: &str,
    client: &Exchange,
    entity: &str,
    state: &mut Entity,
    warned: &mut Warned,
) -> Result<(), Halt> {
    let Some(mut after) = state.last_trade.clone() else {
        let page = ctx
            .call(
                venue,
                "list_trades",
                client.list_trades(ListTradesRequest {
                    entity: entity.to_owned(),
                    limit: PAGE,
                    ..ListTradesRequest::default()
                }),
            )
            .await?;
        let horizon = ctx.clock.now() - LOOKBACK;
        for trade in page.trades.iter().rev() {
            if timestamp(&trade.executed_at).is_some_and(|at| at >= horizon) {
                send_fills(ctx, venue, client, entity, state, trade, warned).await?;
                // Handed on: a look that fails from here goes on after it.
                state.last_trade = Some(trade.id.clone());
            }
        }
        let newest = page
            .trades
            .first()
            .map_or_else(|| "0".to_owned(), |t| t.id.clone());
        state.last_trade = Some(newest);
        return Ok(());
    };
    for _ in 0..MAX_PAGES {
        let page = ctx
            .call(
                venue,
                "list_trades",
                client.list_trades(ListTradesRequest {
                    entity: entity.to_owned(),
                    limit: PAGE,
                    after: after.clone(),
                    ..ListTradesRequest::default()
                }),
            )
            .await?;
        for trade in &page.trades {
            send_fills(ctx, venue, client, entity, state, trade, warned).await?;
            after.clone_from(&trade.id);
            state.last_trade = Some(after.clone());
        }
        if page.trades.len() < PAGE as usize {
            break;
        }
    }
    Ok(())
}

/// Hands on the entity's side(s) of one trade; an account not known yet is looked up once.
async fn send_fills(
    ctx: &Ctx,
    venue: &str,
    client: &Exchange,
    entity: &str,
    state: &mut Entity,
    trade: &Trade,
    warned: &mut Warned,
) -> Result<(), Halt> {
    let mine = |state: &Entity| {
        (
            state.accounts.contains(&trade.buyer_account_id),
            state.accounts.contains(&trade.seller_account_id),
        )
    };
    if mine(state) == (false, false) {
        // A new account of the entity: list them again.
        state.accounts = accounts(ctx, venue, client, entity).await?;
        state.since_listed = 0;
    }
    let (buyer, seller) = mine(state);
    for (side, fee) in [
        (buyer.then_some("BUY"), &trade.buyer_fee),
        (seller.then_some("SELL"), &trade.seller_fee),
    ] {
        let Some(side) = side else { continue };
        if let Some(fill) = fill(venue, entity, trade, side, fee, warned) {
            ctx.send(Observation::Fill(fill)).await?;
        }
    }
    Ok(())
}

/// Reads the entity's side of a trade.
fn fill(
    venue: &str,
    entity: &str,
    trade: &Trade,
    side: &str,
    fee: &str,
    warned: &mut Warned,
) -> Option<FillSeen> {
    let Some(price) = decimal(&trade.price) else {
        warned.skip(venue, "trade price", &trade.price);
        return None;
    };
    let Some(quantity) = decimal(&trade.quantity) else {
        warned.skip(venue, "trade quantity", &trade.quantity);
        return None;
    };
    let fee = if fee.trim().is_empty() {
        0.0
    } else {
        let Some(fee) = decimal(fee) else {
            warned.skip(venue, "trade fee", fee);
            return None;
        };
        fee
    };
    let Some(at) = timestamp(&trade.executed_at) else {
        warned.skip(venue, "trade executed_at", &trade.executed_at);
        return None;
    };
    Some(FillSeen {
        entity: entity.to_owned(),
        venue: venue.to_owned(),
        trade_id: trade.id.clone(),
        symbol: trade.symbol.clone(),
        side: side.to_owned(),
        price,
        quantity,
        fee,
        at,
    })
}

/// Follows the exchange's books until `stop`: the latest top per symbol is sent once per tick.
async fn books(ctx: &Ctx, name: &InstanceName, stop: &CancellationToken) {
    let mut retry = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    let mut warned = Warned::default();
    let mut latest: BTreeMap<String, BookTop> = BTreeMap::new();
    loop {
        let session = tokio::select! {
            () = stop.cancelled() => return,
            session = follow_books(ctx, name, stop, &mut latest, &mut warned) => session,
        };
        let flushed = flush(ctx, &mut latest).await;
        match session {
            Err(Halt::Closed) => {
                stop.cancel();
                return;
            }
            Ok(true) => retry.reset(),
            Ok(false) | Err(Halt::Failed(_)) => {}
        }
        if flushed.is_err() {
            stop.cancel();
            return;
        }
        // At most one attempt per tick: the poll already observes an unreachable exchange each tick.
        if !pause(stop, retry.next_wait().max(ctx.tick())).await {
            return;
        }
    }
}

/// Sends the latest top of every symbol that changed since the last flush.
async fn flush(ctx: &Ctx, latest: &mut BTreeMap<String, BookTop>) -> Result<(), Closed> {
    for (_, top) in std::mem::take(latest) {
        ctx.send(Observation::Book(top)).await?;
    }
    Ok(())
}

/// One market stream, until it breaks: whether it had opened.
async fn follow_books(
    ctx: &Ctx,
    name: &InstanceName,
    stop: &CancellationToken,
    latest: &mut BTreeMap<String, BookTop>,
    warned: &mut Warned,
) -> Result<bool, Halt> {
    let venue = name.as_str();
    // An unreachable exchange is observed by the poll, once per tick.
    let Ok(client) = Exchange::find(&ctx.peers, Some(name)).await else {
        return Ok(false);
    };
    let failed = |halt: Halt| {
        if matches!(halt, Halt::Failed(Outcome::Unavailable)) {
            client.forget();
        }
        halt
    };
    let started = Instant::now();
    let mut stream = match client
        .stream_market(StreamMarketRequest { symbols: Vec::new() })
        .await
    {
        Ok(stream) => stream,
        Err(e) => {
            let outcome = outcome_of(&e);
            ctx.request(venue, outcome, started.elapsed()).await?;
            return Err(failed(Halt::Failed(outcome)));
        }
    };
    ctx.request(venue, Outcome::Ok, started.elapsed()).await?;
    // The stream sends changes only: read every book once, so a quiet one is seen too.
    let symbols = ctx
        .call(venue, "list_symbols", client.list_symbols(ListSymbolsRequest {}))
        .await
        .map_err(failed)?;
    for symbol in &symbols.symbols {
        let book = ctx
            .call(
                venue,
                "get_order_book",
                client.get_order_book(GetOrderBookRequest {
                    symbol: symbol.symbol.clone(),
                    depth: 1,
                }),
            )
            .await
            .map_err(failed)?;
        if let Some(top) = top(ctx, venue, &book, warned) {
            latest.insert(top.symbol.clone(), top);
        }
    }
    let mut flush_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(true),
            () = tokio::time::sleep_until(flush_at) => {
                flush(ctx, latest).await?;
                flush_at = tokio::time::Instant::now() + ctx.tick();
            }
            next = stream.next() => match next {
                Some(Ok(event)) => {
                    if let Some(market_event::Event::Book(book)) = event.event
                        && let Some(top) = top(ctx, venue, &book, warned)
                    {
                        latest.insert(top.symbol.clone(), top);
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(venue, error = %e, "risk monitor: the market stream broke");
                    let outcome = outcome_of(&e);
                    ctx.request(venue, outcome, Duration::ZERO).await?;
                    failed(Halt::Failed(outcome));
                    return Ok(true);
                }
                None => {
                    ctx.request(venue, Outcome::Unavailable, Duration::ZERO).await?;
                    client.forget();
                    return Ok(true);
                }
            },
        }
    }
}

/// Reads the top of a book (its own time, or now when it carries none).
fn top(ctx: &Ctx, venue: &str, book: &OrderBook, warned: &mut Warned) -> Option<BookTop> {
    book_top(venue, book, warned, || ctx.clock.now())
}

fn book_top(
    venue: &str,
    book: &OrderBook,
    warned: &mut Warned,
    now: impl FnOnce() -> time::OffsetDateTime,
) -> Option<BookTop> {
    let mut best = |levels: &[tse_proto::exchange::v1::Level]| -> Result<Option<f64>, ()> {
        match levels.first() {
            None => Ok(None),
            Some(level) => match decimal(&level.price) {
                Some(price) => Ok(Some(price)),
                None => {
                    warned.skip(venue, "book price", &level.price);
                    Err(())
                }
            },
        }
    };
    let bid = best(&book.bids).ok()?;
    let ask = best(&book.asks).ok()?;
    let at = if book.timestamp.trim().is_empty() {
        now()
    } else {
        let Some(at) = timestamp(&book.timestamp) else {
            warned.skip(venue, "book timestamp", &book.timestamp);
            return None;
        };
        at
    };
    Some(BookTop {
        venue: venue.to_owned(),
        symbol: book.symbol.clone(),
        bid,
        ask,
        at,
    })
}

#[cfg(test)]
mod tests {
    use tse_proto::exchange::v1::Level;

    use super::*;

    fn level(price: &str) -> Level {
        Level {
            price: price.into(),
            quantity: "1".into(),
        }
    }

    #[test]
    fn a_book_top_is_its_best_levels_at_its_own_time() {
        let mut warned = Warned::default();
        let at = timestamp("2026-01-02T03:04:05Z").unwrap();
        let book = OrderBook {
            symbol: "BTC-USD".into(),
            bids: vec![level("99"), level("98")],
            asks: vec![],
            timestamp: "2026-01-02T03:04:05Z".into(),
        };
        let top = book_top("ex-A", &book, &mut warned, || unreachable!()).unwrap();
        assert_eq!(
            top,
            BookTop {
                venue: "ex-A".into(),
                symbol: "BTC-USD".into(),
                bid: Some(99.0),
                ask: None,
                at,
            }
        );
        let bad = OrderBook {
            asks: vec![level("x")],
            ..book
        };
        assert!(book_top("ex-A", &bad, &mut warned, || at).is_none());
    }

    fn trade() -> Trade {
        Trade {
            id: "5".into(),
            symbol: "BTC-USD".into(),
            price: "50000".into(),
            quantity: "0.2".into(),
            buyer_account_id: "acct-1".into(),
            seller_account_id: "acct-2".into(),
            buyer_fee: "5".into(),
            seller_fee: "2".into(),
            executed_at: "2026-01-02T03:04:05Z".into(),
            ..Trade::default()
        }
    }

    #[test]
    fn a_fill_is_the_entity_side_with_its_fee() {
        let mut warned = Warned::default();
        let t = trade();
        let seen = fill("ex-A", "desk-A", &t, "SELL", &t.seller_fee, &mut warned).unwrap();
        assert_eq!(seen.side, "SELL");
        assert!((seen.fee - 2.0).abs() < 1e-12);
        assert!((seen.quantity - 0.2).abs() < 1e-12);
        assert_eq!(seen.trade_id, "5");
        let bad = Trade {
            price: "?".into(),
            ..trade()
        };
        assert!(fill("ex-A", "desk-A", &bad, "BUY", "", &mut warned).is_none());
    }

    #[test]
    fn an_order_reports_what_is_left_of_it() {
        let mut warned = Warned::default();
        let order = Order {
            id: "9".into(),
            symbol: "BTC-USD".into(),
            side: "buy".into(),
            price: "40000".into(),
            quantity: "1".into(),
            filled_quantity: "0.25".into(),
            status: "PARTIALLY_FILLED".into(),
            created_at: "2026-01-02T03:04:05Z".into(),
            ..Order::default()
        };
        let seen = order_seen("ex-A", &order, &mut warned).unwrap();
        assert_eq!(seen.side, "BUY");
        assert!((seen.remaining - 0.75).abs() < 1e-12);
        let market = Order {
            price: String::new(),
            ..order.clone()
        };
        assert!(order_seen("ex-A", &market, &mut warned).unwrap().price.abs() < 1e-12);
        let bad = Order {
            quantity: "lots".into(),
            ..order
        };
        assert!(order_seen("ex-A", &bad, &mut warned).is_none());
    }

    #[test]
    fn a_total_is_read_or_summed() {
        assert_eq!(total("3", "1", "2"), Some(3.0));
        assert_eq!(total("", "1", "2"), Some(3.0));
        assert_eq!(total("x", "1", "2"), None);
    }
}
