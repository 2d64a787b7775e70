//! The ecosystem's simulated clock (README, *Simulated time, seeds and back doors*): real time by default, accelerated by a factor, one
//! for the whole ecosystem. Settlement cycles, candles, depegs, fault durations and SLAs are all
//! measured on it.
//!
//! A clock is a linear map from wall time to simulated time: `sim = sim_epoch + (wall - wall_epoch) ×
//! speed`. Its [`ClockSpec`] is all another process needs to run the same clock: `tse up` creates one
//! and hands it to every instance; separate processes adopt the spec published in the registry
//! (`tse:clock:{environment}`: one per ecosystem) by whichever started first, so every instance
//! agrees on "now". Wall time is read from the system clock so that processes on one host (or
//! NTP-synchronised hosts) agree.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Largest accepted speed: one wall millisecond is then ~17 simulated minutes.
pub const MAX_SPEED: f64 = 1_000_000.0;

/// Everything that defines a clock, as shared through the registry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClockSpec {
    /// Simulated seconds per wall second.
    pub speed: f64,
    /// Wall time (Unix nanoseconds) at which simulated time was `sim_epoch_ns`.
    pub wall_epoch_ns: i64,
    /// Simulated time (Unix nanoseconds) at `wall_epoch_ns`.
    pub sim_epoch_ns: i64,
}

/// The simulated clock; cheap to copy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    spec: ClockSpec,
}

/// Returns the wall-clock time: the one place the runtime reads the system clock (`clippy.toml`
/// refuses `SystemTime::now` and `OffsetDateTime::now_utc` everywhere else). Simulated time — what
/// settlement cycles, candles, faults and SLAs run on — is [`Clock::now`]; wall time is for what
/// people and other processes read beside it (log and registration timestamps, an event's
/// `wall_time`, run ids).
#[allow(clippy::disallowed_methods)]
pub fn wall_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[allow(clippy::disallowed_methods)]
fn wall_now_ns() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

impl Clock {
    /// A clock running at `speed` from now, starting at the current wall time.
    pub fn new(speed: f64) -> Self {
        let now = wall_now_ns();
        Self::from_spec(ClockSpec {
            speed,
            wall_epoch_ns: now,
            sim_epoch_ns: now,
        })
    }

    /// A clock defined by a spec (adopted from the registry).
    pub fn from_spec(spec: ClockSpec) -> Self {
        Self { spec }
    }

    /// Returns the spec, to publish.
    pub fn spec(&self) -> ClockSpec {
        self.spec
    }

    /// Returns simulated seconds per wall second.
    pub fn speed(&self) -> f64 {
        self.spec.speed
    }

    /// Returns the simulated time now.
    pub fn now(&self) -> OffsetDateTime {
        self.sim_at_wall_ns(wall_now_ns())
    }

    fn sim_at_wall_ns(&self, wall_ns: i64) -> OffsetDateTime {
        let elapsed = (wall_ns - self.spec.wall_epoch_ns) as f64 * self.spec.speed;
        let sim_ns = self.spec.sim_epoch_ns as i128 + elapsed as i128;
        OffsetDateTime::from_unix_timestamp_nanos(sim_ns).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Returns how much wall time `sim` simulated time takes.
    pub fn wall_duration(&self, sim: Duration) -> Duration {
        Duration::from_secs_f64(sim.as_secs_f64() / self.spec.speed)
    }

    /// Returns how much simulated time passes in `wall` wall time.
    pub fn sim_duration(&self, wall: Duration) -> Duration {
        Duration::from_secs_f64(wall.as_secs_f64() * self.spec.speed)
    }

    /// Returns the wall time left until simulated time `at` (zero if it has passed).
    pub fn wall_until(&self, at: OffsetDateTime) -> Duration {
        let sim_left = at - self.now();
        if sim_left.is_negative() {
            return Duration::ZERO;
        }
        self.wall_duration(sim_left.unsigned_abs())
    }

    /// Sleeps for `sim` simulated time.
    pub async fn sleep(&self, sim: Duration) {
        tokio::time::sleep(self.wall_duration(sim)).await;
    }

    /// Sleeps until simulated time `at`.
    pub async fn sleep_until(&self, at: OffsetDateTime) {
        tokio::time::sleep(self.wall_until(at)).await;
    }
}

/// Parses a clock speed: a positive number up to [`MAX_SPEED`].
///
/// # Errors
/// Returns a message naming what is wrong.
pub fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
        return Err(format!("must be greater than 0 and at most {MAX_SPEED}"));
    }
    Ok(speed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_time_runs_speed_times_faster() {
        let clock = Clock::from_spec(ClockSpec {
            speed: 3600.0,
            wall_epoch_ns: 1_000_000_000_000,
            sim_epoch_ns: 5_000_000_000_000,
        });
        // Ten wall seconds after the epoch, ten simulated hours have passed.
        let sim = clock.sim_at_wall_ns(1_000_000_000_000 + 10_000_000_000);
        assert_eq!(sim.unix_timestamp_nanos(), 5_000_000_000_000 + 36_000_000_000_000);
        assert_eq!(
            clock.wall_duration(Duration::from_secs(36 * 3600)),
            Duration::from_secs(36)
        );
        assert_eq!(
            clock.sim_duration(Duration::from_millis(500)),
            Duration::from_secs(1800)
        );
    }

    #[test]
    fn a_real_time_clock_tracks_the_wall_clock() {
        let clock = Clock::new(1.0);
        let drift = (clock.now() - wall_now()).abs();
        assert!(drift < time::Duration::milliseconds(50), "{drift}");
    }

    #[test]
    fn the_time_left_until_a_past_instant_is_zero() {
        let clock = Clock::new(10.0);
        assert_eq!(
            clock.wall_until(clock.now() - time::Duration::seconds(5)),
            Duration::ZERO
        );
        let ahead = clock.wall_until(clock.now() + time::Duration::seconds(100));
        assert!(
            ahead <= Duration::from_secs(10) && ahead > Duration::from_secs(9),
            "{ahead:?}"
        );
    }

    #[test]
    fn speeds_are_validated() {
        assert_eq!(parse_speed("2160").unwrap(), 2160.0);
        assert_eq!(parse_speed("0.5").unwrap(), 0.5);
        for bad in ["0", "-1", "fast", "inf", "NaN", "1e9"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }
}
