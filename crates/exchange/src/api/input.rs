//! Reading a request's values: an order as both faces give it, decimals, an account's entity.

use rust_decimal::Decimal;
use tse_market::{ClientOrderId, Side};
use tse_matching::SelfTradePrevention;
use tse_runtime::{api::ApiError, money::MAX_AMOUNT};

use crate::domain::{
    order::{OrderType, parse_stp, parse_tif},
    venue::PlaceRequest,
};

/// Reads an account's trading entity: trimmed, blank is none, at most 128 characters, no control
/// characters (PostgreSQL refuses NUL in text, and an entity is stored with every commit of its
/// account).
///
/// # Errors
/// `invalid_entity`.
pub(crate) fn entity(entity: Option<String>) -> Result<Option<String>, ApiError> {
    let entity = entity.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &entity {
        if e.chars().count() > 128 {
            return Err(ApiError::bad_request(
                "invalid_entity",
                "entity must have at most 128 characters",
            ));
        }
        if e.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_entity",
                "entity must not contain control characters",
            ));
        }
    }
    Ok(entity)
}

/// Parses a decimal written as text (`"0.015"`), exactly and within
/// [`MAX_AMOUNT`](tse_runtime::money::MAX_AMOUNT).
pub(crate) fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    tse_runtime::api::decimal(field, text)
}

/// Parses an optional decimal: absent or empty is `None`.
pub(crate) fn optional_decimal(field: &str, text: Option<&str>) -> Result<Option<Decimal>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => decimal(field, t).map(Some),
    }
}

/// A new order as given, before parsing; both faces fill it.
#[derive(Clone, Debug, Default)]
pub struct OrderInput {
    /// Owner account.
    pub account_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// `LIMIT` or `MARKET`; empty: `LIMIT` with a price, `MARKET` without.
    pub order_type: Option<String>,
    /// Limit price.
    pub price: Option<String>,
    /// Quantity.
    pub quantity: Option<String>,
    /// `GTC`, `IOC` or `FOK`.
    pub time_in_force: Option<String>,
    /// The client's id.
    pub client_order_id: Option<String>,
    /// Rest only.
    pub post_only: bool,
    /// `CANCEL_TAKER`, `CANCEL_MAKER` or `CANCEL_BOTH`.
    pub self_trade_prevention: Option<String>,
}

fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request(
            format!("missing_{field}"),
            format!("{field} is required"),
        ));
    }
    Ok(value)
}

pub(super) fn present(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl OrderInput {
    /// Parses the input into a request for the venue.
    ///
    /// # Errors
    /// 400 naming the first field that is missing or malformed.
    pub fn parse(self) -> Result<PlaceRequest, ApiError> {
        let account = super::account_id(required("account_id", &self.account_id)?)?;
        let symbol = required("symbol", &self.symbol)?.to_owned();
        let side_text = required("side", &self.side)?;
        let side =
            Side::parse(side_text).map_err(|e| ApiError::bad_request("invalid_side", e.to_string()))?;
        let price = optional_decimal("price", self.price.as_deref())?;
        let order_type = match present(self.order_type.as_ref()) {
            None if price.is_some() => OrderType::Limit,
            None => OrderType::Market,
            Some(t) => OrderType::parse(t).ok_or_else(|| {
                ApiError::bad_request("invalid_type", format!("type '{t}' is not LIMIT or MARKET"))
            })?,
        };
        let quantity = optional_decimal("quantity", self.quantity.as_deref())?
            .ok_or_else(|| ApiError::bad_request("missing_quantity", "quantity is required"))?;
        if let Some(price) = price {
            let notional = price.checked_mul(quantity).unwrap_or(Decimal::MAX);
            if notional.abs() > MAX_AMOUNT {
                return Err(ApiError::bad_request(
                    "invalid_order",
                    format!(
                        "notional {price} × {quantity} is beyond the largest amount handled ({MAX_AMOUNT})"
                    ),
                ));
            }
        }
        let time_in_force = present(self.time_in_force.as_ref())
            .map(|t| {
                parse_tif(t).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_time_in_force",
                        format!("time_in_force '{t}' is not GTC, IOC or FOK"),
                    )
                })
            })
            .transpose()?;
        let self_trade = present(self.self_trade_prevention.as_ref())
            .map(|t| {
                parse_stp(t).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_self_trade_prevention",
                        format!(
                            "self_trade_prevention '{t}' is not CANCEL_TAKER, CANCEL_MAKER or CANCEL_BOTH"
                        ),
                    )
                })
            })
            .transpose()?
            .unwrap_or(SelfTradePrevention::CancelTaker);
        // An empty id is no id: the field is optional.
        let client_order_id = self
            .client_order_id
            .filter(|c| !c.is_empty())
            .map(|c| ClientOrderId::parse(&c))
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_client_order_id", e.to_string()))?;
        Ok(PlaceRequest {
            account,
            symbol,
            side,
            order_type,
            price,
            quantity,
            time_in_force,
            post_only: self.post_only,
            client_order_id,
            self_trade,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use tse_matching::SelfTradePrevention;

    use super::{OrderInput, entity};
    use crate::domain::order::OrderType;

    fn input() -> OrderInput {
        OrderInput {
            account_id: "acct-1".into(),
            symbol: "btc-usd".into(),
            side: "buy".into(),
            price: Some("97000.5".into()),
            quantity: Some("0.001".into()),
            ..OrderInput::default()
        }
    }

    #[test]
    fn inputs_parse_in_any_case_with_sensible_defaults() {
        let r = input().parse().unwrap();
        assert_eq!(r.order_type, OrderType::Limit);
        assert_eq!(r.quantity, Decimal::new(1, 3));
        assert_eq!(r.side, tse_matching::Side::Buy);
        assert_eq!(r.self_trade, SelfTradePrevention::CancelTaker);
        let market = OrderInput {
            price: None,
            time_in_force: Some("fok".into()),
            ..input()
        }
        .parse()
        .unwrap();
        assert_eq!(market.order_type, OrderType::Market);
        assert_eq!(market.time_in_force, Some(tse_matching::TimeInForce::Fok));
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let code = |i: OrderInput| i.parse().unwrap_err().code().to_owned();
        assert_eq!(
            code(OrderInput {
                side: "hold".into(),
                ..input()
            }),
            "invalid_side"
        );
        assert_eq!(
            code(OrderInput {
                side: String::new(),
                ..input()
            }),
            "missing_side"
        );
        assert_eq!(
            code(OrderInput {
                quantity: None,
                ..input()
            }),
            "missing_quantity"
        );
        assert_eq!(
            code(OrderInput {
                quantity: Some("lots".into()),
                ..input()
            }),
            "invalid_quantity"
        );
        assert_eq!(
            code(OrderInput {
                order_type: Some("stop".into()),
                ..input()
            }),
            "invalid_type"
        );
        assert_eq!(
            code(OrderInput {
                time_in_force: Some("day".into()),
                ..input()
            }),
            "invalid_time_in_force"
        );
        let e = OrderInput {
            price: Some("abc".into()),
            ..input()
        }
        .parse()
        .unwrap_err();
        assert_eq!(e.code(), "invalid_price");
        assert!(
            e.message().starts_with("price: 'abc' is not a plain decimal"),
            "{e:?}"
        );
        for (price, quantity, code) in [
            ("79228162514264337593543950335", "1", "invalid_price"),
            ("1", "79228162514264337593543950335", "invalid_quantity"),
            ("90000000000000000", "100000000000000", "invalid_order"),
            ("1_000", "1", "invalid_price"),
            ("+5", "1", "invalid_price"),
            ("1e3", "1", "invalid_price"),
            ("1", "1.00000000000000000000000000001", "invalid_quantity"),
        ] {
            let e = OrderInput {
                price: Some(price.into()),
                quantity: Some(quantity.into()),
                ..input()
            }
            .parse()
            .unwrap_err();
            assert_eq!(e.code(), code, "{price} × {quantity}: {e:?}");
        }
        let e = OrderInput {
            price: Some("90000000000000000".into()),
            quantity: Some("100000000000000".into()),
            ..input()
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            e.message(),
            "notional 90000000000000000 × 100000000000000 is beyond the largest amount handled (100000000000000000000)"
        );
    }

    #[test]
    fn entities_are_trimmed_and_bounded() {
        assert_eq!(entity(Some("  LH ".into())).unwrap(), Some("LH".into()));
        assert_eq!(entity(Some(" ".into())).unwrap(), None);
        assert!(
            entity(Some("a\u{0}b".into()))
                .unwrap_err()
                .message()
                .contains("control characters")
        );
        assert_eq!(
            entity(Some("x".repeat(129))).unwrap_err().code(),
            "invalid_entity"
        );
    }
}
