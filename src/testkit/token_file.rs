//! A federated token file, as Kubernetes mounts one for workload identity.

use std::io;
use std::path::{Path, PathBuf};

use super::pg_bin::make_temp_dir;

/// A file holding a federated assertion in a temporary directory of its
/// own, removed when dropped. Point `AZURE_FEDERATED_TOKEN_FILE` at
/// [`path`](Self::path) (workload identity reads it from there) and give
/// the [`TokenEndpoint`](super::TokenEndpoint) the same assertion with
/// `client_assertion`.
#[derive(Debug)]
pub struct FederatedTokenFile {
    dir: PathBuf,
    path: PathBuf,
}

impl FederatedTokenFile {
    /// Writes `assertion` to a new file.
    ///
    /// # Errors
    ///
    /// When the temporary directory or the file cannot be written.
    pub fn new(assertion: &str) -> io::Result<Self> {
        let dir = make_temp_dir()?;
        let path = dir.join("federated-token");
        if let Err(error) = std::fs::write(&path, assertion) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
        Ok(Self { dir, path })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the assertion, as the platform does when it rotates it.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn rotate(&self, assertion: &str) -> io::Result<()> {
        std::fs::write(&self.path, assertion)
    }
}

impl Drop for FederatedTokenFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
