//! Redis connections as the cache and the registry both open them: lazily connecting, reconnecting,
//! with short timeouts, and one reading of which errors mean "Redis is away".

use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::config::SecretUrl;

/// Creates a lazily connecting, automatically reconnecting Redis connection with short timeouts, so a
/// Redis outage is noticed in about a second rather than hanging callers.
pub(crate) fn connect_lazy(url: &SecretUrl) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url.expose())?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// Whether a Redis error means "unreachable now" rather than "refused this command".
pub(crate) fn redis_unavailable(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    match error.kind() {
        ErrorKind::Server(kind) => matches!(
            kind,
            ServerErrorKind::BusyLoading | ServerErrorKind::TryAgain | ServerErrorKind::MasterDown
        ),
        ErrorKind::Parse => false,
        _ => true,
    }
}
