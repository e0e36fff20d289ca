//! Timing one scenario in one process, and the JSON record that `albert-bench` and
//! `pytorch_bench.py` both print (one object per line) for `cargo xtask bench` to compare.

use std::time::Instant;

pub use albert_testdata::median;
use serde::{Deserialize, Serialize};

use crate::scenario::{Scenario, Workload};

/// One measured scenario in one process. `pytorch_bench.py` writes the same fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// `burn` or `pytorch`.
    pub implementation: String,
    /// Backend / device: `cpu` (flex), `wgpu`, `cuda`, or PyTorch's `cpu`.
    pub device: String,
    /// `tiny-infer-32x128`, `tokenize`, `instances`, ...
    pub scenario: String,
    /// Seconds of every timed iteration, in order (after the warm-up ones).
    pub seconds: Vec<f64>,
    /// Median of `seconds`.
    pub median_s: f64,
    /// Work units per iteration: sequences for model scenarios, tokens or instances otherwise.
    pub units: f64,
    /// What `units` counts: `sequences`, `tokens`, `instances`.
    pub unit: String,
    /// Tokens per iteration (sequences × length for model scenarios).
    pub tokens: f64,
    /// Matmul FLOPs per iteration (0 where not meaningful).
    pub flops: f64,
    /// Peak resident set of the process (`VmHWM`), MiB; `None` where it cannot be read.
    pub peak_rss_mib: Option<f64>,
    /// Last training loss (a finite value shows the step really ran), if any.
    pub loss: Option<f64>,
    /// For a bf16 run on the CPU, how the products ran: `amx`, `native` (AVX512-BF16),
    /// `emulated` or `f32-gemm` (the float32 `gemm` on rounded operands: `ALBERT_BF16_GEMM`
    /// unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16_path: Option<String>,
    /// For an int8 run on the CPU, how the products ran: `vnni` (AVX512-VNNI), `emulated`
    /// (AVX-512BW) or `portable` (`ALBERT_INT8_GEMM` forces one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8_path: Option<String>,
}

impl Record {
    /// A record of this process's measurement: `seconds` per iteration, each doing `units` of
    /// `unit` over `tokens` tokens; the median and the peak RSS so far are filled in. No FLOP
    /// count or loss: model scenarios set those.
    pub fn burn(
        device: &str,
        scenario: String,
        seconds: Vec<f64>,
        (units, unit): (f64, &str),
        tokens: f64,
    ) -> Self {
        Self {
            implementation: "burn".into(),
            device: device.into(),
            scenario,
            median_s: median(&seconds),
            seconds,
            units,
            unit: unit.into(),
            tokens,
            flops: 0.0,
            peak_rss_mib: peak_rss_mib(),
            loss: None,
            bf16_path: None,
            int8_path: None,
        }
    }
}

/// Peak resident set size of this process in MiB (`VmHWM` of `/proc/self/status`, Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Times `iters` calls of `f` after `warmup` untimed ones; returns the seconds of each.
pub fn time_iterations(warmup: usize, iters: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// Runs a model scenario on `device_name`'s device: builds the workload, warms up, times.
pub fn run_model(
    scenario: Scenario,
    device: &burn::tensor::Device,
    device_name: &str,
    warmup: usize,
    iters: usize,
) -> Record {
    let mut workload = Workload::new(scenario, device);
    let mut loss = f32::NAN;
    let seconds = time_iterations(warmup, iters, || loss = workload.step());
    Record {
        flops: scenario.flops(),
        loss: (!loss.is_nan()).then_some(f64::from(loss)),
        ..Record::burn(
            device_name,
            scenario.name(),
            seconds,
            (scenario.batch as f64, "sequences"),
            (scenario.batch * scenario.seq) as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let mib = peak_rss_mib().expect("VmHWM");
            assert!(mib > 1.0 && mib < 1e6, "{mib}");
        }
    }
}
