//! Claims: exclusive advisory locks on small lock files, so that of several `bench` processes
//! (two runs on one output folder, the tasks of a Slurm array, runs sharing the per-user cache)
//! exactly one runs a given cell or builds a given cache entry while the others wait and then
//! reuse what it wrote.
//!
//! The lock is `flock(2)` through the standard library's [`std::fs::File::lock`] (stable
//! since Rust 1.89; the same call the teacher cache in `distillery_api::teacher` uses), not a
//! crate: it is what fs4 and fd-lock wrap on Unix. `flock` works on local disks and on NFS
//! (the Linux NFS client maps it to NFS byte-range locks since 2.6.12; NFSv4 has them
//! natively, NFSv3 through NLM); it does not work across machines on filesystems whose
//! locks are node-local (some Lustre/BeeGFS mounts without `flock`/`localflock`
//! options: ask the admins). The kernel drops the lock when the process dies, however it
//! dies, so a killed holder never leaves a stale claim. Lock files are never deleted (removing a
//! lock file while someone waits on it would let two holders in).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// A held claim; dropping it releases the lock.
#[derive(Debug)]
pub struct Claim {
    _file: File,
    path: PathBuf,
}

/// The lock file of cell `cell_id` in output folder `out`: `out/locks/<cell_id>.lock`.
pub fn cell_lock(out: &Path, cell_id: &str) -> PathBuf {
    out.join("locks").join(format!("{cell_id}.lock"))
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))
}

impl Claim {
    /// Takes the claim on `path` (created with its folder if missing) if nobody holds it:
    /// `Ok(None)` when another process (or another open of the file) holds it.
    ///
    /// # Errors
    /// The lock file cannot be created or the filesystem refuses locks.
    pub fn try_acquire(path: &Path) -> io::Result<Option<Claim>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Claim {
                _file: file,
                path: path.to_path_buf(),
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(io::Error::new(
                e.kind(),
                format!("cannot lock {}: {e}", path.display()),
            )),
        }
    }

    /// Takes the claim on `path`, waiting for its holder to release it (or to die).
    ///
    /// # Errors
    /// As [`Claim::try_acquire`].
    pub fn acquire(path: &Path) -> io::Result<Claim> {
        let file = open(path)?;
        file.lock().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot lock {}: {e}", path.display()))
        })?;
        Ok(Claim {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = std::env::temp_dir().join(format!("distillery-claim-{}", std::process::id()));
        let p = cell_lock(&dir, "random__ipc1__s0");
        assert_eq!(p, dir.join("locks").join("random__ipc1__s0.lock"));
        let a = Claim::try_acquire(&p).unwrap().expect("free");
        // A second open file description of the same file is refused while `a` holds it,
        // exactly as another process would be.
        assert!(Claim::try_acquire(&p).unwrap().is_none());
        drop(a);
        let b = Claim::acquire(&p).unwrap();
        assert_eq!(b.path(), p);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
