//! One exchange, as the desk reaches it: its production gRPC API ([`tse_client::Exchange`]) found
//! through discovery.
//!
//! A venue task opens (or finds again) the desk's account there — belonging to the desk's entity,
//! so the custodian settles it — and deposits the settings' funding once, when the account is first
//! opened (never again: a stored flag and the account's balances both say it was done). It lists
//! the exchange's instruments, reconciles the desk's open orders with the exchange's, and then,
//! until the exchange fails: sends the desk's orders, cancels and amends (up to
//! [`MAX_IN_FLIGHT`] at once), follows the exchange's market stream (book tops, and the trades of
//! the desk's orders as fills), and scans the account's trades from the last mark so a fill missed
//! by the stream (or made while the desk was down) is still counted — once.
//!
//! A venue that fails is retried with backoff; meanwhile the desk's new orders there are refused
//! as `venue_unavailable` and counted, and the rest of the desk goes on. Its state shows as the
//! instance's check named after the exchange: down (the instance degraded, never failed) while it
//! cannot be reached.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::FuturesUnordered};
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tracing::{debug, info, warn};
use tse_client::{ClientError, Exchange};
use tse_market::ClientOrderId;
use tse_proto::exchange::v1 as pb;
use tse_runtime::{
    backoff::Backoff,
    clock::Clock,
    health::{Check, Health},
    identity::InstanceName,
    peers::Peers,
    storage::Storage,
};

use super::{
    Metrics,
    convert::{self, EXCHANGE_REJECTED, VENUE_UNAVAILABLE},
    desk::Input,
};
use crate::{
    domain::{desk::Action, market::Event},
    infra::repo::{self, StoredAccount},
};

/// Requests to one exchange in flight at once, at most.
pub const MAX_IN_FLIGHT: usize = 64;
/// How often the account's trades are scanned for fills the stream did not bring.
const SCAN_EVERY: Duration = Duration::from_secs(2);
/// How often open orders are compared with the exchange's.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// Trades or orders asked for per page.
const PAGE: u32 = 1_000;

/// What the desk asks of a venue.
#[derive(Debug)]
pub enum Command {
    /// Do this, for an event received at that instant (the ack latency is measured from it).
    Act(Action, Instant),
    /// Tell the desk what became of this order.
    Lookup(u64),
}

/// What a venue task needs.
pub struct VenueParts {
    /// The exchange instance.
    pub exchange: InstanceName,
    /// The desk's entity (its instance name): the account belongs to it.
    pub entity: String,
    /// Deposited when the account is first opened, by asset.
    pub funding: BTreeMap<String, Decimal>,
    /// Symbols whose books the desk follows there.
    pub symbols: Vec<String>,
    /// Every trade up to this id was counted before.
    pub synced: u64,
    /// Where exchanges are found.
    pub peers: Peers,
    /// The desk's storage (its account there is remembered).
    pub storage: Storage,
    /// The simulated clock.
    pub clock: Clock,
    /// Where events go.
    pub desk: mpsc::Sender<Input>,
    /// What the desk asks.
    pub commands: mpsc::Receiver<Command>,
    /// Where latencies go.
    pub metrics: Arc<dyn Metrics>,
    /// Where its check goes.
    pub health: Health,
    /// Ends it.
    pub stop: CancellationToken,
}

/// A request that came back.
enum Done {
    Placed(ClientOrderId, Instant, Result<pb::OrderResult, ClientError>),
    Cancelled(u64, Result<pb::Order, ClientError>),
    Amended(
        ClientOrderId,
        u64,
        Decimal,
        Decimal,
        Result<pb::OrderResult, ClientError>,
    ),
    Looked(u64, Result<pb::Order, ClientError>),
}

/// Whether a failed call says the exchange is unreachable (rather than refusing this request).
fn unreachable(error: &ClientError) -> bool {
    matches!(
        error.code(),
        Code::Unavailable | Code::Unknown | Code::DeadlineExceeded | Code::Cancelled | Code::Internal
    )
}

struct Venue {
    parts: VenueParts,
    /// The trade id after which the next scan starts.
    cursor: u64,
    /// The exchange's order ids of the desk's orders seen this run.
    known: HashMap<u64, ClientOrderId>,
    name: String,
}

/// Runs the venue until `stop`.
pub async fn run(parts: VenueParts) {
    let stop = parts.stop.clone();
    let name = parts.exchange.to_string();
    let mut venue = Venue {
        cursor: parts.synced,
        parts,
        known: HashMap::new(),
        name: name.clone(),
    };
    venue
        .parts
        .health
        .set_check(&name, Check::down(false, "connecting"));
    let mut retry = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    // Until the exchange has been reached once, not finding it is the ecosystem starting.
    let mut ever = false;
    loop {
        let mut connected = false;
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = venue.session(&mut connected) => outcome,
        };
        if stop.is_cancelled() || venue.parts.commands.is_closed() {
            // The instance is stopping: the desk is gone, nothing is unreachable.
            return;
        }
        if connected {
            retry.reset();
        }
        ever |= connected;
        if ever {
            warn!(exchange = %name, reason = %outcome, "trading desk: exchange unreachable; its orders are refused until it is back");
        } else {
            debug!(exchange = %name, reason = %outcome, "trading desk: waiting for the exchange");
        }
        venue.parts.health.set_check(&name, Check::down(false, outcome));
        let wait = tokio::time::sleep(retry.next_wait());
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = &mut wait => break,
                command = venue.parts.commands.recv() => match command {
                    None => return,
                    Some(command) => venue.refuse(command).await,
                },
            }
        }
    }
}

impl Venue {
    async fn send(&self, input: Input) {
        // The desk is gone only when the instance stops.
        let _ = self.parts.desk.send(input).await;
    }

    async fn event(&self, event: Event) {
        self.send(Input::Event {
            event,
            now: self.parts.clock.now(),
            received: Instant::now(),
        })
        .await;
    }

    /// Answers a command while the exchange is unreachable.
    async fn refuse(&self, command: Command) {
        if let Command::Act(Action::Place(order), _) = command {
            self.send(Input::Refused {
                client_order_id: order.client_order_id,
                reason: VENUE_UNAVAILABLE,
            })
            .await;
        }
    }

    /// One connection to the exchange, until it fails: returns why.
    async fn session(&mut self, connected: &mut bool) -> String {
        match self.serve(connected).await {
            Ok(()) => "the desk stopped".to_owned(),
            Err(reason) => reason,
        }
    }

    async fn serve(&mut self, connected: &mut bool) -> Result<(), String> {
        let client = Exchange::find(&self.parts.peers, Some(&self.parts.exchange))
            .await
            .map_err(|e| e.to_string())?;
        let name = self.name.clone();
        let failed = |e: ClientError| {
            client.forget();
            format!("{name}: {}", e.message())
        };
        let account = self.account(&client).await.inspect_err(|_| client.forget())?;
        let listed = client
            .list_symbols(pb::ListSymbolsRequest {})
            .await
            .map_err(failed)?;
        let instruments = listed.symbols.iter().filter_map(convert::instrument).collect();
        let open = self.open_orders(&client, &account).await.map_err(failed)?;
        for order in &open {
            if let (Ok(id), Ok(client_id)) = (order.id.parse(), ClientOrderId::parse(&order.client_order_id))
            {
                self.known.insert(id, client_id);
            }
        }
        let mut stream = client
            .stream_market(pb::StreamMarketRequest {
                symbols: self.parts.symbols.clone(),
            })
            .await
            .map_err(failed)?;
        self.send(Input::Ready {
            exchange: name.clone(),
            account: account.clone(),
            instruments,
            open,
        })
        .await;
        self.parts.health.set_check(&name, Check::up(false));
        *connected = true;
        info!(exchange = %name, account, "trading desk: trading at the exchange");
        self.scan(&client, &account).await.map_err(failed)?;
        let mut inflight = FuturesUnordered::new();
        let mut scans = tokio::time::interval(SCAN_EVERY);
        let mut reconciles = tokio::time::interval(RECONCILE_EVERY);
        loop {
            tokio::select! {
                command = self.parts.commands.recv(), if inflight.len() < MAX_IN_FLIGHT => match command {
                    None => return Ok(()),
                    Some(command) => inflight.push(execute(client.clone(), account.clone(), command)),
                },
                Some(done) = inflight.next() => self.done(&client, done).await.map_err(failed)?,
                next = stream.next() => match next {
                    Some(Ok(message)) => self.market(&client, &account, message).await.map_err(failed)?,
                    Some(Err(e)) => return Err(failed(e)),
                    None => return Err(format!("{name}: the market stream ended")),
                },
                _ = scans.tick() => self.scan(&client, &account).await.map_err(failed)?,
                _ = reconciles.tick() => {
                    let open = self.open_orders(&client, &account).await.map_err(failed)?;
                    self.send(Input::OpenOrders { exchange: name.clone(), open }).await;
                }
            }
        }
    }

    /// Finds or opens the desk's account at the exchange, funding it once.
    async fn account(&self, client: &Exchange) -> Result<String, String> {
        let (name, entity) = (&self.name, &self.parts.entity);
        let storage = &self.parts.storage;
        let stored = repo::read_account(storage, name)
            .await
            .map_err(|e| format!("{name}: cannot read the desk's account: {e}"))?;
        let listed = client
            .list_accounts(pb::ListAccountsRequest {
                entity: entity.clone(),
                limit: PAGE,
                cursor: String::new(),
            })
            .await
            .map_err(|e| format!("{name}: {}", e.message()))?
            .accounts;
        let mut account = match stored {
            Some(s) if listed.iter().any(|a| a.id == s.account_id) => s,
            _ => match listed.first() {
                Some(a) => StoredAccount {
                    account_id: a.id.clone(),
                    funded: false,
                },
                None => {
                    let opened = client
                        .create_account(pb::CreateAccountRequest {
                            entity: entity.clone(),
                        })
                        .await
                        .map_err(|e| format!("{name}: cannot open an account: {}", e.message()))?;
                    info!(exchange = %name, account = %opened.id, "trading desk: account opened");
                    StoredAccount {
                        account_id: opened.id,
                        funded: false,
                    }
                }
            },
        };
        let store = |account: &StoredAccount| {
            let statement = repo::account(name, account);
            async move {
                storage
                    .write(tse_runtime::storage::WriteBatch::new().with(statement))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{name}: cannot store the desk's account: {e}"))
            }
        };
        if !account.funded {
            store(&account).await?;
            let balances = client
                .get_balances(pb::GetBalancesRequest {
                    account_id: account.account_id.clone(),
                })
                .await
                .map_err(|e| format!("{name}: {}", e.message()))?;
            let held = balances
                .balances
                .iter()
                .any(|b| b.total.parse::<Decimal>().is_ok_and(|t| !t.is_zero()));
            // An account that holds anything was funded before (the flag was lost with a crash).
            if !held {
                for (asset, amount) in &self.parts.funding {
                    client
                        .deposit(pb::MoveFundsRequest {
                            account_id: account.account_id.clone(),
                            asset: asset.clone(),
                            amount: amount.to_string(),
                        })
                        .await
                        .map_err(|e| format!("{name}: cannot deposit {amount} {asset}: {}", e.message()))?;
                }
                info!(exchange = %name, account = %account.account_id, "trading desk: account funded");
            }
            account.funded = true;
            store(&account).await?;
        }
        Ok(account.account_id)
    }

    async fn open_orders(&self, client: &Exchange, account: &str) -> Result<Vec<pb::Order>, ClientError> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = client
                .list_orders(pb::ListOrdersRequest {
                    account_id: account.to_owned(),
                    symbol: String::new(),
                    status: "OPEN".to_owned(),
                    limit: PAGE,
                    cursor: cursor.clone(),
                })
                .await?;
            out.extend(page.orders);
            if page.next_cursor.is_empty() {
                return Ok(out);
            }
            cursor = page.next_cursor;
        }
    }

    /// The desk's name of its order `order_id`, asking the exchange when it was not seen this run.
    async fn client_order_id(
        &mut self,
        client: &Exchange,
        order_id: u64,
    ) -> Result<Option<ClientOrderId>, ClientError> {
        if let Some(id) = self.known.get(&order_id) {
            return Ok(Some(id.clone()));
        }
        let order = client.get_order(pb::OrderRef { order_id }).await?;
        let id = ClientOrderId::parse(&order.client_order_id).ok();
        if let Some(id) = &id {
            self.known.insert(order_id, id.clone());
        }
        Ok(id)
    }

    /// Sends the desk the fills of its orders in `trades`.
    async fn fills(
        &mut self,
        client: &Exchange,
        account: &str,
        trades: &[pb::Trade],
    ) -> Result<(), ClientError> {
        for trade in trades {
            let Some((_, order_id, _, _)) = convert::own_side(trade, account) else {
                continue;
            };
            let Some(client_order_id) = self.client_order_id(client, order_id).await? else {
                continue;
            };
            if let Some(fill) = convert::fill(&self.name, trade, account, client_order_id) {
                self.event(Event::Fill(fill)).await;
            }
        }
        Ok(())
    }

    /// Reads the account's trades after the cursor and hands their fills to the desk.
    async fn scan(&mut self, client: &Exchange, account: &str) -> Result<(), ClientError> {
        loop {
            let page = client
                .list_trades(pb::ListTradesRequest {
                    symbol: String::new(),
                    account_id: account.to_owned(),
                    limit: PAGE,
                    cursor: String::new(),
                    entity: String::new(),
                    after: self.cursor.to_string(),
                })
                .await?;
            let Some(last) = page.trades.last().and_then(|t| t.id.parse::<u64>().ok()) else {
                return Ok(());
            };
            self.fills(client, account, &page.trades).await?;
            self.cursor = last;
            self.send(Input::Scanned {
                exchange: self.name.clone(),
                upto: last,
            })
            .await;
            if page.trades.len() < PAGE as usize {
                return Ok(());
            }
        }
    }

    async fn market(
        &mut self,
        client: &Exchange,
        account: &str,
        message: pb::MarketEvent,
    ) -> Result<(), ClientError> {
        match message.event {
            Some(pb::market_event::Event::Book(book)) => {
                if let Some((symbol, top)) = convert::book_top(&book) {
                    self.event(Event::Book {
                        exchange: self.name.clone(),
                        symbol,
                        top,
                    })
                    .await;
                }
                Ok(())
            }
            Some(pb::market_event::Event::Trade(trade)) => self.fills(client, account, &[trade]).await,
            None => Ok(()),
        }
    }

    /// Hands the desk what a request came back with.
    async fn done(&mut self, client: &Exchange, done: Done) -> Result<(), ClientError> {
        match done {
            Done::Placed(client_order_id, trigger, Ok(result)) => {
                self.parts.metrics.ack_latency(&self.name, trigger.elapsed());
                let Some(order) = &result.order else { return Ok(()) };
                if let Ok(id) = order.id.parse() {
                    self.known.insert(id, client_order_id);
                }
                self.result(client, &result).await
            }
            Done::Placed(client_order_id, _, Err(e)) => {
                let reason = if unreachable(&e) {
                    VENUE_UNAVAILABLE
                } else {
                    EXCHANGE_REJECTED
                };
                debug!(exchange = %self.name, order = %client_order_id, error = %e, "trading desk: order refused");
                self.send(Input::Refused {
                    client_order_id,
                    reason,
                })
                .await;
                if unreachable(&e) { Err(e) } else { Ok(()) }
            }
            Done::Cancelled(_, Ok(order)) | Done::Looked(_, Ok(order)) => {
                if let Some(update) = convert::update(&order) {
                    self.event(Event::Order(update)).await;
                }
                Ok(())
            }
            Done::Amended(client_order_id, _, price, quantity, Ok(result)) => {
                self.send(Input::Amended {
                    client_order_id,
                    price,
                    quantity,
                })
                .await;
                self.result(client, &result).await
            }
            Done::Cancelled(order_id, Err(e)) | Done::Amended(_, order_id, _, _, Err(e)) => {
                if unreachable(&e) {
                    return Err(e);
                }
                // Already done (filled or cancelled): learn how.
                let order = client.get_order(pb::OrderRef { order_id }).await?;
                if let Some(update) = convert::update(&order) {
                    self.event(Event::Order(update)).await;
                }
                Ok(())
            }
            Done::Looked(order_id, Err(e)) => {
                if unreachable(&e) {
                    return Err(e);
                }
                debug!(exchange = %self.name, order_id, error = %e, "trading desk: order not found at the exchange");
                Ok(())
            }
        }
    }

    /// Hands the desk an order's fills, then its state.
    async fn result(&mut self, client: &Exchange, result: &pb::OrderResult) -> Result<(), ClientError> {
        let Some(order) = &result.order else { return Ok(()) };
        self.fills(client, &order.account_id, &result.trades).await?;
        if let Some(update) = convert::update(order) {
            self.event(Event::Order(update)).await;
        }
        Ok(())
    }
}

/// Sends one request.
async fn execute(client: Exchange, account: String, command: Command) -> Done {
    match command {
        Command::Act(Action::Place(order), trigger) => {
            let request = convert::place_request(&order, &account);
            Done::Placed(order.client_order_id, trigger, client.place_order(request).await)
        }
        Command::Act(Action::Cancel { order_id, .. }, _) => {
            Done::Cancelled(order_id, client.cancel_order(pb::OrderRef { order_id }).await)
        }
        Command::Act(
            Action::Amend {
                client_order_id,
                order_id,
                price,
                quantity,
                ..
            },
            _,
        ) => {
            let request = pb::AmendOrderRequest {
                order_id,
                price: price.to_string(),
                quantity: quantity.to_string(),
            };
            Done::Amended(
                client_order_id,
                order_id,
                price,
                quantity,
                client.amend_order(request).await,
            )
        }
        Command::Lookup(order_id) => {
            Done::Looked(order_id, client.get_order(pb::OrderRef { order_id }).await)
        }
    }
}
