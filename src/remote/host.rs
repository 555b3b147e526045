//! Host metrics of a remote collector's Linux host, read from `/proc`: CPU use since the
//! previous reading (`/proc/stat`), memory use (`/proc/meminfo`) and the one-minute load
//! (`/proc/loadavg`), as one `host` point.

use std::fmt::Write as _;

/// The measurement host metrics are written as.
pub const MEASUREMENT: &str = "host";

/// Busy and total jiffies of the `cpu` line of `/proc/stat`.
pub fn cpu_jiffies(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    if values.len() < 4 {
        return None;
    }
    let total: u64 = values.iter().sum();
    // idle + iowait are not busy.
    let idle = values[3] + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// `(total, available)` bytes from `/proc/meminfo`.
pub fn memory(meminfo: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// The one-minute load from `/proc/loadavg`.
pub fn load1(loadavg: &str) -> Option<f64> {
    loadavg.split_whitespace().next()?.parse().ok()
}

/// Reads the host and remembers the previous CPU counters.
#[derive(Default)]
pub struct HostReader {
    previous_cpu: Option<(u64, u64)>,
}

impl HostReader {
    /// One line of line protocol (without time), or `None` when `/proc` is unreadable.
    pub fn read(&mut self, hostname: &str) -> Option<String> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
        let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
        Some(self.line(hostname, &stat, &meminfo, &loadavg))
    }

    fn line(&mut self, hostname: &str, stat: &str, meminfo: &str, loadavg: &str) -> String {
        let escaped: String = hostname
            .chars()
            .flat_map(|c| {
                let escape = matches!(c, ' ' | ',' | '=');
                escape.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect();
        let mut fields = Vec::new();
        if let Some((busy, total)) = cpu_jiffies(stat) {
            if let Some((previous_busy, previous_total)) = self.previous_cpu {
                let elapsed = total.saturating_sub(previous_total);
                if elapsed > 0 {
                    let used = busy.saturating_sub(previous_busy) as f64 / elapsed as f64;
                    fields.push(format!("cpu_usage_percent={}", used * 100.0));
                }
            }
            self.previous_cpu = Some((busy, total));
        }
        if let Some((total, available)) = memory(meminfo) {
            fields.push(format!("mem_total={total}i"));
            fields.push(format!("mem_used={}i", total.saturating_sub(available)));
            if total > 0 {
                let used = total.saturating_sub(available) as f64 / total as f64 * 100.0;
                fields.push(format!("mem_used_percent={used}"));
            }
        }
        if let Some(load) = load1(loadavg) {
            fields.push(format!("load1={load}"));
        }
        let mut line = format!("{MEASUREMENT},host={escaped} ");
        let _ = write!(line, "{}", fields.join(","));
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n";
    const STAT_LATER: &str = "cpu  150 0 150 750 150 0 0 0 0 0\n";
    const MEMINFO: &str =
        "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n";

    #[test]
    fn reads_cpu_between_two_readings_memory_and_load() {
        let mut reader = HostReader::default();
        let first = reader.line("edge 1", STAT, MEMINFO, "0.42 0.30 0.10 1/100 7\n");
        assert_eq!(
            first,
            "host,host=edge\\ 1 mem_total=1024000i,mem_used=768000i,mem_used_percent=75,load1=0.42"
        );
        let second = reader.line("edge 1", STAT_LATER, MEMINFO, "0.5 0 0 1/1 1\n");
        // 100 busy jiffies of 200.
        assert!(second.contains("cpu_usage_percent=50,"), "{second}");
    }
}
