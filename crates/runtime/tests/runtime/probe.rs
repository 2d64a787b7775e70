//! A small service for black-box tests of what the host lends services: it writes numbered rows
//! through storage and keys through the cache, over HTTP.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::{get, post, put},
};
use rust_decimal::Decimal;
use tse_runtime::{
    api::ApiError,
    cache::Cache,
    host::{ServiceDef, ServiceParts},
    identity::ServiceKind,
    storage::{Migration, Statement, Storage, Written},
};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "probe rows",
    sql: "CREATE TABLE probe (id {id}, n BIGINT NOT NULL, amount {decimal} NOT NULL)",
}];

pub fn service() -> ServiceDef {
    ServiceDef {
        kind: ServiceKind::ExchangeSimulator,
        migrations: MIGRATIONS,
        check: tse_runtime::host::no_settings,
        build: |ctx| {
            Box::pin(async move {
                let state = (ctx.storage().clone(), ctx.cache().clone());
                let router = Router::new()
                    .route("/probe", get(read_rows))
                    .route("/probe/{n}", post(write_row))
                    .route("/kv/{key}", put(set_key).get(get_key).delete(delete_key))
                    .with_state(state);
                Ok(ServiceParts::new().with_http(router))
            })
        },
    }
}

type Shared = (Storage, Cache);

async fn write_row(State((storage, _)): State<Shared>, Path(n): Path<i64>) -> Result<&'static str, ApiError> {
    let statement = Statement::new("INSERT INTO probe (n, amount) VALUES ($1, $2)")
        .bind(n)
        .bind(Decimal::new(n, 3));
    match storage.write(statement).await {
        Ok(Written::Committed) => Ok("committed"),
        Ok(Written::Spooled) => Ok("spooled"),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

async fn read_rows(State((storage, _)): State<Shared>) -> Result<Json<Vec<i64>>, ApiError> {
    let rows = storage
        .query(Statement::new("SELECT n FROM probe ORDER BY id"))
        .await
        .map_err(|e| ApiError::unavailable("storage_unavailable", e.to_string()))?;
    Ok(Json(rows.iter().map(|r| r.get("n").unwrap()).collect()))
}

async fn set_key(
    State((_, cache)): State<Shared>,
    Path(key): Path<String>,
    body: String,
) -> Result<(), ApiError> {
    cache
        .set(&key, body, None)
        .await
        .map_err(|e| ApiError::bad_request("cache", e.to_string()))
}

async fn get_key(State((_, cache)): State<Shared>, Path(key): Path<String>) -> Result<String, ApiError> {
    match cache
        .get(&key)
        .await
        .map_err(|e| ApiError::bad_request("cache", e.to_string()))?
    {
        Some(value) => Ok(String::from_utf8_lossy(&value).into_owned()),
        None => Err(ApiError::not_found("no_key", key)),
    }
}

async fn delete_key(State((_, cache)): State<Shared>, Path(key): Path<String>) -> Result<String, ApiError> {
    let existed = cache
        .delete(&key)
        .await
        .map_err(|e| ApiError::bad_request("cache", e.to_string()))?;
    Ok(existed.to_string())
}
