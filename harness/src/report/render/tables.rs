//! The tables every format draws, as header and rows of plain text: the main table and the
//! detail table of a report, the table of a comparison, and the notes under it. The formats
//! (terminal, Markdown) only lay them out. Imports the model, the formatting helpers and the
//! shared sentences ([`super::text`]).

use crate::report::fmt::{budget_header, human_bytes, opt, pct, pp, pval};
use crate::report::model::{CompareReport, Report};

impl Report {
    /// Rows of the main table: method, family, one entry per budget, average rank.
    pub(crate) fn main_rows(&self, mark: impl Fn(&str) -> String + Copy) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for m in &self.methods {
            let Some(any) = self.cells.iter().find(|c| &c.method == m) else {
                continue;
            };
            let mut row = vec![m.clone(), any.family.clone()];
            if let Some(r) = self.reference_cell(m) {
                let txt = self.entry_with(r, mark);
                row.extend(self.budgets.iter().map(|_| txt.clone()));
                row.push("reference".into());
            } else {
                for b in &self.budgets {
                    row.push(
                        self.cell(m, b)
                            .map(|c| self.entry_with(c, mark))
                            .unwrap_or_else(|| "—".into()),
                    );
                }
                row.push(opt(self.avg_rank.get(m), |r| format!("{r:.2}")));
            }
            rows.push(row);
        }
        rows
    }

    /// Header of the main table: method, family, one column per budget, average rank.
    pub(crate) fn main_header(&self) -> Vec<String> {
        let mut h = vec!["method".to_string(), "family".into()];
        h.extend(self.budgets.iter().map(|b| budget_header(b)));
        h.push("avg rank".into());
        h
    }

    /// Header of the detail table (one row per (method, budget)).
    pub(crate) const DETAIL_HEADER: [&'static str; 11] = [
        "method",
        "budget",
        "n",
        "mean [95% CI]",
        "Δ vs random [95% CI]",
        "p (Holm)",
        "IOR",
        "HLR",
        "LRS",
        "total bytes",
        "Pareto",
    ];

    /// Rows of the detail table, in table order.
    pub(crate) fn detail_rows(&self) -> Vec<Vec<String>> {
        self.ordered_cells()
            .into_iter()
            .map(|c| {
                let ci = match &c.summary {
                    Some(s) => match (s.ci_low, s.ci_high) {
                        (Some(l), Some(h)) => format!("{} [{}, {}]", pct(s.mean), pct(l), pct(h)),
                        _ => pct(s.mean),
                    },
                    None if c.failed > 0 => "failed".into(),
                    None => "—".into(),
                };
                let diff = opt(c.vs_random.as_ref(), |v| {
                    format!(
                        "{} [{}, {}] {}",
                        pp(v.diff),
                        pp(v.ci_low),
                        pp(v.ci_high),
                        v.test
                    )
                });
                let p = opt(c.vs_random.as_ref(), |v| {
                    format!("{}{}", pval(v.p_holm), v.mark)
                });
                vec![
                    c.method.clone(),
                    if c.is_reference() {
                        "full".into()
                    } else {
                        budget_header(&c.budget)
                    },
                    format!("{}/{}", c.n, self.expected_seeds.max(c.n + c.failed)),
                    ci,
                    diff,
                    p,
                    opt(c.ior, pp),
                    opt(c.hlr, pp),
                    opt(c.lrs, |v| format!("{:.2}", v * 100.0)),
                    opt(c.mean_total_bytes, human_bytes),
                    if c.pareto {
                        "yes".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect()
    }
}

impl CompareReport {
    /// Header of the comparison table.
    pub(crate) const HEADER: [&'static str; 7] = [
        "method",
        "budget",
        "A (n)",
        "B (n)",
        "B − A [95% CI]",
        "test",
        "p (Holm)",
    ];

    /// One row per compared (method, budget).
    pub(crate) fn table_rows(&self) -> Vec<Vec<String>> {
        let side = |m: Option<f64>, n: usize, failed: usize, v: &str| {
            let mut s = match m {
                Some(m) => format!("{} (n={n}", pct(m)),
                None => "failed (n=0".to_string(),
            };
            if failed > 0 {
                s.push_str(&format!(", {failed} failed"));
            }
            s.push(')');
            if !v.is_empty() {
                s.push_str(&format!(" v{v}"));
            }
            s
        };
        let same_versions = self
            .rows
            .iter()
            .all(|r| r.plugin_version_a == r.plugin_version_b);
        self.rows
            .iter()
            .map(|r| {
                let (va, vb) = if same_versions {
                    ("", "")
                } else {
                    (r.plugin_version_a.as_str(), r.plugin_version_b.as_str())
                };
                vec![
                    r.method.clone(),
                    if r.family == "reference" {
                        "full".into()
                    } else {
                        budget_header(&r.budget)
                    },
                    side(r.mean_a, r.n_a, r.failed_a, va),
                    side(r.mean_b, r.n_b, r.failed_b, vb),
                    r.diff
                        .as_ref()
                        .map(|d| format!("{} [{}, {}]", pp(d.diff), pp(d.ci_low), pp(d.ci_high)))
                        .unwrap_or_else(|| "— (needs n ≥ 2 a side)".into()),
                    r.diff
                        .as_ref()
                        .map(|d| d.test.to_string())
                        .unwrap_or_default(),
                    r.diff
                        .as_ref()
                        .map(|d| format!("{}{}", pval(d.p_holm), d.mark))
                        .unwrap_or_default(),
                ]
            })
            .collect()
    }

    /// The lines under the table: what A and B are, the test, one-sided cells, warnings.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut v = vec![format!(
            "A = {} (device {}); B = {} (device {}). Differences B − A in accuracy points with 95% t-intervals; \
             paired t-test by seed where both sides finished the same seeds, Welch's t-test otherwise; \
             p Holm-adjusted across the {} comparisons: * p<.05, ** p<.01, *** p<.001.",
            self.a,
            self.devices_a.join(", "),
            self.b,
            self.devices_b.join(", "),
            self.rows.iter().filter(|r| r.diff.is_some()).count()
        )];
        let list = |xs: &[(String, String)]| {
            xs.iter()
                .map(|(m, b)| format!("{m} @ {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.only_a.is_empty() {
            v.push(format!("Only in A: {}.", list(&self.only_a)));
        }
        if !self.only_b.is_empty() {
            v.push(format!("Only in B: {}.", list(&self.only_b)));
        }
        v.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        v
    }
}
