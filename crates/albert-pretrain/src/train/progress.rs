//! What a pretraining run shows and logs while it trains: a progress bar on a terminal (a line
//! per log interval otherwise: [`albert_core::progress::Progress`]), and the train records
//! averaged over each log interval.

use std::time::Instant;

use super::session::StepOutcome;
use super::{MetricsRecord, Window};
use crate::data::SentenceTask;

/// The run's progress display and its current log interval.
pub(super) struct Progress {
    /// The bar, or the lines of a log.
    display: albert_core::progress::Progress,
    /// Metrics summed since the last train record.
    window: Window,
    /// When that interval started.
    window_start: Instant,
}

impl Progress {
    /// A display for a run of `total` steps, `done` of which are behind it (a resumed run).
    pub(super) fn new(enabled: bool, total: u64, done: u64) -> Self {
        Self {
            // One line per train record where there is no bar (`report` is called once per
            // log interval).
            display: albert_core::progress::Progress::new(enabled, Some(total), done, "steps", 1),
            window: Window::default(),
            window_start: Instant::now(),
        }
    }

    /// Adds a step's shards to the current interval.
    pub(super) fn add(&mut self, outcome: &StepOutcome) {
        for (metrics, tokens) in &outcome.shards {
            self.window.add(metrics, *tokens);
        }
    }

    /// Closes the interval ending at `step`, whose last step was `outcome`: its train record,
    /// also shown on the bar or as a line.
    pub(super) fn report(
        &mut self,
        step: u64,
        outcome: &StepOutcome,
        task: SentenceTask,
    ) -> MetricsRecord {
        let seconds = self.window_start.elapsed().as_secs_f64().max(1e-9);
        let per_second = self.window.sequences / seconds;
        let mut r = self.window.record("train", step, task);
        r.learning_rate = Some(outcome.learning_rate);
        r.grad_norm = Some(outcome.grad_norm);
        r.sequences_per_second = Some(per_second);
        r.tokens_per_second = Some(self.window.tokens / seconds);
        self.display.update(step, || {
            format!(
                "loss {:.4} mlm acc {:.3} sop acc {:.3} lr {:.2e} {per_second:.1} seq/s",
                r.loss, r.masked_lm_accuracy, r.sentence_order_accuracy, outcome.learning_rate
            )
        });
        self.window = Window::default();
        self.window_start = Instant::now();
        r
    }

    /// Shows a held-out evaluation.
    pub(super) fn eval(&self, r: &MetricsRecord) {
        let line = format!(
            "eval at step {}: loss {:.4} mlm acc {:.3} (unigram baseline {:.3}) sop acc {:.3}",
            r.step,
            r.loss,
            r.masked_lm_accuracy,
            r.masked_lm_unigram_baseline.unwrap_or(f64::NAN),
            r.sentence_order_accuracy
        );
        self.display.println(line);
    }

    /// Moves the bar to `step`.
    pub(super) fn advance(&self, step: u64) {
        self.display.set_position(step);
    }

    /// Removes the bar.
    pub(super) fn finish(&self) {
        self.display.finish();
    }
}
