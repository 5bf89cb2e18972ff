//! LaTeX: a `table` with a booktabs `tabular` (needs `\usepackage{booktabs}`). Imports the
//! model, the formatting helpers and the shared sentences.

use crate::report::fmt::{budget_header, pct};
use crate::report::model::{Aggregate, Report};

impl Report {
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
            let note = format!("{}{}", self.n_note(c), Self::flags(c));
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
        for n in self.cell_notes() {
            s.push_str(&format!(
                "\\par{{\\footnotesize {}}}\n",
                esc(&n).replace("→", "$\\to$")
            ));
        }
        s.push_str("\\end{table}\n");
        s
    }
}
