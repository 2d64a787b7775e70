//! Exponential backoff for retry loops: a short first wait, doubling after every failure up to a
//! cap, back to the first wait after a success.
//!
//! A fixed retry delay is either too long for a peer that is merely still starting (a cold `tse up`
//! waited a whole second for an exchange that registered milliseconds later) or too short for one
//! that is down for minutes. Starting small and doubling answers both: the first retries come
//! quickly, and a long outage is probed at most once per cap.
//!
//! ```
//! use std::time::Duration;
//! use tse_runtime::backoff::Backoff;
//!
//! let mut backoff = Backoff::default();
//! assert_eq!(backoff.next_wait(), Duration::from_millis(10));
//! assert_eq!(backoff.next_wait(), Duration::from_millis(20));
//! backoff.reset();
//! assert_eq!(backoff.next_wait(), Duration::from_millis(10));
//! ```

use std::time::Duration;

/// The first wait of [`Backoff::default`].
pub const FIRST: Duration = Duration::from_millis(10);
/// The longest wait of [`Backoff::default`].
pub const MAX: Duration = Duration::from_secs(1);

/// Waits between retries that double from `first` up to `max`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    /// 10 ms, 20 ms, 40 ms, ... up to 1 s.
    fn default() -> Self {
        Self::new(FIRST, MAX)
    }
}

impl Backoff {
    /// Creates a backoff whose first wait is `first` and whose waits never exceed `max` (a `first`
    /// above `max` is lowered to it).
    pub fn new(first: Duration, max: Duration) -> Self {
        let first = first.min(max);
        Self {
            first,
            max,
            next: first,
        }
    }

    /// Returns how long to wait before the next attempt, and doubles the wait after it.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        wait
    }

    /// Starts over from the first wait: the last attempt succeeded.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Returns the longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(backoff: &mut Backoff, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| u64::try_from(backoff.next_wait().as_millis()).unwrap())
            .collect()
    }

    #[test]
    fn waits_start_at_ten_milliseconds_and_double_up_to_one_second() {
        let mut backoff = Backoff::default();
        assert_eq!(
            waits(&mut backoff, 10),
            [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]
        );
    }

    #[test]
    fn a_reset_starts_over_from_the_first_wait() {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
        assert_eq!(waits(&mut backoff, 5), [250, 500, 1000, 2000, 2000]);
        backoff.reset();
        assert_eq!(waits(&mut backoff, 2), [250, 500]);
    }

    #[test]
    fn a_first_wait_above_the_cap_is_lowered_to_it() {
        let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(waits(&mut backoff, 3), [1000, 1000, 1000]);
        assert_eq!(backoff.max(), Duration::from_secs(1));
    }

    #[test]
    fn huge_caps_never_overflow() {
        let mut backoff = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        for _ in 0..200 {
            assert!(backoff.next_wait() <= Duration::MAX);
        }
        assert_eq!(backoff.next_wait(), Duration::MAX);
    }
}
