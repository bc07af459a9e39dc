//! Whole lifecycles driven through a gateway as the platform drives them,
//! each step with its verdict: the demo of `cargo run -- demo` and the
//! acceptance rehearsal of `sandbox --gateway URL`.
//!
//! Five stories run at once: a guarantee through its whole life (apply,
//! approve, pay on the cashier page, issue, restore, invoice, claim), a
//! refund, a write-off, a cancel that holds against a payment, and an
//! application the rules refuse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gw_protocol::Interface;
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::platform::Platform;
use crate::samples;

/// One step of a story and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub seconds: f64,
}

/// One application's story.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub title: &'static str,
    pub applyno: String,
    pub steps: Vec<Step>,
    /// The guarantee number, once issued.
    pub baohanno: Option<String>,
    #[serde(skip)]
    started: Option<Instant>,
}

impl Story {
    fn new(title: &'static str, applyno: String) -> Self {
        Self {
            title,
            applyno,
            steps: Vec::new(),
            baohanno: None,
            started: Some(Instant::now()),
        }
    }

    pub fn ok(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    /// Records a step; `Some(value)` when it passed.
    fn step<T>(&mut self, name: &str, r: Result<(T, String), String>) -> Option<T> {
        let seconds = self
            .started
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or_default();
        let (ok, detail, value) = match r {
            Ok((v, d)) => (true, d, Some(v)),
            Err(e) => (false, e, None),
        };
        self.steps.push(Step {
            name: name.to_owned(),
            ok,
            detail,
            seconds,
        });
        value
    }
}

/// What drives the stories.
pub struct Demo {
    pub client: Client,
    pub platform: Arc<Platform>,
    /// Where the cashier pages are reachable from here, when not at the
    /// `premiumurl` the gateway gives (a gateway behind a proxy).
    pub cashier: Option<String>,
    /// How long one step may wait for its answer or notice.
    pub patience: Duration,
    /// Makes this run's application numbers unique.
    pub run: String,
}

fn expect_ok(a: Result<crate::client::Answer, String>) -> Result<(Option<Value>, String), String> {
    match a {
        Ok(a) if a.ok() => Ok((a.data, format!("code 200 in {} ms", a.latency.as_millis()))),
        Ok(a) => Err(format!("code {} {}", a.code.unwrap_or(0), a.msg)),
        Err(e) => Err(e),
    }
}

impl Demo {
    /// Runs every story at once; the stories, in order.
    pub async fn run(&self) -> Vec<Story> {
        self.platform.serve_file(
            "evidence.pdf",
            "%PDF-1.4 理赔材料：投标人中标后无正当理由放弃中标".as_bytes(),
        );
        self.platform
            .serve_file("release.pdf", "%PDF-1.4 保函解除函".as_bytes());
        let (a, b, c, d, e) = tokio::join!(
            self.whole_life(),
            self.refund(),
            self.write_off(),
            self.cancel(),
            self.refused()
        );
        vec![a, b, c, d, e]
    }

    fn applyno(&self, tag: &str) -> String {
        format!("TB{}{tag}", self.run)
    }

    async fn call(&self, interface: &str, body: &Value) -> Result<(Option<Value>, String), String> {
        expect_ok(
            self.client
                .call_until_answered(interface, body, self.patience)
                .await,
        )
    }

    /// Waits for notice `interface` of `applyno` whose body passes `pred`.
    async fn notice(
        &self,
        applyno: &str,
        interface: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<(Value, String), String> {
        let started = Instant::now();
        match self
            .platform
            .wait_accepted(applyno, interface, pred, self.patience)
            .await
        {
            Some(v) => {
                let status = v["applystatus"]
                    .as_str()
                    .map(|s| format!("applystatus={s}, "))
                    .unwrap_or_default();
                Ok((
                    v,
                    format!("{status}after {} ms", started.elapsed().as_millis()),
                ))
            }
            None => {
                let got: Vec<String> = self
                    .platform
                    .received_for(applyno)
                    .iter()
                    .map(|r| {
                        format!(
                            "{} ({}{})",
                            r.interface,
                            r.reply,
                            if r.problems.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", r.problems.join("; "))
                            }
                        )
                    })
                    .collect();
                Err(format!(
                    "no {interface} within {:?}; received: {}",
                    self.patience,
                    if got.is_empty() {
                        "nothing".to_owned()
                    } else {
                        got.join(", ")
                    }
                ))
            }
        }
    }

    /// The file a notice links to, as the platform downloaded and checked it.
    async fn file(&self, notice: &Value, field: &str) -> Result<((), String), String> {
        let url = notice[field]
            .as_str()
            .ok_or_else(|| format!("{field} missing"))?;
        match self.platform.wait_download(url, self.patience).await {
            Some(d) if d.problems.is_empty() => Ok((
                (),
                format!(
                    "PDF of {} bytes, decrypted, its text names the guarantee",
                    d.bytes.map(|b| b.len()).unwrap_or(0)
                ),
            )),
            Some(d) => Err(d.problems.join("; ")),
            None => Err(format!("{url} was not downloaded")),
        }
    }

    /// Apply, approve, pay, issue: the guarantee number.
    async fn issue(&self, s: &mut Story) -> Option<String> {
        let a = s.applyno.clone();
        s.step(
            "baohanapply",
            self.call("baohanapply", &samples::baohanapply(&a)).await,
        )?;
        s.step(
            "processnotice (approved)",
            self.notice(&a, "processnotice", |v| v["applystatus"] != "0")
                .await
                .and_then(|(v, d)| {
                    if v["applystatus"] == "1" {
                        Ok(((), d))
                    } else {
                        Err(format!("not approved: {v}"))
                    }
                }),
        )?;
        let data = s.step(
            "payapply",
            self.call("payapply", &json!({"applyno": a})).await,
        )?;
        let url = data
            .as_ref()
            .and_then(|d| d["premiumurl"].as_str())
            .map(str::to_owned);
        let url = s.step(
            "premiumurl",
            url.map(|u| (u.clone(), u))
                .ok_or_else(|| "payapply answered without premiumurl".to_owned()),
        )?;
        let paid = self
            .client
            .pay_until_answered(
                &a,
                &url,
                self.cashier.as_deref(),
                &samples::PAYMENT_FORM,
                self.patience,
            )
            .await;
        s.step(
            "cashier payment (sandbox)",
            match paid {
                Ok((st, _)) if (200..300).contains(&st) => Ok(((), format!("HTTP {st}"))),
                Ok((409, true)) => Ok((
                    (),
                    "HTTP 409 already paid: an earlier try went through unanswered".to_owned(),
                )),
                Ok((st, _)) => Err(format!("the cashier answered HTTP {st}")),
                Err(e) => Err(e),
            },
        )?;
        s.step("paynotice", self.notice(&a, "paynotice", |_| true).await)?;
        let b = s.step(
            "baohannotice",
            self.notice(&a, "baohannotice", |_| true).await,
        )?;
        s.step("guarantee PDF downloaded", self.file(&b, "baohanurl").await)?;
        let baohanno = b["baohanno"].as_str().unwrap_or_default().to_owned();
        s.baohanno = Some(baohanno.clone());
        Some(baohanno)
    }

    /// Calls `interface` with `body` (an after-issuance request) and waits
    /// for its notice `notice`, which must grant it; the notice.
    async fn granted_request(
        &self,
        s: &mut Story,
        interface: &str,
        body: &Value,
        notice: &str,
        label: &str,
    ) -> Option<Value> {
        s.step(interface, self.call(interface, body).await)?;
        let no = body["applicationno"].clone();
        let n = self
            .notice(&s.applyno, notice, |v| v["applicationno"] == no)
            .await;
        let value = n.as_ref().ok().map(|(v, _)| v.clone());
        s.step(label, granted(n))?;
        value
    }

    fn after(&self, i: Interface, applyno: &str, baohanno: &str, no: &str) -> Value {
        let mut r = samples::request(i, applyno);
        r["baohanno"] = json!(baohanno);
        r["applicationno"] = json!(no);
        r
    }

    async fn whole_life(&self) -> Story {
        let mut s = Story::new("the whole life of a guarantee", self.applyno("A"));
        let _ = self.whole_life_steps(&mut s).await;
        s
    }

    async fn whole_life_steps(&self, s: &mut Story) -> Option<()> {
        let baohanno = self.issue(s).await?;
        let a = s.applyno.clone();
        let bidtime =
            gw_protocol::WireTime::from_utc(chrono::Utc::now() + chrono::Duration::days(30));
        let mut revert = samples::request(Interface::RevertApply, &a);
        revert["baohanno"] = json!(baohanno);
        revert["bidtime"] = json!(bidtime.to_string());
        s.step("revertapply", self.call("revertapply", &revert).await)?;
        let r = s.step(
            "revertnotice",
            self.notice(&a, "revertnotice", |_| true).await,
        )?;
        s.step("restored PDF downloaded", self.file(&r, "baohanurl").await)?;
        let fp = format!("FP{}", self.run);
        let inv = self.after(Interface::InvoiceApply, &a, &baohanno, &fp);
        let invoice = self
            .granted_request(
                s,
                "invoiceapply",
                &inv,
                "invoicenotice",
                "invoicenotice (issued)",
            )
            .await?;
        if invoice["invoiceurl"].is_string() {
            s.step(
                "invoice PDF downloaded",
                self.file(&invoice, "invoiceurl").await,
            )?;
        }
        let lp = format!("LP{}", self.run);
        let mut claim = self.after(Interface::ClaimApply, &a, &baohanno, &lp);
        claim["applymount"] = json!("1000.00");
        claim["filelist"] = json!([{"fileurl": self.platform.file_url("evidence.pdf")}]);
        self.granted_request(s, "claimapply", &claim, "claimnotice", "claimnotice (paid)")
            .await?;
        Some(())
    }

    async fn refund(&self) -> Story {
        let mut s = Story::new("a refund (退保)", self.applyno("B"));
        if let Some(baohanno) = self.issue(&mut s).await {
            let a = s.applyno.clone();
            let th = format!("TH{}", self.run);
            let mut q = self.after(Interface::QuitApply, &a, &baohanno, &th);
            q["scene"] = json!("1");
            let _ = self
                .granted_request(
                    &mut s,
                    "quitapply",
                    &q,
                    "quitnotice",
                    "quitnotice (refunded)",
                )
                .await;
        }
        s
    }

    async fn write_off(&self) -> Story {
        let mut s = Story::new("a write-off (注销)", self.applyno("C"));
        if let Some(baohanno) = self.issue(&mut s).await {
            let a = s.applyno.clone();
            let zx = format!("ZX{}", self.run);
            let mut l = self.after(Interface::LogoutApply, &a, &baohanno, &zx);
            l["filelist"] = json!([{"fileurl": self.platform.file_url("release.pdf")}]);
            let _ = self
                .granted_request(
                    &mut s,
                    "logoutapply",
                    &l,
                    "logoutnotice",
                    "logoutnotice (written off)",
                )
                .await;
        }
        s
    }

    async fn cancel(&self) -> Story {
        let mut s = Story::new("a cancel that holds against a payment", self.applyno("D"));
        let a = s.applyno.clone();
        let _ = async {
            s.step(
                "baohanapply",
                self.call("baohanapply", &samples::baohanapply(&a)).await,
            )?;
            s.step(
                "processnotice",
                self.notice(&a, "processnotice", |_| true).await,
            )?;
            let cancel = samples::request(Interface::CancelApply, &a);
            s.step("cancelapply", self.call("cancelapply", &cancel).await)?;
            // Called again while unanswered, as every call of the platform
            // is: the gateway may be restarting (the stories run against a
            // gateway killed and restarted in the process tests).
            let pay = self
                .client
                .call_until_answered("payapply", &json!({"applyno": a}), self.patience)
                .await;
            s.step(
                "payapply refused (申请已取消)",
                match pay {
                    Ok(p) if !p.ok() && p.msg.contains("取消") => {
                        Ok(((), format!("code {} {}", p.code.unwrap_or(0), p.msg)))
                    }
                    Ok(p) => Err(format!("answered code {} {}", p.code.unwrap_or(0), p.msg)),
                    Err(e) => Err(e),
                },
            )
        }
        .await;
        s
    }

    async fn refused(&self) -> Story {
        let mut s = Story::new("an application the rules refuse", self.applyno("E"));
        let a = s.applyno.clone();
        let mut apply = samples::baohanapply(&a);
        apply["bzjamount"] = json!("6000000.00");
        apply["biddercode"] = json!(samples::OTHER_BIDDER_CODE);
        if s.step(
            "baohanapply (6 000 000.00)",
            self.call("baohanapply", &apply).await,
        )
        .is_some()
        {
            s.step(
                "processnotice (refused, with the reason)",
                self.notice(&a, "processnotice", |v| v["applystatus"] != "0")
                    .await
                    .and_then(|(v, d)| {
                        if v["applystatus"] == "2" {
                            Ok((
                                (),
                                format!("{d}, remark: {}", v["remark"].as_str().unwrap_or("")),
                            ))
                        } else {
                            Err(format!("not refused: {v}"))
                        }
                    }),
            );
        }
        s
    }
}

/// A notice that must say `applystatus=1`.
fn granted(r: Result<(Value, String), String>) -> Result<((), String), String> {
    let (v, d) = r?;
    if v["applystatus"] == "1" {
        Ok(((), d))
    } else {
        Err(format!(
            "applystatus={}, remark: {}",
            v["applystatus"].as_str().unwrap_or("?"),
            v["remark"].as_str().unwrap_or("")
        ))
    }
}

/// The stories and the platform's timeline as text a person reads; the
/// last line is the verdict.
pub fn render(stories: &[Story], platform: &Platform) -> String {
    let timeline = platform.timeline();
    let mut out = String::new();
    for s in stories {
        let verdict = if s.ok() { "PASS" } else { "FAIL" };
        out.push_str(&format!("\n{verdict}  {} — {}\n", s.applyno, s.title));
        for st in &s.steps {
            let mark = if st.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!(
                "  {mark} {:>6.2}s  {:<34} {}\n",
                st.seconds, st.name, st.detail
            ));
        }
        out.push_str("  timeline (→ call, ← notice, ⇣ file):\n");
        out.push_str(&timeline.render(&s.applyno));
        out.push('\n');
    }
    let passed = stories.iter().filter(|s| s.ok()).count();
    let problems: usize = stories
        .iter()
        .flat_map(|s| timeline.of(&s.applyno))
        .filter(|e| !e.ok())
        .count();
    out.push_str(&format!(
        "\n{passed} of {} stories passed; {problems} problems in the platform's checks\n",
        stories.len()
    ));
    out
}

/// Whether everything passed: every story and every check of the platform.
pub fn passed(stories: &[Story], platform: &Platform) -> bool {
    let timeline = platform.timeline();
    stories.iter().all(Story::ok)
        && stories
            .iter()
            .flat_map(|s| timeline.of(&s.applyno))
            .all(|e| e.ok())
}
