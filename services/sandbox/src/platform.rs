//! The receiving side of the platform: an HTTP server that takes the
//! gateway's 8 notices, checks each as the standard says (decrypts it,
//! checks `appkey`, the `sign` and `timestamp` headers, every field rule,
//! and the application's causal order), answers `code 200` or `code 500`
//! with the reason, downloads and checks the files the notices link to, and
//! serves SM4-encrypted evidence files. It can be told to be down, slow, or
//! to answer given notices otherwise, to exercise the gateway's retries.
//!
//! Strict (the sandbox as a service, `demo`): a notice with a problem is
//! answered `code 500` with the problem. Lenient (the default for tests
//! that feed egress hand-made notices): problems are recorded, the answer
//! is the scripted one.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gw_envelope::Sm4Key;
use gw_protocol::{Interface, Notice};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::timeline::{Direction, Timeline, lock};

/// How far a notice's `timestamp` header may be from the platform's clock.
pub const TIMESTAMP_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The `appkey` and `appsecret` the platform and the gateway share.
#[derive(Clone)]
pub struct Credentials {
    pub appkey: String,
    appsecret: SecretString,
    key: Sm4Key,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("appkey", &self.appkey)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(appkey: &str, appsecret: &str) -> anyhow::Result<Self> {
        let key =
            Sm4Key::from_appsecret(appsecret).map_err(|e| anyhow::anyhow!("appsecret: {e}"))?;
        Ok(Self {
            appkey: appkey.to_owned(),
            appsecret: SecretString::from(appsecret.to_owned()),
            key,
        })
    }

    /// Fresh random credentials (the embedded sandbox, one per start).
    pub fn random() -> anyhow::Result<Self> {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut pick = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    let i = rng.random_range(0..36u8);
                    char::from(if i < 10 { b'0' + i } else { b'a' + i - 10 })
                })
                .collect()
        };
        let appkey = format!("sandbox-{}", pick(12));
        Self::new(&appkey, &pick(16))
    }

    pub fn key(&self) -> &Sm4Key {
        &self.key
    }

    /// The appsecret, for configuring the gateway's counterpart.
    pub fn appsecret(&self) -> &SecretString {
        &self.appsecret
    }
}

/// How the platform answers one notice.
#[derive(Debug, Clone)]
pub enum Reply {
    /// HTTP 200 `{"code":200}`.
    Ok,
    /// HTTP 200 `{"code":"200"}` (a string code).
    OkStringCode,
    /// This HTTP status with an empty body.
    Status(u16),
    /// This HTTP status with `Retry-After: secs`.
    StatusRetryAfter(u16, u64),
    /// HTTP 200 `{"code":500,"msg":...}`.
    Code500(&'static str),
    /// HTTP 200 `{"code":500,"msg":...}` with a reason found at run time.
    Refuse(String),
    /// HTTP 200 with a body that is not JSON.
    NotJson,
    /// No answer for this long.
    Hang(Duration),
    /// HTTP 200 `{"code":200}` padded to this many bytes (a reply too large
    /// to read).
    Huge(usize),
}

impl Reply {
    fn accepts(&self) -> bool {
        matches!(self, Reply::Ok | Reply::OkStringCode)
    }
}

/// One notice as the platform received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub interface: String,
    /// The decrypted JSON (`Null` if it did not decrypt).
    pub json: Value,
    pub appkey: Option<String>,
    pub sign_ok: bool,
    pub timestamp_ms: Option<i64>,
    pub at: Instant,
    /// What the platform answered.
    pub reply: String,
    /// What the checks found wrong; empty when the notice is right.
    pub problems: Vec<String>,
}

impl Received {
    pub fn applyno(&self) -> &str {
        self.json["applyno"].as_str().unwrap_or("")
    }
}

/// A file the platform downloaded from a notice's link, and what it found.
#[derive(Debug, Clone)]
pub struct Download {
    pub applyno: String,
    pub url: String,
    /// The decrypted bytes, when they came.
    pub bytes: Option<Vec<u8>>,
    pub problems: Vec<String>,
}

#[derive(Default)]
struct Inner {
    creds: Option<Credentials>,
    strict: AtomicBool,
    fetch_files: AtomicBool,
    /// The text of one downloaded PDF in this many is read (`pdftotext`);
    /// the others are checked as PDFs by their header. 0 or 1: every one.
    read_text_every: AtomicU64,
    /// Downloads whose text was or was not read, to pick the next.
    downloads_seen: AtomicU64,
    received: Mutex<Vec<Received>>,
    /// Scripted replies per applyno, then `Reply::Ok`.
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    redirects: Mutex<HashMap<String, String>>,
    file_hits: Mutex<Vec<String>>,
    /// While set, every notice is answered 503 (the platform is down).
    down: AtomicBool,
    /// Every answer waits this long first (a slow platform).
    delay_ms: AtomicU64,
    /// The notices accepted, by applyno, in order: (interface, body).
    accepted: Mutex<HashMap<String, Vec<(String, Value)>>>,
    downloads: Mutex<Vec<Download>>,
    /// Woken on every download ([`Platform::wait_download`]).
    arrived: tokio::sync::Notify,
    /// Woken when a notice of this applyno is accepted, for the applynos
    /// someone waits for ([`Platform::wait_accepted`]): with thousands
    /// waiting (a restore burst), waking all of them on every notice, each
    /// to copy its notices, cost more than the gateway it measured.
    awaited: Mutex<HashMap<String, Arc<tokio::sync::Notify>>>,
    timeline: Arc<Timeline>,
    http: reqwest::Client,
}

/// The platform's receiving side; stops when dropped.
pub struct Platform {
    pub addr: SocketAddr,
    pub base_url: String,
    inner: Arc<Inner>,
    stop: CancellationToken,
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Platform {
    /// Starts on `listen` (port 0: any free port), checking notices against
    /// `creds`, recording into `timeline`.
    pub async fn serve(
        listen: SocketAddr,
        creds: Credentials,
        timeline: Arc<Timeline>,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("sandbox platform: cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner {
            creds: Some(creds),
            timeline,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            ..Inner::default()
        });
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/v1/gua/tb/{name}", post(notice))
            .route("/files/{name}", get(file))
            .merge(control())
            .with_state(inner.clone());
        tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        Ok(Self {
            addr,
            base_url: format!("http://{addr}"),
            inner,
            stop,
        })
    }

    /// The credentials notices are checked against.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.inner.creds.as_ref()
    }

    pub fn timeline(&self) -> Arc<Timeline> {
        self.inner.timeline.clone()
    }

    /// Strict: a notice with a problem is answered `code 500` with it.
    pub fn set_strict(&self, strict: bool) {
        self.inner.strict.store(strict, Ordering::SeqCst);
    }

    /// Reads the text of only one downloaded PDF in `n` (the others are
    /// decrypted and checked by their header): a load test's platform
    /// stand-in would otherwise spend more of the machine running
    /// `pdftotext` than the gateway spends making the PDFs.
    pub fn set_read_text_every(&self, n: u64) {
        self.inner.read_text_every.store(n, Ordering::SeqCst);
    }

    /// Download and check every file a notice links to.
    pub fn set_fetch_files(&self, fetch: bool) {
        self.inner.fetch_files.store(fetch, Ordering::SeqCst);
    }

    /// The next replies to notices of `applyno` (after them: `Ok`).
    pub fn script(&self, applyno: &str, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.inner.script)
            .entry(applyno.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Down (every notice answered 503) or up again.
    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// Every answer waits `delay` first (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        let ms = delay.as_millis().try_into().unwrap_or(u64::MAX);
        self.inner.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Forgets the replies still scripted for `applyno` (then: `Ok`).
    pub fn clear_script(&self, applyno: &str) {
        lock(&self.inner.script).remove(applyno);
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.inner.received).clone()
    }

    pub fn received_for(&self, applyno: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.applyno() == applyno)
            .collect()
    }

    /// Waits (at most `timeout`) until `pred` holds for what was received;
    /// what was received, or `Err` with it when the time ran out.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Result<Vec<Received>, Vec<Received>> {
        let until = Instant::now() + timeout;
        loop {
            let r = self.received();
            if pred(&r) {
                return Ok(r);
            }
            if Instant::now() >= until {
                return Err(r);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Serves `clear` at `/files/{name}`, SM4-encrypted as the platform does.
    pub fn serve_file(&self, name: &str, clear: &[u8]) {
        if let Some(c) = &self.inner.creds {
            lock(&self.inner.files).insert(name.to_owned(), c.key.encrypt_bytes(clear));
        }
    }

    /// The URL of a file served with [`Platform::serve_file`].
    pub fn file_url(&self, name: &str) -> String {
        format!("{}/files/{name}", self.base_url)
    }

    /// Answers `/files/{name}` with a 302 to `location`.
    pub fn redirect(&self, name: &str, location: &str) {
        lock(&self.inner.redirects).insert(name.to_owned(), location.to_owned());
    }

    /// The notices of `applyno` accepted so far, in order: (interface, body).
    pub fn accepted_for(&self, applyno: &str) -> Vec<(String, Value)> {
        lock(&self.inner.accepted)
            .get(applyno)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits (at most `timeout`) until a notice `interface` of `applyno`
    /// whose body satisfies `pred` is accepted; its body.
    pub async fn wait_accepted(
        &self,
        applyno: &str,
        interface: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let until = tokio::time::Instant::now() + timeout;
        let arrived = lock(&self.inner.awaited)
            .entry(applyno.to_owned())
            .or_default()
            .clone();
        loop {
            let woken = arrived.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let found = lock(&self.inner.accepted).get(applyno).and_then(|list| {
                list.iter()
                    .find(|(i, v)| i == interface && pred(v))
                    .map(|(_, v)| v.clone())
            });
            if found.is_some() {
                return found;
            }
            if tokio::time::timeout_at(until, woken).await.is_err() {
                return None;
            }
        }
    }

    /// Waits (at most `timeout`) for the download of `url`.
    pub async fn wait_download(&self, url: &str, timeout: Duration) -> Option<Download> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let woken = self.inner.arrived.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let found = lock(&self.inner.downloads)
                .iter()
                .find(|d| d.url == url)
                .cloned();
            if found.is_some() {
                return found;
            }
            if tokio::time::timeout_at(until, woken).await.is_err() {
                return None;
            }
        }
    }

    pub fn downloads(&self) -> Vec<Download> {
        lock(&self.inner.downloads).clone()
    }

    /// The file names requested so far.
    pub fn file_hits(&self) -> Vec<String> {
        lock(&self.inner.file_hits).clone()
    }
}

/// What must have been accepted for `applyno` before a notice
/// `interface` with `applystatus` (the standard's order of the lifecycle).
fn predecessor(interface: Interface, applystatus: Option<&str>) -> Option<(Interface, bool)> {
    let granted = applystatus.is_none_or(|s| s == "1");
    match interface {
        // (the predecessor, whether it must have been a grant)
        Interface::PayNotice => Some((Interface::ProcessNotice, true)),
        Interface::BaohanNotice => Some((Interface::PayNotice, false)),
        Interface::RevertNotice => Some((Interface::BaohanNotice, false)),
        Interface::InvoiceNotice | Interface::ClaimNotice | Interface::LogoutNotice if granted => {
            Some((Interface::BaohanNotice, false))
        }
        Interface::QuitNotice if granted => Some((Interface::PayNotice, false)),
        _ => None,
    }
}

/// Every check the standard makes of a notice; the decrypted JSON and the
/// problems found.
fn check(
    st: &Inner,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Value, Vec<String>, Option<String>) {
    let mut problems = Vec::new();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(creds) = &st.creds else {
        return (Value::Null, vec!["平台未配置密钥".into()], None);
    };
    let interface = Interface::from_name(name).filter(|i| i.is_notice());
    if interface.is_none() {
        problems.push(format!("未知的通知接口 {name}"));
    }
    if h("appkey").as_deref() != Some(creds.appkey.as_str()) {
        problems.push("appkey 不符".into());
    }
    let text = String::from_utf8_lossy(body);
    let plain = creds.key.decrypt_text(&text).ok();
    let json = plain
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .unwrap_or(Value::Null);
    match (&plain, interface) {
        (None, _) => problems.push("解密失败".into()),
        (Some(p), Some(i)) => {
            if let Err(e) = Notice::parse(i, p) {
                problems.push(format!("字段不合规: {e}"));
            }
        }
        (Some(_), None) => {}
    }
    match h("sign") {
        None => problems.push("缺少 sign".into()),
        Some(s) => {
            let secret = creds.appsecret.expose_secret().as_bytes();
            if !gw_envelope::sign::verify_hmac_sm3_hex(secret, body, &s) {
                problems.push("sign 验签失败".into());
            }
        }
    }
    match h("timestamp").and_then(|t| t.parse::<i64>().ok()) {
        None => problems.push("缺少 timestamp".into()),
        Some(ts) => {
            let skew = (chrono::Utc::now().timestamp_millis() - ts).abs();
            if skew > TIMESTAMP_TOLERANCE_MS {
                problems.push(format!("timestamp 与平台时间相差 {} 秒", skew / 1000));
            }
        }
    }
    let applyno = json["applyno"].as_str().map(str::to_owned);
    if let (Some(i), Some(a)) = (interface, &applyno)
        && let Some((before, granted)) = predecessor(i, json["applystatus"].as_str())
    {
        let seen = lock(&st.accepted).get(a).is_some_and(|list| {
            list.iter().any(|(n, v)| {
                n == before.name() && (!granted || v["applystatus"].as_str() == Some("1"))
            })
        });
        if !seen {
            problems.push(format!("通知顺序错误: {name} 早于 {}", before.name()));
        }
    }
    (json, problems, applyno)
}

fn summary(json: &Value) -> String {
    let keys = [
        "applystatus",
        "baohanno",
        "applicationno",
        "paystatus",
        "payamount",
        "validtime",
        "remark",
    ];
    keys.iter()
        .filter_map(|k| {
            json[*k].as_str().map(|v| {
                let v: String = v.chars().take(40).collect();
                format!("{k}={v}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn notice(
    State(st): State<Arc<Inner>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = st.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let (json, problems, applyno) = check(&st, &name, &headers, &body);
    let applyno = applyno.unwrap_or_default();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let strict = st.strict.load(Ordering::SeqCst);
    let reply = if st.down.load(Ordering::SeqCst) {
        Reply::Status(503)
    } else if json.is_null()
        || h("appkey").as_deref() != st.creds.as_ref().map(|c| c.appkey.as_str())
    {
        Reply::Code500("验签或解密失败")
    } else if strict && !problems.is_empty() {
        Reply::Refuse(problems.join("; "))
    } else {
        lock(&st.script)
            .get_mut(&applyno)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Ok)
    };
    let answer = match &reply {
        Reply::Ok | Reply::OkStringCode | Reply::Huge(_) | Reply::Hang(_) => "code 200".to_owned(),
        Reply::Status(s) | Reply::StatusRetryAfter(s, _) => format!("HTTP {s}"),
        Reply::Code500(m) => format!("code 500 {m}"),
        Reply::Refuse(m) => format!("code 500 {m}"),
        Reply::NotJson => "not JSON".to_owned(),
    };
    st.timeline.record(
        &applyno,
        Direction::Notice,
        &name,
        None,
        format!("{} → {answer}", summary(&json)),
        problems.clone(),
    );
    if reply.accepts() {
        lock(&st.accepted)
            .entry(applyno.clone())
            .or_default()
            .push((name.clone(), json.clone()));
        if let Some(awaited) = lock(&st.awaited).get(&applyno) {
            awaited.notify_waiters();
        }
        if st.fetch_files.load(Ordering::SeqCst) {
            for field in ["baohanurl", "invoiceurl"] {
                if let Some(url) = json[field].as_str() {
                    tokio::spawn(fetch(
                        st.clone(),
                        applyno.clone(),
                        field,
                        url.to_owned(),
                        json.clone(),
                    ));
                }
            }
        }
    }
    lock(&st.received).push(Received {
        interface: name,
        json,
        appkey: h("appkey"),
        sign_ok: !problems.iter().any(|p| p.contains("sign")),
        timestamp_ms: h("timestamp").and_then(|t| t.parse().ok()),
        at: Instant::now(),
        reply: format!("{reply:?}"),
        problems,
    });
    match reply {
        Reply::Ok => axum::Json(json!({"code": 200, "msg": "成功"})).into_response(),
        Reply::OkStringCode => axum::Json(json!({"code": "200", "msg": "成功"})).into_response(),
        Reply::Status(s) => status(s).into_response(),
        Reply::StatusRetryAfter(s, secs) => {
            (status(s), [(header::RETRY_AFTER, secs.to_string())]).into_response()
        }
        Reply::Code500(msg) => axum::Json(json!({"code": 500, "msg": msg})).into_response(),
        Reply::Refuse(msg) => axum::Json(json!({"code": 500, "msg": msg})).into_response(),
        Reply::NotJson => (StatusCode::OK, "<html>gateway error</html>").into_response(),
        Reply::Huge(n) => {
            let pad = "x".repeat(n);
            axum::Json(json!({"code": 200, "msg": "成功", "pad": pad})).into_response()
        }
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            axum::Json(json!({"code": 200, "msg": "late"})).into_response()
        }
    }
}

fn status(s: u16) -> StatusCode {
    StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Downloads a linked file as the platform does, decrypts it and checks it
/// is a PDF that names the application.
/// How long a file the server does not serve yet is tried again.
const FETCH_PATIENCE: Duration = Duration::from_secs(30);

async fn fetch(st: Arc<Inner>, applyno: String, field: &str, url: String, notice: Value) {
    let started = Instant::now();
    let mut problems = Vec::new();
    // A server that does not answer, or answers that it is unavailable, is
    // tried again for a while, as the platform's downloader would: a
    // gateway restarting is not a broken link.
    let until = started + FETCH_PATIENCE;
    let got = loop {
        let got = match st.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.map_err(|e| (true, e.to_string())),
            Ok(r) => Err((
                matches!(r.status().as_u16(), 502..=504),
                format!("HTTP {}", r.status().as_u16()),
            )),
            // No answer, or one cut short: the server may be restarting.
            Err(e) => Err((true, e.to_string())),
        };
        match got {
            Err((true, _)) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => break other.map_err(|(_, e)| e),
        }
    };
    let clear = match (got, &st.creds) {
        (Ok(b), Some(c)) => match c.key.decrypt_bytes(&b) {
            Ok(clear) => Some(clear),
            Err(_) => {
                problems.push("文件解密失败".to_owned());
                None
            }
        },
        (Ok(_), None) => None,
        (Err(e), _) => {
            problems.push(format!("下载失败: {e}"));
            None
        }
    };
    let mut summary = String::new();
    if let Some(b) = &clear {
        summary = format!("{} bytes", b.len());
        let every = st.read_text_every.load(Ordering::SeqCst).max(1);
        let nth = st.downloads_seen.fetch_add(1, Ordering::SeqCst);
        if !b.starts_with(b"%PDF-") {
            problems.push("不是 PDF 文件".to_owned());
        } else if !nth.is_multiple_of(every) {
            summary.push_str(", PDF header checked");
        } else {
            match crate::pdf::text(b).await {
                Ok(text) => {
                    let expected = notice["baohanno"]
                        .as_str()
                        .or(notice["applicationno"].as_str());
                    if let Some(e) = expected
                        && !text.contains(e)
                    {
                        problems.push(format!("PDF 中没有 {e}"));
                    }
                    summary.push_str(", PDF text checked");
                }
                Err(e) => problems.push(format!("PDF 文本无法读取: {e}")),
            }
        }
    }
    st.timeline.record(
        &applyno,
        Direction::File,
        field,
        Some(started.elapsed()),
        summary,
        problems.clone(),
    );
    lock(&st.downloads).push(Download {
        applyno,
        url,
        bytes: clear,
        problems,
    });
    st.arrived.notify_waiters();
}

/// Telling the platform how to behave, for an integration environment that
/// runs the sandbox as a process (the library calls do the same):
/// `POST /sandbox/down`, `/sandbox/up`, `/sandbox/delay/{ms}`,
/// `/sandbox/refuse/{applyno}/{times}` (the next notices of `applyno`
/// answered `code 500`), and `GET /sandbox/timeline` (JSON) or
/// `/sandbox/timeline/{applyno}` (text).
fn control() -> Router<Arc<Inner>> {
    async fn down(State(st): State<Arc<Inner>>) -> &'static str {
        st.down.store(true, Ordering::SeqCst);
        "down: every notice is answered HTTP 503\n"
    }
    async fn up(State(st): State<Arc<Inner>>) -> &'static str {
        st.down.store(false, Ordering::SeqCst);
        "up\n"
    }
    async fn delay(State(st): State<Arc<Inner>>, Path(ms): Path<u64>) -> String {
        st.delay_ms.store(ms, Ordering::SeqCst);
        format!("every answer waits {ms} ms\n")
    }
    async fn refuse(
        State(st): State<Arc<Inner>>,
        Path((applyno, times)): Path<(String, usize)>,
    ) -> String {
        let replies = std::iter::repeat_n(Reply::Code500("沙箱平台按要求拒收"), times);
        lock(&st.script)
            .entry(applyno.clone())
            .or_default()
            .extend(replies);
        format!("the next {times} notices of {applyno} are refused\n")
    }
    async fn timeline(State(st): State<Arc<Inner>>) -> Response {
        axum::Json(st.timeline.all()).into_response()
    }
    async fn timeline_of(State(st): State<Arc<Inner>>, Path(applyno): Path<String>) -> String {
        format!("{applyno}\n{}\n", st.timeline.render(&applyno))
    }
    Router::new()
        .route("/sandbox/down", post(down))
        .route("/sandbox/up", post(up))
        .route("/sandbox/delay/{ms}", post(delay))
        .route("/sandbox/refuse/{applyno}/{times}", post(refuse))
        .route("/sandbox/timeline", get(timeline))
        .route("/sandbox/timeline/{applyno}", get(timeline_of))
}

async fn file(State(st): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    lock(&st.file_hits).push(name.clone());
    if let Some(to) = lock(&st.redirects).get(&name) {
        return (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response();
    }
    match lock(&st.files).get(&name) {
        Some(b) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
