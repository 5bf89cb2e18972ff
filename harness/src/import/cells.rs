//! How imported files become cells: which `--methods` are files, and the cells each file fills
//! over the run's budgets and seeds (see the module docs of `crate::import`). Depends on
//! `crate::plan` for the cell types, seeds and ids; the plan does not depend on this.

use super::error::{ImportError, ImportErrorKind};
use super::metadata::PREFIX;
use super::open::open_with;
use super::parquet::Columns;
use super::view::DatasetView;
use crate::plan::imported::Source;
use crate::plan::{cell_id, derive_seeds, CellSpec};
use distillery_api::Budget;
use std::collections::HashMap;
use std::path::PathBuf;

/// Splits `--methods` into plugin names and `file:` paths; `--from` adds paths.
pub fn split_methods(methods: &[String], from: &[PathBuf]) -> (Vec<String>, Vec<PathBuf>) {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for m in methods {
        match m.strip_prefix(PREFIX) {
            Some(p) => paths.push(PathBuf::from(p)),
            None => names.push(m.clone()),
        }
    }
    paths.extend(from.iter().cloned());
    (names, paths)
}

/// The imported files of a run and their cells.
pub struct Planned {
    /// One per file, in the order given.
    pub sources: Vec<Source>,
    /// Seed-major, then budget, then file (the order of `crate::plan::cells`).
    pub cells: Vec<CellSpec>,
}

/// Opens and checks every file against the dataset (Parquet sets read from `columns`), then
/// lays out its cells over the run's budgets and seeds (see the module docs). Errors name the
/// file.
///
/// # Errors
/// Any [`open`] error; [`ImportErrorKind::BudgetNotInRun`] / [`ImportErrorKind::SeedNotInRun`]
/// for a declared budget or seed the run lacks; [`ImportErrorKind::RowTaken`] when two files
/// fill the same cell.
pub fn plan(
    paths: &[PathBuf],
    data: &crate::dataset::Prepared,
    budgets: &[Budget],
    seeds: usize,
    columns: &Columns,
) -> Result<Planned, ImportError> {
    let view = DatasetView::of(data);
    let mut sources: Vec<Source> = Vec::new();
    for p in paths {
        let s = open_with(p, &view, columns)?.source;
        check_declared(&s, budgets, seeds)?;
        sources.push(s);
    }
    let cells = lay_out(&sources, budgets, seeds)?;
    Ok(Planned { sources, cells })
}

/// A declared budget must be one of the run's, a declared seed below the run's count.
fn check_declared(s: &Source, budgets: &[Budget], seeds: usize) -> Result<(), ImportError> {
    if let Some(declared) = s.budget {
        if !budgets.iter().any(|x| x.label() == declared.label()) {
            let run = budgets.to_vec();
            let kind = ImportErrorKind::BudgetNotInRun { declared, run };
            return Err(ImportError::new(&s.path, kind));
        }
    }
    if let Some(seed) = s.seed {
        if seed as usize >= seeds {
            let kind = ImportErrorKind::SeedNotInRun { seed, seeds };
            return Err(ImportError::new(&s.path, kind));
        }
    }
    Ok(())
}

/// The cells of the files: each in every budget and seed of the run, or only its declared
/// ones; cell id `file.<name>__<budget>__s<seed>`.
fn lay_out(
    sources: &[Source],
    budgets: &[Budget],
    seeds: usize,
) -> Result<Vec<CellSpec>, ImportError> {
    let mut cells: Vec<CellSpec> = Vec::new();
    let mut owner: HashMap<String, PathBuf> = HashMap::new();
    for seed in 0..seeds as u64 {
        for b in budgets {
            for s in sources {
                if s.budget.is_some_and(|d| d.label() != b.label())
                    || s.seed.is_some_and(|d| d != seed)
                {
                    continue;
                }
                let id = cell_id(&s.row.replacen(PREFIX, "file.", 1), Some(b), seed);
                if let Some(other) = owner.insert(id.clone(), s.path.clone()) {
                    let kind = ImportErrorKind::RowTaken {
                        other,
                        row: s.row.clone(),
                        budget: *b,
                        seed,
                    };
                    return Err(ImportError::new(&s.path, kind));
                }
                cells.push(CellSpec {
                    id,
                    method: s.row.clone(),
                    budget: Some(*b),
                    seed,
                    seeds: derive_seeds(seed),
                    import: Some(s.clone()),
                });
            }
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_split_into_plugin_names_and_files() {
        let (names, paths) = split_methods(
            &["random".into(), "file:/a/b.npz".into()],
            &[PathBuf::from("c.safetensors")],
        );
        assert_eq!(names, vec!["random".to_string()]);
        assert_eq!(
            paths,
            vec![PathBuf::from("/a/b.npz"), PathBuf::from("c.safetensors")]
        );
    }
}
