//! The report's bf16 table.

use std::fmt::Write as _;

use super::*;

impl Report<'_> {
    /// The bf16 rows side by side with our float32 and PyTorch's two fast CPU modes (bf16
    /// autocast, dynamic int8), when bf16 was measured.
    pub(super) fn bf16_table(&self, s: &mut String) {
        let mut rows = Vec::new();
        for sc in self.model_scenarios() {
            for d in self.devices {
                let Some(b) = self.find(&sc, "burn-bf16", d) else {
                    continue;
                };
                let mut cells = vec![
                    self.find(&sc, "burn", d)
                        .map_or("–".into(), |f| fmt_num(f.median_s * 1e3)),
                    fmt_num(b.median_s * 1e3),
                ];
                for theirs in ["burn", "pytorch-bf16", "pytorch-int8"] {
                    let side = self.find(&sc, theirs, d);
                    if theirs != "burn" {
                        cells.push(side.map_or("–".into(), |p| fmt_num(p.median_s * 1e3)));
                    }
                    cells.push(side.map_or("–".into(), |_| {
                        let r = paired(self.records, &sc, d, "median_s", ("burn-bf16", theirs));
                        format!("{r:.2}×")
                    }));
                }
                rows.push(format!("| {sc} | {d} | {} |", cells.join(" | ")));
            }
        }
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "\nbf16 (ours: `--precision bf16`, bf16 operands and f32 accumulation) against our \
             float32 and PyTorch's fast CPU modes; each ratio is our bf16 speed ÷ that column's, \
             paired as above (> 1: ours is faster).\n"
        );
        let _ = writeln!(
            s,
            "| scenario | backend | ours fp32 ms | ours bf16 ms | bf16 ÷ fp32 | {} ms | ratio | {} ms | ratio |",
            pytorch_mode("pytorch-bf16"),
            pytorch_mode("pytorch-int8")
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            let _ = writeln!(s, "{r}");
        }
    }
}
