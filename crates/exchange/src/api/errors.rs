//! The API errors for what the engine refuses and for storage failures.

use axum::http::StatusCode;
use tse_runtime::{api::ApiError, storage::StorageError};

use crate::{app::engine::EngineError, domain::venue::VenueError};

/// What a request still waiting when the instance stops is answered.
pub(crate) fn stopping() -> ApiError {
    ApiError::unavailable(
        "exchange_stopping",
        "the exchange is stopping; try again on its restart",
    )
}

/// The API error for an account id nobody opened, as the engine words it.
pub(super) fn unknown_account(id: &str) -> ApiError {
    ApiError::not_found(
        "unknown_account",
        VenueError::UnknownAccount(id.to_owned()).to_string(),
    )
}

pub(super) fn unknown_order(id: u64) -> ApiError {
    ApiError::not_found("unknown_order", format!("unknown order {id}"))
}

/// The API error for an engine error; `invalid` is the code of [`VenueError::Invalid`] in this call.
pub(crate) fn engine_error(error: EngineError, invalid: &'static str) -> ApiError {
    match error {
        EngineError::Venue(e) => venue_error(e, invalid),
        EngineError::Storage(e) => ApiError::internal(format!(
            "the exchange could not store the change and did not make it: {e}"
        )),
        EngineError::Stopped => ApiError::unavailable("exchange_unavailable", "the exchange is stopping"),
    }
}

pub(super) fn venue_error(error: VenueError, invalid: &'static str) -> ApiError {
    let message = error.to_string();
    match error {
        VenueError::UnknownAccount(_) => ApiError::not_found("unknown_account", message),
        VenueError::UnknownSymbol { .. } => ApiError::bad_request("unknown_symbol", message),
        VenueError::UnknownAsset { .. } => ApiError::bad_request("unknown_asset", message),
        VenueError::Invalid(_) | VenueError::Ledger(_) => ApiError::bad_request(invalid, message),
        VenueError::Insufficient(_) => ApiError::bad_request("insufficient_balance", message)
            .with_grpc_code(tonic::Code::FailedPrecondition),
        VenueError::DuplicateClientOrderId { .. } => ApiError::conflict("duplicate_client_order_id", message),
        VenueError::UnknownOrder(id) => unknown_order(id),
        VenueError::NotOpen { .. } => {
            ApiError::conflict("order_not_open", message).with_grpc_code(tonic::Code::FailedPrecondition)
        }
    }
}

/// The API error for a failed history read.
pub(crate) fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::Unavailable(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("order and trade history is unavailable while the database is away: {reason}"),
        ),
        other => ApiError::internal(format!("cannot read history: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::venue_error;
    use crate::domain::venue::VenueError;

    #[test]
    fn errors_carry_the_right_statuses() {
        let e = venue_error(
            VenueError::NotOpen {
                id: 1,
                status: "FILLED",
            },
            "invalid_order",
        );
        assert_eq!(
            (e.status(), e.grpc_code()),
            (StatusCode::CONFLICT, tonic::Code::FailedPrecondition)
        );
        let e = venue_error(
            VenueError::DuplicateClientOrderId {
                client_order_id: tse_market::ClientOrderId::parse("a").unwrap(),
                order: 3,
            },
            "invalid_order",
        );
        assert_eq!(e.grpc_code(), tonic::Code::AlreadyExists);
    }
}
