//! What each command does, one file per command; [`crate::cli`] parses the command line and
//! dispatches here.
//!
//! - [`up`]: a whole ecosystem in one process.
//! - [`serve`]: one instance per process.
//! - [`names`]: the identity an instance would have.
//! - [`deploy`]: the Compose project and the Kubernetes manifests.
//! - `tse status` is [`crate::status`].

pub(crate) mod deploy;
pub(crate) mod names;
pub(crate) mod serve;
pub(crate) mod up;

use std::path::PathBuf;

use clap::Args;
use tse_runtime::config::{CommonOverrides, topology::Topology};

use crate::failure::{Failure, input};

/// Settings shared by `up` and `serve`.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    /// Environment label [env: ENVIRONMENT]
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// PostgreSQL URL; unset means embedded storage [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Redis URL; unset means the embedded key-value store [env: REDIS_URL]
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Log filter, e.g. info or tse_runtime=debug [env: LOG_LEVEL]
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Health and heartbeat interval, e.g. 10s [env: HEALTH_CHECK_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    health_check_interval: Option<String>,
    /// Listen address [env: BIND_ADDRESS]
    #[arg(long, value_name = "IP")]
    bind: Option<String>,
    /// Host name published in discovery [env: ADVERTISE_HOST]
    #[arg(long, value_name = "HOST")]
    advertise_host: Option<String>,
    /// Simulated seconds per wall second, e.g. 2160 [env: TSE_CLOCK_SPEED]
    #[arg(long, value_name = "FACTOR")]
    clock_speed: Option<String>,
    /// Seed of every random process [env: TSE_SEED]
    #[arg(long, value_name = "N")]
    seed: Option<String>,
}

impl CommonArgs {
    fn overrides(&self) -> CommonOverrides {
        CommonOverrides {
            environment: self.environment.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            log_level: self.log_level.clone(),
            health_check_interval: self.health_check_interval.clone(),
            bind: self.bind.clone(),
            advertise_host: self.advertise_host.clone(),
            clock_speed: self.clock_speed.clone(),
            seed: self.seed.clone(),
        }
    }
}

/// The topology at `path`, or the default ecosystem; with the name errors give its source.
fn topology_or_default(path: Option<&PathBuf>) -> Result<(Topology, PathBuf), Failure> {
    Ok(match path {
        Some(path) => (Topology::read(path).map_err(input)?, path.clone()),
        None => (
            Topology::default_ecosystem(),
            PathBuf::from("(default ecosystem)"),
        ),
    })
}
