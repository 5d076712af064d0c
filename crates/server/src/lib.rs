//! The `healthcommons` command: `serve`, `migrate`, `admin …`, `debug …`.

pub mod config;
pub mod mailer;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use healthcommons_db::queries;
use healthcommons_federation::{
    FederationContext, delivery, inbox, metrics::Metrics, objects::actor::DbActor, resolve::resolve_actor,
};
use healthcommons_service::{
    NodeContext,
    accounts::{self, Registration, Role},
    node::{self, RegistrationMode},
};
use healthcommons_web::{
    AliveGuard, AppState, WorkerStatus,
    read_cache::{CacheLimits, ReadCache},
};
use std::{path::PathBuf, process::ExitCode, sync::Arc};
use tokio::{net::TcpListener, sync::Notify};
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "healthcommons",
    version,
    about = "A federated node of the health commons"
)]
struct Cli {
    /// Configuration file (default: $HEALTHCOMMONS_CONFIG, or ./healthcommons.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (creates the data directory, database and keys on first start).
    Serve,
    /// Run database migrations and exit.
    Migrate,
    /// Administer accounts and the node.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Look inside a node.
    #[command(subcommand)]
    Debug(DebugCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (approved at once, whatever the registration policy).
    CreateUser {
        name: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        email: Option<String>,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// List accounts with their roles.
    ListUsers,
    /// Set an account's role: member, moderator or admin.
    SetRole { name: String, role: String },
    /// Approve an account waiting for approval.
    Approve { name: String },
    /// Set who may register: open, approval or closed.
    SetRegistration { mode: String },
    /// Block a whole node: nothing from it is accepted, nothing is sent to it.
    BlockNode { host: String },
    /// Lift a block on a node.
    UnblockNode { host: String },
}

#[derive(Subcommand)]
enum DebugCommand {
    /// Print the merged configuration, secrets hidden.
    Config,
    /// Fetch and print a remote actor: `@name@host` or a URL.
    Resolve { query: String },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let config = match Config::load(cli.config.clone(), &env) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("healthcommons: configuration error: {err:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("healthcommons: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("healthcommons: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = open_database(&config).await?;
            healthcommons_db::migrate(&db).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Admin(admin) => run_admin(admin, config).await,
        Command::Debug(DebugCommand::Config) => {
            print!("{}", config.redacted());
            Ok(())
        }
        Command::Debug(DebugCommand::Resolve { query }) => {
            let node = Node::start(&config).await?;
            let data = node.federation.to_request_data();
            let actor: DbActor = resolve_actor(&query, &data).await?;
            let json = activitypub_federation::traits::Object::into_json(actor, &data).await?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
    }
}

async fn open_database(config: &Config) -> anyhow::Result<healthcommons_db::Db> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    healthcommons_db::open(&url)
        .await
        .with_context(|| "cannot open the database".to_string())
}

fn node_context(config: &Config) -> NodeContext {
    NodeContext::new(&config.domain, !config.dev_federation).with_email(config.email_enabled())
}

async fn run_admin(command: AdminCommand, config: Config) -> anyhow::Result<()> {
    let db = open_database(&config).await?;
    healthcommons_db::migrate(&db).await?;
    let ctx = node_context(&config);
    node::pin_domain(&db, &ctx)
        .await
        .map_err(|e| anyhow::anyhow!(e.public_message()))?;
    match command {
        AdminCommand::CreateUser {
            name,
            password,
            email,
            admin,
        } => {
            let role = if admin { Role::Admin } else { Role::Member };
            let account = accounts::create_account(
                &db,
                &ctx,
                Registration {
                    username: &name,
                    password: &password,
                    email: email.as_deref(),
                },
                role,
                true,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            println!(
                "created @{}@{} ({})",
                account.user.username,
                ctx.domain,
                role.as_str()
            );
        }
        AdminCommand::ListUsers => {
            for user in queries::users::all(&db).await? {
                println!("{}\t{}\t{}", user.username, user.role, accounts::standing(&user));
            }
        }
        AdminCommand::SetRole { name, role } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("role must be member, moderator or admin"))?;
            accounts::set_role(&db, &name, role)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            println!("{name} is now {}", role.as_str());
        }
        AdminCommand::Approve { name } => {
            accounts::approve(&db, &name)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            println!("{name} is approved");
        }
        AdminCommand::SetRegistration { mode } => {
            let mode = RegistrationMode::parse(&mode)
                .ok_or_else(|| anyhow::anyhow!("mode must be open, approval or closed"))?;
            node::set_registration_mode(&db, mode)
                .await
                .map_err(|e| anyhow::anyhow!(e.public_message()))?;
            println!("registration is {}", mode.as_str());
        }
        AdminCommand::BlockNode { host } => {
            let host = host.trim().to_ascii_lowercase();
            if host.is_empty() || host.contains('/') || host == ctx.domain {
                anyhow::bail!("give another node's host, e.g. spam.example");
            }
            queries::peers::set_blocked(&db, &host, true).await?;
            println!("{host} is blocked");
        }
        AdminCommand::UnblockNode { host } => {
            queries::peers::set_blocked(&db, &host.to_ascii_lowercase(), false).await?;
            println!("{host} is no longer blocked");
        }
    }
    Ok(())
}

/// A started node: database migrated, instance actor present, federation configured.
struct Node {
    federation: activitypub_federation::config::FederationConfig<FederationContext>,
}

impl Node {
    async fn start(config: &Config) -> anyhow::Result<Node> {
        let db = open_database(config).await?;
        healthcommons_db::migrate(&db)
            .await
            .context("migrations failed")?;
        let node = node_context(config);
        node::pin_domain(&db, &node)
            .await
            .map_err(|e| anyhow::anyhow!(e.public_message()))?;
        let instance = node::ensure_instance_actor(&db, &node)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the instance actor: {e}"))?;
        let settings = config.federation_settings()?;
        let inbox_writer = healthcommons_federation::inbox_writer::InboxWriter::spawn(db.clone());
        let context = FederationContext {
            db,
            node,
            settings: Arc::new(settings.clone()),
            client: healthcommons_federation::http_client::build(&settings)?,
            metrics: Metrics::new()?,
            delivery_wakeup: Arc::new(Notify::new()),
            inbox_wakeup: Arc::new(Notify::new()),
            inbox_writer,
            inbox_cache: Arc::default(),
            content_epoch: Default::default(),
        };
        let federation =
            healthcommons_federation::context::build_config(context, &DbActor::new(instance)?).await?;
        Ok(Node { federation })
    }
}

/// Reminders of events starting within a day and closed agenda questions,
/// looked for once a minute (each person is told of each once).
async fn tell_what_is_due(db: healthcommons_db::Db) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        if let Err(err) = healthcommons_service::notifications::send_due(&db, chrono::Utc::now()).await {
            error!(%err, "reminders and closed questions could not be told");
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let node = Node::start(&config).await?;
    let workers = Arc::new(WorkerStatus::default());
    let context = node.federation.to_request_data().app_data().clone();

    let delivery_workers = workers.clone();
    let delivery_context = context.clone();
    tokio::spawn(async move {
        let _alive = AliveGuard::new(&delivery_workers.delivery_alive);
        delivery::run(delivery_context).await;
    });
    tokio::spawn(healthcommons_federation::directory::run(context.clone()));
    tokio::spawn(tell_what_is_due(node.federation.db.clone()));
    match mailer::Mailer::from_config(&config)? {
        Some(mailer) => {
            let mail_workers = workers.clone();
            let db = context.db.clone();
            tokio::spawn(async move {
                let _alive = AliveGuard::new(&mail_workers.mail_alive);
                mailer.run(db).await;
            });
        }
        None => info!("email is off: no smtp_host is configured (see docs/admin.md)"),
    }
    let inbox_workers = workers.clone();
    let inbox_config = node.federation.clone();
    tokio::spawn(async move {
        let _alive = AliveGuard::new(&inbox_workers.inbox_alive);
        inbox::run_worker(inbox_config).await;
    });

    // A node on localhost is a local trial served over plain http, where
    // browsers would drop `Secure` cookies on 127.0.0.1.
    let local_trial = config.domain.starts_with("localhost:") || config.domain == "localhost";
    let readers = healthcommons_db::open_readers(&config.database_url(), &node.federation.db)
        .await
        .context("cannot open the database for reading")?;
    let state = AppState::new(healthcommons_web::Shared {
        federation: node.federation.clone(),
        workers,
        secure_cookies: !config.dev_federation && !local_trial,
        map_tiles: healthcommons_web::MapTiles {
            url: config.map_tiles.clone(),
            attribution: config.map_attribution.clone(),
        },
        trusted_proxies: config.trusted_proxy_list()?,
        read_cache: ReadCache::new(CacheLimits::default()),
        processor: healthcommons_federation::processor(&node.federation, readers.clone()),
        readers,
    });
    if !config.metrics_bind.is_empty() {
        let listener = TcpListener::bind(&config.metrics_bind)
            .await
            .with_context(|| format!("cannot listen for metrics on {}", config.metrics_bind))?;
        info!("metrics on http://{}/metrics", listener.local_addr()?);
        let metrics = healthcommons_web::ops::metrics_app(state.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, metrics).await {
                error!(%err, "metrics server stopped");
            }
        });
    }
    let listener = TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let local = listener.local_addr()?;
    let public = state.context().node.urls.base().to_owned();
    if local_trial {
        println!(
            "Health Commons node running: open http://{} in your browser",
            config.domain
        );
        println!(
            "(a local trial: ids are {public}/…, which other nodes cannot reach; see docs/admin.md to go public)"
        );
    } else {
        println!("Health Commons node {public} listening on http://{local}");
    }
    let app = healthcommons_web::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
