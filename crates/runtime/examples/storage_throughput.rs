//! Load driver: how many rows per second the storage layer writes in batches, on SQLite and (when
//! `DATABASE_URL` is set) on PostgreSQL. Each batch is one multi-row INSERT in one transaction, the
//! way services persist orders, trades and ticks.
//!
//! ```sh
//! cargo run --release -p tse-runtime --example storage_throughput -- [ROWS] [BATCH]
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release -p tse-runtime --example storage_throughput
//! ```

use std::{collections::BTreeMap, time::Instant};

use rust_decimal::Decimal;
use tse_runtime::{
    config::{InstanceConfig, ServeOverrides},
    health::{Dependency, Health},
    storage::{Migration, MigrationSet, Statement, Storage, Value},
};

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "trades",
    sql: "CREATE TABLE trades (
            id {id},
            trade_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            price {decimal} NOT NULL,
            quantity {decimal} NOT NULL,
            executed_at {timestamp} NOT NULL)",
}];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: i64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200_000);
    let batch: i64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1_000);
    let mut backends = vec![None];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        backends.push(Some(url));
    }
    for url in backends {
        let dir = tempfile::tempdir()?;
        let instance = format!("exchange-bench{}", std::process::id());
        let overrides = ServeOverrides {
            service: Some("exchange-simulator".into()),
            instance: Some(instance.clone()),
            data_dir: Some(dir.path().to_owned()),
            ..Default::default()
        };
        let mut env: BTreeMap<&str, &str> = BTreeMap::new();
        if let Some(url) = &url {
            env.insert("DATABASE_URL", url);
        }
        let config = InstanceConfig::load(&overrides, &env)?;
        let health = Health::new(config.identity.clone(), "bench", "bench".into());
        let gauge = prometheus::IntGauge::new("up", "up")?;
        let storage = Storage::open(
            &config,
            vec![MigrationSet {
                component: "bench",
                migrations: MIGRATIONS,
            }],
            &prometheus::Registry::new(),
            Dependency::new("postgres", health, gauge),
        )
        .await?;
        if !storage.connect().await {
            return Err("database unreachable".into());
        }
        let started = Instant::now();
        let now = tse_runtime::clock::wall_now();
        let mut written = 0;
        while written < rows {
            let n = batch.min(rows - written);
            let values: Vec<Vec<Value>> = (written..written + n)
                .map(|i| {
                    vec![
                        format!("T{i}").into(),
                        "BTC-USD".into(),
                        Decimal::new(9_700_000 + i % 1000, 2).into(),
                        Decimal::new(1 + i % 50, 3).into(),
                        now.into(),
                    ]
                })
                .collect();
            storage
                .write(Statement::insert_rows(
                    "trades",
                    &["trade_id", "symbol", "price", "quantity", "executed_at"],
                    values,
                    "",
                )?)
                .await?;
            written += n;
        }
        let elapsed = started.elapsed();
        let count = storage
            .query_one(Statement::new("SELECT COUNT(*) AS n FROM trades"))
            .await?
            .map(|r| r.get::<i64>("n"))
            .transpose()?
            .unwrap_or(0);
        println!(
            "{:<8} {rows} rows in batches of {batch}: {:.2} s, {:.0} rows/s ({count} rows counted back)",
            storage.dialect().as_str(),
            elapsed.as_secs_f64(),
            rows as f64 / elapsed.as_secs_f64()
        );
        storage.close().await;
        if let Some(url) = &url {
            // Leave nothing behind: the schema and its role.
            let schema = config.identity.schema().to_string();
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await?;
            let sql = format!(
                "DROP SCHEMA \"{schema}\" CASCADE; DROP OWNED BY \"tse_{schema}\"; DROP ROLE \"tse_{schema}\";"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await?;
        }
    }
    Ok(())
}
