//! The sandbox platform in the gateway's own process, for a machine where
//! no platform is configured: `cargo run` shows the whole job at once, and
//! `cargo run -- demo` drives whole lifecycles through it.
//!
//! Safe by construction: the sandbox platform and every public listener
//! are on loopback (the configuration check refuses the sandbox cashier
//! otherwise), the credentials are random per start, and the deployment is
//! `environment = "sandbox"`, so nothing here can reach a real platform or
//! take real money.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gw_config::Settings;
use gw_config::secrecy::ExposeSecret;
use sandbox::{Credentials, Platform};

use crate::Gateway;

/// The configuration layer that connects the gateway to `platform`.
pub fn layer(platform: &Platform) -> anyhow::Result<String> {
    let creds = platform
        .credentials()
        .ok_or_else(|| anyhow::anyhow!("the sandbox platform has no credentials"))?;
    Ok(format!(
        r#"
environment = "sandbox"

[payment]
sandbox = true

# A newcomer reads the start-up block, not every consumer starting.
[telemetry]
log_filter = "warn,gateway=info"

[counterparts.sandbox]
appkey = "{appkey}"
appsecret = "{appsecret}"
notice_base_url = "{url}"
"#,
        appkey = creds.appkey,
        appsecret = creds.appsecret().expose_secret(),
        url = platform.base_url,
    ))
}

/// Starts the sandbox platform on loopback with fresh credentials.
pub async fn platform() -> anyhow::Result<Arc<Platform>> {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    Ok(Arc::new(
        sandbox::strict_platform(listen, Credentials::random()?).await?,
    ))
}

/// What a newcomer reads after `cargo run`.
pub fn banner(settings: &Settings, g: &Gateway, platform: &Platform) -> String {
    let base = format!("http://127.0.0.1:{}", g.port);
    let (appkey, appsecret) = platform
        .credentials()
        .map(|c| (c.appkey.clone(), c.appsecret().expose_secret().to_owned()))
        .unwrap_or_default();
    let admin = [
        "ingress",
        "underwriting",
        "payment",
        "issuance",
        "invoice",
        "claims",
        "egress",
    ]
    .iter()
    .map(|s| format!("{s} {}", g.admin_port(s)))
    .collect::<Vec<_>>()
    .join(", ");
    let admin_note = if settings.admin.token.expose_secret().is_empty() {
        "(off: set GW__ADMIN__TOKEN to a token of 16+ characters)"
    } else {
        "(bearer admin.token)"
    };
    let db = settings.database.url.expose_secret();
    let data = db.strip_prefix("sqlite://").unwrap_or("PostgreSQL");
    let data = data.split('?').next().unwrap_or(data);
    format!(
        "
  e-guarantee gateway: every service in one process, with the SANDBOX platform
  (no platform is configured: nothing leaves this machine, payments are pretend)

  inbound API       {base}/v1/gua/tb/<baohanapply|payapply|revertapply|...>
  cashier pages     {base}/cashier/...   (sandbox cashier: pays without money)
  verification      {base}/verify
  file downloads    {base}/files/<token>
  health            {base}/healthz  {base}/readyz
  admin APIs        127.0.0.1 ports: {admin} {admin_note}
  operator console  http://127.0.0.1:{console}/console  {console_note}
  sandbox platform  {platform_url}  (receives and checks every notice)
    appkey          {appkey}
    appsecret       {appsecret}   (new at every start)
  data              {data}

  see it work:      cargo run -- demo        (whole lifecycles, under a minute)
  real platform:    README.md, \"Connecting the platform\"
",
        platform_url = platform.base_url,
        console = g.admin_port("console"),
        console_note = if settings.admin.token.expose_secret().is_empty() {
            "(off until admin.token is set)"
        } else {
            "(sign in with admin.token)"
        },
    )
}

/// A free loopback port (bound and released: the demo's own gateway).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// What `demo` found, and the platform that saw it.
pub struct DemoOutcome {
    pub outcome: sandbox::Outcome,
    pub platform: Arc<Platform>,
}

/// Runs the demo on a gateway of its own: a fresh SQLite database in
/// `dir`, every listener on loopback, the embedded sandbox platform; the
/// configuration file and `GW__*` are not read, so a demo never touches a
/// deployment's data. With `report`, the whole acceptance rehearsal runs
/// and is written into that directory.
pub async fn demo(
    dir: &std::path::Path,
    patience: Duration,
    report: Option<&std::path::Path>,
) -> anyhow::Result<DemoOutcome> {
    let platform = platform().await?;
    let port = free_port()?;
    let db = dir.join("demo.db");
    let own = format!(
        r#"
public_base_url = "http://127.0.0.1:{port}"

[database]
url = "sqlite://{db}?mode=rwc"

# The rehearsal's load phase measures the gateway, not the per-appkey limit.
[ingress]
listen = "127.0.0.1:{port}"
admin_listen = "127.0.0.1:0"
rate_limit_per_second = 2000
rate_limit_burst = 2000

[egress]
admin_listen = "127.0.0.1:0"
retry_schedule = ["1s", "2s", "5s"]

[underwriting]
admin_listen = "127.0.0.1:0"

[payment]
admin_listen = "127.0.0.1:0"

[issuance]
admin_listen = "127.0.0.1:0"

[invoice]
admin_listen = "127.0.0.1:0"

[claims]
admin_listen = "127.0.0.1:0"

[console]
listen = "127.0.0.1:0"

[telemetry]
log_filter = "warn"
"#,
        db = db.display()
    );
    let settings = Settings::load_many(
        &[crate::DEFAULTS, &layer(&platform)?, &own],
        None,
        Some(Default::default()),
    )?;
    let stop = tokio_util::sync::CancellationToken::new();
    let g = Gateway::start(settings, stop.clone()).await?;
    let gateway = format!("http://127.0.0.1:{}", g.port);
    let plan = report.map(|r| (r, sandbox::report::plan(&gateway, patience)));
    let run = sandbox::run(platform.clone(), &gateway, None, patience, plan).await;
    stop.cancel();
    g.wait().await?;
    Ok(DemoOutcome {
        outcome: run?,
        platform,
    })
}
