//! A shell loop that tears a cluster down if the test process dies first.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::pg_bin::PgBin;

// Positional parameters keep paths out of the script text, so no quoting.
const SCRIPT: &str = r#"
pid=$1 bindir=$2 data=$3 dir=$4 as_postgres=$5
while kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
if [ -f "$data/postmaster.pid" ]; then
  if [ "$as_postgres" = 1 ]; then
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -m immediate -w stop
  else
    "$bindir/pg_ctl" -D "$data" -m immediate -w stop
  fi
fi
rm -rf "$dir"
"#;

/// Starts the watchdog for this process. It stops the server in `data` and
/// removes `dir` once this process is gone, however it ended (panic=abort,
/// SIGKILL, statics never dropped). The normal path kills it in `Drop`.
pub(crate) fn spawn(bin: &PgBin, data: &Path, dir: &Path) -> io::Result<Child> {
    let as_postgres = if bin.as_postgres() { "1" } else { "0" };
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("pg-entra-testkit-watchdog")
        .arg(std::process::id().to_string())
        .arg(bin.bindir())
        .arg(data)
        .arg(dir)
        .arg(as_postgres)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C aimed at the test run must not
        // take the watchdog down along with the tests.
        .process_group(0)
        .spawn()
}
