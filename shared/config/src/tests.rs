use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use super::*;

/// The environment `pairs`, in the sandbox environment unless they say
/// otherwise (the defaults carry the example institution).
fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    let mut env: HashMap<String, String> =
        HashMap::from([("GW__ENVIRONMENT".into(), "sandbox".into())]);
    env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Some(env)
}

/// A production deployment with every value real.
const REAL: &[(&str, &str)] = &[
    ("GW__ENVIRONMENT", "production"),
    ("GW__PUBLIC_BASE_URL", "https://gw.bank-a.cn"),
    ("GW__INSTITUTION__NAME", "湖南示范融资担保有限公司"),
    ("GW__INSTITUTION__CODE", "91430104MA4R2K5L00"),
    (
        "GW__INSTITUTION__SM2_PRIVATE_KEY",
        "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
    ),
    ("GW__PAYMENT__BANK_ACCOUNT_NAME", "湖南示范融资担保有限公司"),
    (
        "GW__PAYMENT__BANK_ACCOUNT_NUMBER",
        "4300 1234 5678 9012 345",
    ),
    (
        "GW__INVOICE__SELLER_ADDRESS",
        "长沙市岳麓区示范路 8 号 0731-88886666",
    ),
    (
        "GW__INVOICE__SELLER_BANK",
        "中国建设银行长沙岳麓支行 4300 1234 5678 9012 345",
    ),
    ("GW__ADMIN__TOKEN", "f3b1c9d27a6e4c0b8d5a2e7f1c3b9a64"),
    ("GW__COUNTERPARTS__HUNAN__APPKEY", "hn-appkey"),
    ("GW__COUNTERPARTS__HUNAN__APPSECRET", "hn2025guarantee1"),
    (
        "GW__COUNTERPARTS__HUNAN__NOTICE_BASE_URL",
        "http://218.76.24.212:19980",
    ),
];

/// Loads `REAL` with `changes` over it; the problems, if any.
fn production(changes: &[(&str, &str)]) -> Result<Settings, String> {
    let mut pairs = REAL.to_vec();
    pairs.extend_from_slice(changes);
    Settings::load_from(None, env(&pairs)).map_err(|e| e.to_string())
}

fn refused(changes: &[(&str, &str)], key: &str) {
    let err = production(changes).expect_err("refused");
    assert!(
        err.contains(&format!("{key}: ")),
        "{key} not named in:\n{err}"
    );
}

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

const HUNAN: &str = r#"
[counterparts.hunan]
appkey = "hn-appkey"
appsecret = "hn2025guarantee1"
notice_base_url = "http://218.76.24.212:19980"
allowed_networks = ["218.76.24.0/24", "10.33.128.248"]
"#;

#[test]
fn defaults_alone_are_valid() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(s.amqp.prefix, "gw");
    assert_eq!(s.ingress.listen.port(), 8080);
    assert_eq!(s.amqp.publish_timeout, Duration::from_secs(5));
    assert!(s.counterparts.is_empty());
}

#[test]
fn a_file_overrides_defaults_and_env_overrides_the_file() {
    let f = file(&format!(
        "[amqp]\nprefix = \"from-file\"\nprefetch = 7\n{HUNAN}"
    ));
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    assert_eq!(s.amqp.prefix, "from-file");
    assert_eq!(s.amqp.prefetch, 7);
    // Untouched keys keep their defaults.
    assert_eq!(s.amqp.max_attempts, 8);

    let s = Settings::load_from(
        Some(f.path()),
        env(&[
            ("GW__AMQP__PREFIX", "from-env"),
            ("GW__INGRESS__LISTEN", "127.0.0.1:0"),
        ]),
    )
    .unwrap();
    assert_eq!(s.amqp.prefix, "from-env");
    assert_eq!(s.amqp.prefetch, 7);
    assert_eq!(s.ingress.listen.port(), 0);
}

#[test]
fn counterparts_come_from_the_file_or_the_environment() {
    let f = file(HUNAN);
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    let cps = s.counterparts();
    let hunan = cps.by_appkey("hn-appkey").unwrap();
    assert_eq!(hunan.name.as_str(), "hunan");
    assert_eq!(
        hunan.notice_url("v1/gua/tb/paynotice"),
        "http://218.76.24.212:19980/v1/gua/tb/paynotice"
    );
    assert!(hunan.allows("218.76.24.7".parse().unwrap()));
    assert!(hunan.allows("10.33.128.248".parse().unwrap()));
    assert!(!hunan.allows("8.8.8.8".parse().unwrap()));
    assert!(cps.by_appkey("hn-appkey ").is_none());
    assert!(cps.by_appkey("").is_none());

    let s = Settings::load_from(
        None,
        env(&[
            ("GW__COUNTERPARTS__TEST__APPKEY", "k"),
            ("GW__COUNTERPARTS__TEST__APPSECRET", "0000000000000000"),
            (
                "GW__COUNTERPARTS__TEST__NOTICE_BASE_URL",
                "http://127.0.0.1:9",
            ),
            (
                "GW__COUNTERPARTS__TEST__FILE_HOSTS",
                "127.0.0.1, files.example.com:8443",
            ),
        ]),
    )
    .unwrap();
    let cps = s.counterparts();
    let test = cps.by_appkey("k").unwrap();
    // All digits, leading zeros: still text, not the number 0.
    assert_eq!(test.appsecret_bytes(), b"0000000000000000");
    assert!(test.file_host_allowed("127.0.0.1", Some(80)));
    assert!(test.file_host_allowed("files.example.com", Some(8443)));
    assert!(!test.file_host_allowed("files.example.com", Some(443)));
    assert!(!test.file_host_allowed("127.0.0.2", Some(80)));
}

#[test]
fn without_file_hosts_only_the_notice_host_and_port_serve_files() {
    let f = file(HUNAN);
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    let hunan = s.counterparts().by_name("hunan").unwrap();
    assert!(hunan.file_host_allowed("218.76.24.212", Some(19980)));
    assert!(!hunan.file_host_allowed("218.76.24.212", Some(80)));
}

#[test]
fn a_wrong_appsecret_is_refused_at_start_up_without_revealing_it() {
    let f = file(&HUNAN.replace("hn2025guarantee1", "too-short-secret!"));
    let err = Settings::load_from(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("counterparts.hunan.appsecret"), "{err}");
    assert!(err.contains("16"), "{err}");
    assert!(!err.contains("too-short-secret"), "{err}");
}

#[test]
fn every_problem_is_listed_at_once() {
    let f = file(&format!(
        "{}\n[counterparts.other]\nappkey = \"hn-appkey\"\nappsecret = \"x\"\nnotice_base_url = \"ftp://a\"\nallowed_networks = \"nonsense\"\n",
        HUNAN
    ));
    let err = Settings::load_from(Some(f.path()), env(&[("GW__AMQP__PREFETCH", "0")]))
        .unwrap_err()
        .to_string();
    for needle in [
        "amqp.prefetch",
        "counterparts.other.appsecret",
        "counterparts.other.notice_base_url",
        "counterparts.other.allowed_networks",
        "same appkey",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
}

#[test]
fn unknown_keys_and_bad_values_are_reported() {
    let f = file("[amqp]\nprefetchh = 3\n");
    let err = Settings::load_from(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("prefetchh"), "{err}");
    let err = Settings::load_from(None, env(&[("GW__AMQP__PUBLISH_TIMEOUT", "soon")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("soon"), "{err}");
    let err = Settings::load_from(Some(std::path::Path::new("/nonexistent/gw.toml")), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn secrets_never_print() {
    let f = file(&format!(
        "[database]\nurl = \"postgres://u:db-password@h/db\"\n{HUNAN}"
    ));
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    let dump = format!("{s:?} {:?}", s.counterparts());
    assert!(!dump.contains("hn2025guarantee1"), "{dump}");
    assert!(!dump.contains("db-password"), "{dump}");
}

#[test]
fn durations_and_lists() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
    assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
    assert!(parse_duration("5 parsecs").is_err());
    assert!(parse_duration("").is_err());
    let s = Settings::load_from(None, env(&[("GW__AMQP__RETRY_TIERS", "1s, 2s,5s")])).unwrap();
    assert_eq!(
        s.amqp.retry_tiers,
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(5)
        ]
    );
}

#[test]
fn egress_delays_repeat_the_last_step_until_retry_for() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    let d = s.egress.delays();
    // 5s, 30s, 2m, 10m, 30m, 1h, then hourly up to 24 h.
    assert_eq!(
        &d[..6],
        &[5, 30, 120, 600, 1800, 3600].map(Duration::from_secs)
    );
    assert!(d[6..].iter().all(|x| *x == Duration::from_secs(3600)));
    let total: Duration = d.iter().sum();
    assert!(total >= Duration::from_secs(24 * 3600) && total < Duration::from_secs(25 * 3600));
    assert_eq!(s.egress.max_attempts() as usize, d.len() + 1);

    let s = Settings::load_from(
        None,
        env(&[
            ("GW__EGRESS__RETRY_SCHEDULE", "1s"),
            ("GW__EGRESS__RETRY_FOR", "2s"),
        ]),
    )
    .unwrap();
    assert_eq!(
        s.egress.delays(),
        vec![Duration::from_secs(1), Duration::from_secs(1)]
    );
    assert_eq!(s.egress.max_attempts(), 3);
}

#[test]
fn s3_needs_a_bucket_and_a_short_admin_token_is_refused() {
    let err = Settings::load_from(
        None,
        env(&[("GW__FILES__STORE", "s3"), ("GW__ADMIN__TOKEN", "short")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("files.s3.bucket"), "{err}");
    assert!(err.contains("admin.token"), "{err}");
    assert!(!err.contains("short\""), "the token is not echoed: {err}");
}

#[test]
fn rules_are_checked_and_the_institution_code_must_be_valid() {
    let err = Settings::load_from(
        None,
        env(&[
            ("GW__UNDERWRITING__RULES__MINIMUM_PREMIUM", "lots"),
            ("GW__INSTITUTION__CODE", "91430100MA4L0000XX"),
        ]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("underwriting.rules.minimum_premium"), "{err}");
    assert!(err.contains("institution.code"), "{err}");
    let s = Settings::load_from(None, env(&[])).unwrap();
    assert!(s.underwriting.rules.problems().is_empty());
    let mut r = s.underwriting.rules.clone();
    r.rate_bands.pop();
    assert!(r.problems()[0].contains("last band"));
}

#[test]
fn bad_values_name_their_exact_key() {
    let err = Settings::load_from(
        None,
        env(&[
            ("GW__UNDERWRITING__RULES__MINIMUM_PREMIUM", "lots"),
            ("GW__AMQP__PUBLISH_TIMEOUT", "soon"),
            ("GW__INGRESS__LISTEN", "nowhere"),
        ]),
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "underwriting.rules.minimum_premium: \"lots\" is not an amount",
        "amqp.publish_timeout",
        "ingress.listen",
    ] {
        assert!(err.contains(needle), "{needle} missing from: {err}");
    }
}

/// The shipped examples (the compose file's and the Kubernetes ConfigMap's)
/// stay loadable as the configuration grows: a key renamed in code but not
/// in `deploy/` would stop a deployment at start-up.
#[test]
fn the_deployment_examples_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    // The compose file's: a sandbox deployment, notices to the sandbox platform.
    let sandbox = HashMap::from([
        (
            "GW__COUNTERPARTS__SANDBOX__APPKEY".to_owned(),
            "sandbox-appkey".to_owned(),
        ),
        (
            "GW__COUNTERPARTS__SANDBOX__APPSECRET".to_owned(),
            "sandbox-secret16".to_owned(),
        ),
    ]);
    let s = Settings::load_from(Some(&root.join("gateway.example.toml")), Some(sandbox))
        .unwrap_or_else(|e| panic!("deploy/gateway.example.toml: {e}"));
    assert_eq!(s.environment, Environment::Sandbox);
    assert!(s.payment.sandbox);
    assert_eq!(
        s.counterparts["sandbox"].notice_base_url.as_str(),
        "http://edge:8090/"
    );
    assert!(!s.counterparts.contains_key("hunan"));
    // What a Deployment that serves the platform is given besides the file.
    let secrets = env(&[
        ("GW__COUNTERPARTS__HUNAN__APPKEY", "hn-appkey"),
        ("GW__COUNTERPARTS__HUNAN__APPSECRET", "hn2025guarantee1"),
        (
            "GW__COUNTERPARTS__HUNAN__NOTICE_BASE_URL",
            "http://218.76.24.212:19980",
        ),
    ]);
    assert_eq!(s.claims.admin_listen.port(), 8089);
    assert_eq!(s.invoice.admin_listen.port(), 8088);
    assert_eq!(s.console.listen.port(), 8078);

    // Kubernetes, production: the overlay's file loads once the
    // institution's own values (its Secret files, the institution section)
    // replace the examples, and it leaves migrations to the Job.
    let prod = root.join("k8s/overlays/prod/gateway.toml");
    let mut real = REAL.to_vec();
    real.retain(|(k, _)| !k.starts_with("GW__COUNTERPARTS"));
    let mut secrets = secrets.unwrap_or_default();
    secrets.insert("GW__ENVIRONMENT".into(), "production".into());
    let err = Settings::load_from(Some(&prod), Some(secrets.clone()))
        .unwrap_err()
        .to_string();
    for key in ["institution.name", "public_base_url"] {
        assert!(
            err.contains(&format!("{key}: ")),
            "{key} not named in:\n{err}"
        );
    }
    secrets.extend(real.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    secrets.insert("GW__PUBLIC_BASE_URL".into(), "https://gw.bank-a.cn".into());
    let s = Settings::load_from(Some(&prod), Some(secrets.clone()))
        .unwrap_or_else(|e| panic!("deploy/k8s/overlays/prod/gateway.toml: {e}"));
    assert_eq!(s.issuance.admin_listen.port(), 8087);
    assert!(!s.payment.sandbox);
    assert!(!s.database.migrate_on_start, "the Job migrates");
    assert_eq!(s.console.listen.port(), 8078);
    assert!(s.console.secure_cookie, "staff reach it over TLS");
    // The base (what an overlay starts from) and the development cluster's.
    let base = root.join("k8s/base/gateway.toml");
    Settings::load_from(Some(&base), Some(secrets))
        .unwrap_or_else(|e| panic!("deploy/k8s/base/gateway.toml: {e}"));
    let dev = root.join("k8s/overlays/dev/gateway.toml");
    let s = Settings::load_from(Some(&dev), Some(HashMap::new()))
        .unwrap_or_else(|e| panic!("deploy/k8s/overlays/dev/gateway.toml: {e}"));
    assert_eq!(s.environment, Environment::Sandbox);
}

#[test]
fn a_console_sign_in_lasts_between_a_minute_and_a_day() {
    refused(
        &[("GW__CONSOLE__SESSION_TTL", "30s")],
        "console.session_ttl",
    );
    refused(
        &[("GW__CONSOLE__SESSION_TTL", "25h")],
        "console.session_ttl",
    );
    let s = production(&[("GW__CONSOLE__SESSION_TTL", "2h")]).unwrap();
    assert_eq!(s.console.session_ttl.as_secs(), 7200);
    let d = production(&[]).unwrap();
    assert_eq!(d.console.session_ttl.as_secs(), 8 * 3600);
    assert!(!d.console.secure_cookie);
}

#[test]
fn an_idle_connection_is_closed_after_at_least_a_second() {
    refused(&[("GW__HTTP__IDLE_TIMEOUT", "0s")], "http.idle_timeout");
    refused(&[("GW__HTTP__IDLE_TIMEOUT", "500ms")], "http.idle_timeout");
    let s = production(&[("GW__HTTP__IDLE_TIMEOUT", "2m")]).unwrap();
    assert_eq!(s.http.idle_timeout.as_secs(), 120);
    assert_eq!(production(&[]).unwrap().http.idle_timeout.as_secs(), 75);
}

/// Each service is given only the secrets it uses: the platform's
/// appsecret only where the platform is served, the SM2 key only in
/// issuance. Those services refuse to start without them in production.
#[test]
fn a_service_requires_what_it_uses_in_production() {
    let mut pairs: Vec<(&str, &str)> = REAL
        .iter()
        .copied()
        .filter(|(k, _)| !k.starts_with("GW__COUNTERPARTS") && !k.contains("SM2"))
        .collect();
    let bare = Settings::load_from(None, env(&pairs)).expect("loads without either");
    let err = bare.require(&[Need::Counterparts]).unwrap_err().to_string();
    assert!(
        err.contains("counterparts: no platform configured"),
        "{err}"
    );
    let err = bare.require(&[Need::SigningKey]).unwrap_err().to_string();
    assert!(
        err.contains("institution.sm2_private_key: required"),
        "{err}"
    );
    assert!(bare.require(&[]).is_ok(), "underwriting needs neither");
    pairs.push(("GW__ENVIRONMENT", "sandbox"));
    let sandbox = Settings::load_from(None, env(&pairs)).unwrap();
    assert!(
        sandbox
            .require(&[Need::Counterparts, Need::SigningKey])
            .is_ok()
    );
    let full = production(&[]).unwrap();
    assert!(
        full.require(&[Need::Counterparts, Need::SigningKey])
            .is_ok()
    );
}

#[test]
fn a_previous_appsecret_must_differ_and_never_prints() {
    let same = production(&[(
        "GW__COUNTERPARTS__HUNAN__PREVIOUS_APPSECRET",
        "hn2025guarantee1",
    )])
    .unwrap_err();
    assert!(
        same.contains("counterparts.hunan.previous_appsecret: the same as appsecret"),
        "{same}"
    );
    let short =
        production(&[("GW__COUNTERPARTS__HUNAN__PREVIOUS_APPSECRET", "short")]).unwrap_err();
    assert!(
        short.contains("counterparts.hunan.previous_appsecret"),
        "{short}"
    );
    let s = production(&[(
        "GW__COUNTERPARTS__HUNAN__PREVIOUS_APPSECRET",
        "hn2024guarantee0",
    )])
    .unwrap();
    let cp = s.counterparts().by_name("hunan").unwrap();
    assert!(cp.previous_key.is_some());
    assert_eq!(cp.read_keys().count(), 2);
    assert!(!format!("{s:?}").contains("hn2024guarantee0"));
}

#[test]
fn a_secret_can_come_from_a_file() {
    let f = file("a-file-admin-token-0123456789\n");
    let path = f.path().display().to_string();
    let without = |extra: &[(&'static str, &str)]| {
        let mut pairs: Vec<(&str, &str)> = REAL
            .iter()
            .copied()
            .filter(|(k, _)| *k != "GW__ADMIN__TOKEN")
            .collect();
        pairs.extend_from_slice(extra);
        Settings::load_from(None, env(&pairs)).map_err(|e| e.to_string())
    };
    let s = without(&[("GW_FILE__ADMIN__TOKEN", &path)]).unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&s.admin.token),
        "a-file-admin-token-0123456789"
    );
    let both = without(&[
        ("GW_FILE__ADMIN__TOKEN", &path),
        ("GW__ADMIN__TOKEN", "another-token-0123456789"),
    ])
    .unwrap_err();
    assert!(
        both.contains("both GW__ADMIN__TOKEN and GW_FILE__ADMIN__TOKEN"),
        "{both}"
    );
    let missing = without(&[("GW_FILE__ADMIN__TOKEN", "/nonexistent/token")]).unwrap_err();
    assert!(
        missing.contains("GW_FILE__ADMIN__TOKEN: cannot read"),
        "{missing}"
    );
    assert!(!missing.contains("a-file-admin-token"));
}

/// The per-appkey limit is overload protection sized from the ingress
/// benchmark, not a quota a bid deadline would run into.
#[test]
fn the_rate_limit_default_is_overload_protection() {
    let s = production(&[]).unwrap();
    assert_eq!(s.ingress.rate_limit_per_second, 2000);
    assert_eq!(s.ingress.rate_limit_burst, 4000);
    refused(
        &[("GW__INGRESS__RATE_LIMIT_PER_SECOND", "0")],
        "ingress.rate_limit_per_second and rate_limit_burst",
    );
}

#[test]
fn production_with_real_values_starts() {
    let s = production(&[]).unwrap();
    assert_eq!(s.environment, Environment::Production);
    assert!(!s.payment.sandbox);
}

#[test]
fn production_is_the_default_and_refuses_the_example_institution() {
    let err = Settings::load_from(None, Some(HashMap::new()))
        .unwrap_err()
        .to_string();
    for key in [
        "institution.name",
        "institution.code",
        "payment.bank_account_number",
    ] {
        assert!(
            err.contains(&format!("{key}: ")),
            "{key} not named in:\n{err}"
        );
    }
}

#[test]
fn production_refuses_the_example_institution_name_and_code() {
    refused(
        &[("GW__INSTITUTION__NAME", EXAMPLE_INSTITUTION_NAME)],
        "institution.name",
    );
    refused(
        &[("GW__INSTITUTION__CODE", EXAMPLE_INSTITUTION_CODE)],
        "institution.code",
    );
}

#[test]
fn production_needs_its_own_sm2_key() {
    let mut pairs: Vec<_> = REAL
        .iter()
        .filter(|(k, _)| *k != "GW__INSTITUTION__SM2_PRIVATE_KEY")
        .copied()
        .collect();
    pairs.push(("GW__ENVIRONMENT", "production"));
    // Loads (only issuance holds the key), and issuance refuses to start.
    let s = Settings::load_from(None, env(&pairs)).unwrap();
    let err = s.require(&[Need::SigningKey]).unwrap_err().to_string();
    assert!(
        err.contains("institution.sm2_private_key: required in production"),
        "{err}"
    );
    // The sandbox generates one.
    pairs.push(("GW__ENVIRONMENT", "sandbox"));
    let s = Settings::load_from(None, env(&pairs)).unwrap();
    s.require(&[Need::SigningKey]).unwrap();
}

#[test]
fn production_refuses_the_example_bank_account_and_seller() {
    refused(
        &[("GW__PAYMENT__BANK_ACCOUNT_NUMBER", EXAMPLE_ACCOUNT_NUMBER)],
        "payment.bank_account_number",
    );
    refused(
        &[("GW__PAYMENT__BANK_ACCOUNT_NAME", "湖南某某融资担保有限公司")],
        "payment.bank_account_name",
    );
    refused(
        &[("GW__INVOICE__SELLER_ADDRESS", "长沙市某某路 1 号")],
        "invoice.seller_address",
    );
    refused(
        &[(
            "GW__INVOICE__SELLER_BANK",
            "中国建设银行长沙分行 4301 0000 0000 0000 000 example",
        )],
        "invoice.seller_bank",
    );
}

#[test]
fn production_refuses_tokens_and_secrets_that_say_change_or_example() {
    refused(
        &[("GW__ADMIN__TOKEN", "change-me-to-a-long-random-token")],
        "admin.token",
    );
    refused(
        &[("GW__COUNTERPARTS__HUNAN__APPSECRET", "CHANGE-ME-16char")],
        "counterparts.hunan.appsecret",
    );
    refused(
        &[("GW__COUNTERPARTS__HUNAN__APPKEY", "example-appkey")],
        "counterparts.hunan.appkey",
    );
    refused(
        &[(
            "GW__DATABASE__URL",
            "postgres://gateway:CHANGE-ME@db:5432/gateway",
        )],
        "database.url",
    );
    refused(
        &[("GW__AMQP__URL", "amqp://gateway:change-me@mq:5672/%2f")],
        "amqp.url",
    );
}

#[test]
fn production_refuses_example_addresses() {
    refused(
        &[("GW__PUBLIC_BASE_URL", "https://gw.example.com")],
        "public_base_url",
    );
    refused(
        &[(
            "GW__COUNTERPARTS__HUNAN__NOTICE_BASE_URL",
            "https://platform.example.org",
        )],
        "counterparts.hunan.notice_base_url",
    );
}

#[test]
fn production_refuses_the_sandbox_cashier() {
    let loopback = [
        ("GW__PAYMENT__SANDBOX", "true"),
        ("GW__INGRESS__LISTEN", "127.0.0.1:8080"),
        ("GW__EGRESS__LISTEN", "127.0.0.1:8081"),
        ("GW__PAYMENT__LISTEN", "127.0.0.1:8084"),
        ("GW__ISSUANCE__LISTEN", "127.0.0.1:8086"),
    ];
    let err = production(&loopback).unwrap_err();
    assert!(
        err.contains("payment.sandbox: the sandbox cashier completes payments without money"),
        "{err}"
    );
}

#[test]
fn the_sandbox_cashier_needs_loopback_listeners_or_an_explicit_allow() {
    let on = [("GW__PAYMENT__SANDBOX", "true")];
    // The defaults listen on 0.0.0.0.
    let err = Settings::load_from(None, env(&on)).unwrap_err().to_string();
    assert!(
        err.contains(
            "payment.sandbox: the sandbox cashier (payment without money) listens only on loopback"
        ),
        "{err}"
    );
    assert!(err.contains("ingress.listen = 0.0.0.0:8080"), "{err}");
    let loopback = [
        ("GW__PAYMENT__SANDBOX", "true"),
        ("GW__INGRESS__LISTEN", "127.0.0.1:8080"),
        ("GW__EGRESS__LISTEN", "127.0.0.1:8081"),
        ("GW__PAYMENT__LISTEN", "127.0.0.1:8084"),
        ("GW__ISSUANCE__LISTEN", "[::1]:8086"),
    ];
    assert!(
        Settings::load_from(None, env(&loopback))
            .unwrap()
            .payment
            .sandbox
    );
    let allowed = [
        ("GW__PAYMENT__SANDBOX", "true"),
        ("GW__PAYMENT__SANDBOX_ALLOW_PUBLIC", "true"),
    ];
    assert!(
        Settings::load_from(None, env(&allowed))
            .unwrap()
            .payment
            .sandbox_allow_public
    );
}

#[test]
fn sqlite_commits_wait_for_the_disk_unless_told_otherwise() {
    let s = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(
        s.database.sqlite_synchronous,
        crate::SqliteSynchronous::Full
    );
    assert!(s.database.sqlite_synchronous.full());
    let s =
        Settings::load_from(None, env(&[("GW__DATABASE__SQLITE_SYNCHRONOUS", "normal")])).unwrap();
    assert_eq!(
        s.database.sqlite_synchronous,
        crate::SqliteSynchronous::Normal
    );
    assert!(!s.database.sqlite_synchronous.full());
    let err = Settings::load_from(None, env(&[("GW__DATABASE__SQLITE_SYNCHRONOUS", "off")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sqlite_synchronous"), "{err}");
}

/// With the deployment file: `default` without `env_key`; every value of
/// `ok` read back as given (`read`); every value of `bad` refused, naming
/// `key`.
fn bounded(
    env_key: &str,
    key: &str,
    read: fn(&Settings) -> String,
    default: &str,
    ok: &[&str],
    bad: &[&str],
) {
    let f = file(HUNAN);
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    assert_eq!(read(&s), default, "{key}'s default");
    for v in ok {
        let s = Settings::load_from(Some(f.path()), env(&[(env_key, v)])).unwrap();
        assert_eq!(read(&s), *v, "{key} = {v}");
    }
    for v in bad {
        let err = Settings::load_from(Some(f.path()), env(&[(env_key, v)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(key), "{v}: {err}");
    }
}

#[test]
fn the_amqp_frame_max_defaults_to_16_kib_and_stays_within_amqp_bounds() {
    bounded(
        "GW__AMQP__FRAME_MAX",
        "amqp.frame_max",
        |s| s.amqp.frame_max.to_string(),
        "16384",
        &["4096", "131072"],
        &["4095", "2000000"],
    );
}

#[test]
fn the_recovery_deadline_defaults_to_15s_and_must_be_at_least_a_second() {
    let f = file(HUNAN);
    let s = Settings::load_from(Some(f.path()), env(&[])).unwrap();
    assert_eq!(s.amqp.recovery_deadline, std::time::Duration::from_secs(15));
    let err = Settings::load_from(
        Some(f.path()),
        env(&[("GW__AMQP__RECOVERY_DEADLINE", "500ms")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("amqp.recovery_deadline"), "{err}");
}

#[test]
fn file_work_runs_at_nice_10_by_default_and_only_at_a_nice_value() {
    bounded(
        "GW__FILES__CPU_NICE",
        "files.cpu_nice",
        |s| s.files.cpu_nice.to_string(),
        "10",
        &["0", "19"],
        &["-1", "20"],
    );
}

#[test]
fn the_sqlite_page_cache_is_512_kib_unless_set_and_at_least_64() {
    bounded(
        "GW__DATABASE__SQLITE_CACHE_KIB",
        "database.sqlite_cache_kib",
        |s| s.database.sqlite_cache_kib.to_string(),
        "512",
        &["4096"],
        &["32"],
    );
}
