//! Recognising, from their first bytes, the files `--from` does **not** read, so that a user
//! who hands over a PyTorch checkpoint, a pickle, an HDF5 or a Parquet file is told what the
//! file is and how to convert it, instead of a reader's complaint about bytes it never
//! expected (a `.pt` is a zip archive, like an `.npz`).
//!
//! What is recognised, by content only (never by the file name):
//!
//! | found | how it is recognised |
//! |---|---|
//! | PyTorch zip checkpoint (`torch.save`, `.pt`/`.pth`) | a zip whose entries include `<name>/data.pkl` (with `<name>/version`) |
//! | legacy PyTorch file (`_use_new_zipfile_serialization=False`) | pickle protocol 2 opening, then torch's magic number `0x1950a86a20f9469cfc6c` |
//! | Python pickle (`.pkl`, `.pickle`, old `.pth`) | `0x80` then a protocol byte 2–5 |
//! | HDF5 (`.h5`, `.hdf5`, Keras) | `\x89HDF\r\n\x1a\n` at offset 0, 512, 1024 or 2048 |
//! | Parquet | `PAR1` at both ends |
//! | a single NumPy `.npy` array | `\x93NUMPY` |
//! | gzip, tar, PNG/JPEG image | their magic bytes (`1f 8b`, `ustar` at 257, `\x89PNG`, `ff d8 ff`) |
//!
//! Each one is answered with [`ImportErrorKind::Unsupported`](super::ImportErrorKind::Unsupported):
//! the formats that are read (safetensors, NumPy `.npz`, ImageFolder directories) and a
//! two-line Python conversion into the safetensors layout, with the tensor names the importer
//! expects (`images` `[N, C, H, W]` uint8 or float in [0, 1], `labels` int64 `[N]`).

use std::io::Cursor;

/// A container `--from` does not read, recognised from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Foreign {
    /// A zip archive written by `torch.save` (PyTorch ≥ 1.6).
    TorchZip,
    /// A `torch.save` file in the legacy (pre-1.6) pickle format.
    TorchLegacy,
    /// Any other Python pickle.
    Pickle,
    /// An HDF5 file.
    Hdf5,
    /// An Apache Parquet file.
    Parquet,
    /// One NumPy `.npy` array (not an `.npz` archive of named arrays).
    Npy,
    /// A gzip stream (e.g. `.npz.gz`, `.tar.gz`).
    Gzip,
    /// A tar archive.
    Tar,
    /// One PNG or JPEG image (an ImageFolder set is a directory).
    Image,
    /// A zip archive that holds neither `.npy` entries nor a PyTorch checkpoint.
    OtherZip,
}

/// The conversion every Python hint ends with: the layout's names, dtypes and shapes.
const SAVE: &str = "save_file({\"images\": images.contiguous(), \"labels\": labels.long()}, \"set.safetensors\")  # images [N, C, H, W] uint8, or float in [0, 1]; labels int64 [N]";

impl Foreign {
    /// What the file is, in words (`a PyTorch checkpoint (torch.save zip archive)`).
    pub fn what(self) -> &'static str {
        match self {
            Foreign::TorchZip => "a PyTorch file (a torch.save zip archive, .pt/.pth)",
            Foreign::TorchLegacy => "a PyTorch file in the legacy torch.save format (.pt/.pth)",
            Foreign::Pickle => "a Python pickle (.pkl/.pickle)",
            Foreign::Hdf5 => "an HDF5 file (.h5/.hdf5)",
            Foreign::Parquet => "a Parquet file",
            Foreign::Npy => "a single NumPy .npy array (not an .npz archive of named arrays)",
            Foreign::Gzip => "a gzip-compressed file",
            Foreign::Tar => "a tar archive",
            Foreign::Image => "a single image file",
            Foreign::OtherZip => {
                "a zip archive without .npy entries (neither an .npz archive nor a PyTorch file)"
            }
        }
    }

    /// How to convert it into a file `--from` reads (Python, two lines where one can do).
    pub fn advice(self) -> String {
        let torch = format!(
            "import torch; from safetensors.torch import save_file; d = torch.load(\"set.pt\"); images, labels = d[\"images\"], d[\"labels\"]  # your names, e.g. image_syn/label_syn\n  {SAVE}"
        );
        match self {
            Foreign::TorchZip | Foreign::TorchLegacy => format!("convert it with:\n  {torch}"),
            Foreign::Pickle => format!(
                "convert it with:\n  import pickle, torch; from safetensors.torch import save_file; d = pickle.load(open(\"set.pkl\", \"rb\")); images, labels = torch.as_tensor(d[\"images\"]), torch.as_tensor(d[\"labels\"])\n  {SAVE}"
            ),
            Foreign::Hdf5 => format!(
                "convert it with:\n  import h5py, torch; from safetensors.torch import save_file; f = h5py.File(\"set.h5\"); images, labels = torch.as_tensor(f[\"images\"][:]), torch.as_tensor(f[\"labels\"][:])\n  {SAVE}"
            ),
            Foreign::Parquet => format!(
                "convert it with (one row per image):\n  import numpy as np, pandas as pd, torch; from safetensors.torch import save_file; df = pd.read_parquet(\"set.parquet\"); images = torch.as_tensor(np.stack(df[\"image\"].map(np.asarray))); labels = torch.as_tensor(df[\"label\"].values)\n  {SAVE}"
            ),
            Foreign::Npy => "save the images and labels together: np.savez(\"set.npz\", images=images, labels=labels.astype(\"int64\"))".into(),
            Foreign::Gzip | Foreign::Tar => "unpack it first (an ImageFolder set is passed as its directory)".into(),
            Foreign::Image => "pass the directory of class folders (ImageFolder), not one image".into(),
            Foreign::OtherZip => "unpack it (an ImageFolder set is passed as its directory), or save arrays with np.savez(\"set.npz\", images=..., labels=...)".into(),
        }
    }
}

/// The supported formats, for messages.
pub const SUPPORTED: &str =
    "--from reads safetensors files, NumPy .npz archives, ImageFolder directories and Parquet files";

/// Recognises a container `--from` does not read; `None` for anything else (which the
/// safetensors, `.npz` and ImageFolder readers then judge).
pub fn sniff(bytes: &[u8]) -> Option<Foreign> {
    // A safetensors header length can begin with the bytes of another magic (640 bytes is
    // `80 02 00 …`, the pickle opening): a plausible safetensors header wins.
    if looks_like_safetensors(bytes) {
        return None;
    }
    if bytes.starts_with(b"PK") {
        return sniff_zip(bytes);
    }
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        // torch's legacy format pickles this magic number (a Python long) first.
        const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
        let legacy = bytes.len() >= 13 && bytes[2] == 0x8a && bytes[3] == 10 && {
            bytes[4..14.min(bytes.len())] == TORCH_MAGIC[..(14.min(bytes.len()) - 4)]
        };
        return Some(if legacy {
            Foreign::TorchLegacy
        } else {
            Foreign::Pickle
        });
    }
    const HDF5: &[u8] = b"\x89HDF\r\n\x1a\n";
    if [0usize, 512, 1024, 2048]
        .iter()
        .any(|&o| bytes.get(o..o + HDF5.len()) == Some(HDF5))
    {
        return Some(Foreign::Hdf5);
    }
    if bytes.len() >= 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1") {
        return Some(Foreign::Parquet);
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return Some(Foreign::Npy);
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some(Foreign::Gzip);
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return Some(Foreign::Tar);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some(Foreign::Image);
    }
    None
}

/// An 8-byte little-endian length that fits the file, followed by `{`.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    bytes.len() > 8
        && u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default()) <= (bytes.len() - 8) as u64
        && bytes[8] == b'{'
}

/// A zip is a PyTorch checkpoint when an entry is `data.pkl` (torch writes
/// `<archive name>/data.pkl`, `<archive name>/version` and `<archive name>/data/<n>`); an
/// archive with no `.npy` entry at all is not an `.npz`. A zip that cannot be opened is left
/// to the `.npz` reader, which says that it is truncated.
fn sniff_zip(bytes: &[u8]) -> Option<Foreign> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let names: Vec<&str> = zip.file_names().collect();
    if names
        .iter()
        .any(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
    {
        return Some(Foreign::TorchZip);
    }
    if !names.is_empty() && !names.iter().any(|n| n.ends_with(".npy")) {
        return Some(Foreign::OtherZip);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, zip::write::FileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// Every foreign container is recognised by its bytes; the layouts the importer reads
    /// (an `.npz`, a safetensors header) are not mistaken for one.
    #[test]
    fn foreign_containers_are_recognised_by_content() {
        let torch = zip_of(&[
            ("set/data.pkl", b"\x80\x02}q\x00."),
            ("set/version", b"3\n"),
            ("set/data/0", &[0u8; 16]),
        ]);
        assert_eq!(sniff(&torch), Some(Foreign::TorchZip));
        let npz = zip_of(&[("images.npy", b"\x93NUMPY"), ("labels.npy", b"\x93NUMPY")]);
        assert_eq!(sniff(&npz), None);
        assert_eq!(
            sniff(&zip_of(&[("a/b.png", b"x")])),
            Some(Foreign::OtherZip)
        );
        let mut legacy = vec![0x80, 0x02, 0x8a, 0x0a];
        legacy.extend_from_slice(&[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
        legacy.extend_from_slice(b".\x80\x02M\xe9\x03.");
        assert_eq!(sniff(&legacy), Some(Foreign::TorchLegacy));
        assert_eq!(sniff(b"\x80\x04\x95\x10\x00}."), Some(Foreign::Pickle));
        assert_eq!(sniff(b"\x89HDF\r\n\x1a\n\x00\x00"), Some(Foreign::Hdf5));
        let mut late_hdf5 = vec![0u8; 512];
        late_hdf5.extend_from_slice(b"\x89HDF\r\n\x1a\n");
        assert_eq!(sniff(&late_hdf5), Some(Foreign::Hdf5));
        assert_eq!(sniff(b"PAR1\x15\x04xxxxPAR1"), Some(Foreign::Parquet));
        assert_eq!(sniff(b"\x93NUMPY\x01\x00"), Some(Foreign::Npy));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Some(Foreign::Gzip));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(Foreign::Image));
        let header = br#"{"images":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        let mut st = (header.len() as u64).to_le_bytes().to_vec();
        st.extend_from_slice(header);
        st.push(0);
        assert_eq!(sniff(&st), None, "a safetensors file is not foreign");
        // A 640-byte header starts `80 02`, like a pickle: still safetensors.
        let mut st640 = 640u64.to_le_bytes().to_vec();
        st640.push(b'{');
        st640.resize(8 + 640, b' ');
        assert_eq!(sniff(&st640), None);
    }
}
