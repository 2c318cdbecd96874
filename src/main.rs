//! `hoso`: one binary, thin. Parses flags and config, wires the crates,
//! owns shutdown.

use std::process::ExitCode;

use clap::Parser;
use hoso::cli::{Cli, Command, CommonArgs, ConfigAction, DemoArgs};
use hoso::config::Config;
use hoso::demo::{self, DemoOptions};
use hoso::up::{self, Roles};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn,librdkafka=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hoso: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli_config: Option<&std::path::Path>, common: &CommonArgs) -> anyhow::Result<Config> {
    Config::load(cli_config, std::env::vars(), &common.overrides())
}

fn demo_options(url: String, a: &DemoArgs) -> DemoOptions {
    DemoOptions {
        url,
        communes_csv: Some(a.communes_csv.clone()),
        communes: a.demo_communes,
        backfill_days: a.backfill_days,
        filings_per_day: a.filings_per_day,
        live_rate_per_s: a.live_rate_per_s,
        seed: a.seed,
        token: a.token.clone(),
        format: a.demo_format.stream_format(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    tokio::spawn(stop_on_signal(cancel.clone()));
    let config_file = cli.config.as_deref();
    let (roles, common, demo_args) = match &cli.command {
        Command::Up {
            common,
            demo,
            demo_args,
        } => (Roles::UP, common, demo.then_some(demo_args)),
        Command::Ingest { common } => (Roles::INGEST, common, None),
        Command::Process { common } => (Roles::PROCESS, common, None),
        Command::Query { common } => (Roles::QUERY, common, None),
        Command::Demo { url, demo_args } => {
            demo::run(demo_options(url.clone(), demo_args), cancel).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Import { common, import } => {
            let config = load(config_file, common)?;
            let report = hoso::import::run(&config, &import.request(), cancel).await?;
            report.print(&mut std::io::stderr().lock())?;
            return Ok(ExitCode::from(report.exit_code()));
        }
        Command::Gen { common, args } => {
            let config = load(config_file, common)?;
            let today = hoso_model::time::local_day(demo::now_ms());
            let report = hoso::r#gen::run(args.options(today)?, &config, cancel).await?;
            report.print(&mut std::io::stderr().lock())?;
            return Ok(ExitCode::from(report.exit_code()));
        }
        Command::Bench { common, args } => {
            let mut config = load(config_file, common)?;
            if common.topic.is_none() {
                config.kafka.topic = "hoso-bench".into();
                config.propagate();
            }
            let opts = hoso::bench::BenchOptions {
                events: args.events,
                ingest_events: args.ingest_events,
                freshness_rate: args.freshness_rate,
                freshness_seconds: args.freshness_seconds,
                seed: args.seed,
                year: hoso::bench::year::YearOptions {
                    province: args.year_province.clone(),
                    start_day: hoso::cli::parse_date(&args.year_start).ok_or_else(|| {
                        anyhow::anyhow!("--year-start {:?}: expected YYYY-MM-DD", args.year_start)
                    })?,
                    days: args.year_days,
                    max_communes: args.year_communes,
                    seed: args.seed,
                    keep: args.year_keep,
                },
                only: args.only.clone(),
                broker_pid: args.broker_pid,
            };
            println!("{}", hoso::bench::run(opts, config, cancel).await?);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Replay { common, from } => {
            hoso::replay::run(load(config_file, common)?, from.as_deref(), cancel).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Token { user, role } => {
            let token = hoso_query::auth::new_token().map_err(|e| anyhow::anyhow!(e))?;
            let entry = hoso_query::auth::TokenConfig {
                user: user.clone(),
                role: role.clone(),
                sha256: hoso_query::auth::token_sha256(&token),
            };
            // The same checks as at start: a bad role or name fails here.
            hoso_query::Auth::new(&hoso_query::auth::AuthConfig {
                tokens: vec![entry.clone()],
            })
            .map_err(|e| anyhow::anyhow!(e))?;
            eprintln!("token for {user} (shown once; hoso keeps only its SHA-256):");
            println!("{token}");
            eprintln!("\nadd to the configuration file:\n");
            eprintln!(
                "[[auth.tokens]]\nuser = {:?}\nrole = {:?}\nsha256 = {:?}",
                entry.user, entry.role, entry.sha256
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Config {
            action: ConfigAction::Print { common },
        } => {
            print!("{}", load(config_file, common)?.to_toml()?);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let mut config = load(config_file, common)?;
    if let Some(args) = demo_args {
        // The demo's communes by name, unless a file is configured.
        if config.query.communes_file.is_empty() && args.communes_csv.is_file() {
            config.query.communes_file = args.communes_csv.display().to_string();
        }
        // The demo's unit codes, unless a units file is configured.
        if config.portal_units.is_none() && args.demo_format == hoso::cli::GenFormat::Dvcqg {
            let opts = demo_options(String::new(), args);
            config.portal_units = Some(std::sync::Arc::new(demo::portal_units(
                &opts,
                &config.unit_list,
            )?));
        }
    }
    let local = config.auth.tokens.is_empty();
    let query = config.query.clone();
    let running = up::start(config, roles).await?;
    let addr = running.addr;
    if roles.query {
        println!("hoso: SQL at http://{addr}/v1/sql, for example:");
        println!(
            "  curl -XPOST {addr}/v1/sql --data 'SELECT * FROM online_share ORDER BY day DESC LIMIT 5'"
        );
        if local {
            println!(
                "hoso: local mode (no [auth] tokens): loopback only, user hoso, password hoso, as admin"
            );
            if !query.postgres_listen.is_empty() {
                println!(
                    "  psql postgresql://hoso:hoso@{}/hoso",
                    query.postgres_listen
                );
            }
            if !query.flight_listen.is_empty() {
                println!(
                    "  Flight SQL grpc://{} (user hoso, password hoso)",
                    query.flight_listen
                );
            }
        } else {
            println!(
                "hoso: SQL needs a token (HTTP: Authorization: Bearer; Postgres and Flight SQL: user and token)"
            );
        }
    }
    if roles.ingest {
        println!(
            "hoso: ingest at http://{addr}/v1/events, portal records (DongBoHoSoMC) at http://{addr}/v1/dvcqg"
        );
    }
    let token = running.cancel_token();
    if let Some(args) = demo_args {
        let opts = demo_options(format!("http://{addr}"), args);
        let demo_cancel = token.clone();
        tokio::spawn(async move {
            if let Err(e) = demo::run(opts, demo_cancel).await {
                error!(error = %e, "the demo feed stopped");
            }
        });
    }
    tokio::spawn(async move {
        cancel.cancelled().await;
        info!("shutting down");
        token.cancel();
    });
    running.wait().await?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM cancels `cancel`; a second one exits at once, for
/// when a clean shutdown is stuck (say, on a broker that went away).
async fn stop_on_signal(cancel: CancellationToken) {
    next_signal().await;
    cancel.cancel();
    next_signal().await;
    eprintln!("hoso: second signal, exiting without a clean shutdown");
    std::process::exit(130);
}

async fn next_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
