//! ImageFolder trees: `root/train/<class>/**/<image>` and `root/test/<class>/**/<image>`
//! (`root/val/` when there is no `test/`), read as torchvision's `ImageFolder` reads them.
//!
//! * Classes are the subdirectories of `train/`, sorted by name (bytes); label = index. Names
//!   are whatever the file system holds: kept byte-exactly (`OsString`), matched between the
//!   splits byte-exactly, shown lossily (`U+FFFD` for bytes that are not UTF-8) in
//!   `class_names`; the checksum hashes the exact bytes.
//! * Files: every file under a class directory, **recursively** (symbolic links followed, a
//!   link loop is an error), whose extension is one of [`IMAGE_EXTENSIONS`] (torchvision's
//!   `IMG_EXTENSIONS`, ASCII case-insensitive), in torchvision's order: by directory path, then
//!   file name (bytes). Hidden entries (names starting with `.`) are not read (torchvision reads
//!   them; here they are left out, and counted). Every file left out is counted by reason in
//!   [`DatasetSource::splits`], never dropped without a word.
//! * Every train class must have a non-empty directory in the test split and vice versa.
//! * Images are decoded with the `image` crate (format detected from content), converted to
//!   RGB (`channels == 3`) or luma (`channels == 1`), then resized — **stretched** to
//!   `resolution x resolution`, no crop, no padding — with `image::imageops::resize` and the
//!   `Triangle` (bilinear) filter; images already at that size are not resampled. Output is
//!   CHW uint8. Images stretched far from their shape (aspect ratio beyond 2:1, or upscaled
//!   more than 2x along a side) are counted and make one warning each (see [`ASPECT_LIMIT`]).
//! * Within a split, files are ordered by class, then as above.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use distillery_record::{DatasetSource, SplitFiles};

use super::cache::{self, Key};
use super::decode::{self, Preprocess};
use super::{disp, DataError, RawDataset, RawSplit, Result};

/// Options of [`load_image_folder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Output images are `resolution x resolution` (default 32): the train split is
    /// stretched to it ([`Preprocess::Stretch`]).
    pub resolution: u32,
    /// 3 = RGB, 1 = grayscale (default 3). Other values are rejected.
    pub channels: usize,
    /// Whether horizontal mirroring preserves the class (default true).
    pub mirror_invariant: bool,
    /// The test split's preprocessing when it differs from the train split's (the protocol's
    /// `[data] eval_resize` / `eval_crop`); it must produce `resolution x resolution` images.
    /// `None` (default): stretched like the train split.
    pub eval: Option<Preprocess>,
    /// The decoded-image cache folder ([`super::cache`]); `None` (default): no cache.
    pub cache: Option<PathBuf>,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        ImageFolderOptions {
            resolution: 32,
            channels: 3,
            mirror_invariant: true,
            eval: None,
            cache: None,
        }
    }
}

/// The extensions read from an ImageFolder tree (ASCII case-insensitive): torchvision's
/// `IMG_EXTENSIONS`. Every one is a format the `image` crate decodes here.
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "bmp", "jpeg", "jpg", "pgm", "png", "ppm", "tif", "tiff", "webp",
];

/// The extensions `bench --from` reads from an ImageFolder set (`crate::import`).
const IMPORT_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Above this ratio of an image's longer side to its shorter side, stretching it to a square
/// distorts it by more than 2x: such images are counted and warned about, once per dataset.
pub const ASPECT_LIMIT: u32 = 2;

/// An image with a side shorter than `resolution / UPSCALE_LIMIT` is upscaled by more than
/// this factor along that side: counted and warned about, once per dataset. Downscaling (large
/// photos to 32x32) is the normal case and never warned about.
pub const UPSCALE_LIMIT: u32 = 2;

/// Why a file under a split directory was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    /// Its name (or a directory above it) starts with `.`.
    Hidden,
    /// Its extension is not in [`IMAGE_EXTENSIONS`].
    NotImage,
    /// It lies directly in the split directory, not in a class directory.
    OutsideClass,
}

impl Skip {
    fn reason(self) -> String {
        match self {
            Skip::Hidden => "hidden (name starts with '.')".into(),
            Skip::NotImage => format!(
                "not an image extension ({})",
                IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(" ")
            ),
            Skip::OutsideClass => "not in a class directory".into(),
        }
    }
}

fn is_hidden(p: &Path) -> bool {
    p.file_name().is_some_and(hidden_name)
}

fn hidden_name(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn has_extension(p: &Path, list: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| list.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |e| DataError::Io {
        path: disp(path),
        source: e,
    }
}

/// The entries of `dir` (hidden ones included), sorted by name (bytes).
fn list_all(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        out.push(entry.map_err(io_err(dir))?.path());
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(out)
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_all(dir)?
        .into_iter()
        .filter(|p| !is_hidden(p))
        .collect())
}

/// The class directories of an imported ImageFolder set (`crate::import`), names shown lossily.
pub(crate) fn class_dirs(split_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(list_dir(split_dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                p,
            )
        })
        .collect())
}

/// The images of one class of an imported ImageFolder set (`crate::import`): the `.png`,
/// `.jpg`, `.jpeg` files directly in `class_dir`, by name.
pub(crate) fn image_files(class_dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_dir(class_dir)?
        .into_iter()
        .filter(|p| p.is_file() && has_extension(p, &IMPORT_EXTENSIONS))
        .collect())
}

/// Files left out, with why.
type Skipped = Vec<(PathBuf, Skip)>;

/// What a split directory holds: its classes (exact names) and the files left out at its top.
struct SplitScan {
    classes: Vec<(OsString, PathBuf)>,
    skipped: Skipped,
}

fn scan_split(split_dir: &Path) -> Result<SplitScan> {
    let mut scan = SplitScan {
        classes: Vec::new(),
        skipped: Vec::new(),
    };
    for p in list_all(split_dir)? {
        let name = p.file_name().unwrap_or_default().to_os_string();
        if hidden_name(&name) {
            scan.skipped.push((p, Skip::Hidden));
        } else if p.is_dir() {
            scan.classes.push((name, p));
        } else {
            scan.skipped.push((p, Skip::OutsideClass));
        }
    }
    Ok(scan)
}

fn walk_error(root: &Path, e: walkdir::Error) -> DataError {
    let path = e.path().map(disp).unwrap_or_else(|| disp(root));
    if let Some(ancestor) = e.loop_ancestor() {
        return DataError::invalid(
            path,
            "a directory tree without symbolic-link loops",
            format!("a link back to {}", disp(ancestor)),
        );
    }
    let source = e
        .into_io_error()
        .unwrap_or_else(|| std::io::Error::other("directory walk failed"));
    DataError::Io { path, source }
}

/// The images under `class_dir`, recursively, in torchvision's order (directory path, then
/// file name, as bytes), and the files left out with why.
fn scan_class(class_dir: &Path) -> Result<(Vec<PathBuf>, Skipped)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut it = walkdir::WalkDir::new(class_dir)
        .follow_links(true)
        .min_depth(1)
        .into_iter();
    while let Some(entry) = it.next() {
        let entry = entry.map_err(|e| walk_error(class_dir, e))?;
        let is_dir = entry.file_type().is_dir();
        if hidden_name(entry.file_name()) {
            if is_dir {
                it.skip_current_dir();
            }
            skipped.push((entry.into_path(), Skip::Hidden));
        } else if is_dir {
            continue;
        } else if entry.file_type().is_file() && has_extension(entry.path(), &IMAGE_EXTENSIONS) {
            files.push(entry.into_path());
        } else {
            skipped.push((entry.into_path(), Skip::NotImage));
        }
    }
    let key = |p: &PathBuf| {
        (
            p.parent().unwrap_or(Path::new("")).as_os_str().to_owned(),
            p.file_name().unwrap_or_default().to_owned(),
        )
    };
    // OsStr orders by bytes on unix: the order of Python's sorted() on the same names.
    files.sort_by_cached_key(key);
    Ok((files, skipped))
}

/// Decodes one image of an imported ImageFolder set (`crate::import`) as the dataset reader
/// decodes the train split: converted to `opts.channels`, stretched to `opts.resolution`.
pub(crate) fn decode(path: &Path, opts: &ImageFolderOptions) -> Result<Vec<u8>> {
    Ok(decode::decode_file(path, opts.channels, Preprocess::Stretch(opts.resolution))?.0)
}

/// Decodes `files` (path, label) in parallel with `pre`; the first error in file order is
/// returned. Also returns every image's size before preprocessing, in file order.
fn decode_all(
    files: &[(PathBuf, i64)],
    channels: usize,
    pre: Preprocess,
    what: &str,
) -> Result<decode::Decoded> {
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    decode::decode_files(&paths, channels, pre, what)
}

/// Writes the decoded splits of `ds` to the cache entry of `key` (see [`cache`]).
fn store(
    dir: &Path,
    key: &Key,
    ds: &RawDataset,
    reads: &[SplitRead; 2],
    shapes: &[(usize, usize, usize); 2],
) -> std::io::Result<PathBuf> {
    let sizes: Vec<Vec<(u32, u32)>> = reads
        .iter()
        .map(|s| s.images.iter().map(|(_, sz)| *sz).collect())
        .collect();
    cache::store(
        dir,
        key,
        &ds.checksum,
        &[
            (&ds.train.images, &sizes[0], shapes[0]),
            (&ds.test.images, &sizes[1], shapes[1]),
        ],
    )
}

/// Whether an image of `(w, h)` has an aspect ratio beyond [`ASPECT_LIMIT`]:1.
fn aspect_beyond(w: u32, h: u32) -> bool {
    let (lo, hi) = (w.min(h) as u64, w.max(h) as u64);
    hi > lo * ASPECT_LIMIT as u64
}

/// Whether an image of `(w, h)` is upscaled by more than [`UPSCALE_LIMIT`] along a side.
fn upscaled_beyond(w: u32, h: u32, resolution: u32) -> bool {
    let r = resolution as u64;
    (w as u64) * (UPSCALE_LIMIT as u64) < r || (h as u64) * (UPSCALE_LIMIT as u64) < r
}

/// One split as read: its record entry, and per file its path and size before resizing.
struct SplitRead {
    files: SplitFiles,
    images: Vec<(PathBuf, (u32, u32))>,
}

fn split_read(
    name: &str,
    files: &[(PathBuf, i64)],
    sizes: Vec<(u32, u32)>,
    skipped: &[(PathBuf, Skip)],
    resolution: u32,
) -> SplitRead {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (_, why) in skipped {
        *counts.entry(why.reason()).or_default() += 1;
    }
    let images: Vec<(PathBuf, (u32, u32))> =
        files.iter().map(|(p, _)| p.clone()).zip(sizes).collect();
    SplitRead {
        files: SplitFiles {
            split: name.to_string(),
            used: files.len(),
            skipped: counts,
            aspect_beyond_2: images
                .iter()
                .filter(|(_, (w, h))| aspect_beyond(*w, *h))
                .count(),
            upscaled_beyond_2: images
                .iter()
                .filter(|(_, (w, h))| upscaled_beyond(*w, *h, resolution))
                .count(),
        },
        images,
    }
}

/// The warnings about stretched images: at most one per condition for the whole dataset, with
/// the counts per split and the first such image as an example.
fn stretch_warnings(splits: &[SplitRead], resolution: u32) -> Vec<String> {
    let r = resolution;
    let mut out = Vec::new();
    type Test<'a> = &'a dyn Fn(u32, u32) -> bool;
    type Count<'a> = &'a dyn Fn(&SplitFiles) -> usize;
    let checks: [(Test, Count, String); 2] = [
        (
            &|w, h| aspect_beyond(w, h),
            &|f| f.aspect_beyond_2,
            format!(
                "have an aspect ratio beyond {ASPECT_LIMIT}:1 and were stretched to {r}x{r} (no crop, no padding)"
            ),
        ),
        (
            &|w, h| upscaled_beyond(w, h, r),
            &|f| f.upscaled_beyond_2,
            format!(
                "are upscaled more than {UPSCALE_LIMIT}x to {r}x{r} (a side shorter than {} px)",
                r.div_ceil(UPSCALE_LIMIT)
            ),
        ),
    ];
    for (test, count, what) in checks {
        if splits.iter().all(|s| count(&s.files) == 0) {
            continue;
        }
        let per_split: Vec<String> = splits
            .iter()
            .map(|s| {
                format!(
                    "{} of {} {} images",
                    count(&s.files),
                    s.files.used,
                    s.files.split
                )
            })
            .collect();
        let (path, (w, h)) = splits
            .iter()
            .flat_map(|s| &s.images)
            .find(|(_, (w, h))| test(*w, *h))
            .expect("a counted image");
        out.push(format!(
            "{} {what}, e.g. {} ({w}x{h}); check --image-size, or resize or crop them yourself",
            per_split.join(" and "),
            disp(path)
        ));
    }
    out
}

fn images_word() -> String {
    format!(
        "images ({})",
        IMAGE_EXTENSIONS.map(|e| format!(".{e}")).join(" ")
    )
}

/// Loads an ImageFolder tree (see the module docs). Dataset name = the root's directory name.
/// The returned dataset's [`RawDataset::source`] lists the files used and left out per split,
/// the resize policy and the warnings about stretched images.
pub fn load_image_folder(root: impl AsRef<Path>, opts: &ImageFolderOptions) -> Result<RawDataset> {
    let root = root.as_ref();
    if opts.channels != 1 && opts.channels != 3 {
        return Err(DataError::invalid(
            disp(root),
            "an ImageFolder channel count of 1 or 3",
            opts.channels.to_string(),
        ));
    }
    if opts.resolution == 0 {
        return Err(DataError::invalid(
            disp(root),
            "a resolution of at least 1",
            "0",
        ));
    }
    let train_dir = root.join("train");
    if !train_dir.is_dir() {
        return Err(DataError::MissingFile {
            path: disp(&train_dir),
            expected: "a train/ directory with one subdirectory per class".into(),
        });
    }
    let test_dir = if root.join("test").is_dir() {
        root.join("test")
    } else {
        root.join("val")
    };
    if !test_dir.is_dir() {
        return Err(DataError::MissingFile {
            path: disp(&root.join("test")),
            expected: "a test/ (or val/) directory with one subdirectory per class".into(),
        });
    }
    let train_scan = scan_split(&train_dir)?;
    let train_classes = &train_scan.classes;
    if train_classes.is_empty() {
        return Err(DataError::invalid(
            disp(&train_dir),
            "at least one class subdirectory",
            "none",
        ));
    }
    let test_scan = scan_split(&test_dir)?;
    let train_split = disp(&train_dir);
    let test_split = disp(&test_dir);
    // Every test class must be a train class (names compared byte-exactly).
    for (name, _) in &test_scan.classes {
        if !train_classes.iter().any(|(n, _)| n == name) {
            return Err(DataError::MissingClass {
                path: disp(&train_dir.join(name)),
                class: name.to_string_lossy().into_owned(),
                present_in: test_split.clone(),
                found: "no such directory".into(),
            });
        }
    }
    let (mut train_files, mut test_files) = (Vec::new(), Vec::new());
    let (mut train_skipped, mut test_skipped) = (train_scan.skipped, test_scan.skipped);
    for (label, (name, dir)) in train_classes.iter().enumerate() {
        let (files, skipped) = scan_class(dir)?;
        if files.is_empty() {
            return Err(DataError::invalid(
                disp(dir),
                format!("at least one of the {}", images_word()),
                "none",
            ));
        }
        train_files.extend(files.into_iter().map(|p| (p, label as i64)));
        train_skipped.extend(skipped);
        let tdir = test_dir.join(name);
        let missing = |found: String| DataError::MissingClass {
            path: disp(&tdir),
            class: name.to_string_lossy().into_owned(),
            present_in: train_split.clone(),
            found,
        };
        if !tdir.is_dir() {
            return Err(missing("no such directory".into()));
        }
        let (tfiles, tskipped) = scan_class(&tdir)?;
        if tfiles.is_empty() {
            return Err(missing(format!("a directory without {}", images_word())));
        }
        test_files.extend(tfiles.into_iter().map(|p| (p, label as i64)));
        test_skipped.extend(tskipped);
    }
    let r = opts.resolution;
    let train_pre = Preprocess::Stretch(r);
    let test_pre = opts.eval.unwrap_or(train_pre);
    if test_pre.side() != r {
        return Err(DataError::invalid(
            disp(root),
            format!("a test-split preprocessing that gives {r}x{r} images, the train split's size"),
            test_pre.describe(),
        ));
    }
    let c = opts.channels;
    let shapes = [
        (train_files.len(), c, r as usize),
        (test_files.len(), c, r as usize),
    ];
    let key = match &opts.cache {
        None => None,
        Some(dir) => Some((
            dir.as_path(),
            cache::key(
                root,
                c,
                train_classes.iter().map(|(n, _)| n.as_encoded_bytes()),
                &[
                    cache::SplitFiles {
                        preprocess: train_pre,
                        files: &train_files,
                    },
                    cache::SplitFiles {
                        preprocess: test_pre,
                        files: &test_files,
                    },
                ],
            )?,
        )),
    };
    let mut cached = None;
    if let Some((dir, key)) = &key {
        if let Some((mut d, stored)) = cache::load(dir, key, &shapes) {
            let test = d.pop().expect("two splits");
            let train = d.pop().expect("two splits");
            cached = Some((train, test, stored));
        }
    }
    let (train, train_sizes, test, test_sizes, stored) = match cached {
        Some((tr, te, stored)) => (tr.images, tr.sizes, te.images, te.sizes, Some(stored)),
        None => {
            let (tr, trs) = decode_all(&train_files, c, train_pre, "decoding train images")?;
            let (te, tes) = decode_all(&test_files, c, test_pre, "decoding test images")?;
            (tr, trs, te, tes, None)
        }
    };
    let split_of = |images: Vec<u8>, files: &[(PathBuf, i64)]| {
        RawSplit::new(
            images,
            files.iter().map(|(_, y)| *y).collect(),
            c,
            r as usize,
            r as usize,
        )
    };
    let (train, test) = (split_of(train, &train_files), split_of(test, &test_files));
    let split_name = |d: &Path| {
        d.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let reads = [
        split_read(
            &split_name(&train_dir),
            &train_files,
            train_sizes,
            &train_skipped,
            opts.resolution,
        ),
        split_read(
            &split_name(&test_dir),
            &test_files,
            test_sizes,
            &test_skipped,
            opts.resolution,
        ),
    ];
    let name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "imagefolder".to_string());
    let class_names = train_classes
        .iter()
        .map(|(n, _)| n.to_string_lossy().into_owned())
        .collect();
    // The checksum hashes the names' exact bytes (the same as their UTF-8 when they are UTF-8);
    // computed once (a pass over every pixel).
    let checksum = super::raw::content_checksum_bytes(
        &train,
        &test,
        train_classes.iter().map(|(n, _)| n.as_encoded_bytes()),
    );
    let mut ds = RawDataset {
        name,
        train,
        test,
        class_names,
        mirror_invariant: opts.mirror_invariant,
        checksum,
        source: DatasetSource::default(),
        cache_note: None,
    };
    if let Some((dir, key)) = &key {
        let path = cache::entry_path(dir, key);
        ds.cache_note = Some(match stored {
            Some(s) if s == ds.checksum => {
                format!("decoded images read from the cache {}", disp(&path))
            }
            Some(_) => {
                // A damaged entry: never used. Decode again (and store a good entry).
                cache::remove(dir, key);
                let fresh = ImageFolderOptions {
                    cache: Some(dir.to_path_buf()),
                    ..opts.clone()
                };
                let mut ds = load_image_folder(root, &fresh)?;
                ds.cache_note = Some(format!(
                    "the cache entry {} did not match its recorded checksum: deleted and decoded again",
                    disp(&path)
                ));
                return Ok(ds);
            }
            None => match store(dir, key, &ds, &reads, &shapes) {
                Ok(p) => format!("decoded images written to the cache {}", disp(&p)),
                Err(e) => format!("could not write the cache entry {}: {e}", disp(&path)),
            },
        });
    }
    let desc = if test_pre == train_pre {
        format!("every image {}", train_pre.describe())
    } else {
        format!(
            "train images {}; test images {}",
            train_pre.describe(),
            test_pre.describe()
        )
    };
    ds.source = DatasetSource {
        format: "image-folder".into(),
        kind: None,
        kind_from: None,
        resize: Some(format!(
            "{desc}, {} (--image-size {r} --channels {})",
            if opts.channels == 3 {
                "RGB"
            } else {
                "grayscale"
            },
            opts.channels
        )),
        warnings: stretch_warnings(&reads, r),
        class_names: ds.class_names.clone(),
        splits: reads.into_iter().map(|s| s.files).collect(),
    };
    Ok(ds)
}
