//! The plan: a deterministic list of cells with stable ids, and the seeds each one derives.
//!
//! Layering: this module holds the cell types and depends only on `protocol`, `dataset` and
//! `method_config` (and its leaf [`imported`], the record of a file a cell imports).
//! `crate::import` depends on it (it lays out the cells of imported files), never the reverse.

pub mod imported;

use crate::protocol::Loaded;
use distillery_api::rng::derive_seed;
use distillery_api::{Budget, Family, Seeds};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CellSpec {
    /// `<method>__<budget>__s<seed>`, e.g. `random__ipc10__s2`; reference cells use `full`.
    pub id: String,
    pub method: String,
    pub budget: Option<Budget>,
    pub seed: u64,
    pub seeds: Seeds,
    /// For a compressed set imported from a file (`--methods file:PATH`, `--from PATH`): the
    /// planned file; `method` is then its row (`file:<name>`). See `crate::import`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<imported::Source>,
}

/// Everything a cell's child process needs, written to `<out>/plan.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub protocol_origin: String,
    pub protocol_text: String,
    pub protocol_hash: String,
    pub dataset: String,
    /// ImageFolder decoding (resolution, channels).
    #[serde(default)]
    pub image: crate::dataset::ImageOptions,
    pub dataset_checksum: String,
    pub device: String,
    /// `--deterministic`: every cell switches libtorch to deterministic mode
    /// ([`crate::gpu::set_deterministic`]) before its first operation.
    #[serde(default)]
    pub deterministic: bool,
    pub threads_per_cell: usize,
    pub plugin_dirs: Vec<PathBuf>,
    /// `--method-config FILE`: where the overrides came from, and the tables themselves.
    #[serde(default)]
    pub method_config_origin: Option<String>,
    #[serde(default)]
    pub method_overrides: crate::method_config::Overrides,
    /// `--teacher FILE [--teacher-classes FILE]`: a pretrained teacher's weights (absolute
    /// paths); every cell loads the protocol with them ([`Plan::protocol`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<crate::protocol::TeacherFile>,
    pub cells: Vec<CellSpec>,
}

impl Plan {
    /// The configuration `method` runs with: the protocol's `[methods.<name>]` table with the
    /// `--method-config` table merged over it.
    pub fn method_config(
        &self,
        loaded: &crate::protocol::Loaded,
        method: &str,
    ) -> serde_json::Value {
        let base = loaded.method_config(method);
        match self.method_overrides.get(method) {
            Some(o) => crate::method_config::merge(&base, o),
            None => base,
        }
    }
}

/// The seeds of repeat `seed`: derived by label from the run seed, identical across methods
/// and budgets, so runs of two methods with the same seed are paired (same student init, data
/// order and augmentation stream).
pub fn derive_seeds(seed: u64) -> Seeds {
    Seeds {
        run: seed,
        selection: derive_seed(seed, "distillery/selection"),
        init: derive_seed(seed, "distillery/init"),
        order: derive_seed(seed, "distillery/order"),
        augment: derive_seed(seed, "distillery/augment"),
    }
}

pub fn cell_id(method: &str, budget: Option<&Budget>, seed: u64) -> String {
    format!(
        "{method}__{}__s{seed}",
        budget.map(|b| b.label()).unwrap_or_else(|| "full".into())
    )
}

/// Builds the cells: for each seed, the reference methods once, then every method x budget.
pub fn cells(methods: &[(String, Family)], budgets: &[Budget], seeds: usize) -> Vec<CellSpec> {
    let mut out = Vec::new();
    for seed in 0..seeds as u64 {
        for (m, fam) in methods {
            if *fam == Family::Reference {
                out.push(CellSpec {
                    id: cell_id(m, None, seed),
                    method: m.clone(),
                    budget: None,
                    seed,
                    seeds: derive_seeds(seed),
                    import: None,
                });
            }
        }
        for b in budgets {
            for (m, fam) in methods {
                if *fam != Family::Reference {
                    out.push(CellSpec {
                        id: cell_id(m, Some(b), seed),
                        method: m.clone(),
                        budget: Some(*b),
                        seed,
                        seeds: derive_seeds(seed),
                        import: None,
                    });
                }
            }
        }
    }
    out
}

/// Two planned cells with the same id: they would write one record file (at once, with
/// `--jobs` > 1) and each overwrite the other's result.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("internal error: the plan has {} cell(s) more than once ({}); each cell must be planned once, since its id is its record file", .0.len(), .0.join(", "))]
pub struct DuplicateCells(pub Vec<String>);

/// `cells` unchanged when every id is unique.
///
/// # Errors
/// [`DuplicateCells`] naming every repeated id (once each, in plan order). [`cells`] never
/// repeats an id when its methods and budgets are distinct (`cli::resolve` removes repeats
/// before planning); imported cells are checked by `crate::import` (`RowTaken`). This is the
/// guarantee on the concatenation that is written to `plan.json`.
pub fn unique(cells: Vec<CellSpec>) -> Result<Vec<CellSpec>, DuplicateCells> {
    let mut seen = std::collections::HashSet::new();
    let mut repeated: Vec<String> = Vec::new();
    for c in &cells {
        if !seen.insert(c.id.as_str()) && !repeated.contains(&c.id) {
            repeated.push(c.id.clone());
        }
    }
    if repeated.is_empty() {
        Ok(cells)
    } else {
        Err(DuplicateCells(repeated))
    }
}

impl Plan {
    pub fn protocol(&self) -> anyhow::Result<Loaded> {
        let loaded = Loaded::parse(&self.protocol_text, &self.protocol_origin)?
            .with_teacher(self.teacher.as_ref())
            .map_err(anyhow::Error::msg)?;
        if self.teacher.is_some() && loaded.hash != self.protocol_hash {
            anyhow::bail!(
                "the pretrained teacher's weights changed since the plan was made (protocol hash {} now, {} in the plan)",
                &loaded.hash[..12],
                &self.protocol_hash[..self.protocol_hash.len().min(12)]
            );
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_stable_and_reference_runs_once_per_seed() {
        let m = vec![
            ("random".to_string(), Family::Pruning),
            ("full".to_string(), Family::Reference),
        ];
        let c = cells(&m, &[Budget::Ipc(1), Budget::Ipc(10)], 2);
        let ids: Vec<&str> = c.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "full__full__s0",
                "random__ipc1__s0",
                "random__ipc10__s0",
                "full__full__s1",
                "random__ipc1__s1",
                "random__ipc10__s1"
            ]
        );
        assert_eq!(
            c[1].seeds, c[2].seeds,
            "same seed => same derived seeds across budgets/methods"
        );
        assert_ne!(c[1].seeds.init, c[4].seeds.init);
        assert_eq!(unique(c.clone()), Ok(c.clone()));
        let s = derive_seeds(0);
        let all = [s.selection, s.init, s.order, s.augment];
        for i in 0..4 {
            for j in i + 1..4 {
                assert_ne!(all[i], all[j]);
            }
        }
    }

    /// Repeated methods or budgets plan a cell twice (one record file, two writers): `unique`
    /// refuses such a list and names each repeated id once.
    #[test]
    fn a_repeated_cell_id_is_refused() {
        let m = vec![
            ("random".to_string(), Family::Pruning),
            ("random".to_string(), Family::Pruning),
        ];
        let c = cells(&m, &[Budget::Ipc(1), Budget::Ipc(1)], 1);
        assert_eq!(c.len(), 4);
        let e = unique(c).unwrap_err();
        assert_eq!(e, DuplicateCells(vec!["random__ipc1__s0".into()]));
        assert_eq!(
            e.to_string(),
            "internal error: the plan has 1 cell(s) more than once (random__ipc1__s0); each cell must be planned once, since its id is its record file"
        );
        let one = cells(&m[..1], &[Budget::Ipc(1)], 2);
        assert_eq!(unique(one.clone()), Ok(one));
    }
}
