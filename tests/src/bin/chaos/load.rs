//! Steady load of complete lifecycles, as the platform drives them:
//! baohanapply → processnotice → payapply → pay at the cashier → paynotice
//! and baohannotice → revertapply → revertnotice, and for one in ten a
//! refund (quitapply → quitnotice), for another one in ten a claim
//! (claimapply with an evidence file → claimnotice). A call answered busy
//! is tried again, as a platform does; only a `code 200` counts as
//! accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gw_tests::platform::Platform;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What happened to one lifecycle.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub applyno: String,
    pub started: Instant,
    /// When its last notice arrived.
    pub completed: Option<Instant>,
    /// Calls answered `code 200`, by interface.
    pub accepted: Vec<&'static str>,
    /// Where it stopped, when it did not complete.
    pub stuck_at: Option<String>,
    /// `applicationno` of its refund or claim, if any.
    pub after: Option<(&'static str, String)>,
}

/// The load's counters and records.
#[derive(Default)]
pub struct Stats {
    pub busy: AtomicU64,
    pub accepted_calls: AtomicU64,
    pub lifecycles: std::sync::Mutex<Vec<Lifecycle>>,
}

impl Stats {
    pub fn snapshot(&self) -> Vec<Lifecycle> {
        self.lifecycles
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }
}

/// The driver.
pub struct Load {
    pub ingress: String,
    pub cashier: String,
    pub platform: Arc<Platform>,
    pub stats: Arc<Stats>,
    pub run: String,
    /// How long one step may wait for its notice (faults included).
    pub patience: Duration,
    next: AtomicU64,
    client: reqwest::Client,
}

impl Load {
    pub fn new(
        ingress: String,
        cashier: String,
        platform: Arc<Platform>,
        run: &str,
        patience: Duration,
    ) -> Self {
        platform.serve_file("evidence.pdf", "理赔材料：投标人中标后放弃中标".as_bytes());
        Self {
            ingress,
            cashier,
            platform,
            stats: Arc::new(Stats::default()),
            run: run.to_owned(),
            patience,
            next: AtomicU64::new(0),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// `workers` lifecycles at a time until `stop`; those under way finish
    /// (or give up after their patience) before this returns.
    pub async fn run(self: &Arc<Self>, workers: usize, stop: CancellationToken) {
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (me, stop) = (self.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.is_cancelled() {
                        me.lifecycle().await;
                    }
                })
            })
            .collect();
        futures::future::join_all(tasks).await;
    }

    /// Calls an inbound interface until it is answered other than busy
    /// (or `patience` passes); the reply.
    async fn call(&self, name: &str, body: &Value) -> Option<Value> {
        let until = Instant::now() + self.patience;
        loop {
            let sent = self
                .client
                .post(format!("{}/v1/gua/tb/{name}", self.ingress))
                .header("appkey", gw_tests::APPKEY)
                .body(gw_tests::encrypt(&body.to_string()))
                .send()
                .await;
            let reply: Option<Value> = match sent {
                Ok(r) => r.json().await.ok(),
                Err(_) => None,
            };
            match reply {
                Some(r) if r["code"] == 200 => {
                    self.stats.accepted_calls.fetch_add(1, Ordering::Relaxed);
                    return Some(r);
                }
                // Busy (the broker or the database away), or no answer at all
                // (ingress restarting): the platform tries again.
                Some(r)
                    if r["msg"]
                        .as_str()
                        .is_some_and(|m| m.contains("繁忙") || m.contains("审核中")) => {}
                None => {}
                Some(r) => {
                    eprintln!("{name} refused: {r}");
                    return None;
                }
            }
            self.stats.busy.fetch_add(1, Ordering::Relaxed);
            if Instant::now() > until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn notice(
        &self,
        applyno: &str,
        interface: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.platform
            .wait_accepted(applyno, interface, pred, self.patience)
            .await
    }

    async fn pay(&self, premiumurl: &str) -> bool {
        let path = premiumurl.split("/cashier/").nth(1).unwrap_or_default();
        let url = format!("{}/cashier/{path}/pay", self.cashier);
        let form = gw_tests::samples::PAYMENT_FORM;
        let until = Instant::now() + self.patience;
        loop {
            match self.client.post(&url).form(&form).send().await {
                Ok(r) if r.status().is_success() => return true,
                // Already paid: an earlier try went through although its
                // answer was lost (the broker cut before the confirm); the
                // paynotice wait that follows tells.
                Ok(r) if r.status() == reqwest::StatusCode::CONFLICT => return true,
                Ok(r) if r.status().is_client_error() => return false,
                _ if Instant::now() > until => return false,
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    }

    /// One lifecycle, recorded whatever happens.
    async fn lifecycle(&self) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let applyno = format!("TB{}{n:06}", self.run);
        let mut l = Lifecycle {
            applyno: applyno.clone(),
            started: Instant::now(),
            completed: None,
            accepted: Vec::new(),
            stuck_at: None,
            after: match n % 10 {
                3 => Some(("quitnotice", format!("TH{}{n:06}", self.run))),
                7 => Some(("claimnotice", format!("LP{}{n:06}", self.run))),
                _ => None,
            },
        };
        if let Err(step) = self.steps(&mut l).await {
            l.stuck_at = Some(step);
        } else {
            l.completed = Some(Instant::now());
        }
        if let Ok(mut all) = self.stats.lifecycles.lock() {
            all.push(l);
        }
    }

    async fn steps(&self, l: &mut Lifecycle) -> Result<(), String> {
        let a = l.applyno.clone();
        let stuck = |s: &str| s.to_owned();
        self.call("baohanapply", &gw_tests::samples::baohanapply(&a))
            .await
            .ok_or_else(|| stuck("baohanapply"))?;
        l.accepted.push("baohanapply");
        self.notice(&a, "processnotice", |v| v["applystatus"] == "1")
            .await
            .ok_or_else(|| stuck("processnotice"))?;
        let reply = self
            .call("payapply", &json!({"applyno": a}))
            .await
            .ok_or_else(|| stuck("payapply"))?;
        l.accepted.push("payapply");
        let data: Value = reply["data"]
            .as_str()
            .and_then(|d| serde_json::from_str(&gw_tests::decrypt(d)).ok())
            .ok_or_else(|| stuck("payapply data"))?;
        let url = data["premiumurl"].as_str().unwrap_or_default().to_owned();
        if !self.pay(&url).await {
            return Err(stuck("cashier"));
        }
        self.notice(&a, "paynotice", |_| true)
            .await
            .ok_or_else(|| stuck("paynotice"))?;
        let baohan = self
            .notice(&a, "baohannotice", |_| true)
            .await
            .ok_or_else(|| stuck("baohannotice"))?;
        let baohanno = baohan["baohanno"].as_str().unwrap_or_default().to_owned();
        let bidtime =
            gw_protocol::WireTime::from_utc(chrono::Utc::now() + chrono::Duration::days(30));
        let mut revert = gw_tests::samples::request(gw_protocol::Interface::RevertApply, &a);
        revert["baohanno"] = json!(baohanno);
        revert["bidtime"] = json!(bidtime.to_string());
        self.call("revertapply", &revert)
            .await
            .ok_or_else(|| stuck("revertapply"))?;
        l.accepted.push("revertapply");
        self.notice(&a, "revertnotice", |_| true)
            .await
            .ok_or_else(|| stuck("revertnotice"))?;
        let Some((notice, no)) = l.after.clone() else {
            return Ok(());
        };
        let (interface, mut body) = if notice == "quitnotice" {
            let mut q = gw_tests::samples::request(gw_protocol::Interface::QuitApply, &a);
            q["scene"] = json!("1");
            ("quitapply", q)
        } else {
            let mut c = gw_tests::samples::request(gw_protocol::Interface::ClaimApply, &a);
            c["applymount"] = json!("1000.00");
            c["filelist"] =
                json!([{"fileurl": format!("{}/files/evidence.pdf", self.platform.base_url)}]);
            ("claimapply", c)
        };
        body["baohanno"] = json!(baohanno);
        body["applicationno"] = json!(no);
        self.call(interface, &body)
            .await
            .ok_or_else(|| stuck(interface))?;
        l.accepted.push(if interface == "quitapply" {
            "quitapply"
        } else {
            "claimapply"
        });
        self.notice(&a, notice, |v| {
            v["applicationno"] == no.as_str() && v["applystatus"] == "1"
        })
        .await
        .ok_or_else(|| stuck(notice))?;
        Ok(())
    }
}
