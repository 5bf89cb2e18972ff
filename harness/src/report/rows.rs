//! The CSV schemas of `SCHEMA.md` as serde structs, one per file: [`AggregateRow`]
//! (`table.csv`, one row per (method, budget)), [`CellCsvRow`] (`cells.csv`, one row per cell
//! record) and [`CompareCsvRow`] (`bench compare --format csv`). The same struct writes the
//! file and reads it back; the column names and their order are the struct's fields, read off
//! its `Deserialize` impl by [`columns`], so no list of names is kept by hand.
//!
//! The `Deserialize` side is there for reading back: `bench compare` reads a published side's
//! `cells.csv` through [`CellCsvRow`]; the tests read `table.csv` through [`AggregateRow`].
//! Imports only [`super::model`] (and the record type).

use super::model::{Aggregate, CellRow, CompareRow, Report};
use crate::record::{Record, Status};
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::LazyLock;

/// A float as the CSVs write it: Rust's shortest round-trip `Display` (`0.1`, `3`, `1e-7` is
/// `0.0000001`), not the `csv` crate's own float format (`3.0`). Reads any float literal.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Float(pub f64);

impl Serialize for Float {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Float)
    }
}

fn float(v: Option<f64>) -> Option<Float> {
    v.map(Float)
}

/// One row of `table.csv` / `bench report DIR --format csv`. Fractions, not percentages;
/// `None` (an empty field) means "not available". Column meanings: `SCHEMA.md`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggregateRow {
    pub method: String,
    pub family: String,
    /// Budget label: `ipc10`, `frac0.1`, `bytes4096`, `full`.
    pub budget: String,
    /// Finished seeds.
    pub n: usize,
    /// Seeds the grid asked for (at least `n + n_failed`).
    pub n_expected: usize,
    pub n_failed: usize,
    pub mean: Option<Float>,
    pub std: Option<Float>,
    pub ci_low: Option<Float>,
    pub ci_high: Option<Float>,
    pub diff_vs_random: Option<Float>,
    pub diff_ci_low: Option<Float>,
    pub diff_ci_high: Option<Float>,
    pub p: Option<Float>,
    pub p_holm: Option<Float>,
    /// `paired` or `welch`; `None` without a comparison.
    pub test: Option<String>,
    /// `*`, `**`, `***`, or `None`.
    pub mark: Option<String>,
    pub rank: Option<Float>,
    pub avg_rank: Option<Float>,
    pub ior: Option<Float>,
    pub hlr: Option<Float>,
    pub lrs: Option<Float>,
    /// Bytes (images + labels), mean over finished seeds.
    pub mean_total_bytes: Option<Float>,
    /// Seconds, mean over finished seeds.
    pub mean_compress_seconds: Option<Float>,
    pub pareto: bool,
}

impl AggregateRow {
    /// The row of `c`, an entry of `rep` (the report gives the expected seeds and ranks).
    pub fn new(rep: &Report, c: &Aggregate) -> Self {
        let s = c.summary.as_ref();
        let v = c.vs_random.as_ref();
        // An empty test or mark is written as an empty field either way.
        let label = |x: &str| Some(x.to_string()).filter(|x| !x.is_empty());
        AggregateRow {
            method: c.method.clone(),
            family: c.family.clone(),
            budget: c.budget.clone(),
            n: c.n,
            n_expected: rep.expected_seeds.max(c.n + c.failed),
            n_failed: c.failed,
            mean: float(s.map(|s| s.mean)),
            std: float(s.and_then(|s| s.std)),
            ci_low: float(s.and_then(|s| s.ci_low)),
            ci_high: float(s.and_then(|s| s.ci_high)),
            diff_vs_random: float(v.map(|v| v.diff)),
            diff_ci_low: float(v.map(|v| v.ci_low)),
            diff_ci_high: float(v.map(|v| v.ci_high)),
            p: float(v.map(|v| v.p)),
            p_holm: float(v.map(|v| v.p_holm)),
            test: v.and_then(|v| label(v.test)),
            mark: v.and_then(|v| label(v.mark)),
            rank: float(c.rank),
            avg_rank: float(rep.avg_rank.get(&c.method).copied()),
            ior: float(c.ior),
            hlr: float(c.hlr),
            lrs: float(c.lrs),
            mean_total_bytes: float(c.mean_total_bytes),
            mean_compress_seconds: float(c.mean_compress_seconds),
            pareto: c.pareto,
        }
    }
}

/// One row of `cells.csv` / `bench report DIR --format csv --per-cell`: one cell record.
/// `bench compare` reads a published side through this struct.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellCsvRow {
    /// `<method>__<budget>__s<seed>`.
    #[serde(default)]
    pub cell_id: String,
    pub method: String,
    pub family: String,
    pub budget: String,
    /// Run seed (repeat index).
    pub seed: u64,
    #[serde(default)]
    pub seed_selection: u64,
    #[serde(default)]
    pub seed_init: u64,
    #[serde(default)]
    pub seed_order: u64,
    #[serde(default)]
    pub seed_augment: u64,
    pub status: Status,
    /// Top-1 test accuracy, a fraction; `None` when failed.
    pub accuracy: Option<Float>,
    /// Top-5 test accuracy, a fraction; `None` when failed.
    #[serde(default)]
    pub top5: Option<Float>,
    pub device: String,
    #[serde(default)]
    pub deterministic: bool,
    pub protocol: String,
    pub protocol_version: String,
    pub protocol_hash: String,
    #[serde(default)]
    pub dataset: String,
    pub dataset_checksum: String,
    pub plugin_version: String,
    #[serde(default)]
    pub distillery_version: String,
    /// Storage of the compressed set; `None` when failed.
    #[serde(default)]
    pub images: Option<u64>,
    #[serde(default)]
    pub image_bytes: Option<u64>,
    #[serde(default)]
    pub label_bytes: Option<u64>,
    #[serde(default)]
    pub total_bytes: Option<u64>,
    /// Seconds.
    #[serde(default)]
    pub compress_seconds: Float,
    #[serde(default)]
    pub train_seconds: Float,
    #[serde(default)]
    pub total_seconds: Float,
    /// First line of the error (failed cells).
    #[serde(default)]
    pub error: Option<String>,
    /// Set when the record was copied from the reference cache.
    #[serde(default)]
    pub cached_from: Option<String>,
}

impl From<&Record> for CellCsvRow {
    fn from(r: &Record) -> Self {
        let st = r.storage.as_ref();
        let ev = r.evaluation.as_ref().filter(|_| r.status == Status::Ok);
        CellCsvRow {
            cell_id: r.cell_id.clone(),
            method: r.method.clone(),
            family: r.family.clone(),
            budget: r.budget_label.clone(),
            seed: r.seed,
            seed_selection: r.seeds.selection,
            seed_init: r.seeds.init,
            seed_order: r.seeds.order,
            seed_augment: r.seeds.augment,
            status: r.status,
            accuracy: ev.map(|e| Float(e.top1)),
            top5: ev.map(|e| Float(e.top5)),
            device: r.device.clone(),
            deterministic: r.deterministic,
            protocol: r.protocol.name.clone(),
            protocol_version: r.protocol.version.clone(),
            protocol_hash: r.protocol.hash.clone(),
            dataset: r.dataset.name.clone(),
            dataset_checksum: r.dataset.checksum.clone(),
            plugin_version: r.plugin_version.clone(),
            distillery_version: r.versions.distillery.clone(),
            images: st.map(|s| s.images as u64),
            image_bytes: st.map(|s| s.image_bytes),
            label_bytes: st.map(|s| s.label_bytes),
            total_bytes: st.map(|s| s.total_bytes),
            compress_seconds: Float(r.timings.compress_seconds),
            train_seconds: Float(r.timings.train_seconds),
            total_seconds: Float(r.timings.total_seconds),
            error: r
                .error
                .as_ref()
                .map(|e| e.lines().next().unwrap_or("").to_string()),
            cached_from: r.cached_from.clone(),
        }
    }
}

/// The facts `bench compare` needs from a published cell; the accuracy of a cell that did
/// not finish is dropped.
impl From<CellCsvRow> for CellRow {
    fn from(r: CellCsvRow) -> Self {
        CellRow {
            accuracy: r.accuracy.filter(|_| r.status == Status::Ok).map(|a| a.0),
            protocol: format!("{} v{}", r.protocol, r.protocol_version),
            method: r.method,
            family: r.family,
            budget: r.budget,
            seed: r.seed,
            protocol_hash: r.protocol_hash,
            dataset_checksum: r.dataset_checksum,
            device: r.device,
            plugin_version: r.plugin_version,
        }
    }
}

/// One row of `bench compare A B --format csv`: B − A for a (method, budget) on both sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareCsvRow {
    pub method: String,
    pub family: String,
    pub budget: String,
    pub n_a: usize,
    pub n_failed_a: usize,
    pub n_b: usize,
    pub n_failed_b: usize,
    pub mean_a: Option<Float>,
    pub mean_b: Option<Float>,
    pub diff: Option<Float>,
    pub diff_ci_low: Option<Float>,
    pub diff_ci_high: Option<Float>,
    pub p: Option<Float>,
    pub p_holm: Option<Float>,
    pub test: Option<String>,
    pub mark: Option<String>,
}

impl From<&CompareRow> for CompareCsvRow {
    fn from(r: &CompareRow) -> Self {
        let d = r.diff.as_ref();
        let label = |x: &str| Some(x.to_string()).filter(|x| !x.is_empty());
        CompareCsvRow {
            method: r.method.clone(),
            family: r.family.clone(),
            budget: r.budget.clone(),
            n_a: r.n_a,
            n_failed_a: r.failed_a,
            n_b: r.n_b,
            n_failed_b: r.failed_b,
            mean_a: float(r.mean_a),
            mean_b: float(r.mean_b),
            diff: float(d.map(|d| d.diff)),
            diff_ci_low: float(d.map(|d| d.ci_low)),
            diff_ci_high: float(d.map(|d| d.ci_high)),
            p: float(d.map(|d| d.p)),
            p_holm: float(d.map(|d| d.p_holm)),
            test: d.and_then(|d| label(d.test)),
            mark: d.and_then(|d| label(d.mark)),
        }
    }
}

/// The column names of a row struct, in order: the field list serde's derive hands to
/// `deserialize_struct` (so it must be a plain struct, no `flatten`).
pub fn columns<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("field names only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut fields));
    fields
}

/// Columns of `table.csv`, from [`AggregateRow`].
pub static AGGREGATE_COLUMNS: LazyLock<&'static [&'static str]> =
    LazyLock::new(columns::<AggregateRow>);

/// Columns of `cells.csv`, from [`CellCsvRow`].
pub static CELL_COLUMNS: LazyLock<&'static [&'static str]> = LazyLock::new(columns::<CellCsvRow>);

/// Columns of `bench compare --format csv`, from [`CompareCsvRow`].
pub static COMPARE_COLUMNS: LazyLock<&'static [&'static str]> =
    LazyLock::new(columns::<CompareCsvRow>);

/// The numeric columns of [`AGGREGATE_COLUMNS`] (every non-empty field parses as a float);
/// a unit test checks this list against [`AggregateRow`]'s field types.
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

/// Writes `rows` as CSV: the header row (always, even with no rows) from [`columns`], then
/// one line per row.
///
/// # Errors
/// The `csv` crate's, when a row does not serialise (not expected for these flat structs).
pub fn write_csv<T: Serialize + DeserializeOwned>(
    rows: impl IntoIterator<Item = T>,
) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(columns::<T>())?;
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    // Every field came from a `String` or a number, so the bytes are UTF-8.
    String::from_utf8(bytes)
        .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_columns_are_the_numeric_fields() {
        let row = AggregateRow {
            method: "m".into(),
            family: "f".into(),
            budget: "ipc1".into(),
            n: 1,
            n_expected: 1,
            n_failed: 0,
            mean: Some(Float(0.5)),
            std: Some(Float(0.5)),
            ci_low: Some(Float(0.5)),
            ci_high: Some(Float(0.5)),
            diff_vs_random: Some(Float(0.5)),
            diff_ci_low: Some(Float(0.5)),
            diff_ci_high: Some(Float(0.5)),
            p: Some(Float(0.5)),
            p_holm: Some(Float(0.5)),
            test: Some("paired".into()),
            mark: Some("*".into()),
            rank: Some(Float(0.5)),
            avg_rank: Some(Float(0.5)),
            ior: Some(Float(0.5)),
            hlr: Some(Float(0.5)),
            lrs: Some(Float(0.5)),
            mean_total_bytes: Some(Float(0.5)),
            mean_compress_seconds: Some(Float(0.5)),
            pareto: true,
        };
        let text = write_csv([row.clone()]).unwrap();
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let back: AggregateRow = rd.deserialize().next().unwrap().unwrap();
        assert_eq!(back, row);
        let mut rd = csv::Reader::from_reader(text.as_bytes());
        let rec = rd.records().next().unwrap().unwrap();
        let numeric: Vec<&str> = AGGREGATE_COLUMNS
            .iter()
            .zip(rec.iter())
            .filter(|(_, v)| v.parse::<f64>().is_ok())
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(numeric, AGGREGATE_NUMERIC);
    }

    #[test]
    fn header_without_rows() {
        let text = write_csv(Vec::<CompareCsvRow>::new()).unwrap();
        assert_eq!(text.trim_end().split(',').count(), COMPARE_COLUMNS.len());
        assert!(text.starts_with("method,family,budget,n_a,n_failed_a,"));
    }
}
