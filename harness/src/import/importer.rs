//! The built-in importer, run in the cell behind the same plugin boundary as any method: it
//! re-reads the planned file (refusing it if its SHA-256 changed or the cell's budget is not
//! the declared one) and returns its set. Also how the rest of the harness finds the plugin
//! and the request of a cell, imported or not, and the importer's row in `bench list`.

use super::error::{ImportError, ImportErrorKind};
use super::open::open_with;
use super::shims;
use super::view::DatasetView;
use crate::plan::imported::Source;
use crate::plan::CellSpec;
use crate::plugin::Plugin;
use distillery_api::abi::PluginHeader;
use distillery_api::method::RequestMeta;
use distillery_api::{Compressed, Context, Family, Input, Method, MethodError, Output};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use tch::Kind;

/// The built-in importer as a [`Method`]: its config is the planned [`Source`].
#[derive(Default)]
struct Importer;

impl Method for Importer {
    const NAME: &'static str = "file";
    const FAMILY: Family = Family::External;
    const VERSION: &'static str = crate::VERSION;
    const PAPER: &'static str = "";
    const DESCRIPTION: &'static str = "built-in: evaluates a compressed set read from a file";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let src: Source = serde_json::from_value(ctx.meta().config.clone())
            .map_err(|e| MethodError::Config(format!("the importer's request: {e}")))?;
        let failed = |e: ImportError| MethodError::Failed(e.to_string());
        let s = input.train.images.size();
        let view = DatasetView {
            name: &src.dataset,
            shape: [s[1], s[2], s[3]],
            class_names: input.class_names,
            train: input.train,
            val: None,
            test: None,
            checksum: None,
        };
        let columns = src.columns.clone().unwrap_or_default();
        let set = open_with(&src.path, &view, &columns).map_err(failed)?;
        if set.source.sha256 != src.sha256 {
            let kind = ImportErrorKind::Changed {
                planned: src.sha256.clone(),
                now: set.source.sha256.clone(),
            };
            return Err(failed(ImportError::new(&src.path, kind)));
        }
        if let Some(declared) = src.budget {
            if declared.label() != input.budget.label() {
                let cell = input.budget;
                let kind = ImportErrorKind::BudgetNotCell { declared, cell };
                return Err(failed(ImportError::new(&src.path, kind)));
            }
        }
        let kind = if set.indices.is_some() {
            "indices"
        } else {
            "images"
        };
        let mut notes = src.warnings.clone();
        notes.extend(set.notes);
        let metadata = serde_json::json!({
            "import": {
                "path": src.path,
                "format": src.format.as_str(),
                "sha256": src.sha256,
                "kind": kind,
                "class_mapping": class_mapping(&src),
                "metadata": src.metadata,
                "notes": notes,
            }
        });
        // Built through the API's constructors, so fields added to them later keep defaults.
        let compressed = match set.indices {
            Some(indices) => {
                let mut c = Compressed::indices(indices);
                if let (Output::Indices { weights, .. }, Some(w)) = (&mut c.output, set.weights) {
                    *weights = Some(
                        Vec::<f32>::try_from(&w.to_kind(Kind::Float))
                            .map_err(|e| MethodError::Failed(format!("tensor `weights`: {e}")))?,
                    );
                }
                c
            }
            None => {
                let mut c = Compressed::images(set.images, set.labels);
                if let Output::Images { soft_labels, .. } = &mut c.output {
                    *soft_labels = set.soft_labels;
                }
                c
            }
        };
        Ok(compressed.with_metadata(metadata))
    }
}

/// How the set's labels were matched to the dataset's classes, as recorded in the cell's
/// `method_metadata.import.class_mapping`: `folder names` (ImageFolder), `checked
/// (class_names)`, or `unchecked (no class_names)` (the labels are taken in the dataset's order;
/// the run printed a warning, also in `import.notes`).
pub fn class_mapping(src: &Source) -> &'static str {
    if src.format == crate::plan::imported::Format::ImageFolder {
        "folder names"
    } else if src.metadata.contains_key("class_names") {
        "checked (class_names)"
    } else {
        "unchecked (no class_names)"
    }
}

/// The built-in importer as a plugin for `src`: its name is the row, its family and paper
/// those declared, its version [`Source::version_tag`], its path the file.
pub fn importer_plugin(src: &Source) -> Plugin {
    static HEADER: OnceLock<PluginHeader> = OnceLock::new();
    let header = HEADER.get_or_init(shims::header::<Importer>);
    // SAFETY: the header is built by distillery_api::export::header in this process.
    let (header, mut info) = unsafe { distillery_api::host::read_header(header) }
        .expect("the built-in importer's header is valid");
    info.name = src.row.clone();
    info.family = src.family;
    info.version = src.version_tag();
    info.paper = src.paper.clone().unwrap_or_default();
    info.description = format!(
        "{} set imported from {}",
        src.format.as_str(),
        src.path.display()
    );
    Plugin {
        info,
        path: src.path.clone(),
        header,
    }
}

/// The plugin a cell runs: the importer for an imported cell, else the named plugin.
///
/// # Errors
/// Those of [`crate::plugin::find`] (no such plugin, or one that does not load).
pub fn plugin_for(cell: &CellSpec, dirs: &[PathBuf]) -> anyhow::Result<Plugin> {
    match &cell.import {
        Some(s) => Ok(importer_plugin(s)),
        None => crate::plugin::find(&cell.method, dirs),
    }
}

/// The plugin of a cell among those already loaded (the importer for an imported cell).
pub fn loaded_plugin_for(cell: &CellSpec, plugins: &HashMap<String, Plugin>) -> Option<Plugin> {
    match &cell.import {
        Some(s) => Some(importer_plugin(s)),
        None => plugins.get(&cell.method).cloned(),
    }
}

/// The request of an imported cell carries its planned file (as the importer's config).
pub fn request_for(cell: &CellSpec, mut meta: RequestMeta) -> RequestMeta {
    if let Some(s) = &cell.import {
        meta.config = serde_json::to_value(s).unwrap_or_default();
    }
    meta
}

/// The row `bench list` shows for the built-in importer.
pub fn list_row() -> [String; 6] {
    [
        "file:PATH".into(),
        "from the file (default external)".into(),
        crate::VERSION.into(),
        "built-in".into(),
        "-".into(),
        "evaluates a compressed set made elsewhere: safetensors, .npz, an ImageFolder tree or Parquet\n`--methods file:PATH` or `--from PATH[,PATH…]`; layout in CONTRIBUTING.md".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::open::open;
    use crate::import::safetensors;
    use crate::import::tensors::{DType, RawTensor};
    use crate::plan::derive_seeds;
    use distillery_api::{Budget, Split};
    use std::path::Path;
    use tch::Tensor;

    /// Four 1x2x2 images (pixel values 10*i ..), labels 0, 0, 1, 1.
    fn toy() -> Split {
        let px: Vec<u8> = (0..16).map(|v| 10 * (v / 4) + v % 4).collect();
        Split {
            images: Tensor::from_slice(&px).view([4, 1, 2, 2]),
            labels: Tensor::from_slice(&[0i64, 0, 1, 1]),
        }
    }

    fn raw(dtype: DType, shape: &[usize], data: Vec<u8>) -> RawTensor {
        RawTensor {
            dtype,
            shape: shape.to_vec(),
            data,
        }
    }

    fn write(path: &Path, t: Vec<(&str, RawTensor)>, meta: &[(&str, &str)]) {
        let t: Vec<(String, RawTensor)> = t.into_iter().map(|(n, t)| (n.into(), t)).collect();
        let m = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::fs::write(path, safetensors::to_bytes(&t, &m).unwrap()).unwrap();
    }

    /// Calls the importer in process, as a cell does through the plugin boundary.
    fn import(src: &Source, train: &Split, budget: Budget) -> Result<Compressed, MethodError> {
        let names = vec!["a".to_string(), "b".to_string()];
        let meta: RequestMeta = serde_json::from_value(serde_json::json!({
            "method": src.row, "budget": budget, "class_names": names,
            "seeds": derive_seeds(0), "device": "cpu", "scratch_dir": "/nonexistent",
            "config": src,
            "protocol": {
                "name": "p", "hash": "h", "student": {"arch": "convnet"},
                "train": {"epochs": 1, "batch_size": 1, "optimizer": "sgd", "lr": 0.1,
                          "schedule": "constant", "augment": "none"},
                "mean": [0.5], "std": [0.5], "mirror_invariant": true
            }
        }))
        .unwrap();
        let input = Input {
            train,
            val: train,
            class_names: &names,
            budget,
        };
        Importer.compress(&input, &Context::new(meta))
    }

    #[test]
    fn the_cell_importer_returns_the_selection_and_refuses_surprises() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sel.safetensors");
        let train = toy();
        let pick = |idx: &[i64]| {
            let t = train.images.index_select(0, &Tensor::from_slice(idx));
            Vec::<u8>::try_from(&t.view([-1])).unwrap()
        };
        let i64s = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let w: Vec<u8> = [0.5f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let tensors = |idx: &[i64]| {
            vec![
                ("images", raw(DType::U8, &[2, 1, 2, 2], pick(&[1, 2]))),
                ("labels", raw(DType::I64, &[2], i64s(&[0, 1]))),
                ("indices", raw(DType::I64, &[2], i64s(idx))),
                ("weights", raw(DType::F32, &[2], w.clone())),
            ]
        };
        write(
            &f,
            tensors(&[1, 2]),
            &[("method", "Sel"), ("budget", "ipc1")],
        );
        let names = vec!["a".to_string(), "b".to_string()];
        let view = DatasetView {
            name: "toy",
            shape: [1, 2, 2],
            class_names: &names,
            train: &train,
            val: None,
            test: None,
            checksum: None,
        };
        let set = open(&f, &view).unwrap();
        assert_eq!(set.indices, Some(vec![1, 2]));
        let src = set.source;
        assert_eq!(
            (src.row.as_str(), src.budget),
            ("file:sel", Some(Budget::Ipc(1)))
        );
        assert_eq!(src.family, Family::External);

        let c = import(&src, &train, Budget::Ipc(1)).unwrap();
        assert_eq!(c.metadata["import"]["kind"], "indices");
        match c.output {
            Output::Indices { indices, weights } => {
                assert_eq!(indices, vec![1, 2]);
                assert_eq!(weights, Some(vec![0.5, 2.0]));
            }
            other => panic!("{other:?}"),
        }
        let e = import(&src, &train, Budget::Ipc(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("sel.safetensors: metadata `budget` declares IPC 1, but this cell's budget is IPC 2: a set is evaluated only at the budget it was made for"),
            "{e}"
        );

        // The file changes after the run was planned: the cell refuses it.
        write(
            &f,
            tensors(&[1, 2]),
            &[("method", "Sel"), ("budget", "ipc1"), ("paper", "x")],
        );
        let e = import(&src, &train, Budget::Ipc(1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sel.safetensors changed since the run was planned"),
            "{e}"
        );

        // Indices that address other images: weights cannot be honoured, so the file is refused.
        write(&f, tensors(&[0, 3]), &[]);
        let e = open(&f, &view).err().unwrap().to_string();
        assert!(
            e.contains("tensor `weights` is only supported for a selection"),
            "{e}"
        );
        // Without weights, the same file is evaluated from its images, with a note.
        let mut t = tensors(&[0, 3]);
        t.pop();
        write(&f, t, &[]);
        let set = open(&f, &view).unwrap();
        assert_eq!(set.indices, None);
        assert!(
            set.notes[0].contains("does not address these images"),
            "{:?}",
            set.notes
        );
        assert_eq!(set.source.row, "file:sel", "the file stem names the row");
        let c = import(&set.source, &train, Budget::Ipc(1)).unwrap();
        match c.output {
            Output::Images { images, labels, .. } => {
                assert_eq!(
                    Vec::<u8>::try_from(&images.view([-1])).unwrap(),
                    pick(&[1, 2])
                );
                assert_eq!(Vec::<i64>::try_from(&labels).unwrap(), vec![0, 1]);
            }
            other => panic!("{other:?}"),
        }
    }
}
