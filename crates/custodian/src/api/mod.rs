//! The production API, over HTTP JSON ([`http`], described in [`openapi`]) and gRPC ([`grpc`]),
//! with the same rules for both: requests are read here from plain text (decimals as strings or
//! numbers, enums in any case; account ids into [`AccountId`], sides into [`Side`]), and every
//! refusal is an [`ApiError`] that leaves the books as they were. Assets and symbols stay text: a custodian holds asset codes of 1 to 16 characters (its
//! settings), wider than [`tse_market::Asset`], and which ones it holds is the books' question.
//!
//! | error code | HTTP | gRPC | when |
//! |---|---|---|---|
//! | `invalid_json`, `invalid_amount`, `invalid_request`, `invalid_cycle`, `invalid_type`, `invalid_side`, `invalid_status`, `invalid_limit`, `invalid_cursor` | 400 | `INVALID_ARGUMENT` | a value is missing or malformed |
//! | `unknown_asset` | 400 | `INVALID_ARGUMENT` | the asset is not held here |
//! | `insufficient_balance` | 400 | `FAILED_PRECONDITION` | the account cannot cover the withdrawal, transfer or instruction |
//! | `unknown_account`, `unknown_settlement` | 404 | `NOT_FOUND` | no such id |
//! | `duplicate_external_id` | 409 | `ALREADY_EXISTS` | the external id names an instruction with other content |
//! | `settlement_not_pending` | 409 | `FAILED_PRECONDITION` | the settlement already completed, failed or was cancelled |
//! | `settlement_not_cancellable` | 409 | `FAILED_PRECONDITION` | a cancel of a partially settled or an exchange P&L settlement |
//! | `transfer_rejected` | 422 | `ABORTED` | a `reject_transfers` fault refused it |
//! | `custodian_unavailable` | 503 | `UNAVAILABLE` | the `offline` fault is active, or the instance is stopping |
//! | `custodian_restoring` | 503 | `UNAVAILABLE` | the books are still being read from storage |
//! | `storage_failed` | 503 | `UNAVAILABLE` | the change could not be stored (the instance reports it in its health) |
//!
//! Submitting the same instruction again (same external id, same content) is not an error: it
//! answers the settlement made the first time (HTTP 200 instead of 201).

pub mod grpc;
pub mod http;
pub mod openapi;

use axum::http::StatusCode;
use rust_decimal::Decimal;
use tse_market::AccountId;
use tse_runtime::{
    api::{ApiError, numeric_cursor, page_limit},
    faults::FaultBoard,
    money::{self, MAX_SCALE},
};

use crate::{
    app::{
        books::{CustodianError, HALTED, PNL_PREFIX, REJECTED, SettlementFilter},
        service::CustodianHandle,
        views::{AccountView, BalanceView, BreakView, PositionView, SettlementView},
    },
    domain::{
        custody::CustodyError,
        faults::CustodianFault,
        position::Side,
        settlement::{Cycle, Instruction, Kind, Status},
    },
};

/// Page size when none is asked.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page.
pub const MAX_LIMIT: u32 = 1_000;
/// Longest external id, entity or reason.
const MAX_TEXT: usize = 128;

/// What both API faces work with.
#[derive(Clone)]
pub struct Api {
    /// The books.
    pub custodian: CustodianHandle,
    /// The back door's faults (`offline` closes the production API).
    pub board: FaultBoard<CustodianFault>,
}

/// A settlement instruction as a request gives it, fields as text.
#[derive(Clone, Debug, Default)]
pub struct InstructionInput {
    /// Required.
    pub external_id: String,
    /// Required.
    pub account_id: String,
    /// `TRADE` or `NET` (any case).
    pub kind: String,
    /// `T+0`, `T+1`, `T+2` (default `T+2` for trades, `T+0` for net).
    pub cycle: Option<String>,
    /// Trade: symbol.
    pub symbol: Option<String>,
    /// Trade: side.
    pub side: Option<String>,
    /// Trade: quantity.
    pub quantity: Option<String>,
    /// Trade: price.
    pub price: Option<String>,
    /// Trade: fee (default 0).
    pub fee: Option<String>,
    /// Net: (asset, signed amount).
    pub legs: Vec<(String, String)>,
}

/// Filters of a settlement listing, as text.
#[derive(Clone, Debug, Default)]
pub struct SettlementQuery {
    /// One account.
    pub account_id: Option<String>,
    /// One status.
    pub status: Option<String>,
    /// One type.
    pub kind: Option<String>,
    /// Exchange P&L of one exchange.
    pub exchange: Option<String>,
    /// Exchange P&L covering one trade id.
    pub trade_id: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Reads a decimal given as text, exactly, within the bounds every amount respects: plain decimal
/// text (`tse_runtime::money`), at most [`MAX_AMOUNT`](tse_runtime::money::MAX_AMOUNT) in size and
/// [`MAX_SCALE`] decimals.
///
/// # Errors
/// `invalid_{field}` naming the value and the rule it breaks.
pub fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    let value = tse_runtime::api::decimal(field, text)?;
    let decimals = money::decimals(value);
    if decimals > MAX_SCALE {
        return Err(ApiError::bad_request(
            format!("invalid_{field}"),
            format!("{field} {value} has {decimals} decimals; amounts take at most {MAX_SCALE}"),
        ));
    }
    Ok(value)
}

fn limit(limit: Option<u32>) -> Result<usize, ApiError> {
    page_limit(limit, DEFAULT_LIMIT, MAX_LIMIT).map(|n| n as usize)
}

/// A required field: absent or blank is `{field} is required` (`invalid_amount` for the amount,
/// `invalid_request` otherwise).
///
/// # Errors
/// As said.
pub(crate) fn required(field: &str, value: Option<String>) -> Result<String, ApiError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        let code = if field == "amount" {
            "invalid_amount"
        } else {
            "invalid_request"
        };
        ApiError::bad_request(code, format!("{field} is required"))
    })
}

/// Reads an account id as a request gives it, trimmed. A blank id names no account: it is refused
/// as the books refuse an unknown one (`unknown account `), so it is read here only where the
/// books would look the account up before anything else could fail.
///
/// # Errors
/// `unknown_account`.
pub(crate) fn account_id(text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text.trim()).map_err(|_| error(CustodyError::UnknownAccount(String::new()).into()))
}

fn bounded(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("{field} must have at most {MAX_TEXT} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// The API error of a refusal.
pub fn error(e: CustodianError) -> ApiError {
    use tonic::Code;
    match e {
        CustodianError::Custody(e) => {
            let message = e.to_string();
            match e {
                CustodyError::UnknownAccount(_) => ApiError::not_found("unknown_account", message),
                CustodyError::UnknownAsset { .. } => ApiError::bad_request("unknown_asset", message),
                CustodyError::NonPositive { .. } => ApiError::bad_request("invalid_amount", message),
                CustodyError::Insufficient { .. } => ApiError::bad_request("insufficient_balance", message)
                    .with_grpc_code(Code::FailedPrecondition),
                CustodyError::DuplicateExternalId { .. } => {
                    ApiError::conflict("duplicate_external_id", message)
                }
                CustodyError::UnknownSettlement(_) => ApiError::not_found("unknown_settlement", message),
                CustodyError::NotPending { .. } => ApiError::conflict("settlement_not_pending", message)
                    .with_grpc_code(Code::FailedPrecondition),
                CustodyError::NotCancellable { .. } => {
                    ApiError::conflict("settlement_not_cancellable", message)
                        .with_grpc_code(Code::FailedPrecondition)
                }
                CustodyError::Invalid(_) => ApiError::bad_request("invalid_request", message),
            }
        }
        CustodianError::Rejected { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "transfer_rejected", REJECTED)
                .with_grpc_code(Code::Aborted)
        }
        CustodianError::Storage(e) => ApiError::unavailable("storage_failed", e.to_string()),
        CustodianError::Halted => ApiError::unavailable("storage_failed", HALTED),
        CustodianError::Stopped => {
            ApiError::unavailable("custodian_unavailable", "the custodian is stopping")
        }
    }
}

impl Api {
    /// Refuses production calls while restoring or while the `offline` fault is active.
    ///
    /// # Errors
    /// `custodian_restoring`, `custodian_unavailable`.
    pub fn available(&self) -> Result<(), ApiError> {
        if !self.custodian.is_ready() {
            return Err(ApiError::unavailable(
                "custodian_restoring",
                "the custodian's books are not ready (being restored from storage, or withheld after an \
                 error until a restart: see /api/v1/health)",
            ));
        }
        if self
            .board
            .active()
            .iter()
            .any(|f| matches!(f.spec, CustodianFault::Offline))
        {
            return Err(ApiError::unavailable(
                "custodian_unavailable",
                "the custodian is offline; try again later",
            ));
        }
        Ok(())
    }

    /// Opens an account.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn open_account(&self, entity: Option<String>) -> Result<AccountView, ApiError> {
        let entity = entity.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        if let Some(e) = &entity {
            bounded("entity", e)?;
        }
        self.custodian
            .call(move |books, ctx| Ok(books.open_account(entity, ctx.now)))
            .await
            .map_err(error)
    }

    /// Accounts in id order, and the next page's cursor.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn accounts(
        &self,
        entity: Option<String>,
        limit_asked: Option<u32>,
        cursor_given: Option<String>,
    ) -> Result<(Vec<AccountView>, Option<String>), ApiError> {
        let limit = limit(limit_asked)?;
        let after = numeric_cursor(cursor_given.as_deref())?.unwrap_or(0);
        let entity = entity.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
        let accounts = self
            .custodian
            .call(move |books, _| Ok(books.accounts(entity.as_deref(), after, limit)))
            .await
            .map_err(error)?;
        let next = (accounts.len() == limit)
            .then(|| {
                accounts
                    .last()
                    .map(|a| a.id.trim_start_matches("cust-").to_owned())
            })
            .flatten();
        Ok((accounts, next))
    }

    /// One account.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn account(&self, id: String) -> Result<AccountView, ApiError> {
        let id = account_id(&id)?;
        self.custodian
            .call(move |books, _| books.account(&id))
            .await
            .map_err(error)
    }

    /// An account's balances.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn balances(&self, id: String) -> Result<Vec<BalanceView>, ApiError> {
        let id = account_id(&id)?;
        self.custodian
            .call(move |books, _| books.balances(&id))
            .await
            .map_err(error)
    }

    /// An account's positions.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn positions(&self, id: String) -> Result<Vec<PositionView>, ApiError> {
        let id = account_id(&id)?;
        self.custodian
            .call(move |books, _| books.positions(&id))
            .await
            .map_err(error)
    }

    /// A deposit (`withdraw = false`) or a withdrawal.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn move_funds(
        &self,
        account: String,
        asset: String,
        amount: &str,
        withdraw: bool,
    ) -> Result<BalanceView, ApiError> {
        let amount = decimal("amount", amount)?;
        let account = account_id(&account)?;
        self.custodian
            .call(move |books, ctx| {
                if withdraw {
                    books.withdraw(&account, &asset, amount, &ctx.faults, ctx.now)
                } else {
                    books.deposit(&account, &asset, amount, ctx.now)
                }
            })
            .await
            .map_err(error)
    }

    /// A transfer between accounts: both balances after it.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn transfer(
        &self,
        from: String,
        to: String,
        asset: String,
        amount: &str,
    ) -> Result<(BalanceView, BalanceView), ApiError> {
        let amount = decimal("amount", amount)?;
        // Both faces require both ids (not blank), so neither is refused here before the books
        // would look at the asset or the amount.
        let (from, to) = (account_id(&from)?, account_id(&to)?);
        self.custodian
            .call(move |books, ctx| books.transfer(&from, &to, &asset, amount, &ctx.faults, ctx.now))
            .await
            .map_err(error)
    }

    /// Reconciles an account with reported totals per asset.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn reconcile(
        &self,
        account: String,
        reported: Vec<(String, String)>,
    ) -> Result<Vec<BreakView>, ApiError> {
        let reported = reported
            .into_iter()
            .map(|(asset, amount)| Ok((asset, decimal("amount", &amount)?)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        self.custodian
            .call(move |books, _| books.reconcile(&account, &reported))
            .await
            .map_err(error)
    }

    /// Reads an instruction from its input.
    ///
    /// # Errors
    /// `invalid_*` naming the field.
    pub fn instruction(input: InstructionInput) -> Result<Instruction, ApiError> {
        bounded("external_id", &input.external_id)?;
        if input.external_id.trim().starts_with(PNL_PREFIX) {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!("external ids starting with '{PNL_PREFIX}' are the custodian's own (exchange P&L)"),
            ));
        }
        let kind_name = input.kind.trim().to_ascii_uppercase();
        let default_cycle = if kind_name == "TRADE" {
            Cycle::T2
        } else {
            Cycle::T0
        };
        let cycle = match input.cycle.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => default_cycle,
            Some(c) => Cycle::parse(c).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_cycle",
                    format!("cycle must be T+0, T+1 or T+2, got '{c}'"),
                )
            })?,
        };
        let required = |field: &str, value: Option<String>| {
            value.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                ApiError::bad_request("invalid_request", format!("a TRADE instruction needs {field}"))
            })
        };
        let kind = match kind_name.as_str() {
            "TRADE" => {
                if !input.legs.is_empty() {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "a TRADE instruction has no legs; they follow from symbol, side, quantity, price and fee",
                    ));
                }
                let side_text = required("side", input.side)?;
                let side = Side::parse(&side_text).map_err(|_| {
                    ApiError::bad_request(
                        "invalid_side",
                        format!("side must be BUY or SELL, got '{side_text}'"),
                    )
                })?;
                Kind::Trade {
                    symbol: required("symbol", input.symbol)?,
                    side,
                    quantity: decimal("quantity", &required("quantity", input.quantity)?)?,
                    price: decimal("price", &required("price", input.price)?)?,
                    fee: match input.fee {
                        Some(f) if !f.trim().is_empty() => decimal("fee", &f)?,
                        _ => Decimal::ZERO,
                    },
                }
            }
            "NET" => {
                if input.symbol.is_some()
                    || input.side.is_some()
                    || input.quantity.is_some()
                    || input.price.is_some()
                {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "a NET instruction takes legs, not symbol, side, quantity or price",
                    ));
                }
                Kind::Net {
                    legs: input
                        .legs
                        .into_iter()
                        .map(|(asset, amount)| Ok((asset, decimal("amount", &amount)?)))
                        .collect::<Result<_, ApiError>>()?,
                }
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_type",
                    format!(
                        "type must be TRADE or NET, got '{}' (EXCHANGE_PNL instructions are made by the custodian)",
                        input.kind
                    ),
                ));
            }
        };
        // Both faces require the account id (not blank), so it is not refused here before the
        // books would look at the external id.
        let account = account_id(&input.account_id)?;
        Ok(Instruction {
            external_id: input.external_id,
            account,
            kind,
            cycle,
        })
    }

    /// Submits an instruction; `true` when it is new.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn submit(&self, input: InstructionInput) -> Result<(SettlementView, bool), ApiError> {
        let instruction = Self::instruction(input)?;
        self.custodian
            .call(move |books, ctx| books.submit(instruction, ctx.now))
            .await
            .map_err(error)
    }

    /// One settlement.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn settlement(&self, id: String) -> Result<SettlementView, ApiError> {
        self.custodian
            .call(move |books, _| books.settlement(&id))
            .await
            .map_err(error)
    }

    /// Cancels a pending settlement.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn cancel(&self, id: String, reason: Option<String>) -> Result<SettlementView, ApiError> {
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "cancelled by request".to_owned());
        bounded("reason", &reason)?;
        self.custodian
            .call(move |books, ctx| books.cancel(&id, &reason, ctx.now))
            .await
            .map_err(error)
    }

    /// Settlements, newest first, and the next page's cursor.
    ///
    /// # Errors
    /// [`ApiError`].
    pub async fn settlements(
        &self,
        query: SettlementQuery,
    ) -> Result<(Vec<SettlementView>, Option<String>), ApiError> {
        let status = query
            .status
            .as_deref()
            .map(|s| {
                Status::parse(s).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_status",
                        format!("status must be PENDING, COMPLETED, FAILED or CANCELLED, got '{s}'"),
                    )
                })
            })
            .transpose()?;
        let kind = query
            .kind
            .as_deref()
            .map(|k| {
                Kind::parse_label(k).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_type",
                        format!("type must be TRADE, NET or EXCHANGE_PNL, got '{k}'"),
                    )
                })
            })
            .transpose()?;
        let trade_id = query
            .trade_id
            .as_deref()
            .map(|t| {
                t.trim().parse::<u64>().map_err(|_| {
                    ApiError::bad_request(
                        "invalid_request",
                        format!("trade_id must be an exchange trade id, got '{t}'"),
                    )
                })
            })
            .transpose()?;
        if trade_id.is_some() && query.exchange.is_none() {
            return Err(ApiError::bad_request(
                "invalid_request",
                "trade_id needs exchange: trade ids are per exchange",
            ));
        }
        let before = numeric_cursor(query.cursor.as_deref())?;
        let limit = limit(query.limit)?;
        let filter = SettlementFilter {
            account: query.account_id.as_deref().map(account_id).transpose()?,
            status,
            kind,
            exchange: query.exchange.map(|e| e.trim().to_owned()),
            trade_id,
            before,
            limit,
        };
        let page = filter.limit;
        let settlements = self
            .custodian
            .call(move |books, _| books.settlements(&filter))
            .await
            .map_err(error)?;
        let next = (settlements.len() == page)
            .then(|| {
                settlements
                    .last()
                    .map(|s| s.id.trim_start_matches("stl-").to_owned())
            })
            .flatten();
        Ok((settlements, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_read_from_text() {
        let trade = Api::instruction(InstructionInput {
            external_id: "t-1".into(),
            account_id: "cust-1".into(),
            kind: "trade".into(),
            symbol: Some("btc-usd".into()),
            side: Some("buy".into()),
            quantity: Some("0.5".into()),
            price: Some("100".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(trade.cycle, Cycle::T2);
        let missing = Api::instruction(InstructionInput {
            kind: "TRADE".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(missing.message().contains("needs side"), "{missing:?}");
        let bad = Api::instruction(InstructionInput {
            kind: "swap".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(bad.code(), "invalid_type");
        let cycle = Api::instruction(InstructionInput {
            kind: "net".into(),
            cycle: Some("T+5".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(cycle.code(), "invalid_cycle");
        assert_eq!(decimal("amount", "1e").unwrap_err().code(), "invalid_amount");
    }
}
