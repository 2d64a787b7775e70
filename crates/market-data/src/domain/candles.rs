//! Candles: open, high, low, close and tick count per symbol and interval, in simulated time, aligned
//! to whole intervals since the Unix epoch (a 1h candle opens on the hour, UTC).

use std::{collections::VecDeque, fmt, time::Duration};

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

/// How many candles of each interval an instance keeps: also the largest `limit` a query may ask.
pub const KEPT: usize = 1_000;

/// A candle interval, from one second to one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Interval {
    /// `1s`
    S1,
    /// `5s`
    S5,
    /// `15s`
    S15,
    /// `1m`
    M1,
    /// `5m`
    M5,
    /// `15m`
    M15,
    /// `1h`
    H1,
    /// `4h`
    H4,
    /// `1d`
    D1,
}

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 9] = [
        Interval::S1,
        Interval::S5,
        Interval::S15,
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
        Interval::H4,
        Interval::D1,
    ];

    /// Returns the interval's position in [`Interval::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the interval's name (`1m`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::S5 => "5s",
            Interval::S15 => "15s",
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
            Interval::H4 => "4h",
            Interval::D1 => "1d",
        }
    }

    /// Returns the interval's length in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            Interval::S1 => 1,
            Interval::S5 => 5,
            Interval::S15 => 15,
            Interval::M1 => 60,
            Interval::M5 => 300,
            Interval::M15 => 900,
            Interval::H1 => 3_600,
            Interval::H4 => 14_400,
            Interval::D1 => 86_400,
        }
    }

    /// Returns the interval's length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.seconds().unsigned_abs())
    }

    /// Parses an interval name.
    ///
    /// # Errors
    /// Returns a message listing the valid names.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|i| i.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|i| i.as_str()).collect();
            format!("unknown interval '{text}'; use one of {}", names.join(", "))
        })
    }

    /// Returns the start of the interval containing `at`.
    pub fn open_time(self, at: OffsetDateTime) -> OffsetDateTime {
        let secs = at.unix_timestamp();
        let start = secs - secs.rem_euclid(self.seconds());
        OffsetDateTime::from_unix_timestamp(start).unwrap_or(at)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One candle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    /// Start of the interval.
    pub open_time: OffsetDateTime,
    /// First price.
    pub open: Decimal,
    /// Highest price.
    pub high: Decimal,
    /// Lowest price.
    pub low: Decimal,
    /// Last price.
    pub close: Decimal,
    /// Number of ticks.
    pub ticks: u64,
}

/// The most recent candles of one symbol and interval, oldest first.
#[derive(Clone, Debug)]
pub struct CandleSeries {
    interval: Interval,
    candles: VecDeque<Candle>,
}

impl CandleSeries {
    /// An empty series.
    pub fn new(interval: Interval) -> Self {
        Self {
            interval,
            candles: VecDeque::new(),
        }
    }

    /// A series holding `candles` (oldest first), e.g. restored from storage.
    pub fn restored(interval: Interval, candles: impl IntoIterator<Item = Candle>) -> Self {
        let mut series = Self::new(interval);
        for candle in candles {
            series.candles.push_back(candle);
        }
        while series.candles.len() > KEPT {
            series.candles.pop_front();
        }
        series
    }

    /// Records a tick at `at`; returns the candle it updated.
    pub fn record(&mut self, at: OffsetDateTime, price: Decimal) -> Candle {
        let open_time = self.interval.open_time(at);
        match self.candles.back_mut() {
            Some(candle) if candle.open_time == open_time => {
                candle.high = candle.high.max(price);
                candle.low = candle.low.min(price);
                candle.close = price;
                candle.ticks += 1;
                *candle
            }
            // A tick older than the current candle (never in order) is folded into the current one.
            Some(candle) if candle.open_time > open_time => {
                candle.close = price;
                candle.ticks += 1;
                *candle
            }
            _ => {
                let candle = Candle {
                    open_time,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    ticks: 1,
                };
                self.candles.push_back(candle);
                if self.candles.len() > KEPT {
                    self.candles.pop_front();
                }
                candle
            }
        }
    }

    /// Returns the `limit` most recent candles, oldest first.
    pub fn last(&self, limit: usize) -> Vec<Candle> {
        let skip = self.candles.len().saturating_sub(limit);
        self.candles.iter().skip(skip).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn d(v: i64) -> Decimal {
        Decimal::new(v, 0)
    }

    #[test]
    fn intervals_parse_and_align_to_whole_intervals() {
        assert_eq!(Interval::parse("4h").unwrap(), Interval::H4);
        assert!(
            Interval::parse("2m")
                .unwrap_err()
                .contains("1s, 5s, 15s, 1m, 5m, 15m, 1h, 4h, 1d")
        );
        assert_eq!(Interval::M1.open_time(at(125)), at(120));
        assert_eq!(Interval::H1.open_time(at(7_199)), at(3_600));
        assert_eq!(Interval::D1.open_time(at(86_400 * 3 + 5)), at(86_400 * 3));
    }

    #[test]
    fn each_interval_knows_its_place_in_the_list() {
        for (i, interval) in Interval::ALL.into_iter().enumerate() {
            assert_eq!(interval.index(), i, "{interval}");
        }
    }

    #[test]
    fn candles_track_open_high_low_close_and_roll_over() {
        let mut series = CandleSeries::new(Interval::M1);
        series.record(at(60), d(10));
        series.record(at(70), d(14));
        series.record(at(80), d(8));
        let c = series.record(at(119), d(11));
        assert_eq!(
            (c.open, c.high, c.low, c.close, c.ticks),
            (d(10), d(14), d(8), d(11), 4)
        );
        let next = series.record(at(120), d(12));
        assert_eq!((next.open_time, next.open, next.ticks), (at(120), d(12), 1));
        assert_eq!(series.last(10).len(), 2);
        assert_eq!(series.last(1)[0].open_time, at(120));
    }

    #[test]
    fn a_series_keeps_only_the_most_recent_candles() {
        let mut series = CandleSeries::new(Interval::S1);
        for i in 0..(KEPT as i64 + 50) {
            series.record(at(i), d(1));
        }
        let all = series.last(usize::MAX);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0].open_time, at(50));
    }
}
