//! `pg-entra-pool doctor`: checks the settings, credentials, token and
//! login of both pools and says what is wrong. See `pg_entra_pool::doctor`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pg_entra_pool::{Settings, doctor};

#[derive(Parser)]
#[command(
    name = "pg-entra-pool",
    version,
    about = "PostgreSQL pools with Entra ID tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Explain why the pools can or cannot connect, side by side.
    Doctor {
        /// Read `{PREFIX}PG_HOST` and friends, e.g. `KONG_`.
        #[arg(long, default_value = "")]
        env_prefix: String,
        /// A kong.conf-style file; the environment overrides it.
        #[arg(long, value_name = "FILE")]
        conf: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let Command::Doctor {
        env_prefix,
        conf,
        json,
    } = Cli::parse().command;

    let settings = match read_settings(conf.as_deref(), &env_prefix) {
        Ok(s) => s,
        Err(e) => {
            let message = format!("cannot read the settings: {e}");
            if json {
                println!("{}", serde_json::json!({"ok": false, "error": message}));
            } else {
                eprintln!("pg-entra-pool: {message}");
            }
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pg-entra-pool: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(doctor::run(&settings, &doctor::Options::default()));
    let text = if json {
        format!("{}\n", report.to_json())
    } else {
        report.to_string()
    };
    // A reader that goes away early (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn read_settings(
    conf: Option<&std::path::Path>,
    prefix: &str,
) -> Result<Settings, pg_entra_pool::SettingsError> {
    let env = Settings::from_env_prefixed(prefix)?;
    Ok(match conf {
        Some(path) => Settings::from_conf_file(path)?.merge(env),
        None => env,
    })
}
