//! Renderings of a [`Report`]: terminal (comfy-table), Markdown, CSV (aggregate and per
//! cell), JSON and LaTeX (booktabs). The CSV columns are documented in `SCHEMA.md` next to
//! this file and on [`AGGREGATE_COLUMNS`] / [`CELL_COLUMNS`].

use super::aggregate::{budget_header, Aggregate, Report, BASELINE, NEMENYI_ALPHA};
use crate::record::{Record, Status};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell as TCell, CellAlignment, Table};
use std::collections::BTreeSet;

/// Accuracy (fraction) as a percentage with two decimals.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}", x * 100.0)
}

/// Difference (fraction) in signed percentage points.
pub(crate) fn pp(x: f64) -> String {
    format!("{:+.2}", x * 100.0)
}

/// `p = 0.0123` or `p < 0.0001`.
pub(crate) fn p_eq(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

pub(crate) fn pval(p: f64) -> String {
    if p < 1e-4 {
        "<0.0001".into()
    } else {
        format!("{p:.4}")
    }
}

/// Bytes in decimal units (`78.5 kB`).
pub fn human_bytes(b: f64) -> String {
    if b < 1e3 {
        format!("{b:.0} B")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

fn short(s: &str) -> &str {
    &s[..12.min(s.len())]
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

impl Report {
    /// Text of one table entry: `mean ± std` in %, the mark, and `(n=k/E)` when fewer seeds
    /// than expected finished (`, j failed` when some failed); `failed` when none finished.
    pub fn entry(&self, c: &Aggregate) -> String {
        self.entry_with(c, |s| s.to_string())
    }

    fn entry_with(&self, c: &Aggregate, mark: impl Fn(&str) -> String) -> String {
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
        s
    }

    fn n_note(&self, c: &Aggregate) -> String {
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

    fn footer_lines(&self) -> Vec<String> {
        let mut v = vec![self.rank_test_line(), self.pareto_line(), self.dd_line()];
        v.extend(self.teacher_line());
        v
    }

    /// Rows of the main table: method, family, one entry per budget, average rank.
    fn main_rows(&self, mark: impl Fn(&str) -> String + Copy) -> Vec<Vec<String>> {
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

    fn main_header(&self) -> Vec<String> {
        let mut h = vec!["method".to_string(), "family".into()];
        h.extend(self.budgets.iter().map(|b| budget_header(b)));
        h.push("avg rank".into());
        h
    }

    /// Cells in table order: methods as in `methods`, budgets as in `budgets`, reference last.
    pub fn ordered_cells(&self) -> Vec<&Aggregate> {
        let mut out = Vec::new();
        for m in &self.methods {
            if let Some(r) = self.reference_cell(m) {
                out.push(r);
                continue;
            }
            for b in &self.budgets {
                if let Some(c) = self.cell(m, b) {
                    out.push(c);
                }
            }
            // Budgets outside `budgets` (none today), kept rather than dropped.
            for c in self.cells.iter().filter(|c| &c.method == m) {
                if !self.budgets.contains(&c.budget) {
                    out.push(c);
                }
            }
        }
        out
    }

    const DETAIL_HEADER: [&'static str; 11] = [
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

    fn detail_rows(&self) -> Vec<Vec<String>> {
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

    /// The terminal tables (no colour; fixed width when `width` is set), caption, test
    /// lines and warnings.
    pub fn terminal(&self, width: Option<u16>) -> String {
        let table = |header: Vec<String>, rows: Vec<Vec<String>>, right_from: usize| {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.force_no_tty();
            if let Some(w) = width {
                t.set_width(w);
            }
            t.set_header(header);
            for r in rows {
                t.add_row(r.into_iter().enumerate().map(|(i, s)| {
                    let c = TCell::new(s);
                    if i >= right_from {
                        c.set_alignment(CellAlignment::Right)
                    } else {
                        c
                    }
                }));
            }
            t.to_string()
        };
        let mut s = table(self.main_header(), self.main_rows(|m| m.to_string()), 2);
        s.push('\n');
        s.push_str(&self.caption());
        s.push('\n');
        s.push_str(&table(
            Self::DETAIL_HEADER.iter().map(|h| h.to_string()).collect(),
            self.detail_rows(),
            2,
        ));
        for l in self.footer_lines() {
            s.push('\n');
            s.push_str(&l);
        }
        for w in &self.warnings {
            s.push_str(&format!("\nwarning: {w}"));
        }
        s
    }

    /// Markdown: the main table, its caption, the detail table and the test lines.
    pub fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|").replace('*', "\\*");
        let md_table = |header: Vec<String>, rows: Vec<Vec<String>>, left: usize| {
            let mut out = format!(
                "| {} |\n|{}\n",
                header
                    .iter()
                    .map(|h| esc(h))
                    .collect::<Vec<_>>()
                    .join(" | "),
                (0..header.len())
                    .map(|i| if i < left { "---|" } else { "---:|" })
                    .collect::<String>()
            );
            for r in rows {
                out.push_str(&format!(
                    "| {} |\n",
                    r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
                ));
            }
            out
        };
        let mut s = format!(
            "**{} v{} on {}**\n\n",
            self.protocol, self.protocol_version, self.dataset
        );
        s.push_str(&md_table(
            self.main_header(),
            self.main_rows(|m| format!("<sup>{m}</sup>")),
            2,
        ));
        s.push('\n');
        s.push_str(&esc(&self.caption().replace('\n', " ")));
        s.push_str("\n\n");
        s.push_str(&md_table(
            Self::DETAIL_HEADER.iter().map(|h| h.to_string()).collect(),
            self.detail_rows(),
            2,
        ));
        s.push('\n');
        for l in self.footer_lines() {
            s.push_str(&format!("- {}\n", esc(&l)));
        }
        if !self.warnings.is_empty() {
            s.push('\n');
            for w in &self.warnings {
                s.push_str(&format!("> warning: {}\n", esc(w)));
            }
        }
        s
    }

    /// A LaTeX `table` with a booktabs `tabular`; marks as superscripts, `(n=k/E)` as a
    /// footnote-size note. Needs `\usepackage{booktabs}`.
    pub fn latex(&self) -> String {
        let esc = |s: &str| {
            s.replace('\\', "\\textbackslash{}")
                .replace('&', "\\&")
                .replace('%', "\\%")
                .replace('_', "\\_")
                .replace('#', "\\#")
                .replace('$', "\\$")
                .replace('{', "\\{")
                .replace('}', "\\}")
        };
        let entry = |c: &Aggregate| -> String {
            let base = match &c.summary {
                None if c.failed > 0 => return "failed".into(),
                None => return "--".into(),
                Some(sm) => match sm.std {
                    Some(sd) => format!("${} \\pm {}", pct(sm.mean), pct(sd)),
                    None => format!("${}", pct(sm.mean)),
                },
            };
            let mark = c
                .vs_random
                .as_ref()
                .filter(|v| !v.mark.is_empty())
                .map(|v| format!("^{{{}}}", v.mark.replace('*', "\\ast")))
                .unwrap_or_default();
            let note = self.n_note(c);
            format!(
                "{base}{mark}${}",
                if note.is_empty() {
                    String::new()
                } else {
                    format!("\\,{{\\footnotesize {}}}", note.trim())
                }
            )
        };
        let cols = format!("ll{}r", "r".repeat(self.budgets.len()));
        let mut s = String::new();
        s.push_str("\\begin{table}[t]\n\\centering\n");
        s.push_str(&format!(
            "\\caption{{{}}}\n",
            esc(&self.caption().replace('\n', " "))
                .replace("±", "$\\pm$")
                .replace("–", "--")
                .replace("*** p<.001", "$^{\\ast\\ast\\ast}\\,p<.001$")
                .replace("** p<.01", "$^{\\ast\\ast}\\,p<.01$")
                .replace("* p<.05", "$^{\\ast}\\,p<.05$")
        ));
        s.push_str(&format!(
            "\\label{{tab:{}-{}}}\n",
            self.protocol
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            self.dataset
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        ));
        s.push_str(&format!("\\begin{{tabular}}{{{cols}}}\n\\toprule\n"));
        let mut header = vec!["Method".to_string(), "Family".into()];
        header.extend(self.budgets.iter().map(|b| esc(&budget_header(b))));
        header.push("Avg.\\ rank".into());
        s.push_str(&format!("{} \\\\\n\\midrule\n", header.join(" & ")));
        let mut ref_started = false;
        for m in &self.methods {
            let Some(any) = self.cells.iter().find(|c| &c.method == m) else {
                continue;
            };
            let mut row = vec![esc(m), esc(&any.family)];
            if let Some(r) = self.reference_cell(m) {
                if !ref_started {
                    s.push_str("\\midrule\n");
                    ref_started = true;
                }
                row.push(format!(
                    "\\multicolumn{{{}}}{{c}}{{{}}}",
                    self.budgets.len(),
                    entry(r)
                ));
                row.push("--".into());
            } else {
                for b in &self.budgets {
                    row.push(self.cell(m, b).map(entry).unwrap_or_else(|| "--".into()));
                }
                row.push(
                    self.avg_rank
                        .get(m)
                        .map(|r| format!("{r:.2}"))
                        .unwrap_or_else(|| "--".into()),
                );
            }
            s.push_str(&format!("{} \\\\\n", row.join(" & ")));
        }
        s.push_str("\\bottomrule\n\\end{tabular}\n");
        s.push_str(&format!(
            "\\par\\smallskip{{\\footnotesize {}}}\n",
            esc(&self.rank_test_line())
                .replace("χ²\\_F", "$\\chi^2_F$")
                .replace("∞", "$\\infty$")
                .replace("F\\_F", "$F_F$")
                .replace("α", "$\\alpha$")
                .replace("×", "$\\times$")
                .replace("–", "--")
        ));
        s.push_str("\\end{table}\n");
        s
    }

    /// The report as pretty JSON (the [`Report`] struct).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// One row per (method, budget) aggregate; columns [`AGGREGATE_COLUMNS`].
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(AGGREGATE_COLUMNS).unwrap();
        let f = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
        for c in self.ordered_cells() {
            let s = c.summary.as_ref();
            let v = c.vs_random.as_ref();
            w.write_record([
                c.method.clone(),
                c.family.clone(),
                c.budget.clone(),
                c.n.to_string(),
                self.expected_seeds.max(c.n + c.failed).to_string(),
                c.failed.to_string(),
                f(s.map(|s| s.mean)),
                f(s.and_then(|s| s.std)),
                f(s.and_then(|s| s.ci_low)),
                f(s.and_then(|s| s.ci_high)),
                f(v.map(|v| v.diff)),
                f(v.map(|v| v.ci_low)),
                f(v.map(|v| v.ci_high)),
                f(v.map(|v| v.p)),
                f(v.map(|v| v.p_holm)),
                v.map(|v| v.test.to_string()).unwrap_or_default(),
                v.map(|v| v.mark.to_string()).unwrap_or_default(),
                f(c.rank),
                f(self.avg_rank.get(&c.method).copied()),
                f(c.ior),
                f(c.hlr),
                f(c.lrs),
                f(c.mean_total_bytes),
                f(c.mean_compress_seconds),
                c.pareto.to_string(),
            ])
            .unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }
}

/// Columns of the aggregate CSV (`bench report DIR --format csv`, `table.csv`), one row per
/// (method, budget) in table order. Accuracies and differences are **fractions** in [0, 1]
/// (not percentages); an empty field means "not available" (e.g. no interval with n = 1).
///
/// | column | type | meaning |
/// |---|---|---|
/// | method, family, budget | string | budget label (`ipc10`, `frac0.1`, `bytes4096`, `full`) |
/// | n | int | finished seeds |
/// | n_expected | int | seeds the grid asked for |
/// | n_failed | int | seeds whose record is `failed` |
/// | mean, std, ci_low, ci_high | float | top-1 accuracy: mean, sample std, 95 % t-interval |
/// | diff_vs_random, diff_ci_low, diff_ci_high | float | mean − random at this budget, 95 % interval |
/// | p, p_holm | float | two-sided p of that difference; Holm-adjusted across the table |
/// | test | string | `paired` or `welch` (empty: no comparison) |
/// | mark | string | `*`, `**`, `***` from p_holm, or empty |
/// | rank | float | rank of the mean among competing methods at this budget (1 = best) |
/// | avg_rank | float | the method's average rank over complete budgets |
/// | ior, hlr, lrs | float | DD-Ranking scores (fractions; lrs in [0, 1]) |
/// | mean_total_bytes | float | mean stored bytes (images + labels) |
/// | mean_compress_seconds | float | mean time the method took to compress |
/// | pareto | bool | `true` when on the accuracy-vs-bytes Pareto frontier |
pub const AGGREGATE_COLUMNS: [&str; 25] = [
    "method",
    "family",
    "budget",
    "n",
    "n_expected",
    "n_failed",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "diff_vs_random",
    "diff_ci_low",
    "diff_ci_high",
    "p",
    "p_holm",
    "test",
    "mark",
    "rank",
    "avg_rank",
    "ior",
    "hlr",
    "lrs",
    "mean_total_bytes",
    "mean_compress_seconds",
    "pareto",
];

/// Numeric columns of [`AGGREGATE_COLUMNS`] (parse as f64 when not empty).
pub const AGGREGATE_NUMERIC: [&str; 19] = [
    "n",
    "n_expected",
    "n_failed",
    "mean",
    "std",
    "ci_low",
    "ci_high",
    "diff_vs_random",
    "diff_ci_low",
    "diff_ci_high",
    "p",
    "p_holm",
    "rank",
    "avg_rank",
    "ior",
    "hlr",
    "lrs",
    "mean_total_bytes",
    "mean_compress_seconds",
];

/// Columns of the per-cell CSV (`bench report DIR --format csv --per-cell`, `cells.csv`),
/// one row per cell record sorted by cell id.
///
/// | column | type | meaning |
/// |---|---|---|
/// | cell_id, method, family, budget | string | budget is the label (`ipc10`, `full`) |
/// | seed | int | the run seed (repeat index) |
/// | seed_selection, seed_init, seed_order, seed_augment | int (u64) | the derived seeds |
/// | status | string | `ok` or `failed` |
/// | accuracy, top5 | float | test accuracy fraction (empty when failed) |
/// | device | string | `cpu`, `cuda:0`, … |
/// | deterministic | bool | bit-identical per seed (CPU) |
/// | protocol, protocol_version, protocol_hash, dataset, dataset_checksum | string | provenance |
/// | plugin_version, distillery_version | string | versions |
/// | images, image_bytes, label_bytes, total_bytes | int | storage of the compressed set |
/// | compress_seconds, train_seconds, total_seconds | float | timings |
/// | error | string | first line of the error, failed cells only |
pub const CELL_COLUMNS: [&str; 30] = [
    "cell_id",
    "method",
    "family",
    "budget",
    "seed",
    "seed_selection",
    "seed_init",
    "seed_order",
    "seed_augment",
    "status",
    "accuracy",
    "top5",
    "device",
    "deterministic",
    "protocol",
    "protocol_version",
    "protocol_hash",
    "dataset",
    "dataset_checksum",
    "plugin_version",
    "distillery_version",
    "images",
    "image_bytes",
    "label_bytes",
    "total_bytes",
    "compress_seconds",
    "train_seconds",
    "total_seconds",
    "error",
    "cached_from",
];

/// One row per record, columns [`CELL_COLUMNS`], sorted by cell id.
pub fn cells_csv(records: &[Record]) -> String {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.cell_id.cmp(&b.cell_id));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CELL_COLUMNS).unwrap();
    for r in sorted {
        let st = r.storage.as_ref();
        let ev = r.evaluation.as_ref().filter(|_| r.status == Status::Ok);
        let o = |v: Option<String>| v.unwrap_or_default();
        w.write_record([
            r.cell_id.clone(),
            r.method.clone(),
            r.family.clone(),
            r.budget_label.clone(),
            r.seed.to_string(),
            r.seeds.selection.to_string(),
            r.seeds.init.to_string(),
            r.seeds.order.to_string(),
            r.seeds.augment.to_string(),
            match r.status {
                Status::Ok => "ok".into(),
                Status::Failed => "failed".into(),
            },
            o(ev.map(|e| e.top1.to_string())),
            o(ev.map(|e| e.top5.to_string())),
            r.device.clone(),
            r.deterministic.to_string(),
            r.protocol.name.clone(),
            r.protocol.version.clone(),
            r.protocol.hash.clone(),
            r.dataset.name.clone(),
            r.dataset.checksum.clone(),
            r.plugin_version.clone(),
            r.versions.distillery.clone(),
            o(st.map(|s| s.images.to_string())),
            o(st.map(|s| s.image_bytes.to_string())),
            o(st.map(|s| s.label_bytes.to_string())),
            o(st.map(|s| s.total_bytes.to_string())),
            r.timings.compress_seconds.to_string(),
            r.timings.train_seconds.to_string(),
            r.timings.total_seconds.to_string(),
            o(r.error
                .as_ref()
                .map(|e| e.lines().next().unwrap_or("").to_string())),
            o(r.cached_from.clone()),
        ])
        .unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}
