//! Process metrics read from `/proc/self` at scrape time, with the standard names:
//! `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_open_fds`, `process_max_fds`, `process_threads`, `process_start_time_seconds`.
//! Every instance of a process reports the same values (they describe the process, not the instance).
//! On systems without `/proc` the families are simply absent.

use std::sync::OnceLock;

use prometheus::{
    Counter, Gauge, IntGauge, Opts,
    core::{Collector, Desc},
    proto::MetricFamily,
};

pub(super) struct ProcessCollector {
    cpu: Counter,
    resident: IntGauge,
    virtual_memory: IntGauge,
    open_fds: IntGauge,
    max_fds: IntGauge,
    threads: IntGauge,
    start_time: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    pub(super) fn new() -> Result<Self, prometheus::Error> {
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ))?;
        let resident = IntGauge::with_opts(Opts::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        ))?;
        let virtual_memory = IntGauge::with_opts(Opts::new(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        ))?;
        let open_fds =
            IntGauge::with_opts(Opts::new("process_open_fds", "Number of open file descriptors."))?;
        let max_fds = IntGauge::with_opts(Opts::new(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        ))?;
        let threads = IntGauge::with_opts(Opts::new(
            "process_threads",
            "Number of OS threads in the process.",
        ))?;
        let start_time = Gauge::with_opts(Opts::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        ))?;
        let mut descs = Vec::new();
        for collector in [
            &cpu as &dyn Collector,
            &resident,
            &virtual_memory,
            &open_fds,
            &max_fds,
            &threads,
            &start_time,
        ] {
            descs.extend(collector.desc().into_iter().cloned());
        }
        Ok(Self {
            cpu,
            resident,
            virtual_memory,
            open_fds,
            max_fds,
            threads,
            start_time,
            descs,
        })
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(stat) = read_stat() else {
            return Vec::new();
        };
        let units = units();
        let cpu = (stat.utime + stat.stime) as f64 / units.ticks_per_second;
        let delta = cpu - self.cpu.get();
        if delta > 0.0 {
            self.cpu.inc_by(delta);
        }
        self.resident.set(stat.rss_pages * units.page_size);
        self.virtual_memory.set(stat.vsize);
        self.threads.set(stat.threads);
        if let Some(boot) = units.boot_time {
            self.start_time
                .set(boot as f64 + stat.start_ticks as f64 / units.ticks_per_second);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(fds.count() as i64);
        }
        if let Some(max) = max_open_files() {
            self.max_fds.set(max);
        }
        let mut families = Vec::with_capacity(7);
        for collector in [
            &self.cpu as &dyn Collector,
            &self.resident,
            &self.virtual_memory,
            &self.open_fds,
            &self.max_fds,
            &self.threads,
            &self.start_time,
        ] {
            families.extend(collector.collect());
        }
        families
    }
}

struct Stat {
    utime: u64,
    stime: u64,
    threads: i64,
    start_ticks: u64,
    vsize: i64,
    rss_pages: i64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may contain spaces and parentheses, so
/// fields are counted from the last `)`.
fn read_stat() -> Option<Stat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `fields[0]` is field 3 (state) of proc(5).
    let field = |n: usize| fields.get(n - 3)?.parse::<i64>().ok();
    Some(Stat {
        utime: u64::try_from(field(14)?).ok()?,
        stime: u64::try_from(field(15)?).ok()?,
        threads: field(20)?,
        start_ticks: u64::try_from(field(22)?).ok()?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

fn max_open_files() -> Option<i64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Units {
    ticks_per_second: f64,
    page_size: i64,
    boot_time: Option<u64>,
}

fn units() -> &'static Units {
    static UNITS: OnceLock<Units> = OnceLock::new();
    UNITS.get_or_init(|| {
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse().ok())
        });
        let (ticks, page) = sysconf_units();
        Units {
            ticks_per_second: ticks,
            page_size: page,
            boot_time,
        }
    })
}

#[allow(unsafe_code)]
fn sysconf_units() -> (f64, i64) {
    // SAFETY: sysconf only reads system constants; it has no preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (
        if ticks > 0 { ticks as f64 } else { 100.0 },
        if page > 0 { page } else { 4096 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reports_this_process() {
        let collector = ProcessCollector::new().unwrap();
        let families = collector.collect();
        let names: Vec<_> = families.iter().map(|f| f.name().to_owned()).collect();
        for expected in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(
            collector.resident.get() > 1_000_000,
            "resident memory {}",
            collector.resident.get()
        );
        assert!(collector.open_fds.get() > 0);
        let start = collector.start_time.get();
        let now = crate::clock::wall_now().unix_timestamp() as f64;
        assert!(
            start > now - 3600.0 && start <= now + 1.0,
            "start {start} now {now}"
        );
    }
}
