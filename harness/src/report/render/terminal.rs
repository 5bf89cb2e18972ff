//! Terminal: comfy-table tables (no colour; fixed width when asked) with the caption and the
//! notes as plain lines. Imports the model; the rows come from [`super::tables`].

use crate::report::model::{CompareReport, Report};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell as TCell, CellAlignment, Table};

/// One table: columns from `right_from` on are right-aligned; `width` fixes the total width.
fn table<H: ToString>(
    header: impl IntoIterator<Item = H>,
    rows: Vec<Vec<String>>,
    right_from: usize,
    width: Option<u16>,
) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.force_no_tty();
    if let Some(w) = width {
        t.set_width(w);
    }
    t.set_header(header.into_iter().map(|h| h.to_string()));
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
}

impl Report {
    /// The terminal tables (no colour; fixed width when `width` is set), caption, test
    /// lines and warnings.
    pub fn terminal(&self, width: Option<u16>) -> String {
        let mut s = table(
            self.main_header(),
            self.main_rows(|m| m.to_string()),
            2,
            width,
        );
        s.push('\n');
        s.push_str(&self.caption());
        s.push('\n');
        s.push_str(&table(Self::DETAIL_HEADER, self.detail_rows(), 2, width));
        for l in self.footer_lines() {
            s.push('\n');
            s.push_str(&l);
        }
        for w in &self.warnings {
            s.push_str(&format!("\nwarning: {w}"));
        }
        s
    }
}

impl CompareReport {
    /// The comparison table and its notes, for a terminal.
    pub fn terminal(&self, width: Option<u16>) -> String {
        let mut s = table(Self::HEADER, self.table_rows(), 2, width);
        for n in self.notes() {
            s.push('\n');
            s.push_str(&n);
        }
        s
    }
}
