//! The registry in Redis, shared by separate processes.

use std::time::Duration;

use redis::aio::ConnectionManager;
use tracing::warn;

use super::{Claim, DiscoveryError, KEY_PREFIX, Refresh, Registration, clock_key};
use crate::{clock::ClockSpec, redis_conn::redis_unavailable};

/// The Redis registry: claims, heartbeats and removals run as Lua scripts, so checking for a
/// collision and writing is one atomic step.
#[derive(Clone)]
pub struct RedisRegistry {
    connection: ConnectionManager,
}

/// Checks every live registration for a collision and registers, atomically. Returns `{}` when
/// registered, or `{what, holder_json}`.
const CLAIM_SCRIPT: &str = r"
local own = redis.call('GET', KEYS[1])
if own then
  local ok, r = pcall(cjson.decode, own)
  if ok and type(r) == 'table' and r['run_id'] ~= ARGV[3] then
    return {'instance name', own}
  end
end
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', 'services:*', 'COUNT', 1000)
  cursor = page[1]
  for _, k in ipairs(page[2]) do
    if k ~= KEYS[1] then
      local v = redis.call('GET', k)
      if v then
        local ok, r = pcall(cjson.decode, v)
        if ok and type(r) == 'table' then
          if r['instance'] == ARGV[4] then return {'instance name', v} end
          if r['schema'] == ARGV[5] then return {'schema', v} end
          if r['redis_namespace'] == ARGV[6] then return {'Redis namespace', v} end
        end
      end
    end
  end
until cursor == '0'
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {}
";

/// Refreshes a registration only if it is still ours: `ok`, `missing`, or the holder's JSON.
const REFRESH_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return 'missing' end
local ok, r = pcall(cjson.decode, v)
if ok and type(r) == 'table' and r['run_id'] ~= ARGV[3] then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ok'
";

/// Returns the published clock spec (refreshing its TTL), or publishes the proposed one.
const ADOPT_CLOCK_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
";

/// Deletes a registration only if it belongs to the given run.
const REMOVE_SCRIPT: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if ok and type(r) == 'table' and r['run_id'] == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

fn unavailable(error: &redis::RedisError) -> DiscoveryError {
    DiscoveryError::Unavailable(error.to_string())
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisRegistry {
    pub(super) fn new(connection: ConnectionManager) -> Self {
        Self { connection }
    }

    pub(super) async fn adopt_clock(
        &self,
        environment: &str,
        proposed: ClockSpec,
        ttl: Duration,
    ) -> Result<ClockSpec, DiscoveryError> {
        let key = clock_key(environment);
        let payload =
            serde_json::to_string(&proposed).map_err(|e| DiscoveryError::Unavailable(e.to_string()))?;
        let mut connection = self.connection.clone();
        let adopted: String = redis::Script::new(ADOPT_CLOCK_SCRIPT)
            .key(&key)
            .arg(payload)
            .arg(ttl_millis(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        serde_json::from_str(&adopted)
            .map_err(|e| DiscoveryError::Unavailable(format!("unreadable clock at {key}: {e}")))
    }

    pub(super) async fn list(&self) -> Result<Vec<Registration>, DiscoveryError> {
        let mut connection = self.connection.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{KEY_PREFIX}:*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .map_err(|e| unavailable(&e))?;
            keys.extend(page);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        keys.sort();
        keys.dedup();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        // A value that does not read as a registration (another version's, or someone else's key
        // under `services:`) is skipped: one stranger must not hide every other instance.
        Ok(keys
            .iter()
            .zip(values)
            .filter_map(|(key, value)| {
                let value = value?;
                serde_json::from_str(&value)
                    .inspect_err(|error| warn!(%key, %error, "skipping a registration that does not read"))
                    .ok()
            })
            .collect())
    }

    pub(super) async fn claim(
        &self,
        registration: &Registration,
        ttl: Duration,
    ) -> Result<Claim, DiscoveryError> {
        let payload =
            serde_json::to_string(registration).map_err(|e| DiscoveryError::Unavailable(e.to_string()))?;
        let mut connection = self.connection.clone();
        let result: Vec<String> = redis::Script::new(CLAIM_SCRIPT)
            .key(registration.key())
            .arg(payload)
            .arg(ttl_millis(ttl))
            .arg(&registration.run_id)
            .arg(registration.instance.as_str())
            .arg(&registration.schema)
            .arg(&registration.redis_namespace)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        match result.as_slice() {
            [] => Ok(Claim::Done),
            [what, holder, ..] => match serde_json::from_str(holder) {
                Ok(holder) => Ok(Claim::Held {
                    what: what.clone(),
                    holder: Box::new(holder),
                }),
                Err(e) => Err(DiscoveryError::Unavailable(format!(
                    "unreadable registration: {e}"
                ))),
            },
            [_] => Err(DiscoveryError::Unavailable("unexpected claim answer".into())),
        }
    }

    pub(super) async fn refresh(
        &self,
        registration: &Registration,
        ttl: Duration,
    ) -> Result<Refresh, DiscoveryError> {
        let payload =
            serde_json::to_string(registration).map_err(|e| DiscoveryError::Unavailable(e.to_string()))?;
        let mut connection = self.connection.clone();
        let answer: String = redis::Script::new(REFRESH_SCRIPT)
            .key(registration.key())
            .arg(payload)
            .arg(ttl_millis(ttl))
            .arg(&registration.run_id)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(match answer.as_str() {
            "ok" => Refresh::Kept,
            "missing" => Refresh::Missing,
            holder => match serde_json::from_str(holder) {
                Ok(holder) => Refresh::Taken(Box::new(holder)),
                Err(_) => Refresh::Missing,
            },
        })
    }

    pub(super) async fn remove(&self, key: &str, run_id: &str) -> Result<(), DiscoveryError> {
        let mut connection = self.connection.clone();
        redis::Script::new(REMOVE_SCRIPT)
            .key(key)
            .arg(run_id)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(|e| {
                if redis_unavailable(&e) {
                    unavailable(&e)
                } else {
                    DiscoveryError::Unavailable(e.to_string())
                }
            })
    }
}
