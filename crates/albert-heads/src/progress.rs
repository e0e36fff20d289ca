//! Progress of long work (fine-tuning, scoring a file, batch inference): an indicatif bar with a
//! message (loss, throughput) when stderr is a terminal, a plain line every few updates
//! otherwise (logs stay readable), nothing when disabled.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display over `total` units.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    total: u64,
    /// Print a plain line every this many units (when there is no bar).
    line_every: u64,
    last_line: u64,
    start: Instant,
    start_pos: u64,
}

impl Progress {
    /// A display for `total` units of which `done` are already behind (a resumed run); `what`
    /// names the units (`steps`, `examples`). A bar on a terminal, else a line every
    /// `line_every` units.
    pub fn new(enabled: bool, total: u64, done: u64, what: &str, line_every: u64) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(&format!(
                    "{{bar:30}} {{pos}}/{{len}} {what} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_position(done);
            b
        });
        Self {
            bar,
            enabled,
            total,
            line_every: line_every.max(1),
            last_line: done,
            start: Instant::now(),
            start_pos: done,
        }
    }

    /// Units per second since the display started (resumed units not counted).
    pub fn rate(&self, pos: u64) -> f64 {
        pos.saturating_sub(self.start_pos) as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Moves to `pos` with `message` (built only when shown).
    pub fn update(&mut self, pos: u64, message: impl FnOnce() -> String) {
        match &self.bar {
            Some(b) => {
                b.set_position(pos);
                b.set_message(message());
            }
            None if self.enabled
                && (pos >= self.last_line + self.line_every || pos == self.total) =>
            {
                self.last_line = pos;
                eprintln!("{pos}/{}: {}", self.total, message());
            }
            None => {}
        }
    }

    /// Prints a line above the bar (or on stderr).
    pub fn println(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(b) => b.println(line.as_ref()),
            None if self.enabled => eprintln!("{}", line.as_ref()),
            None => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
