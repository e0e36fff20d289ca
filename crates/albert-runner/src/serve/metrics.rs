//! The server's counters, rendered as Prometheus text (`GET /metrics`): requests by route and
//! status, inputs, queue depth, batch sizes and request latency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A cumulative histogram with fixed upper bounds.
#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        for (c, &b) in self.counts.iter_mut().zip(self.bounds) {
            if v <= b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(self.bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

const LATENCY_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Debug)]
struct Counters {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    batch_size: Histogram,
    inputs: BTreeMap<&'static str, u64>,
}

/// Everything `/metrics` reports (shared by the HTTP side and the batching worker).
#[derive(Debug)]
pub struct Metrics {
    counters: Mutex<Counters>,
    /// Jobs waiting for the model.
    pub queue_depth: AtomicUsize,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            counters: Mutex::new(Counters {
                requests: BTreeMap::new(),
                latency: BTreeMap::new(),
                batch_size: Histogram::new(BATCH_BOUNDS),
                inputs: BTreeMap::new(),
            }),
            queue_depth: AtomicUsize::new(0),
        }
    }
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Counters) -> T) -> T {
        // A panic elsewhere while the lock was held leaves plain counters: still usable.
        let mut guard = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// One finished request to `route` with `status`, after `seconds`.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        self.with(|c| {
            *c.requests.entry((route, status)).or_default() += 1;
            c.latency
                .entry(route)
                .or_insert_with(|| Histogram::new(LATENCY_BOUNDS))
                .observe(seconds);
        });
    }

    /// One forward batch of `size` sequences for `route`.
    pub fn batch(&self, route: &'static str, size: usize) {
        self.with(|c| {
            c.batch_size.observe(size as f64);
            *c.inputs.entry(route).or_default() += size as u64;
        });
    }

    /// Requests answered with `status` so far (all routes).
    pub fn requests_with_status(&self, status: u16) -> u64 {
        self.with(|c| {
            c.requests
                .iter()
                .filter(|((_, s), _)| *s == status)
                .map(|(_, n)| n)
                .sum()
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.with(|c| {
            out.push_str(
                "# HELP albert_requests_total HTTP requests answered, by route and status.\n",
            );
            out.push_str("# TYPE albert_requests_total counter\n");
            for ((route, status), n) in &c.requests {
                let _ = writeln!(
                    out,
                    "albert_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
            out.push_str("# HELP albert_inputs_total Sequences run through the model, by route.\n");
            out.push_str("# TYPE albert_inputs_total counter\n");
            for (route, n) in &c.inputs {
                let _ = writeln!(out, "albert_inputs_total{{route=\"{route}\"}} {n}");
            }
            out.push_str(
                "# HELP albert_request_duration_seconds Time from request to response, by route.\n",
            );
            out.push_str("# TYPE albert_request_duration_seconds histogram\n");
            for (route, h) in &c.latency {
                h.render(
                    &mut out,
                    "albert_request_duration_seconds",
                    &format!("route=\"{route}\""),
                );
            }
            out.push_str("# HELP albert_batch_size Sequences per forward batch.\n");
            out.push_str("# TYPE albert_batch_size histogram\n");
            c.batch_size.render(&mut out, "albert_batch_size", "");
        });
        out.push_str("# HELP albert_queue_depth Requests waiting for the model.\n");
        out.push_str("# TYPE albert_queue_depth gauge\n");
        let _ = writeln!(
            out,
            "albert_queue_depth {}",
            self.queue_depth.load(Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.request("classify", 200, 0.003);
        m.request("classify", 200, 0.2);
        m.request("classify", 422, 0.0001);
        m.batch("classify", 3);
        m.queue_depth.store(2, Ordering::Relaxed);
        let text = m.render();
        for line in [
            "albert_requests_total{route=\"classify\",status=\"200\"} 2",
            "albert_requests_total{route=\"classify\",status=\"422\"} 1",
            "albert_inputs_total{route=\"classify\"} 3",
            "albert_request_duration_seconds_bucket{route=\"classify\",le=\"0.001\"} 1",
            "albert_request_duration_seconds_bucket{route=\"classify\",le=\"0.005\"} 2",
            "albert_request_duration_seconds_bucket{route=\"classify\",le=\"+Inf\"} 3",
            "albert_request_duration_seconds_count{route=\"classify\"} 3",
            "albert_batch_size_bucket{le=\"2\"} 0",
            "albert_batch_size_bucket{le=\"4\"} 1",
            "albert_batch_size_sum 3",
            "albert_queue_depth 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert_eq!(m.requests_with_status(200), 2);
    }
}
