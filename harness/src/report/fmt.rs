//! Formatting helpers shared by every renderer and by `bench compare`: percentages, signed
//! points, p-values, byte counts and budget labels. A leaf: it imports nothing from
//! `report/`.

use distillery_api::Budget;

/// Accuracy (fraction) as a percentage with two decimals.
pub fn pct(x: f64) -> String {
    format!("{:.2}", x * 100.0)
}

/// Difference (fraction) in signed percentage points.
pub fn pp(x: f64) -> String {
    format!("{:+.2}", x * 100.0)
}

/// `p = 0.0123` or `p < 0.0001`.
pub fn p_eq(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".into()
    } else {
        format!("p = {p:.4}")
    }
}

/// A p-value for a table cell: `0.0123` or `<0.0001`.
pub fn pval(p: f64) -> String {
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

/// The first 12 characters of a hash or checksum.
pub fn short(s: &str) -> &str {
    &s[..12.min(s.len())]
}

/// `f(v)`, or `—` when there is no value.
pub fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "—".into())
}

/// Sort key of a budget label: IPC budgets first, then fractions, then byte budgets, each
/// ascending; anything else (`full`) last.
pub fn budget_sort_key(label: &str) -> (u8, f64) {
    match label.parse::<Budget>() {
        Ok(Budget::Ipc(k)) => (0, k as f64),
        Ok(Budget::Fraction(f)) => (1, f),
        Ok(Budget::Bytes(b)) => (2, b as f64),
        Err(_) => (3, 0.0),
    }
}

/// Column header of a budget label: `ipc10` → `IPC 10`, `frac0.1` → `10%`, `bytes4096` → `4096 B`
/// ([`Budget::header`]); anything else (e.g. `full`) as it is.
pub fn budget_header(label: &str) -> String {
    label
        .parse::<Budget>()
        .map_or_else(|_| label.to_string(), |b| b.header())
}
