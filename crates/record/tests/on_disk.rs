//! Records already on disk still parse, and re-serialise byte for byte.
//!
//! The fixtures in `tests/fixtures/` are real records written by `bench` at commit a32cb7f
//! (before the schema moved into this crate) on the tiny test protocols; see
//! `tests/fixtures/README.md` for the commands. If a field is renamed, an enum re-spelt, a field
//! reordered or an optional field made required, these tests fail.

use distillery_record::{
    path_for, read, read_all, write_atomic, Budget, Record, RecordError, Status, SCHEMA,
};
use std::path::{Path, PathBuf};

/// The records as written by the current schema (every field present).
const CURRENT: [&str; 7] = [
    "hard-random-ipc1.json",
    "hard-full-reference.json",
    "hard-full-from-cache.json",
    "failed-plugin-error.json",
    "failed-cell-crashed.json",
    "soft-random-ipc1.json",
    "native-kd-ipc1.json",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(name: &str) -> (Record, String) {
    let p = fixture(name);
    let text = std::fs::read_to_string(&p).unwrap();
    let r = read(&p).unwrap_or_else(|e| panic!("{e}"));
    (r, text)
}

/// A pretty-JSON line holding a float, split into its key part and the value
/// (`    "top1": 0.517,` gives `("    \"top1\"", 0.517)`); `None` for any other line.
fn float_line(line: &str) -> Option<(&str, f64)> {
    let (key, v) = line.rsplit_once(": ").unwrap_or(("", line.trim()));
    let v = v.trim_end_matches(',');
    if !(v.contains('.') || v.contains('e')) {
        return None;
    }
    Some((key, v.parse().ok()?))
}

/// `a` and `b` are the same pretty JSON text, line for line, except that a float may differ in
/// its last bit: serde_json's default float parser is fast but not always correctly rounded
/// (its `float_roundtrip` feature is off in this workspace), so parsing `1.2645819664001465`
/// can give the neighbouring double, written back as `1.2645819664001463`. Everything else
/// (names, order, nesting, spelling, integers, strings, nulls) must be identical.
fn assert_same_text(name: &str, a: &str, b: &str) {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(
        la.len(),
        lb.len(),
        "{name}: line count differs\n{a}\n---\n{b}"
    );
    assert_eq!(
        a.ends_with('\n'),
        b.ends_with('\n'),
        "{name}: final newline"
    );
    for (x, y) in la.iter().zip(&lb) {
        if x == y {
            continue;
        }
        let same = match (float_line(x), float_line(y)) {
            (Some((kx, vx)), Some((ky, vy))) => {
                kx == ky && vx.to_bits().abs_diff(vy.to_bits()) <= 1
            }
            _ => false,
        };
        assert!(same, "{name}: {x:?} vs {y:?}");
    }
}

/// Parsing and writing again gives the text `bench` wrote: same field names, order,
/// representation and formatting (what `write_atomic` writes: pretty JSON + newline), and the
/// same JSON value.
#[test]
fn current_records_round_trip() {
    for name in CURRENT {
        let (r, text) = load(name);
        assert_eq!(r.schema, SCHEMA, "{name}");
        let again = serde_json::to_string_pretty(&r).unwrap() + "\n";
        assert_same_text(name, &again, &text);
        // As values (both sides through the same float parser): equal exactly.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), v, "{name}");
    }
}

#[test]
fn current_records_parse_to_what_they_say() {
    let (r, _) = load("hard-random-ipc1.json");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.cell_id, "random__ipc1__s0");
    assert_eq!(r.budget, Some(Budget::Ipc(1)));
    assert_eq!(r.budget_label, "ipc1");
    assert_eq!(r.family, "pruning");
    assert_eq!(r.labels, "hard");
    assert!(r.teacher.is_none());
    let ev = r.evaluation.as_ref().unwrap();
    assert_eq!(r.accuracy(), Some(ev.top1));
    assert!((0.0..=1.0).contains(&ev.top1), "a fraction: {}", ev.top1);
    assert_eq!(ev.labels, "hard (cross-entropy)");
    let st = r.storage.as_ref().unwrap();
    assert_eq!((st.images, st.image_bytes, st.label_bytes), (10, 7840, 10));
    assert_eq!(st.total_bytes, st.image_bytes + st.label_bytes);
    assert_eq!(st.teacher_parameter_bytes, None);
    assert_eq!(r.per_class, Some(vec![1; 10]));
    assert!(r.compress_peak_rss_bytes > 0 && r.peak_rss_bytes >= r.compress_peak_rss_bytes);

    let (r, _) = load("hard-full-reference.json");
    assert_eq!((r.budget, r.budget_label.as_str()), (None, "full"));
    assert_eq!(r.family, "reference");
    assert_eq!(r.cached_from, None);
    let (r, _) = load("hard-full-from-cache.json");
    assert!(r
        .cached_from
        .as_deref()
        .is_some_and(|c| c.contains("/distillery/reference/")));

    let (r, _) = load("failed-plugin-error.json");
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.accuracy(), None);
    assert!(r.storage.is_none() && r.per_class.is_none());
    assert!(r
        .error
        .as_deref()
        .unwrap()
        .contains("returned an error: fixture error: the method gave up"));
    // Written by the executor for a cell whose process died: no data loaded, nothing measured.
    let (r, _) = load("failed-cell-crashed.json");
    assert_eq!(r.status, Status::Failed);
    assert_eq!((r.dataset.classes, r.dataset.shape), (0, [0, 0, 0]));
    assert_eq!(r.peak_rss_bytes, 0);
    assert!(r.error.as_deref().unwrap().contains("killed by signal 11"));

    let (r, _) = load("soft-random-ipc1.json");
    assert_eq!(r.labels, "soft");
    let t = r.teacher.as_ref().unwrap();
    let st = r.storage.as_ref().unwrap();
    assert_eq!(st.label_bytes, 0, "soft labels come from the teacher");
    assert_eq!(st.teacher_parameter_bytes, Some(t.parameter_bytes));
    assert_eq!(t.parameter_bytes, 4 * t.parameters as u64);

    let (r, _) = load("native-kd-ipc1.json");
    assert_eq!((r.labels.as_str(), r.family.as_str()), ("native", "kd"));
    assert!(r.evaluation.unwrap().labels.starts_with("native: kd"));
    assert!(r.teacher.is_some());
}

/// A record written before `compress_peak_rss_bytes`, `method_config`, `labels` and
/// `evaluation.labels` existed still parses, with their defaults.
#[test]
fn records_from_before_the_optional_fields_parse_with_defaults() {
    let (r, _) = load("before-optional-fields.json");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.compress_peak_rss_bytes, 0);
    assert_eq!(r.method_config, serde_json::Value::Null);
    assert_eq!(r.labels, "");
    assert!(r.teacher.is_none());
    assert_eq!(r.evaluation.unwrap().labels, "");
    assert_eq!(r.storage.unwrap().teacher_parameter_bytes, None);
}

/// `read_all` reads `DIR/cells/*.json` sorted by id, skips hidden (in-flight) files and
/// sub-folders, and reports unreadable files with their path instead of dropping them.
#[test]
fn read_all_sorts_skips_hidden_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["native-kd-ipc1.json", "hard-random-ipc1.json"] {
        let (r, _) = load(name);
        write_atomic(&path_for(dir.path(), &r.cell_id), &r).unwrap();
        // What write_atomic wrote is the text bench wrote.
        assert_same_text(
            name,
            &std::fs::read_to_string(path_for(dir.path(), &r.cell_id)).unwrap(),
            &std::fs::read_to_string(fixture(name)).unwrap(),
        );
    }
    let cells = dir.path().join("cells");
    std::fs::write(cells.join(".x.json.tmp-1.json"), "{").unwrap();
    std::fs::create_dir(cells.join("stale")).unwrap();
    std::fs::write(cells.join("stale/y.json"), "{").unwrap();
    std::fs::write(cells.join("notes.txt"), "not a record").unwrap();
    std::fs::write(cells.join("broken.json"), "{\"schema\": 1}").unwrap();

    let (ok, bad) = read_all(dir.path()).unwrap();
    let ids: Vec<&str> = ok.iter().map(|r| r.cell_id.as_str()).collect();
    assert_eq!(ids, ["kd__ipc1__s0", "random__ipc1__s0"]);
    assert_eq!(bad.len(), 1, "{bad:?}");
    let broken = cells.join("broken.json");
    assert!(
        bad[0].starts_with(&format!(
            "{}: not a Distillery cell record: missing field",
            broken.display()
        )),
        "{bad:?}"
    );
    // No leftover temporary file from the atomic writes.
    let names: Vec<String> = std::fs::read_dir(&cells)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp") && !n.starts_with(".x."))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// The error texts users see (`bench report`, `bench compare`, resumption notes).
#[test]
fn errors_name_the_path_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_all(dir.path()).unwrap_err();
    assert!(matches!(e, RecordError::NoCells { .. }));
    let cells = dir.path().join("cells");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: no cell records here (", cells.display()))
            && e.to_string()
                .ends_with("); is this a `bench --out` directory?"),
        "{e}"
    );
    let missing = dir.path().join("nope.json");
    let e = read(&missing).unwrap_err();
    assert!(matches!(e, RecordError::Read { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );
    // The cause is in the message, not chained a second time.
    assert!(std::error::Error::source(&e).is_none());
}

/// A diverged student's record (issue 21, item 1): every float of the record may be NaN or
/// infinite and the record still writes, reads back with the same values, and marks the
/// divergence; a record written by an older version with `null` for a non-finite float
/// (serde_json's NaN) reads as NaN instead of being unreadable.
#[test]
fn non_finite_floats_round_trip_and_old_nulls_read_as_nan() {
    let (mut r, _) = load("hard-random-ipc1.json");
    let ev = r.evaluation.as_mut().unwrap();
    ev.final_train_loss = f64::NAN;
    ev.top5 = f64::INFINITY;
    ev.train_seconds = f64::NEG_INFINITY;
    ev.diverged_at_epoch = Some(3);
    ev.per_class_top1 = Some(vec![0.5, f64::NAN]);
    ev.confusion = Some(vec![vec![1, 1], vec![0, 0]]);
    r.timings.total_seconds = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let p = path_for(dir.path(), &r.cell_id);
    write_atomic(&p, &r).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("\"final_train_loss\": \"NaN\","), "{text}");
    assert!(text.contains("\"top5\": \"inf\","), "{text}");
    assert!(text.contains("\"train_seconds\": \"-inf\","), "{text}");
    assert!(text.contains("\"diverged_at_epoch\": 3,"), "{text}");
    let back = read(&p).unwrap_or_else(|e| panic!("{e}"));
    let ev = back.evaluation.as_ref().unwrap();
    assert!(ev.final_train_loss.is_nan());
    assert_eq!(ev.top5, f64::INFINITY);
    assert_eq!(ev.train_seconds, f64::NEG_INFINITY);
    assert!(back.timings.total_seconds.is_nan());
    assert_eq!(ev.top1, r.evaluation.as_ref().unwrap().top1);
    assert_eq!(ev.diverged_at_epoch, Some(3));
    assert_eq!(
        ev.divergence_note().unwrap(),
        "training diverged at epoch 3 (non-finite training loss)"
    );
    let pc = ev.per_class_top1.as_ref().unwrap();
    assert_eq!(pc[0], 0.5);
    assert!(pc[1].is_nan());
    assert_eq!(ev.confusion, Some(vec![vec![1, 1], vec![0, 0]]));

    // What bench wrote before this fix for a diverged cell: `null` in a float field.
    let (_, old) = load("hard-random-ipc1.json");
    let mut v: serde_json::Value = serde_json::from_str(&old).unwrap();
    v["evaluation"]["final_train_loss"] = serde_json::Value::Null;
    v["teacher"] = serde_json::Value::Null;
    v["timings"]["eval_seconds"] = serde_json::Value::Null;
    let old_null = dir.path().join("old-null.json");
    std::fs::write(&old_null, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let r = read(&old_null).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.evaluation.as_ref().unwrap().final_train_loss.is_nan());
    assert!(r.timings.eval_seconds.is_nan());
    // Old records carry none of the new fields.
    let ev = r.evaluation.unwrap();
    assert_eq!(
        (ev.diverged_at_epoch, ev.per_class_top1, ev.confusion),
        (None, None, None)
    );
}

/// Every `f64` field of the schema goes through `float` (so no float can make a record
/// unreadable): a field added later without it fails here.
#[test]
fn every_float_field_of_the_schema_is_lenient() {
    let src = include_str!("../src/lib.rs");
    let lines: Vec<&str> = src.lines().collect();
    let mut seen = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        let field = t.starts_with("pub ") && !t.starts_with("pub fn") && t.ends_with(',');
        if field && (t.ends_with(": f64,") || t.contains("f64>")) {
            seen += 1;
            // The attribute may span several lines: look back to the previous field.
            let attrs: String = lines[..i]
                .iter()
                .rev()
                .take_while(|p| !p.trim().starts_with("pub "))
                .copied()
                .collect();
            assert!(
                attrs.contains("with = \"float") || attrs.contains("with = \"float::"),
                "line {}: `{t}` has no #[serde(with = \"float…\")]",
                i + 1
            );
        }
    }
    assert!(seen >= 14, "found only {seen} float fields");
}
