//! Progress of long work (pretraining, fine-tuning, scoring a file, batch inference): an
//! indicatif bar with a message (loss, throughput) when stderr is a terminal, a plain line every
//! few units otherwise (logs stay readable; `line_every` 0 for none), nothing when disabled.
//! Without a known total the bar is a counter.

use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    total: Option<u64>,
    what: String,
    /// Print a plain line every this many units when there is no bar (0: never).
    line_every: u64,
    last_line: Cell<u64>,
    pos: Cell<u64>,
    start: Instant,
    start_pos: u64,
}

impl Progress {
    /// A display for `total` units (`None`: unknown) of which `done` are already behind (a
    /// resumed run); `what` names the units (`steps`, `examples`). A bar on a terminal, else a
    /// line every `line_every` units (0: none).
    pub fn new(enabled: bool, total: Option<u64>, done: u64, what: &str, line_every: u64) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let (b, template) = match total {
                Some(t) => (
                    ProgressBar::new(t),
                    format!(
                        "{{bar:30}} {{pos}}/{{len}} {what} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}"
                    ),
                ),
                None => (
                    ProgressBar::no_length(),
                    format!("{{spinner}} {{pos}} {what} [{{elapsed_precise}}] {{msg}}"),
                ),
            };
            b.set_style(
                ProgressStyle::with_template(&template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_position(done);
            b
        });
        Self {
            bar,
            enabled,
            total,
            what: what.to_string(),
            line_every,
            last_line: Cell::new(done),
            pos: Cell::new(done),
            start: Instant::now(),
            start_pos: done,
        }
    }

    /// A display that shows nothing.
    pub fn disabled() -> Self {
        Self::new(false, None, 0, "", 0)
    }

    /// Units per second since the display started (resumed units not counted).
    pub fn rate(&self, pos: u64) -> f64 {
        pos.saturating_sub(self.start_pos) as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Moves to `pos` with `message` (built only when shown).
    pub fn update(&self, pos: u64, message: impl FnOnce() -> String) {
        self.pos.set(pos);
        match &self.bar {
            Some(b) => {
                b.set_position(pos);
                b.set_message(message());
            }
            None if self.enabled
                && self.line_every > 0
                && (pos >= self.last_line.get() + self.line_every || Some(pos) == self.total) =>
            {
                self.last_line.set(pos);
                match self.total {
                    Some(t) => eprintln!("{pos}/{t} {}: {}", self.what, message()),
                    None => eprintln!("{pos} {}: {}", self.what, message()),
                }
            }
            None => {}
        }
    }

    /// Moves the bar to `pos` without a message or a line (between two [`Progress::update`]s).
    pub fn set_position(&self, pos: u64) {
        self.pos.set(pos);
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    /// Advances by `n` units, the message saying the throughput.
    pub fn inc(&self, n: u64) {
        let pos = self.pos.get() + n;
        let rate = self.rate(pos);
        self.update(pos, || format!("{rate:.1} {}/s", self.what));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates() {
        let p = Progress::new(false, Some(10), 4, "steps", 2);
        p.inc(3);
        p.inc(1);
        assert_eq!(p.pos.get(), 8);
        assert!(p.rate(8) > 0.0);
        assert_eq!(p.rate(4), 0.0, "resumed units do not count");
        p.set_position(9);
        assert_eq!(p.pos.get(), 9);
        let d = Progress::disabled();
        d.update(5, || unreachable!("a disabled display builds no message"));
    }
}
