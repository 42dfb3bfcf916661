//! Finding the PostgreSQL binaries and running them as the right user.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where the PostgreSQL binaries are and who runs them.
#[derive(Debug, Clone)]
pub(crate) struct PgBin {
    bindir: PathBuf,
    /// `true` when this process is root: then every binary runs through
    /// `runuser -u postgres --`, because `initdb` and `postgres` refuse root.
    as_postgres: bool,
}

impl PgBin {
    /// Finds the binaries: `PG_BINDIR` if set, else the highest version under
    /// `/usr/lib/postgresql/*/bin`.
    pub(crate) fn find() -> io::Result<Self> {
        let bindir = match std::env::var_os("PG_BINDIR") {
            Some(dir) => PathBuf::from(dir),
            None => highest_installed().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: \
                     install the `postgresql` package or set PG_BINDIR",
                )
            })?,
        };
        if !bindir.join("initdb").is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no `initdb` in {}: set PG_BINDIR to a server bin directory",
                    bindir.display()
                ),
            ));
        }

        let as_postgres = is_root()?;
        if as_postgres && postgres_ids().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "running as root but there is no `postgres` user to run the server: \
                 install the `postgresql` package",
            ));
        }
        Ok(Self {
            bindir,
            as_postgres,
        })
    }

    pub(crate) fn bindir(&self) -> &Path {
        &self.bindir
    }

    pub(crate) fn as_postgres(&self) -> bool {
        self.as_postgres
    }

    /// A command that runs `program` from the bin directory as the server user.
    pub(crate) fn command(&self, program: &str) -> Command {
        let path = self.bindir.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args([OsStr::new("-u"), OsStr::new("postgres"), OsStr::new("--")]);
            cmd.arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// Runs `program` with `args` and fails with its stderr when it fails.
    pub(crate) fn run<I, S>(&self, program: &str, args: I) -> io::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self.command(program).args(args).output()?;
        if output.status.success() {
            return Ok(output);
        }
        Err(io::Error::other(format!(
            "`{program}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }

    /// Hands `path` and everything below it to the server user.
    pub(crate) fn chown_to_server(&self, path: &Path) -> io::Result<()> {
        let Some((uid, gid)) = self.as_postgres.then(postgres_ids).flatten() else {
            return Ok(());
        };
        chown_tree(path, uid, gid)
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

fn highest_installed() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for entry in fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, bin)| bin)
}

/// Whether this process runs as root. `/proc/self` belongs to the effective
/// user, which saves a dependency on `libc` for `geteuid`.
fn is_root() -> io::Result<bool> {
    Ok(fs::metadata("/proc/self")?.uid() == 0)
}

/// The uid and gid of the `postgres` user, read from `/etc/passwd`.
fn postgres_ids() -> Option<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != "postgres" {
            return None;
        }
        let uid = fields.nth(1)?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some((uid, gid))
    })
}

/// Makes a fresh private directory under the system temp dir.
pub(crate) fn make_temp_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    let mut random = [0u8; 6];
    openssl::rand::rand_bytes(&mut random).map_err(io::Error::other)?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let name = format!(
        "pg-entra-testkit-{}-{}-{suffix}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}
