//! Markdown: pipe tables with the caption and the notes as text. Imports the model; the rows
//! come from [`super::tables`].

use crate::report::model::{CompareReport, Report};

/// A pipe table; `right[i]` right-aligns column `i`; `esc` is applied to every header and
/// cell.
fn table<H: AsRef<str>>(
    header: &[H],
    rows: Vec<Vec<String>>,
    right: &[bool],
    esc: impl Fn(&str) -> String,
) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        header
            .iter()
            .map(|h| esc(h.as_ref()))
            .collect::<Vec<_>>()
            .join(" | "),
        right
            .iter()
            .map(|&r| if r { "---:|" } else { "---|" })
            .collect::<String>()
    );
    for r in rows {
        out.push_str(&format!(
            "| {} |\n",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        ));
    }
    out
}

/// `|` and `*` escaped, so that marks stay text.
fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace('*', "\\*")
}

/// The first two columns left-aligned, the rest right-aligned.
fn two_left(n: usize) -> Vec<bool> {
    (0..n).map(|i| i >= 2).collect()
}

impl Report {
    /// Markdown: the main table, its caption, the detail table and the test lines.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "**{} v{} on {}**\n\n",
            self.protocol, self.protocol_version, self.dataset
        );
        let header = self.main_header();
        s.push_str(&table(
            &header,
            self.main_rows(|m| format!("<sup>{m}</sup>")),
            &two_left(header.len()),
            esc,
        ));
        s.push('\n');
        s.push_str(&esc(&self.caption().replace('\n', " ")));
        s.push_str("\n\n");
        s.push_str(&table(
            &Self::DETAIL_HEADER,
            self.detail_rows(),
            &two_left(Self::DETAIL_HEADER.len()),
            esc,
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
}

impl CompareReport {
    /// The comparison as a Markdown table (marks not escaped) and a list of notes.
    pub fn markdown(&self) -> String {
        let mut s = table(
            &Self::HEADER,
            self.table_rows(),
            &[false, false, true, true, true, false, true],
            |c| c.replace('\n', " "),
        );
        s.push('\n');
        for n in self.notes() {
            s.push_str(&format!("- {n}\n"));
        }
        s
    }
}
