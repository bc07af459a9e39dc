//! The calling side of the platform: the 8 apply interfaces, as the
//! platform calls them (the JSON SM4-encrypted to lowercase hex, `appkey`
//! in a header), and the cashier page a bidder pays on. Every call goes
//! into the timeline with its latency and answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::platform::Credentials;
use crate::timeline::{Direction, Timeline};

/// The gateway's answer to one call.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `code` as a number (a string code is read as its number).
    pub code: Option<i64>,
    pub msg: String,
    /// `data`, decrypted and parsed, when present.
    pub data: Option<Value>,
    pub latency: Duration,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.code == Some(200)
    }

    /// Busy, or the application is still being decided: try again later.
    pub fn busy(&self) -> bool {
        self.msg.contains("繁忙") || self.msg.contains("频繁") || self.msg.contains("审核中")
    }
}

/// Calls one gateway as one platform.
#[derive(Clone)]
pub struct Client {
    /// The gateway's inbound base URL, e.g. `http://127.0.0.1:8080`.
    pub gateway: String,
    creds: Credentials,
    http: reqwest::Client,
    timeline: Arc<Timeline>,
}

impl Client {
    pub fn new(gateway: &str, creds: Credentials, timeline: Arc<Timeline>) -> anyhow::Result<Self> {
        Ok(Self {
            gateway: gateway.trim_end_matches('/').to_owned(),
            creds,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
            timeline,
        })
    }

    /// The same client calling with another `appkey` (a security check).
    pub fn with_appkey(&self, appkey: &str) -> Self {
        let mut c = self.clone();
        c.creds.appkey = appkey.to_owned();
        c
    }

    /// Calls `interface` with `body` once; the answer, or why there was none.
    pub async fn call(&self, interface: &str, body: &Value) -> Result<Answer, String> {
        let applyno = body["applyno"].as_str().unwrap_or_default();
        let cipher = self.creds.key().encrypt_hex(&body.to_string());
        self.send(interface, applyno, cipher).await
    }

    /// Calls `interface` with a body sent as it is (not encrypted here).
    pub async fn call_raw(&self, interface: &str, body: &str) -> Result<Answer, String> {
        self.send(interface, "", body.to_owned()).await
    }

    async fn send(&self, interface: &str, applyno: &str, body: String) -> Result<Answer, String> {
        let started = Instant::now();
        let sent = self
            .http
            .post(format!("{}/v1/gua/tb/{interface}", self.gateway))
            .header("appkey", &self.creds.appkey)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await;
        let latency = started.elapsed();
        let answer = match sent {
            Ok(r) => match r.json::<Value>().await {
                Ok(v) => Ok(self.answer(&v, latency)),
                Err(e) => Err(format!("the answer is not JSON: {e}")),
            },
            Err(e) => Err(format!("no answer: {e}")),
        };
        let (summary, problems) = match &answer {
            Ok(a) if a.ok() => ("code 200".to_owned(), vec![]),
            Ok(a) => (format!("code {} {}", a.code.unwrap_or(0), a.msg), vec![]),
            Err(e) => (e.clone(), vec![e.clone()]),
        };
        self.timeline.record(
            applyno,
            Direction::Call,
            interface,
            Some(latency),
            summary,
            problems,
        );
        answer
    }

    /// Calls until answered other than busy (at most `patience`), as a
    /// platform does.
    pub async fn call_until_answered(
        &self,
        interface: &str,
        body: &Value,
        patience: Duration,
    ) -> Result<Answer, String> {
        let until = Instant::now() + patience;
        loop {
            let last = self.call(interface, body).await;
            match &last {
                Ok(a) if a.ok() || !a.busy() => return last,
                _ if Instant::now() >= until => return last,
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    fn answer(&self, v: &Value, latency: Duration) -> Answer {
        let code = v["code"]
            .as_i64()
            .or_else(|| v["code"].as_str().and_then(|s| s.parse().ok()));
        let data = v["data"].as_str().and_then(|d| {
            self.creds
                .key()
                .decrypt_text(d)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
        });
        Answer {
            code,
            msg: v["msg"].as_str().unwrap_or_default().to_owned(),
            data,
            latency,
        }
    }

    /// Pays on the cashier page at `premiumurl` with the sandbox form, as a
    /// bidder does; the HTTP status. `cashier` replaces the URL's origin
    /// when the gateway's public address is not reachable from here.
    pub async fn pay(
        &self,
        applyno: &str,
        premiumurl: &str,
        cashier: Option<&str>,
        form: &[(&str, &str)],
    ) -> Result<u16, String> {
        let url = match (cashier, premiumurl.split_once("/cashier/")) {
            (Some(base), Some((_, path))) => {
                format!("{}/cashier/{path}/pay", base.trim_end_matches('/'))
            }
            _ => format!("{premiumurl}/pay"),
        };
        let started = Instant::now();
        let r = self.http.post(&url).form(form).send().await;
        let latency = started.elapsed();
        let status = r.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        let (summary, problems) = match &status {
            Ok(s) if (200..300).contains(s) => (format!("HTTP {s}"), vec![]),
            Ok(s) => (format!("HTTP {s}"), vec![]),
            Err(e) => (e.clone(), vec![e.clone()]),
        };
        self.timeline.record(
            applyno,
            Direction::Call,
            "cashier",
            Some(latency),
            summary,
            problems,
        );
        status
    }

    /// Pays until the cashier answers (at most `patience`), as a bidder
    /// reloads a page that did not load: no answer or 502–504 is tried
    /// again. The status, and whether an earlier try went unanswered (then
    /// 409, already paid, means that try went through).
    pub async fn pay_until_answered(
        &self,
        applyno: &str,
        premiumurl: &str,
        cashier: Option<&str>,
        form: &[(&str, &str)],
        patience: Duration,
    ) -> Result<(u16, bool), String> {
        let until = Instant::now() + patience;
        let mut retried = false;
        loop {
            match self.pay(applyno, premiumurl, cashier, form).await {
                Ok(s) if !(502..=504).contains(&s) => return Ok((s, retried)),
                last if Instant::now() >= until => return last.map(|s| (s, retried)),
                _ => {
                    retried = true;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
    }

    /// GETs `url`; the status and body.
    pub async fn get(&self, url: &str) -> Result<(u16, String), String> {
        let r = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(|e| e.to_string())?))
    }
}
