//! The sentences of a report shared by every format: the table entries (`mean ± std`, mark,
//! `(n=k/E)`), the caption and the lines under the tables (rank test, Pareto frontier,
//! DD-Ranking, teacher). Imports only the model and the formatting helpers.

use crate::report::fmt::{budget_header, human_bytes, opt, p_eq, pct, short};
use crate::report::model::{Aggregate, Report, BASELINE, NEMENYI_ALPHA};
use std::collections::BTreeSet;

impl Report {
    /// Text of one table entry: `mean ± std` in %, the mark, and `(n=k/E)` when fewer seeds
    /// than expected finished (`, j failed` when some failed); `failed` when none finished.
    pub fn entry(&self, c: &Aggregate) -> String {
        self.entry_with(c, |s| s.to_string())
    }

    pub(crate) fn entry_with(&self, c: &Aggregate, mark: impl Fn(&str) -> String) -> String {
        let mut s = match &c.summary {
            None => {
                return if c.failed > 0 {
                    format!("failed (n=0/{})", self.expected_seeds.max(c.failed))
                } else {
                    "—".into()
                }
            }
            Some(sm) => match sm.std {
                Some(sd) => format!("{} ± {}", pct(sm.mean), pct(sd)),
                None => pct(sm.mean),
            },
        };
        if let Some(v) = &c.vs_random {
            if !v.mark.is_empty() {
                s.push_str(&mark(v.mark));
            }
        }
        s.push_str(&self.n_note(c));
        s.push_str(&Self::flags(c));
        s
    }

    /// ` (diverged)` and ` (below chance)` after an entry whose cells say so; the notes under
    /// the table ([`Report::cell_notes`]) explain them.
    pub(crate) fn flags(c: &Aggregate) -> String {
        let mut s = String::new();
        if !c.diverged.is_empty() {
            s.push_str(" (diverged)");
        }
        if c.below_chance.is_some() {
            s.push_str(" (below chance)");
        }
        s
    }

    /// One note per flagged entry: which seeds diverged and at which epoch; which entries are
    /// clearly below chance, by the stated rule, with the most predicted class per true class.
    pub fn cell_notes(&self) -> Vec<String> {
        let mut v = Vec::new();
        for c in self.ordered_cells() {
            if !c.diverged.is_empty() {
                v.push(format!(
                    "(diverged) {} at {}: {}; the accuracy shown is that of the diverged network (included in the mean).",
                    c.method,
                    budget_header(&c.budget),
                    c.diverged
                        .iter()
                        .map(|(seed, e)| format!("seed {seed}: training diverged at epoch {e}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(b) = &c.below_chance {
                let detail = if b.most_predicted.is_empty() {
                    "these records carry no confusion matrix".to_string()
                } else {
                    format!(
                        "most predicted class per true class (confusion matrices summed over seeds): {}; per-class top-1 (%): {}",
                        b.most_predicted
                            .iter()
                            .enumerate()
                            .map(|(t, p)| format!("{t}→{p}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        b.per_class_top1
                            .iter()
                            .map(|a| format!("{:.0}", a * 100.0))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                };
                v.push(format!(
                    "(below chance) {} at {}: mean top-1 {}% is below chance ({}% = 1/{} classes) by more than 2 standard errors (mean + 2 SE = {}%): the student systematically predicts wrong classes; {detail}.",
                    c.method,
                    budget_header(&c.budget),
                    pct(c.mean().unwrap_or(f64::NAN)),
                    pct(b.chance),
                    self.classes,
                    pct(b.upper),
                ));
            }
        }
        v
    }

    pub(crate) fn n_note(&self, c: &Aggregate) -> String {
        if c.n < self.expected_seeds || c.failed > 0 {
            format!(
                " (n={}/{}{})",
                c.n,
                self.expected_seeds.max(c.n + c.failed),
                if c.failed > 0 {
                    format!(", {} failed", c.failed)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        }
    }

    /// The test wording of the caption.
    pub fn test_used(&self) -> &'static str {
        let tests: BTreeSet<&str> = self
            .cells
            .iter()
            .filter_map(|c| c.vs_random.as_ref().map(|v| v.test))
            .collect();
        match (tests.contains("paired"), tests.contains("welch")) {
            (true, true) => "paired t-test on per-seed differences where the same seeds finished on both sides, Welch's t-test otherwise",
            (true, false) => "paired t-test on per-seed differences (seeds pair the runs)",
            (false, true) => "Welch's t-test",
            _ => "no comparison possible",
        }
    }

    /// The caption under the main table: protocol, dataset, setup, devices, seeds, n, marks.
    pub fn caption(&self) -> String {
        let seeds = match (self.seeds.first(), self.seeds.last()) {
            (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
            (Some(a), _) => format!("{a}"),
            _ => "none".into(),
        };
        let n = if self.n_varies() {
            format!(
                "n = {} seeds per cell expected; cells with fewer finished seeds say (n=finished/expected)",
                self.expected_seeds
            )
        } else {
            format!("n = {} per cell", self.expected_seeds)
        };
        let setup = match &self.setup {
            Some(s) => format!(
                " Student {}, {} labels, {} epochs (reference {}), augmentation {}.",
                s.student, s.labels, s.epochs, s.reference_epochs, s.augment
            ),
            None => String::new(),
        };
        let marks = match self.test_used() {
            "no comparison possible" => format!("No marks: no method here is compared with {BASELINE}."),
            t => format!("Marks: difference from {BASELINE} at the same budget, {t}, Holm-adjusted across the table: * p<.05, ** p<.01, *** p<.001."),
        };
        format!(
            "Protocol {} v{} (hash {}), dataset {} (checksum {}).{setup} Device {}; seeds {seeds} ({n}).\n\
             Top-1 test accuracy (%) at the last epoch, mean ± std over seeds. {marks}",
            self.protocol,
            self.protocol_version,
            short(&self.protocol_hash),
            self.dataset,
            short(&self.dataset_checksum),
            if self.devices.is_empty() {
                "unknown".into()
            } else {
                self.devices.join(", ")
            },
        )
    }

    /// The Friedman / Iman–Davenport / Nemenyi line.
    pub fn rank_test_line(&self) -> String {
        match &self.rank_test {
            Some(f) => {
                // At perfect agreement the F approximation is undefined (F = ∞); the stats crate
                // then returns the exact permutation p of every budget ranking alike.
                let (f_text, f_p_text) = if f.f_stat.is_finite() {
                    (format!("{:.3}", f.f_stat), p_eq(f.f_p))
                } else {
                    (
                        "∞".to_string(),
                        format!(
                            "every budget ranks the methods alike, exact permutation {}",
                            p_eq(f.f_p)
                        ),
                    )
                };
                format!(
                    "Friedman test over {} budgets × {} methods ({}): χ²_F = {:.3} (df {}, {}); Iman–Davenport F_F = {} (df {}, {}; {}); Nemenyi CD (α = {NEMENYI_ALPHA}) = {}.",
                    f.n_blocks,
                    f.k,
                    f.methods.join(", "),
                    f.chi2,
                    f.chi2_df,
                    p_eq(f.chi2_p),
                    f_text,
                    f.f_df1,
                    f.f_df2,
                    f_p_text,
                    opt(f.nemenyi_cd, |c| format!("{c:.3} in average rank")),
                )
            }
            None => self
                .rank_test_note
                .clone()
                .unwrap_or_else(|| "Friedman test not computed.".into()),
        }
    }

    /// The accuracy-vs-storage Pareto frontier in one line.
    pub fn pareto_line(&self) -> String {
        if self.pareto.is_empty() {
            return "Pareto frontier (accuracy vs total bytes): no cell with storage figures."
                .into();
        }
        format!(
            "Pareto frontier (accuracy vs total bytes of images + labels): {}.",
            self.pareto
                .iter()
                .map(|p| format!(
                    "{} @ {} ({}, {}%)",
                    p.method,
                    budget_header(&p.budget),
                    human_bytes(p.mean_total_bytes),
                    pct(p.mean_accuracy)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        )
    }

    /// The DD-Ranking definitions and the label gain in one line.
    pub fn dd_line(&self) -> String {
        let has_full = self.cells.iter().any(|c| c.hlr.is_some());
        format!(
            "DD-Ranking on fractions (shown in points): IOR = acc − acc(random) at the same budget{}. \
             Label gain (soft − hard): {}.",
            if has_full {
                "; HLR = acc(full) − acc; LRS = N(½·IOR − ½·HLR) × 100"
            } else {
                "; HLR / LRS need a `full` reference row (none here)"
            },
            match (&self.label_gain, self.setup.as_ref().map(|s| s.labels.as_str())) {
                (Some(g), _) if !g.is_empty() => format!(
                    "{} (hard-label side: {})",
                    g.iter()
                        .map(|g| format!(
                            "{} @ {} {:+.2} ({:.2} vs {:.2}, n {}/{})",
                            g.method,
                            budget_header(&g.budget),
                            g.gain * 100.0,
                            g.acc_labels * 100.0,
                            g.acc_hard * 100.0,
                            g.n_labels,
                            g.n_hard
                        ))
                        .collect::<Vec<_>>()
                        .join("; "),
                    self.label_gain_source.as_deref().unwrap_or("?")
                ),
                (_, Some("soft" | "native")) => {
                    "no hard-label results of this dataset found next to these (pass --hard-label DIR)"
                        .to_string()
                }
                _ => "not reported, this protocol trains on hard labels only".to_string(),
            }
        )
    }

    /// The teachers the labels came from, with their own accuracy (soft/native protocols).
    pub fn teacher_line(&self) -> Option<String> {
        if self.teachers.is_empty() {
            return None;
        }
        Some(format!(
            "Teacher: {}.",
            self.teachers
                .iter()
                .map(|t| format!(
                    "{} ({}), val {:.2}%, test {:.2}%, {} of parameters",
                    &t.key[..12.min(t.key.len())],
                    t.model,
                    t.val_acc * 100.0,
                    t.test_acc * 100.0,
                    human_bytes(t.parameter_bytes as f64)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }

    /// The lines under the tables: rank test, Pareto, DD-Ranking, teacher.
    pub(crate) fn footer_lines(&self) -> Vec<String> {
        let mut v = self.cell_notes();
        v.extend([self.rank_test_line(), self.pareto_line(), self.dd_line()]);
        v.extend(self.teacher_line());
        v
    }
}
