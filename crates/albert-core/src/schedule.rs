//! ALBERT's learning-rate schedule (`optimization.py`; pretraining and fine-tuning): linear
//! warmup from 0, then polynomial decay to 0 over the whole run:
//!
//! ```text
//! lr(t) = peak · t / warmup                                   for t < warmup
//! lr(t) = peak · (1 − min(t, total) / total)^power            otherwise
//! ```
//!
//! A pure function of the step, so resuming needs only the step counter.

use serde::{Deserialize, Serialize};

/// Schedule settings.
///
/// ```
/// use albert_core::Schedule;
///
/// let s = Schedule { peak: 1e-3, warmup_steps: 10, total_steps: 100, power: 1.0 };
/// assert_eq!(s.learning_rate(0), 0.0);
/// assert!((s.learning_rate(5) - 5e-4).abs() < 1e-12); // half-way through warmup
/// assert!((s.learning_rate(50) - 5e-4).abs() < 1e-12); // linear decay: 1 − 50/100
/// assert_eq!(s.learning_rate(100), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Schedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warmup steps.
    pub warmup_steps: u64,
    /// Total steps (the decay reaches 0 here).
    pub total_steps: u64,
    /// Decay exponent (ALBERT: 1.0, i.e. linear).
    pub power: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            peak: 0.00176,
            warmup_steps: 3125,
            total_steps: 125_000,
            power: 1.0,
        }
    }
}

impl Schedule {
    /// The learning rate at optimisation step `step` (0-based).
    pub fn learning_rate(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.peak * step as f64 / self.warmup_steps as f64;
        }
        let total = self.total_steps.max(1) as f64;
        let t = (step as f64).min(total);
        self.peak * (1.0 - t / total).powf(self.power)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_polynomial_decay() {
        let s = Schedule {
            peak: 1e-3,
            warmup_steps: 10,
            total_steps: 100,
            power: 1.0,
        };
        assert_eq!(s.learning_rate(0), 0.0);
        assert!((s.learning_rate(5) - 5e-4).abs() < 1e-12);
        assert!((s.learning_rate(10) - 9e-4).abs() < 1e-12); // decay already counts from 0
        assert!((s.learning_rate(55) - 4.5e-4).abs() < 1e-12);
        assert_eq!(s.learning_rate(100), 0.0);
        assert_eq!(s.learning_rate(150), 0.0);
        let squared = Schedule { power: 2.0, ..s };
        assert!((squared.learning_rate(50) - 2.5e-4).abs() < 1e-12);
    }
}
