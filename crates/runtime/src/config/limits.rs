//! Connection limits of an instance's servers (`MAX_CONNECTIONS`, `HTTP_HEADER_TIMEOUT`,
//! `CONNECTION_IDLE_TIMEOUT`).

use std::time::Duration;

use super::{ConfigError, EnvSource, parse_duration, vars};

/// What an instance's servers allow each client, so idle, slow or half-sent connections cannot pile
/// up until the process runs out of file descriptors (and `/api/v1/health` becomes unreachable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections held at once, HTTP and gRPC together.
    pub max_connections: u32,
    /// Time to send a request's headers (and, kept alive, the next request's).
    pub header_timeout: Duration,
    /// Time a connection may move no bytes before it is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ConnectionLimits {
    /// Loads the limits from the environment over `fallback`.
    ///
    /// # Errors
    /// Returns [`ConfigError::Invalid`] naming the variable.
    pub(super) fn load(env: &dyn EnvSource, fallback: Self) -> Result<Self, ConfigError> {
        let max_connections = match env.var(vars::MAX_CONNECTIONS) {
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        vars::MAX_CONNECTIONS,
                        &value,
                        "must be a whole number from 1 to 1000000",
                    )
                })?,
            None => fallback.max_connections,
        };
        let timeout = |var: &str, default: Duration| match env.var(var) {
            Some(value) => {
                let parsed = parse_duration(&value).map_err(|e| ConfigError::invalid(var, &value, e))?;
                if parsed < Duration::from_millis(100) || parsed > Duration::from_secs(3600) {
                    return Err(ConfigError::invalid(var, &value, "must be between 100ms and 1h"));
                }
                Ok(parsed)
            }
            None => Ok(default),
        };
        Ok(Self {
            max_connections,
            header_timeout: timeout(vars::HTTP_HEADER_TIMEOUT, fallback.header_timeout)?,
            idle_timeout: timeout(vars::CONNECTION_IDLE_TIMEOUT, fallback.idle_timeout)?,
        })
    }
}
