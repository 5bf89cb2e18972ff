//! Writing files that must never be seen half-written: records, caches, label stores, expert
//! trajectories. A leaf module (no imports from this crate).
//!
//! Every function here follows the same four steps, so a reader finds either the old file or
//! the complete new one, also after a crash or power loss:
//!
//! 1. write to a new temporary file in the target's own folder (same file system, so the
//!    rename below is atomic), named `.tmp.<pid>.<counter>.<file name>` (hidden, and with the
//!    target's extension, for writers that choose a format by it) and created with `O_EXCL`,
//!    so concurrent writers (threads or processes) never share one;
//! 2. `fsync` the temporary file (its bytes are on disk before its name is);
//! 3. rename it over the target (atomic on POSIX file systems);
//! 4. `fsync` the folder (the rename itself is on disk).
//!
//! On any error the temporary file is removed and the target is left as it was. The folder
//! must exist (these functions do not create it).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically and durably (see the module docs).
///
/// # Errors
/// Any I/O error of the four steps (e.g. the folder does not exist or is not writable); the
/// target is then unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content written by `write` into the temporary file (for
/// content produced piecewise). `write`'s value is returned once the file is in place.
///
/// # Errors
/// `write`'s error, or any I/O error of the four steps; the target is then unchanged.
pub fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    replace_with(path, |tmp| {
        let mut f = OpenOptions::new().write(true).open(tmp)?;
        let v = write(&mut f)?;
        f.flush()?;
        Ok(v)
    })
}

/// Like [`write_atomic`], for writers that insist on a path of their own (e.g. libtorch's
/// `VarStore::save`): `write` receives the path of the (empty, already created) temporary
/// file and must write the complete content there; this function then fsyncs it, renames it
/// over `path` and fsyncs the folder. `write`'s value is returned once the file is in place
/// (e.g. a checksum computed over the temporary file).
///
/// # Errors
/// `write`'s error, or any I/O error of the four steps; the target is then unchanged.
pub fn replace_with<T>(path: &Path, write: impl FnOnce(&Path) -> io::Result<T>) -> io::Result<T> {
    let dir = parent_dir(path);
    let tmp = create_temp(path)?;
    let result = write(&tmp).and_then(|v| {
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(v)
    });
    match result {
        Ok(v) => {
            sync_dir(&dir)?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `fsync`s a folder, so renames and new entries in it survive a crash. A no-op where folders
/// cannot be opened for syncing (non-Unix systems).
///
/// # Errors
/// The folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates `.tmp.<pid>.<counter>.<name>` next to `path` with `O_EXCL`.
fn create_temp(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        )
    })?;
    let dir = parent_dir(path);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(
            ".tmp.{}.{n}.{}",
            std::process::id(),
            name.to_string_lossy()
        ));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(_) => return Ok(tmp),
            // A leftover of a crashed process with a recycled pid: try the next counter.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("distillery-fsio-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_replaces_and_leaves_no_temporary_file() {
        let d = dir("replace");
        let p = d.join("a.json");
        write_atomic(&p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two, longer");
        let n = write_atomic_with(&p, |f| f.write_all(b"three").map(|_| 3)).unwrap();
        assert_eq!(n, 3);
        let s = replace_with(&p, |t| {
            assert_eq!(t.extension().unwrap(), "json", "the extension is kept");
            std::fs::write(t, b"four").map(|_| "ok")
        })
        .unwrap();
        assert_eq!((s, std::fs::read(&p).unwrap()), ("ok", b"four".to_vec()));
        assert_eq!(entries(&d), vec!["a.json".to_string()]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_cleans_up() {
        let d = dir("fail");
        let p = d.join("b.bin");
        write_atomic(&p, b"old").unwrap();
        let e = write_atomic_with(&p, |f| {
            f.write_all(b"half")?;
            Err::<(), _>(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(entries(&d), vec!["b.bin".to_string()]);
        assert!(write_atomic(&d.join("missing").join("c"), b"x").is_err());
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn concurrent_writers_never_share_a_temporary_file() {
        let d = dir("concurrent");
        let p = d.join("c.txt");
        std::thread::scope(|s| {
            for i in 0..8 {
                let p = &p;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(p, format!("writer {i} ").repeat(100).as_bytes()).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            (0..8).any(|i| text == format!("writer {i} ").repeat(100)),
            "one writer's whole file: {text}"
        );
        assert_eq!(entries(&d), vec!["c.txt".to_string()]);
        let _ = std::fs::remove_dir_all(d);
    }
}
