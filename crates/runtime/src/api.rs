//! One error type for every API (README, *APIs every instance serves*): the right HTTP status with
//! `{"error": {"code": "insufficient_balance", "message": "..."}}`, or the matching gRPC status with
//! the same message. Services return [`ApiError`] from handlers of both faces.

use std::borrow::Cow;

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::QueryRejection},
    response::{IntoResponse, Response},
};
use http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::money;

/// An error a client can act on: a status, a stable machine-readable `code`, and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    grpc: Option<tonic::Code>,
}

impl ApiError {
    /// Creates an error with any status.
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            grpc: None,
        }
    }

    /// Answers gRPC callers with `code` rather than the one matching the HTTP status (a 409 for an
    /// order that can no longer change is `FAILED_PRECONDITION`, not `ALREADY_EXISTS`).
    #[must_use]
    pub fn with_grpc_code(mut self, code: tonic::Code) -> Self {
        self.grpc = Some(code);
        self
    }

    /// 400: the request is malformed or a value is invalid.
    pub fn bad_request(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 503: the instance cannot serve this now.
    pub fn unavailable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// 500: something failed that the client cannot fix.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the machine-readable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Returns the message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Returns the gRPC code matching the HTTP status.
    pub fn grpc_code(&self) -> tonic::Code {
        use tonic::Code;
        if let Some(code) = self.grpc {
            return code;
        }
        match self.status.as_u16() {
            400 | 413 | 414 | 415 | 422 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 | 405 => Code::NotFound,
            409 => Code::AlreadyExists,
            412 => Code::FailedPrecondition,
            408 | 504 => Code::DeadlineExceeded,
            429 => Code::ResourceExhausted,
            501 => Code::Unimplemented,
            503 => Code::Unavailable,
            _ => Code::Internal,
        }
    }
}

/// Query-string extractor whose rejections are [`ApiError`]s (`400 invalid_query`) naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::bad_request("invalid_query", rejection.body_text())
            })
    }
}

/// JSON body extractor whose rejections are [`ApiError`]s naming the problem (`400 invalid_json`
/// for malformed or mistyped bodies, `415 unsupported_media_type` without a JSON content type).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(rejection) => Err(ApiError::bad_request("invalid_json", rejection.body_text())),
        }
    }
}

/// Reads an optional JSON body: an empty (or blank) body is the default value, anything else must
/// be a JSON object of `T` (`400 invalid_json` naming the problem; an array is refused although
/// serde would read a struct from one).
///
/// # Errors
/// `invalid_json`.
pub fn optional_json_body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let invalid =
        |e: serde_json::Error| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}"));
    // Read from the bytes themselves, not through a `Value`: raw number tokens (exact decimals)
    // must reach `T` as written.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
        return json_object(value, "the body");
    }
    serde_json::from_slice(bytes).map_err(invalid)
}

/// Reads `T` from `value`, which must be a JSON object (serde would also read a struct from an
/// array).
///
/// # Errors
/// `invalid_json` saying what `what` is, or what is wrong in it.
pub fn json_object<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            format!("{what} must be a JSON object, got {}", json_kind(&value)),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A decimal field of a JSON request, given as a string or a number (README, *APIs every instance serves*), as its text;
/// absent or null is `None`. A number is taken as its JSON token, never through binary floating
/// point, with an exponent spelled out exactly (`1e-3` is `0.001`, see [`crate::money`]).
///
/// # Errors
/// `invalid_{field}` for any other JSON value, or an exponent no exact decimal can follow.
pub fn decimal_text(
    field: &str,
    value: Option<Box<serde_json::value::RawValue>>,
) -> Result<Option<String>, ApiError> {
    let Some(raw) = value else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::bad_request(format!("invalid_{field}"), message);
    let token = raw.get().trim();
    match token.as_bytes().first() {
        Some(b'n') if token == "null" => Ok(None),
        Some(b'"') => serde_json::from_str::<String>(token)
            .map(Some)
            .map_err(|e| invalid(format!("{field}: {e}"))),
        Some(b'-' | b'0'..=b'9') => money::json_number_text(token)
            .map(Some)
            .map_err(|e| invalid(format!("{field}: {e}"))),
        _ => Err(invalid(format!(
            "{field} must be a decimal string or number, got {token}"
        ))),
    }
}

/// Reads a decimal field's text exactly ([`crate::money::parse_decimal`], surrounding blanks
/// ignored) and bounds it by [`crate::money::MAX_AMOUNT`]: every amount, price, quantity and fee
/// a request carries goes through here.
///
/// # Errors
/// `invalid_{field}`, naming the field and what is wrong (the grammar, the digits, or the bound).
pub fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    money::parse_decimal(text.trim())
        .and_then(money::bounded)
        .map_err(|e| ApiError::bad_request(format!("invalid_{field}"), format!("{field}: {e}")))
}

/// Page size asked by a collection query (README, *APIs every instance serves*): `default` when not given, else 1 to `max`.
///
/// # Errors
/// `invalid_limit` naming the bounds.
pub fn page_limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {max}, got {n}"),
        )),
    }
}

/// A numeric page cursor as the API gave it (blank: the first page).
///
/// # Errors
/// `invalid_cursor`.
pub fn numeric_cursor(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c.parse().map(Some).map_err(|_| {
            ApiError::bad_request("invalid_cursor", format!("cursor '{c}' is not one this API gave"))
        }),
    }
}

/// A gRPC string field as an option: proto3 has no absent strings, so blank means not given.
pub fn non_empty(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: &self.code,
                message: &self.message,
            },
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        tonic::Status::new(error.grpc_code(), error.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_status_carries_the_same_message() {
        let error = ApiError::bad_request("invalid_quantity", "quantity must be positive, got -1");
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "quantity must be positive, got -1");
        assert_eq!(
            tonic::Status::from(ApiError::unavailable("down", "x")).code(),
            tonic::Code::Unavailable
        );
        assert_eq!(
            tonic::Status::from(ApiError::internal("x")).code(),
            tonic::Code::Internal
        );
    }

    #[tokio::test]
    async fn http_body_is_the_error_envelope() {
        let response = ApiError::not_found("unknown_symbol", "no symbol XYZ-USD").into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let bytes = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "unknown_symbol", "message": "no symbol XYZ-USD"}})
        );
    }

    #[test]
    fn json_decimals_are_read_exactly_from_strings_and_numbers() {
        #[derive(serde::Deserialize)]
        struct Body {
            amount: Option<Box<serde_json::value::RawValue>>,
        }
        let text = |body: &str| {
            let body: Body = serde_json::from_str(body).unwrap();
            decimal_text("amount", body.amount)
        };
        let read = |body: &str| decimal("amount", &text(body).unwrap().unwrap());
        // A number never goes through f64.
        assert_eq!(
            read(r#"{"amount": 1234567890.123456789}"#).unwrap().to_string(),
            "1234567890.123456789"
        );
        assert_eq!(read(r#"{"amount": 1e-3}"#).unwrap().to_string(), "0.001");
        assert_eq!(read(r#"{"amount": " 2.5 "}"#).unwrap().to_string(), "2.5");
        assert_eq!(text(r#"{"amount": null}"#).unwrap(), None);
        assert_eq!(text("{}").unwrap(), None);
        assert_eq!(text(r#"{"amount": true}"#).unwrap_err().code(), "invalid_amount");
        for bad in [
            r#"{"amount": "1_000"}"#,
            r#"{"amount": "+5"}"#,
            r#"{"amount": "1e3"}"#,
            r#"{"amount": 1.00000000000000000000000000001}"#,
            r#"{"amount": "1.00000000000000000000000000001"}"#,
        ] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_amount", "{bad}");
            assert!(e.message().starts_with("amount: "), "{bad}: {}", e.message());
        }
        let e = read(r#"{"amount": 79228162514264337593543950335}"#).unwrap_err();
        assert_eq!(
            e.message(),
            "amount: 79228162514264337593543950335 is beyond the largest amount handled (100000000000000000000)"
        );
    }
}
