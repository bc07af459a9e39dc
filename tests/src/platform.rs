//! A local HTTP server playing the platform: it decrypts and records every
//! notice it receives (checking `appkey`, `sign` and `timestamp`), answers as
//! a test scripts it, and serves encrypted files (and redirects).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{APPKEY, APPSECRET};

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
    /// HTTP 200 with a body that is not JSON.
    NotJson,
    /// No answer for this long.
    Hang(Duration),
    /// HTTP 200 `{"code":200}` padded to this many bytes (a reply too large
    /// to read).
    Huge(usize),
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
}

impl Received {
    pub fn applyno(&self) -> &str {
        self.json["applyno"].as_str().unwrap_or("")
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    /// Scripted replies per applyno, then `Reply::Ok`.
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    files: Mutex<HashMap<String, Vec<u8>>>,
    redirects: Mutex<HashMap<String, String>>,
    file_hits: Mutex<Vec<String>>,
    /// While set, every notice is answered 503 (the platform is down).
    down: std::sync::atomic::AtomicBool,
    /// The notices accepted, by applyno, in order: (interface, body).
    accepted: Mutex<HashMap<String, Vec<(String, Value)>>>,
    /// Woken on every accepted notice.
    arrived: tokio::sync::Notify,
}

/// The simulator; stops when dropped.
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
    /// Starts on `ip` (e.g. `127.0.0.1`, `127.0.0.2`) and a free port.
    pub async fn start_on(ip: &str) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        let stop = CancellationToken::new();
        let app = Router::new()
            .route("/v1/gua/tb/{name}", post(notice))
            .route("/files/{name}", get(file))
            .with_state(inner.clone());
        tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        Self {
            addr,
            base_url: format!("http://{addr}"),
            inner,
            stop,
        }
    }

    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// The next replies to notices of `applyno` (after them: `Ok`).
    pub fn script(&self, applyno: &str, replies: impl IntoIterator<Item = Reply>) {
        self.inner
            .script
            .lock()
            .unwrap()
            .entry(applyno.to_owned())
            .or_default()
            .extend(replies);
    }

    /// Down (every notice answered 503) or up again.
    pub fn set_down(&self, down: bool) {
        self.inner
            .down
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Forgets the replies still scripted for `applyno` (then: `Ok`).
    pub fn clear_script(&self, applyno: &str) {
        self.inner.script.lock().unwrap().remove(applyno);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    pub fn received_for(&self, applyno: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.applyno() == applyno)
            .collect()
    }

    /// Waits until `pred` holds for what was received.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let r = self.received();
            if pred(&r) {
                return r;
            }
            assert!(
                Instant::now() < until,
                "the platform did not see what was expected in {timeout:?}: {r:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Serves `bytes` at `/files/{name}`, SM4-encrypted as the platform does.
    pub fn serve_file(&self, name: &str, clear: &[u8]) {
        let key = gw_envelope::Sm4Key::from_appsecret(APPSECRET).unwrap();
        self.inner
            .files
            .lock()
            .unwrap()
            .insert(name.to_owned(), key.encrypt_bytes(clear));
    }

    /// Answers `/files/{name}` with a 302 to `location`.
    pub fn redirect(&self, name: &str, location: &str) {
        self.inner
            .redirects
            .lock()
            .unwrap()
            .insert(name.to_owned(), location.to_owned());
    }

    /// The notices of `applyno` accepted so far, in order: (interface, body).
    pub fn accepted_for(&self, applyno: &str) -> Vec<(String, Value)> {
        self.inner
            .accepted
            .lock()
            .unwrap()
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
        loop {
            let woken = self.inner.arrived.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let found = self
                .accepted_for(applyno)
                .into_iter()
                .find(|(i, v)| i == interface && pred(v));
            if let Some((_, v)) = found {
                return Some(v);
            }
            if tokio::time::timeout_at(until, woken).await.is_err() {
                return None;
            }
        }
    }

    /// The file names requested so far.
    pub fn file_hits(&self) -> Vec<String> {
        self.inner.file_hits.lock().unwrap().clone()
    }
}

async fn notice(
    State(st): State<Arc<Inner>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let key = gw_envelope::Sm4Key::from_appsecret(APPSECRET).unwrap();
    let json = key
        .decrypt_text(&text)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let sign_ok = h("sign")
        .is_some_and(|s| gw_envelope::sign::verify_hmac_sm3_hex(APPSECRET.as_bytes(), &body, &s));
    let applyno = json["applyno"].as_str().unwrap_or("").to_owned();
    let reply = if st.down.load(std::sync::atomic::Ordering::SeqCst) {
        Reply::Status(503)
    } else if h("appkey").as_deref() != Some(APPKEY) || json.is_null() {
        Reply::Code500("验签或解密失败")
    } else {
        st.script
            .lock()
            .unwrap()
            .get_mut(&applyno)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Reply::Ok)
    };
    if matches!(reply, Reply::Ok) {
        st.accepted
            .lock()
            .unwrap()
            .entry(applyno.clone())
            .or_default()
            .push((name.clone(), json.clone()));
        st.arrived.notify_waiters();
    }
    st.received.lock().unwrap().push(Received {
        interface: name,
        json,
        appkey: h("appkey"),
        sign_ok,
        timestamp_ms: h("timestamp").and_then(|t| t.parse().ok()),
        at: Instant::now(),
        reply: format!("{reply:?}"),
    });
    match reply {
        Reply::Ok => axum::Json(json!({"code": 200, "msg": "成功"})).into_response(),
        Reply::OkStringCode => axum::Json(json!({"code": "200", "msg": "成功"})).into_response(),
        Reply::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Reply::StatusRetryAfter(s, secs) => (
            StatusCode::from_u16(s).unwrap(),
            [(header::RETRY_AFTER, secs.to_string())],
        )
            .into_response(),
        Reply::Code500(msg) => axum::Json(json!({"code": 500, "msg": msg})).into_response(),
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

async fn file(State(st): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    st.file_hits.lock().unwrap().push(name.clone());
    if let Some(to) = st.redirects.lock().unwrap().get(&name) {
        return (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response();
    }
    match st.files.lock().unwrap().get(&name) {
        Some(b) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            b.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
