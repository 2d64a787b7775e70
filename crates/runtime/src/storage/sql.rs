//! SQL written once for both backends: statements with `$1`-style parameters and typed [`Value`]s,
//! rows read through typed getters, and migrations whose column types are spelled as tokens.
//!
//! The portable subset: standard `SELECT`/`INSERT`/`UPDATE`/`DELETE`, `ON CONFLICT ... DO NOTHING`
//! and `RETURNING` (SQLite ≥ 3.35, bundled). In migrations, write these tokens for the types that
//! differ:
//!
//! | token | PostgreSQL | SQLite |
//! |---|---|---|
//! | `{decimal}` | `NUMERIC` | `TEXT` (canonical decimal text, never a float) |
//! | `{timestamp}` | `TIMESTAMPTZ` | `TEXT` (fixed-width RFC 3339, sorts in time order) |
//! | `{json}` | `JSONB` | `TEXT` |
//! | `{bytes}` | `BYTEA` | `BLOB` |
//! | `{id}` | `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY` | `INTEGER PRIMARY KEY AUTOINCREMENT` |
//! | `{key}` | `BIGINT PRIMARY KEY` | `INTEGER PRIMARY KEY` (the row id itself: no separate index) |
//!
//! Money is exact in both: [`Value::Decimal`] is bound as `NUMERIC` in PostgreSQL and as its exact
//! text in SQLite. Compare and sum decimals in Rust, not in SQL, so both backends agree.

use std::{borrow::Cow, sync::Arc};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::StorageError;

/// The two storage backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL, one schema per instance.
    Postgres,
    /// SQLite, one file per instance.
    Sqlite,
}

impl Dialect {
    /// Returns `postgres` or `sqlite`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Expands the type tokens of a migration for this backend.
    pub fn expand(self, ddl: &str) -> String {
        let pairs: [(&str, &str, &str); 6] = [
            ("{decimal}", "NUMERIC", "TEXT"),
            ("{timestamp}", "TIMESTAMPTZ", "TEXT"),
            ("{json}", "JSONB", "TEXT"),
            ("{bytes}", "BYTEA", "BLOB"),
            (
                "{id}",
                "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                "INTEGER PRIMARY KEY AUTOINCREMENT",
            ),
            ("{key}", "BIGINT PRIMARY KEY", "INTEGER PRIMARY KEY"),
        ];
        let mut out = ddl.to_owned();
        for (token, postgres, sqlite) in pairs {
            out = out.replace(
                token,
                match self {
                    Dialect::Postgres => postgres,
                    Dialect::Sqlite => sqlite,
                },
            );
        }
        out
    }

    /// Rewrites `$N` parameters for this backend: unchanged for PostgreSQL; for SQLite, anonymous `?`
    /// when the parameters appear exactly in order `$1, $2, ...`, else numbered `?N` (a parameter may
    /// then repeat or appear out of order). Anonymous is preferred because SQLite looks up each named
    /// parameter by walking a list: binding n numbered parameters costs O(n²), which multi-row inserts
    /// with thousands of parameters feel. `$` inside quoted text is left alone.
    pub fn placeholders<'a>(self, sql: &'a str) -> Cow<'a, str> {
        if self == Dialect::Postgres || !sql.contains('$') {
            return Cow::Borrowed(sql);
        }
        let rewrite = |anonymous: bool| {
            let mut out = String::with_capacity(sql.len());
            let mut quote: Option<char> = None;
            let mut expected = 1u64;
            let mut in_order = true;
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                match quote {
                    Some(q) => {
                        if c == q {
                            quote = None;
                        }
                        out.push(c);
                    }
                    None if c == '\'' || c == '"' => {
                        quote = Some(c);
                        out.push(c);
                    }
                    None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                        let mut number = String::new();
                        while let Some(d) = chars.next_if(char::is_ascii_digit) {
                            number.push(d);
                        }
                        in_order &= number.parse::<u64>().ok() == Some(expected);
                        expected += 1;
                        out.push('?');
                        if !anonymous {
                            out.push_str(&number);
                        }
                    }
                    None => out.push(c),
                }
            }
            (out, in_order)
        };
        let (anonymous, in_order) = rewrite(true);
        Cow::Owned(if in_order { anonymous } else { rewrite(false).0 })
    }
}

/// The type of a value, also carried by NULLs (PostgreSQL types every parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// 64-bit integer.
    Int,
    /// Text.
    Text,
    /// Exact decimal.
    Decimal,
    /// Boolean.
    Bool,
    /// JSON document.
    Json,
    /// Point in time.
    Time,
    /// Raw bytes.
    Bytes,
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum Value {
    /// SQL NULL of a given type.
    Null(Kind),
    /// 64-bit integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Exact decimal.
    Decimal(#[serde(with = "rust_decimal::serde::str")] Decimal),
    /// Boolean.
    Bool(bool),
    /// JSON document, kept as its text: serialized once where it is made, bound as is.
    Json(JsonText),
    /// Point in time, UTC.
    Time(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// Raw bytes.
    Bytes(Vec<u8>),
}

macro_rules! value_from {
    ($($ty:ty => $kind:ident, $variant:ident, $conv:expr;)*) => {$(
        impl From<$ty> for Value {
            fn from(v: $ty) -> Self {
                Value::$variant($conv(v))
            }
        }
        impl From<Option<$ty>> for Value {
            fn from(v: Option<$ty>) -> Self {
                v.map_or(Value::Null(Kind::$kind), Value::from)
            }
        }
    )*};
}

value_from! {
    i64 => Int, Int, |v| v;
    i32 => Int, Int, i64::from;
    u32 => Int, Int, i64::from;
    bool => Bool, Bool, |v| v;
    String => Text, Text, |v| v;
    &str => Text, Text, str::to_owned;
    Decimal => Decimal, Decimal, |v| v;
    serde_json::Value => Json, Json, |v: serde_json::Value| JsonText::of(&v);
    Box<RawValue> => Json, Json, JsonText;
    JsonText => Json, Json, |v| v;
    OffsetDateTime => Time, Time, |v| v;
    Vec<u8> => Bytes, Bytes, |v| v;
}

/// A JSON document kept as its text: serialized once where it is made, then bound as it is (no
/// tree of maps and strings to build, clone and print again).
///
/// In a spool it is stored as a string holding the text (a raw value cannot sit inside the tagged
/// [`Value`]); a spool written when documents were stored as such is read too.
#[derive(Clone, Debug)]
pub struct JsonText(pub Box<RawValue>);

impl JsonText {
    /// The text of `value` serialized as JSON; a value that cannot be (a map with non-string keys)
    /// becomes `{"unserializable": reason}` rather than failing a write.
    pub fn of(value: &impl Serialize) -> Self {
        Self(serde_json::value::to_raw_value(value).unwrap_or_else(|e| {
            serde_json::value::to_raw_value(&serde_json::json!({ "unserializable": e.to_string() }))
                .expect("a JSON object of one string serializes")
        }))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.get())
    }
}

impl<'de> Deserialize<'de> for JsonText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(text) => RawValue::from_string(text.clone())
                .or_else(|_| serde_json::value::to_raw_value(&serde_json::Value::String(text))),
            document => serde_json::value::to_raw_value(&document),
        }
        .map(Self)
        .map_err(D::Error::custom)
    }
}

/// One SQL statement with its parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Statement {
    sql: Arc<str>,
    params: Vec<Value>,
    /// The text with SQLite's anonymous placeholders, when it is known without rewriting `sql`
    /// (multi-row inserts keep both texts in a cache).
    #[serde(skip)]
    anonymous: Option<Arc<str>>,
}

impl PartialEq for Statement {
    fn eq(&self, other: &Self) -> bool {
        self.sql == other.sql && self.params == other.params
    }
}

impl Statement {
    /// Creates a statement; parameters are `$1`, `$2`, ... in the text.
    pub fn new(sql: impl Into<Arc<str>>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
            anonymous: None,
        }
    }

    /// Binds the next parameter.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Returns the SQL text as written.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Returns the parameters.
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// The text for `dialect`, rewritten (or taken from the insert cache) when it differs.
    pub(super) fn text_for(&self, dialect: Dialect) -> Arc<str> {
        match (dialect, &self.anonymous) {
            (Dialect::Sqlite, Some(anonymous)) => anonymous.clone(),
            (Dialect::Sqlite, None) => match dialect.placeholders(&self.sql) {
                Cow::Borrowed(_) => self.sql.clone(),
                Cow::Owned(text) => text.into(),
            },
            (Dialect::Postgres, _) => self.sql.clone(),
        }
    }

    /// Takes the parameters out.
    pub(super) fn into_params(self) -> Vec<Value> {
        self.params
    }

    /// A multi-row `INSERT INTO table (columns) VALUES (...), (...)`, one statement for many rows.
    /// `suffix` is appended (e.g. `ON CONFLICT (id) DO NOTHING`).
    ///
    /// # Errors
    /// Returns [`StorageError::Invalid`] when a row's length differs from the column count, or when
    /// there are no rows.
    pub fn insert_rows(
        table: &str,
        columns: &[&str],
        rows: Vec<Vec<Value>>,
        suffix: &str,
    ) -> Result<Self, StorageError> {
        if rows.is_empty() {
            return Err(StorageError::Invalid(format!("insert into {table}: no rows")));
        }
        let mut params = Vec::with_capacity(rows.len() * columns.len());
        let count = rows.len();
        for (r, row) in rows.into_iter().enumerate() {
            if row.len() != columns.len() {
                return Err(StorageError::Invalid(format!(
                    "insert into {table}: row {r} has {} values for {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            params.extend(row);
        }
        let (sql, anonymous) = insert_texts(table, columns, count, suffix);
        Ok(Self {
            sql,
            params,
            anonymous: Some(anonymous),
        })
    }
}

/// Texts of multi-row inserts made so far, by shape: `$N` numbered and SQLite's anonymous `?`.
/// Batches repeat a few shapes (see [`CHUNK_SIZES`]), so texts are built once, not per batch; the
/// cache is emptied should unusual shapes ever fill it.
static INSERT_TEXTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, InsertTexts>>> =
    std::sync::LazyLock::new(Default::default);

/// The `$N` numbered and the anonymous `?` text of one insert shape.
type InsertTexts = (Arc<str>, Arc<str>);

/// Shapes kept in [`INSERT_TEXTS`] at most.
const INSERT_TEXTS_MAX: usize = 512;

fn insert_texts(table: &str, columns: &[&str], rows: usize, suffix: &str) -> InsertTexts {
    let key = format!("{table}\0{}\0{rows}\0{suffix}", columns.join(","));
    let mut cache = INSERT_TEXTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(texts) = cache.get(&key) {
        return texts.clone();
    }
    let head = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let (mut numbered, mut anonymous) = (head.clone(), head);
    let mut n = 0;
    for r in 0..rows {
        let open = if r == 0 { "(" } else { ", (" };
        numbered.push_str(open);
        anonymous.push_str(open);
        for c in 0..columns.len() {
            if c > 0 {
                numbered.push_str(", ");
                anonymous.push_str(", ");
            }
            n += 1;
            numbered.push('$');
            numbered.push_str(&n.to_string());
            anonymous.push('?');
        }
        numbered.push(')');
        anonymous.push(')');
    }
    if !suffix.is_empty() {
        for text in [&mut numbered, &mut anonymous] {
            text.push(' ');
            text.push_str(suffix);
        }
    }
    let texts: InsertTexts = (numbered.into(), anonymous.into());
    if cache.len() >= INSERT_TEXTS_MAX {
        cache.clear();
    }
    cache.insert(key, texts.clone());
    texts
}

/// Row counts [`Statement::insert_chunked`] splits into: the binary digits of the row count (below
/// the largest), so a batch takes few statements (each a round trip to the driver), and statement
/// texts recur, so both backends reuse their prepared statements instead of parsing new ones.
/// 1 024 rows of 20 columns stay under both backends' parameter limits.
const CHUNK_SIZES: [usize; 11] = [1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1];

impl Statement {
    /// Multi-row inserts of `rows` in chunks of 1 024 rows and then the powers of two the rest is
    /// made of: any number of rows takes at most ten statements beyond the full chunks, and every
    /// statement text recurs, so it is prepared once per connection and then reused. Prefer it to
    /// [`Statement::insert_rows`] for batches whose size varies.
    ///
    /// # Errors
    /// As [`Statement::insert_rows`]; no rows make no statements.
    pub fn insert_chunked(
        table: &str,
        columns: &[&str],
        rows: Vec<Vec<Value>>,
        suffix: &str,
    ) -> Result<Vec<Self>, StorageError> {
        let mut out = Vec::new();
        let mut rows = rows.into_iter();
        let mut left = rows.len();
        for size in CHUNK_SIZES {
            while left >= size {
                let chunk: Vec<Vec<Value>> = rows.by_ref().take(size).collect();
                out.push(Self::insert_rows(table, columns, chunk, suffix)?);
                left -= size;
            }
        }
        Ok(out)
    }
}

/// Formats a time for SQLite: RFC 3339 UTC with nine fraction digits, so text order is time order.
pub(super) fn sqlite_time(time: OffsetDateTime) -> String {
    fn digits(out: &mut String, value: u32, width: u32) {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + ((value / 10u32.pow(p)) % 10) as u8));
        }
    }
    let t = time.to_offset(time::UtcOffset::UTC);
    // Written digit by digit rather than through `format!`: this runs for every timestamp of every
    // stored row.
    let mut out = String::with_capacity(30);
    digits(&mut out, t.year().clamp(0, 9999).unsigned_abs(), 4);
    for (separator, value, width) in [
        ('-', u32::from(u8::from(t.month())), 2),
        ('-', u32::from(t.day()), 2),
        ('T', u32::from(t.hour()), 2),
        (':', u32::from(t.minute()), 2),
        (':', u32::from(t.second()), 2),
        ('.', t.nanosecond(), 9),
    ] {
        out.push(separator);
        digits(&mut out, value, width);
    }
    out.push('Z');
    out
}

/// A row read from either backend, with typed getters by column name.
pub struct Row(pub(super) RowInner);

pub(super) enum RowInner {
    Postgres(sqlx::postgres::PgRow),
    Sqlite(sqlx::sqlite::SqliteRow),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use sqlx::{Column as _, Row as _};
        let columns: Vec<&str> = match &self.0 {
            RowInner::Postgres(r) => r.columns().iter().map(|c| c.name()).collect(),
            RowInner::Sqlite(r) => r.columns().iter().map(|c| c.name()).collect(),
        };
        f.debug_struct("Row").field("columns", &columns).finish()
    }
}

/// A type a column can be read as; implemented for the types [`Value`] carries and their `Option`s.
pub trait Column: Sized {
    /// Reads column `name` of `row`.
    ///
    /// # Errors
    /// Returns [`StorageError::Decode`] when the column is missing or holds another type.
    fn read(row: &Row, name: &str) -> Result<Self, StorageError>;
}

impl Row {
    /// Reads column `name` as `T` (`i64`, `String`, `Decimal`, `bool`, `serde_json::Value`,
    /// `OffsetDateTime`, `Vec<u8>`, or an `Option` of one of them for nullable columns).
    ///
    /// # Errors
    /// Returns [`StorageError::Decode`] when the column is missing, NULL for a non-`Option`, or holds
    /// another type.
    pub fn get<T: Column>(&self, name: &str) -> Result<T, StorageError> {
        T::read(self, name)
    }
}

fn decode_error(name: &str, error: impl std::fmt::Display) -> StorageError {
    StorageError::Decode(format!("column {name}: {error}"))
}

/// Types read the same way from both backends.
macro_rules! direct_column {
    ($($ty:ty),*) => {$(
        impl Column for $ty {
            fn read(row: &Row, name: &str) -> Result<Self, StorageError> {
                use sqlx::Row as _;
                match &row.0 {
                    RowInner::Postgres(r) => r.try_get::<$ty, _>(name),
                    RowInner::Sqlite(r) => r.try_get::<$ty, _>(name),
                }
                .map_err(|e| decode_error(name, e))
            }
        }
        impl Column for Option<$ty> {
            fn read(row: &Row, name: &str) -> Result<Self, StorageError> {
                use sqlx::Row as _;
                match &row.0 {
                    RowInner::Postgres(r) => r.try_get::<Option<$ty>, _>(name),
                    RowInner::Sqlite(r) => r.try_get::<Option<$ty>, _>(name),
                }
                .map_err(|e| decode_error(name, e))
            }
        }
    )*};
}

direct_column!(i64, bool, String, Vec<u8>);

/// Types PostgreSQL reads natively and SQLite stores as text.
macro_rules! text_in_sqlite_column {
    ($ty:ty, $pg:ty, $from_pg:expr, $parse:expr) => {
        impl Column for Option<$ty> {
            fn read(row: &Row, name: &str) -> Result<Self, StorageError> {
                use sqlx::Row as _;
                match &row.0 {
                    RowInner::Postgres(r) => r
                        .try_get::<Option<$pg>, _>(name)
                        .map(|v| v.map($from_pg))
                        .map_err(|e| decode_error(name, e)),
                    RowInner::Sqlite(r) => {
                        let text: Option<String> = r.try_get(name).map_err(|e| decode_error(name, e))?;
                        text.map(|t| $parse(&t).map_err(|e| decode_error(name, e)))
                            .transpose()
                    }
                }
            }
        }
        impl Column for $ty {
            fn read(row: &Row, name: &str) -> Result<Self, StorageError> {
                Option::<$ty>::read(row, name)?.ok_or_else(|| decode_error(name, "unexpected NULL"))
            }
        }
    };
}

text_in_sqlite_column!(Decimal, Decimal, |v| v, |t: &str| t.parse::<Decimal>());
text_in_sqlite_column!(
    serde_json::Value,
    sqlx::types::Json<serde_json::Value>,
    |v: sqlx::types::Json<serde_json::Value>| v.0,
    |t: &str| serde_json::from_str::<serde_json::Value>(t)
);
text_in_sqlite_column!(OffsetDateTime, OffsetDateTime, |v| v, |t: &str| {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_parameters_keep_their_text_through_a_spool_and_read_old_spools() {
        let statement = Statement::new("INSERT INTO t (doc) VALUES ($1)")
            .bind(JsonText::of(&serde_json::json!({"b": [1, "x"], "a": null})));
        let spooled = serde_json::to_string(&statement).unwrap();
        let back: Statement = serde_json::from_str(&spooled).unwrap();
        assert_eq!(back, statement);
        let Value::Json(doc) = &back.params()[0] else {
            panic!("{back:?}")
        };
        assert_eq!(doc.get(), r#"{"a":null,"b":[1,"x"]}"#);
        // A spool written when documents were stored as such.
        let old = r#"{"sql":"INSERT INTO t (doc) VALUES ($1)","params":[{"t":"json","v":{"k":1}}]}"#;
        let old: Statement = serde_json::from_str(old).unwrap();
        let Value::Json(doc) = &old.params()[0] else {
            panic!("{old:?}")
        };
        assert_eq!(doc.get(), r#"{"k":1}"#);
    }

    #[test]
    fn chunked_inserts_use_a_few_recurring_sizes() {
        let rows = |n: usize| (0..n).map(|i| vec![Value::Int(i as i64)]).collect::<Vec<_>>();
        let sizes = |n| {
            Statement::insert_chunked("t", &["a"], rows(n), "")
                .unwrap()
                .iter()
                .map(|s| s.params().len())
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(3), [2, 1]);
        assert_eq!(sizes(600), [512, 64, 16, 8]);
        assert_eq!(sizes(2100), [1024, 1024, 32, 16, 4]);
        let all: Vec<i64> = Statement::insert_chunked("t", &["a"], rows(87), "")
            .unwrap()
            .iter()
            .flat_map(|s| {
                s.params().iter().map(|v| match v {
                    Value::Int(i) => *i,
                    _ => -1,
                })
            })
            .collect();
        assert_eq!(all, (0..87).collect::<Vec<i64>>(), "every row once, in order");
    }

    #[test]
    fn placeholders_become_numbered_for_sqlite_outside_quotes() {
        let sql = "SELECT '$1', a FROM t WHERE b = $2 AND c = $1 AND d = \"x$3\"";
        assert_eq!(
            Dialect::Sqlite.placeholders(sql),
            "SELECT '$1', a FROM t WHERE b = ?2 AND c = ?1 AND d = \"x$3\""
        );
        assert_eq!(Dialect::Postgres.placeholders(sql), sql);
    }

    #[test]
    fn in_order_placeholders_become_anonymous_for_sqlite() {
        assert_eq!(
            Dialect::Sqlite.placeholders("INSERT INTO t VALUES ($1, $2), ($3, $4) -- '$9'"),
            "INSERT INTO t VALUES (?, ?), (?, ?) -- '$9'"
        );
        assert_eq!(Dialect::Sqlite.placeholders("SELECT $1, $1"), "SELECT ?1, ?1");
        assert_eq!(Dialect::Sqlite.placeholders("SELECT $10"), "SELECT ?10");
    }

    #[test]
    fn type_tokens_expand_per_backend() {
        let ddl = "CREATE TABLE t (id {id}, amount {decimal} NOT NULL, at {timestamp}, doc {json})";
        assert_eq!(
            Dialect::Sqlite.expand(ddl),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, amount TEXT NOT NULL, at TEXT, doc TEXT)"
        );
        assert!(Dialect::Postgres.expand(ddl).contains("amount NUMERIC NOT NULL"));
        assert!(Dialect::Postgres.expand(ddl).contains("doc JSONB"));
    }

    #[test]
    fn multi_row_inserts_number_every_parameter() {
        let stmt = Statement::insert_rows(
            "t",
            &["a", "b"],
            vec![vec![1i64.into(), "x".into()], vec![2i64.into(), "y".into()]],
            "ON CONFLICT (a) DO NOTHING",
        )
        .unwrap();
        assert_eq!(
            stmt.sql(),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT (a) DO NOTHING"
        );
        assert_eq!(stmt.params().len(), 4);
        assert!(Statement::insert_rows("t", &["a"], vec![vec![]], "").is_err());
        assert!(Statement::insert_rows("t", &["a"], vec![], "").is_err());
    }

    #[test]
    fn sqlite_times_sort_as_text_in_time_order() {
        let a = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_000_000_001).unwrap();
        let b = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_100_000_000).unwrap();
        assert!(sqlite_time(a) < sqlite_time(b));
        assert_eq!(sqlite_time(a), "2023-11-14T22:13:20.000000001Z");
    }

    #[test]
    fn values_survive_a_round_trip_through_json() {
        let stmt = Statement::new("INSERT INTO t VALUES ($1, $2, $3, $4, $5)")
            .bind("1.10".parse::<Decimal>().unwrap())
            .bind(Option::<Decimal>::None)
            .bind(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap())
            .bind(serde_json::json!({"a": 1}))
            .bind(vec![0u8, 255]);
        let text = serde_json::to_string(&stmt).unwrap();
        let back: Statement = serde_json::from_str(&text).unwrap();
        assert_eq!(back, stmt);
        assert!(
            text.contains("\"1.10\""),
            "decimals keep their exact text: {text}"
        );
    }
}
