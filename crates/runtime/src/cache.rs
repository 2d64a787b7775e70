//! The key-value cache of an instance (README, *Storage, cache and discovery*): Redis when `REDIS_URL` is set, an embedded
//! in-memory store with TTLs otherwise. Set (with TTL), get, delete, exists, expire.
//!
//! Every key is `{namespace}:{key}`, and the only way to name a key is through [`Cache`], which adds
//! the prefix itself: no method takes a full key, so an instance cannot write outside its namespace.
//!
//! When Redis goes away the cache keeps answering from an embedded store and journals what it is
//! told; when Redis returns, the journal is replayed in order (with the TTLs that remain), so an
//! acknowledged write is not lost. Reads during the outage see only what was written during it.
//! Meanwhile health is `degraded` and `tse_dependency_up{dependency="redis"}` is 0.
//!
//! On Redis the server enforces the namespace too: the `REDIS_URL` user creates an ACL user for the
//! instance ([`AclUser`]: `tse.{environment}.{db}.{instance}`, its password generated and kept in the
//! instance's data directory) that may touch only the instance's namespace, the registry keys and
//! its ecosystem's clock key, and the cache logs in as it. A `REDIS_URL` user that may not create
//! ACL users (or a Redis without ACLs) leaves the prefix as the only boundary; health says which
//! (`backends.redis_isolation`). A Redis restart forgets ACL users: the cache creates its user again
//! when its login is refused.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    config::SecretUrl,
    health::{Dependency, RetryPace},
    identity::RedisNamespace,
    redis_conn::{connect_lazy, redis_unavailable},
};

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The key is empty or holds whitespace or control characters.
    #[error("invalid cache key {0:?}: use 1 to 512 visible characters")]
    InvalidKey(String),
    /// Redis refused the command.
    #[error("redis refused the command: {0}")]
    Rejected(#[source] redis::RedisError),
    /// `REDIS_URL` cannot be used.
    #[error("cannot use REDIS_URL: {0}")]
    Open(String),
}

/// The cache of one instance; cheap to clone.
#[derive(Clone)]
pub struct Cache {
    namespace: RedisNamespace,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(MemoryStore),
    Redis(Arc<RedisCache>),
}

impl Cache {
    /// An embedded in-memory cache.
    pub fn memory(namespace: RedisNamespace) -> Self {
        Self {
            namespace,
            backend: Backend::Memory(MemoryStore::default()),
        }
    }

    /// A Redis cache. Connects lazily: the instance starts whether Redis is up or not.
    ///
    /// # Errors
    /// Returns [`CacheError::Open`] when the URL cannot be used.
    pub fn redis(
        namespace: RedisNamespace,
        url: &SecretUrl,
        dependency: Dependency,
        user: Option<AclUser>,
    ) -> Result<Self, CacheError> {
        let open = |e: redis::RedisError| CacheError::Open(format!("{url}: {e}"));
        let connection = connect_lazy(url).map_err(open)?;
        let acl = match user {
            None => None,
            Some(user) => {
                let mut login =
                    url::Url::parse(url.expose()).map_err(|e| CacheError::Open(format!("{url}: {e}")))?;
                let named = login.set_username(&user.name).is_ok()
                    && login.set_password(Some(&user.password)).is_ok();
                if !named {
                    return Err(CacheError::Open(format!("{url}: cannot carry a user name")));
                }
                let as_user = SecretUrl::parse("REDIS_URL", login.as_str(), &["redis", "rediss"])
                    .map_err(|e| CacheError::Open(e.to_string()))?;
                Some(Acl {
                    as_user: connect_lazy(&as_user).map_err(open)?,
                    user,
                    settled: AtomicBool::new(false),
                })
            }
        };
        dependency.down("not connected yet");
        if acl.is_none() {
            dependency.set_backend("redis_isolation", "namespace prefix only");
        }
        Ok(Self {
            namespace,
            backend: Backend::Redis(Arc::new(RedisCache {
                admin: connection.clone(),
                connection: std::sync::RwLock::new(connection),
                acl,
                up: AtomicBool::new(false),
                offline: Mutex::new(Offline::default()),
                dependency,
            })),
        })
    }

    /// Returns `redis` or `memory`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Returns the namespace every key lives in.
    pub fn namespace(&self) -> &RedisNamespace {
        &self.namespace
    }

    fn key(&self, key: &str) -> Result<String, CacheError> {
        if key.is_empty() || key.len() > 512 || !key.chars().all(|c| !c.is_whitespace() && !c.is_control()) {
            return Err(CacheError::InvalidKey(key.to_owned()));
        }
        Ok(format!("{}:{key}", self.namespace))
    }

    /// Stores `value` under `key`, expiring after `ttl` (or never).
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], or [`CacheError::Rejected`] when Redis refuses.
    pub async fn set(
        &self,
        key: &str,
        value: impl AsRef<[u8]>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let key = self.key(key)?;
        let value = value.as_ref().to_vec();
        match &self.backend {
            Backend::Memory(store) => {
                store.set(key, value, ttl);
                Ok(())
            }
            Backend::Redis(redis) => {
                let online = redis
                    .online(|mut c| {
                        let (key, value) = (key.clone(), value.clone());
                        async move {
                            match ttl {
                                Some(ttl) => c.pset_ex::<_, _, ()>(key, value, millis(ttl)).await,
                                None => c.set::<_, _, ()>(key, value).await,
                            }
                        }
                    })
                    .await?;
                if online.is_none() {
                    redis.offline(|store, journal| {
                        store.set(key.clone(), value.clone(), ttl);
                        journal.push(Op::Set {
                            key,
                            value,
                            expires_at: ttl.map(|t| Instant::now() + t),
                        });
                    });
                }
                Ok(())
            }
        }
    }

    /// Returns the value under `key`, if any and not expired.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], or [`CacheError::Rejected`] when Redis refuses.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let key = self.key(key)?;
        match &self.backend {
            Backend::Memory(store) => Ok(store.get(&key)),
            Backend::Redis(redis) => {
                let k = key.clone();
                match redis
                    .online(|mut c| async move { c.get::<_, Option<Vec<u8>>>(k).await })
                    .await?
                {
                    Some(value) => Ok(value),
                    None => Ok(redis.offline(|store, _| store.get(&key))),
                }
            }
        }
    }

    /// Removes `key`; returns whether it existed.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], or [`CacheError::Rejected`] when Redis refuses.
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.key(key)?;
        match &self.backend {
            Backend::Memory(store) => Ok(store.delete(&key)),
            Backend::Redis(redis) => {
                let k = key.clone();
                match redis
                    .online(|mut c| async move { c.del::<_, i64>(k).await })
                    .await?
                {
                    Some(n) => Ok(n > 0),
                    None => Ok(redis.offline(|store, journal| {
                        journal.push(Op::Delete { key: key.clone() });
                        store.delete(&key)
                    })),
                }
            }
        }
    }

    /// Returns whether `key` holds a value.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], or [`CacheError::Rejected`] when Redis refuses.
    pub async fn exists(&self, key: &str) -> Result<bool, CacheError> {
        let key = self.key(key)?;
        match &self.backend {
            Backend::Memory(store) => Ok(store.get(&key).is_some()),
            Backend::Redis(redis) => {
                let k = key.clone();
                match redis
                    .online(|mut c| async move { c.exists::<_, bool>(k).await })
                    .await?
                {
                    Some(found) => Ok(found),
                    None => Ok(redis.offline(|store, _| store.get(&key).is_some())),
                }
            }
        }
    }

    /// Makes `key` expire after `ttl`; returns whether it existed.
    ///
    /// # Errors
    /// [`CacheError::InvalidKey`], or [`CacheError::Rejected`] when Redis refuses.
    pub async fn expire(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let key = self.key(key)?;
        match &self.backend {
            Backend::Memory(store) => Ok(store.expire(&key, ttl)),
            Backend::Redis(redis) => {
                let k = key.clone();
                let set = redis
                    .online(|mut c| async move { c.pexpire::<_, bool>(k, millis(ttl) as i64).await })
                    .await?;
                match set {
                    Some(found) => Ok(found),
                    None => Ok(redis.offline(|store, journal| {
                        journal.push(Op::Expire {
                            key: key.clone(),
                            expires_at: Instant::now() + ttl,
                        });
                        store.expire(&key, ttl)
                    })),
                }
            }
        }
    }

    /// Makes one attempt to reach Redis (replaying any outage journal); returns whether it is up.
    /// Always true for the embedded store.
    pub async fn connect(&self) -> bool {
        match &self.backend {
            Backend::Memory(_) => true,
            Backend::Redis(redis) => redis.check().await,
        }
    }

    /// Keeps Redis under watch until `stop`: pings while up, retries while down, and replays what was
    /// written during an outage when it returns. Returns at once for the embedded store.
    pub async fn supervise(self, interval: Duration, stop: CancellationToken) {
        let Backend::Redis(redis) = &self.backend else {
            return;
        };
        let mut pace = RetryPace::new(interval);
        loop {
            let wait = pace.next(redis.check().await);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

struct RedisCache {
    /// The connection as the `REDIS_URL` user.
    admin: ConnectionManager,
    /// The connection the cache uses: as its ACL user once created, else as the `REDIS_URL` user.
    connection: std::sync::RwLock<ConnectionManager>,
    acl: Option<Acl>,
    up: AtomicBool,
    offline: Mutex<Offline>,
    dependency: Dependency,
}

/// The ACL user an instance's cache logs in as on Redis: `tse.{environment}.{db}.{instance}`, allowed
/// the instance's namespace, the registry keys (`services:*`) and its ecosystem's clock key, and no
/// administrative or dangerous command (`FLUSHALL`, `KEYS`, `CONFIG`, `ACL`, ...).
#[derive(Clone, Debug)]
pub struct AclUser {
    /// The user name.
    pub name: String,
    password: String,
    keys: Vec<String>,
}

/// The file in the instance's data directory that keeps its Redis ACL user's password.
pub const PASSWORD_FILE: &str = "redis-password";

impl AclUser {
    /// The user of instance `instance` (namespace `namespace`) of ecosystem `environment` on the
    /// Redis database of `url`; its password is read from `data_dir`, or generated and kept there.
    ///
    /// # Errors
    /// [`CacheError::Open`] when the password file cannot be read or written.
    pub fn for_instance(
        url: &SecretUrl,
        environment: &str,
        instance: &str,
        namespace: &RedisNamespace,
        data_dir: &std::path::Path,
    ) -> Result<Self, CacheError> {
        let db = url::Url::parse(url.expose())
            .ok()
            .and_then(|u| u.path().trim_start_matches('/').parse::<u32>().ok())
            .unwrap_or(0);
        let password = crate::storage::kept_secret(data_dir, PASSWORD_FILE)
            .map_err(|e| CacheError::Open(e.to_string()))?;
        Ok(Self {
            name: format!("tse.{environment}.{db}.{instance}"),
            password,
            keys: vec![
                format!("{namespace}:*"),
                format!("{}:*", crate::discovery::KEY_PREFIX),
                crate::discovery::clock_key(environment),
            ],
        })
    }
}

/// The cache's ACL user and its connection.
struct Acl {
    user: AclUser,
    as_user: ConnectionManager,
    /// Whether the user was created in this Redis (or found impossible to create); cleared when a
    /// login is refused (a Redis restart forgets ACL users), so it is created again.
    settled: AtomicBool,
}

impl RedisCache {
    fn connection(&self) -> ConnectionManager {
        self.connection.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Creates (or refreshes) the instance's ACL user and switches the cache to it; falls back to the
    /// `REDIS_URL` user, saying so in health, when that user may not create ACL users. An error
    /// means Redis is unreachable.
    async fn provision(&self, acl: &Acl) -> redis::RedisResult<()> {
        let mut admin = self.admin.clone();
        let mut command = redis::cmd("ACL");
        command
            .arg("SETUSER")
            .arg(&acl.user.name)
            .arg("reset")
            .arg("on")
            .arg(format!(">{}", acl.user.password));
        for pattern in &acl.user.keys {
            command.arg(format!("~{pattern}"));
        }
        command
            .arg("resetchannels")
            .arg("+@all")
            .arg("-@admin")
            .arg("-@dangerous");
        let (connection, isolation) = match command.query_async::<()>(&mut admin).await {
            Ok(()) => (
                acl.as_user.clone(),
                format!("ACL user {} (enforced by the server)", acl.user.name),
            ),
            Err(e) if redis_unavailable(&e) => return Err(e),
            Err(e) => {
                warn!(error = %e, "cannot create a Redis ACL user for the instance; only the key prefix keeps it to its namespace");
                (
                    self.admin.clone(),
                    format!("namespace prefix only (the REDIS_URL user may not create ACL users: {e})"),
                )
            }
        };
        *self.connection.write().unwrap_or_else(|e| e.into_inner()) = connection;
        self.dependency.set_backend("redis_isolation", isolation);
        acl.settled.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// What the cache holds and was told while Redis was away.
#[derive(Default)]
struct Offline {
    store: MemoryStore,
    journal: Vec<Op>,
}

enum Op {
    Set {
        key: String,
        value: Vec<u8>,
        expires_at: Option<Instant>,
    },
    Delete {
        key: String,
    },
    Expire {
        key: String,
        expires_at: Instant,
    },
}

impl RedisCache {
    /// Runs `command` against Redis when it is up. `Ok(None)` means "Redis is away: use the offline
    /// path"; a refusal is an error.
    async fn online<T, F, Fut>(&self, command: F) -> Result<Option<T>, CacheError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.up.load(Ordering::SeqCst) {
            return Ok(None);
        }
        match command(self.connection()).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if redis_unavailable(&e) => {
                self.mark_down(&e.to_string());
                Ok(None)
            }
            Err(e) => Err(CacheError::Rejected(e)),
        }
    }

    /// Runs `f` on the offline store and journal. Holding the lock while Redis is away orders these
    /// writes before the replay that ends the outage.
    fn offline<T>(&self, f: impl FnOnce(&MemoryStore, &mut Vec<Op>) -> T) -> T {
        let mut offline = self.offline.lock().unwrap_or_else(|e| e.into_inner());
        let Offline { store, journal } = &mut *offline;
        f(store, journal)
    }

    fn mark_down(&self, reason: &str) {
        if self.up.swap(false, Ordering::SeqCst) {
            warn!(
                reason,
                "Redis unavailable; the cache answers from memory until it returns"
            );
        }
        self.dependency.down(reason);
    }

    /// Pings Redis; when it answers, replays whatever the journal holds (writes made while it was
    /// away) and goes back online.
    async fn check(&self) -> bool {
        if let Some(acl) = &self.acl
            && !acl.settled.load(Ordering::SeqCst)
            && let Err(e) = self.provision(acl).await
        {
            self.mark_down(&e.to_string());
            return false;
        }
        let mut connection = self.connection();
        if let Err(e) = redis::cmd("PING").query_async::<String>(&mut connection).await {
            if let Some(acl) = &self.acl {
                // Redis may be back without the user (a restart forgets ACL users, and the login is
                // refused): set it up again on the next round, which costs one idempotent command.
                acl.settled.store(false, Ordering::SeqCst);
            }
            self.mark_down(&e.to_string());
            return false;
        }
        // Take the journal and replay it; writes arriving meanwhile queue in a fresh journal and are
        // replayed on the next round, so the cache goes online only with an empty journal.
        let ops = self.offline(|_, journal| std::mem::take(journal));
        let count = ops.len();
        for (i, op) in ops.iter().enumerate() {
            if let Err(e) = replay(&mut connection, op).await {
                // Put back what was not replayed, in order, ahead of anything newer.
                self.offline(|_, journal| {
                    let mut rest: Vec<Op> = ops.into_iter().skip(i).collect();
                    rest.append(journal);
                    *journal = rest;
                });
                self.mark_down(&e.to_string());
                return false;
            }
        }
        let caught_up = self.offline(|store, journal| {
            if !journal.is_empty() {
                return false;
            }
            if !self.up.swap(true, Ordering::SeqCst) {
                store.clear();
            }
            true
        });
        if caught_up {
            if count > 0 {
                info!(
                    replayed = count,
                    "Redis back; cache writes made during the outage replayed"
                );
            }
            self.dependency.up();
        }
        caught_up
    }
}

async fn replay(connection: &mut ConnectionManager, op: &Op) -> redis::RedisResult<()> {
    let now = Instant::now();
    match op {
        Op::Set {
            key,
            value,
            expires_at,
        } => match expires_at {
            None => connection.set(key, value).await,
            Some(at) if *at > now => connection.pset_ex(key, value, millis(*at - now)).await,
            Some(_) => connection.del(key).await,
        },
        Op::Delete { key } => connection.del(key).await,
        Op::Expire { key, expires_at } => {
            if *expires_at > now {
                connection
                    .pexpire::<_, ()>(key, millis(*expires_at - now) as i64)
                    .await
            } else {
                connection.del(key).await
            }
        }
    }
}

/// The embedded key-value store: a map with per-key deadlines. Expired keys vanish on access, and
/// each write also sweeps whatever has expired, oldest deadline first, so memory stays bounded
/// without a background task.
#[derive(Clone, Default)]
pub(crate) struct MemoryStore {
    state: Arc<Mutex<MemoryState>>,
}

#[derive(Default)]
struct MemoryState {
    entries: HashMap<String, (Vec<u8>, Option<Instant>)>,
    deadlines: BTreeSet<(Instant, String)>,
}

impl MemoryState {
    fn sweep(&mut self, now: Instant) {
        while let Some((at, _)) = self.deadlines.first() {
            if *at > now {
                break;
            }
            let Some((at, key)) = self.deadlines.pop_first() else {
                break;
            };
            if self
                .entries
                .get(&key)
                .is_some_and(|(_, deadline)| *deadline == Some(at))
            {
                self.entries.remove(&key);
            }
        }
    }

    fn forget_deadline(&mut self, key: &str) {
        if let Some((_, Some(at))) = self.entries.get(key) {
            self.deadlines.remove(&(*at, key.to_owned()));
        }
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A std mutex: every critical section is short and never awaits.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set(&self, key: String, value: Vec<u8>, ttl: Option<Duration>) {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        state.forget_deadline(&key);
        let deadline = ttl.map(|t| now + t);
        if let Some(at) = deadline {
            state.deadlines.insert((at, key.clone()));
        }
        state.entries.insert(key, (value, deadline));
    }

    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        let state = self.lock();
        let (value, deadline) = state.entries.get(key)?;
        match deadline {
            Some(at) if *at <= Instant::now() => None,
            _ => Some(value.clone()),
        }
    }

    pub(crate) fn delete(&self, key: &str) -> bool {
        let mut state = self.lock();
        let live = state
            .entries
            .get(key)
            .is_some_and(|(_, d)| d.is_none_or(|at| at > Instant::now()));
        state.forget_deadline(key);
        state.entries.remove(key);
        live
    }

    pub(crate) fn expire(&self, key: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        state.sweep(now);
        if !state.entries.contains_key(key) {
            return false;
        }
        state.forget_deadline(key);
        let at = now + ttl;
        state.deadlines.insert((at, key.to_owned()));
        if let Some(entry) = state.entries.get_mut(key) {
            entry.1 = Some(at);
        }
        true
    }

    fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.deadlines.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache {
        Cache::memory(RedisNamespace::parse("exchange:OKX").unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn values_expire_after_their_ttl() {
        let cache = cache();
        cache.set("a", "1", Some(Duration::from_secs(5))).await.unwrap();
        cache.set("b", "2", None).await.unwrap();
        assert_eq!(cache.get("a").await.unwrap(), Some(b"1".to_vec()));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(cache.get("a").await.unwrap(), None);
        assert!(!cache.exists("a").await.unwrap());
        assert_eq!(cache.get("b").await.unwrap(), Some(b"2".to_vec()));
    }

    #[tokio::test(start_paused = true)]
    async fn expire_sets_a_new_deadline_and_reports_absence() {
        let cache = cache();
        cache.set("k", "v", None).await.unwrap();
        assert!(cache.expire("k", Duration::from_secs(1)).await.unwrap());
        assert!(!cache.expire("missing", Duration::from_secs(1)).await.unwrap());
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(!cache.exists("k").await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn overwriting_a_key_replaces_its_deadline() {
        let cache = cache();
        cache.set("k", "old", Some(Duration::from_secs(1))).await.unwrap();
        cache.set("k", "new", None).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get("k").await.unwrap(), Some(b"new".to_vec()));
    }

    #[tokio::test(start_paused = true)]
    async fn writes_sweep_expired_keys() {
        let cache = cache();
        for i in 0..100 {
            cache
                .set(&format!("k{i}"), "v", Some(Duration::from_secs(1)))
                .await
                .unwrap();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.set("fresh", "v", None).await.unwrap();
        let Backend::Memory(store) = &cache.backend else {
            unreachable!()
        };
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn delete_reports_whether_the_key_existed() {
        let cache = cache();
        cache.set("k", "v", None).await.unwrap();
        assert!(cache.delete("k").await.unwrap());
        assert!(!cache.delete("k").await.unwrap());
    }

    #[tokio::test]
    async fn keys_are_confined_to_the_namespace_and_validated() {
        let cache = cache();
        assert_eq!(cache.key("orders:1").unwrap(), "exchange:OKX:orders:1");
        for bad in ["", "has space", "tab\there", &"x".repeat(513)] {
            assert!(
                matches!(cache.set(bad, "v", None).await, Err(CacheError::InvalidKey(_))),
                "{bad:?}"
            );
        }
    }
}
