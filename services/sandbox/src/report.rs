//! The acceptance rehearsal: what the platform's acceptance test (附件4)
//! asks an institution to show, exercised against a gateway and written as
//! files a person reads (`report.md`, `report.html`, the sample guarantee
//! as PDF and PNG, the verification page, `timeline.json`).
//!
//! Phases: the demo stories; data security (a wrong appkey, a body that
//! does not decrypt); verification (the issued PDF, and the same PDF with
//! one byte changed); a load phase (applications at once, with latency and
//! throughput); a fault phase (the platform down for a while: notices
//! arrive late and in order).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::Client;
use crate::demo::{self, Demo, Story};
use crate::platform::Platform;
use crate::samples;
use crate::timeline::Direction;

/// How the rehearsal runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where `/verify` and `/verify/file` are served.
    pub verify: String,
    /// Applications of the load phase.
    pub load: usize,
    /// Calls in flight at once in the load phase.
    pub concurrency: usize,
    /// How long the platform stays down in the fault phase.
    pub down_for: Duration,
    /// How long one step may wait.
    pub patience: Duration,
}

/// One item of 附件4 and its verdict.
#[derive(Debug, Clone)]
pub struct Item {
    pub title: &'static str,
    pub exercised: String,
    pub evidence: Vec<String>,
    pub pass: bool,
}

/// What the rehearsal found.
pub struct Rehearsal {
    pub stories: Vec<Story>,
    pub items: Vec<Item>,
    pub text: String,
}

impl Rehearsal {
    pub fn passed(&self) -> bool {
        self.items.iter().all(|i| i.pass)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs every phase against the gateway `client` calls, with `platform`
/// receiving its notices, and writes the report into `dir`.
pub async fn rehearse(d: &Demo, plan: &Plan, dir: &Path) -> anyhow::Result<Rehearsal> {
    std::fs::create_dir_all(dir)?;
    let stories = d.run().await;
    let text = demo::render(&stories, &d.platform);
    let timeline = d.platform.timeline();
    let mut items = Vec::new();
    let step_ok = |title: &str, names: &[&str]| -> (bool, Vec<String>) {
        let mut ev = Vec::new();
        let mut ok = true;
        for s in stories.iter() {
            for st in s
                .steps
                .iter()
                .filter(|st| names.iter().any(|n| st.name.starts_with(n)))
            {
                ok &= st.ok;
                ev.push(format!(
                    "{} {}: {} — {}",
                    s.applyno,
                    st.name,
                    if st.ok { "pass" } else { "FAIL" },
                    st.detail
                ));
            }
        }
        if ev.is_empty() {
            ok = false;
            ev.push(format!("{title}: nothing was exercised"));
        }
        (ok, ev)
    };

    // 1. Online application.
    let (pass, evidence) = step_ok(
        "online application",
        &[
            "baohanapply",
            "processnotice",
            "payapply",
            "cashier",
            "paynotice",
            "cancelapply",
        ],
    );
    items.push(Item {
        title: "在线投保 Online application",
        exercised: "baohanapply → processnotice (approved and refused), payapply → cashier page → paynotice, cancelapply then payapply refused".into(),
        evidence,
        pass,
    });

    // 2. Online issuance.
    let (mut pass, mut evidence) = step_ok(
        "online issuance",
        &[
            "baohannotice",
            "guarantee PDF",
            "revertapply",
            "revertnotice",
            "restored PDF",
            "invoice",
        ],
    );
    // The whole-life story's guarantee, as the platform downloaded it.
    let whole_life = stories
        .first()
        .map(|s| s.applyno.clone())
        .unwrap_or_default();
    let sample = d
        .platform
        .downloads()
        .into_iter()
        .find(|f| f.applyno == whole_life && f.problems.is_empty() && f.bytes.is_some());
    let sample_pdf = sample.as_ref().and_then(|f| f.bytes.clone());
    match &sample_pdf {
        Some(pdf) => {
            std::fs::write(dir.join("guarantee.pdf"), pdf)?;
            evidence.push(
                "guarantee.pdf: the guarantee as the platform downloaded and decrypted it".into(),
            );
            match crate::pdf::first_page_png(pdf, 80).await {
                Ok(png) => {
                    std::fs::write(dir.join("guarantee.png"), png)?;
                    evidence.push("guarantee.png: its first page".into());
                }
                Err(e) => {
                    pass = false;
                    evidence.push(format!("the first page could not be rendered: {e}"));
                }
            }
        }
        None => {
            pass = false;
            evidence.push("no guarantee PDF was downloaded".into());
        }
    }
    items.push(Item {
        title: "在线出函 Online issuance",
        exercised: "baohannotice with the signed PDF, revertapply → revertnotice with the restored PDF, invoiceapply → invoicenotice with the invoice PDF; every file downloaded, decrypted and its text checked".into(),
        evidence,
        pass,
    });

    // 3. Data push: every notice checked.
    let all = timeline.all();
    let notices: Vec<_> = all
        .values()
        .flatten()
        .filter(|e| e.direction == Direction::Notice)
        .collect();
    let bad: Vec<String> = notices
        .iter()
        .filter(|e| !e.ok())
        .map(|e| format!("{}: {}", e.what, e.problems.join("; ")))
        .collect();
    let mut kinds: Vec<&str> = notices.iter().map(|e| e.what.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    items.push(Item {
        title: "数据推送 Data push",
        exercised: "every notice decrypted and checked: appkey, sign (HMAC-SM3), timestamp, every field rule of the standard, the application's causal order".into(),
        evidence: {
            let mut e = vec![format!(
                "{} notices of {} kinds ({}) received, {} with a problem",
                notices.len(),
                kinds.len(),
                kinds.join(", "),
                bad.len()
            )];
            e.extend(bad.iter().cloned());
            e
        },
        pass: bad.is_empty() && kinds.len() == 8,
    });

    // 4. Verification.
    items.push(verification(plan, dir, sample_pdf.as_deref()).await);

    // 5. Online claims.
    let (pass, evidence) = step_ok(
        "online claims",
        &[
            "claimapply",
            "claimnotice",
            "quitapply",
            "quitnotice",
            "logoutapply",
            "logoutnotice",
        ],
    );
    items.push(Item {
        title: "在线理赔 Online claims",
        exercised: "claimapply with an SM4-encrypted evidence file → claimnotice (paid); quitapply → quitnotice (refunded); logoutapply → logoutnotice (written off)".into(),
        evidence,
        pass,
    });

    // 6. Data security.
    items.push(security(&d.client).await);

    // 7. Emergency handling: the platform down.
    items.push(fault(d, plan).await);

    // 8. High concurrency.
    items.push(load(d, plan).await);

    let r = Rehearsal {
        stories,
        items,
        text,
    };
    write(&r, &d.platform, dir)?;
    Ok(r)
}

async fn verification(plan: &Plan, dir: &Path, pdf: Option<&[u8]>) -> Item {
    let mut evidence = Vec::new();
    let mut pass = false;
    if let Some(pdf) = pdf {
        let http = reqwest::Client::new();
        let url = format!("{}/verify/file", plan.verify.trim_end_matches('/'));
        let post = |body: Vec<u8>, accept: &'static str| {
            http.post(&url)
                .header("accept", accept)
                .header("content-type", "application/pdf")
                .body(body)
                .send()
        };
        let genuine = match post(pdf.to_vec(), "application/json").await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(e) => {
                evidence.push(format!("{url}: {e}"));
                None
            }
        };
        let mut forged = pdf.to_vec();
        if let Some(b) = forged.get_mut(pdf.len() / 2) {
            *b ^= 0x01;
        }
        let tampered = match post(forged, "application/json").await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if let Ok(r) = post(pdf.to_vec(), "text/html").await
            && let Ok(html) = r.text().await
            && std::fs::write(dir.join("verification.html"), html).is_ok()
        {
            evidence.push("verification.html: the verification page for the issued PDF".into());
        }
        let g = genuine
            .as_ref()
            .map(|v| v["genuine"] == true)
            .unwrap_or(false);
        let t = tampered
            .as_ref()
            .map(|v| v["genuine"] == false)
            .unwrap_or(false);
        evidence.push(format!(
            "the issued PDF: genuine={} ({})",
            g,
            genuine
                .as_ref()
                .map(|v| v["guarantee"]["baohanno"].to_string())
                .unwrap_or_default()
        ));
        evidence.push(format!(
            "the same PDF with one byte changed: recognised as not genuine={t}"
        ));
        pass = g && t;
    } else {
        evidence.push("no PDF to verify".into());
    }
    Item {
        title: "验真 Verification",
        exercised: "POST /verify/file with the issued PDF (genuine) and with one byte changed (not genuine); the verification page".into(),
        evidence,
        pass,
    }
}

async fn security(client: &Client) -> Item {
    let mut evidence = Vec::new();
    let body = samples::baohanapply("TBSECURITYCHECK1");
    let wrong_key = client
        .with_appkey("not-our-appkey")
        .call("baohanapply", &body)
        .await;
    let garbage = client.call_raw("baohanapply", "00112233445566778899").await;
    let refused = |r: &Result<crate::client::Answer, String>| match r {
        Ok(a) => !a.ok(),
        Err(_) => false,
    };
    let describe = |r: &Result<crate::client::Answer, String>| match r {
        Ok(a) => format!("code {} {}", a.code.unwrap_or(0), a.msg),
        Err(e) => e.clone(),
    };
    evidence.push(format!(
        "a call with a wrong appkey: {}",
        describe(&wrong_key)
    ));
    evidence.push(format!(
        "a body that does not decrypt: {}",
        describe(&garbage)
    ));
    evidence.push("every call and notice travelled SM4-encrypted; every notice carried a verified HMAC-SM3 sign (see Data push)".into());
    Item {
        title: "数据安全 Data security",
        exercised: "SM4 on every exchange, appkey authentication, sign and timestamp on notices; a wrong appkey and an undecryptable body refused".into(),
        evidence,
        pass: refused(&wrong_key) && refused(&garbage),
    }
}

async fn fault(d: &Demo, plan: &Plan) -> Item {
    let mut evidence = Vec::new();
    d.platform.set_down(true);
    let started = Instant::now();
    let applynos: Vec<String> = (0..5).map(|i| format!("TB{}F{i}", d.run)).collect();
    let mut accepted = 0;
    for (i, a) in applynos.iter().enumerate() {
        let mut body = samples::baohanapply(a);
        body["biddercode"] = json!(samples::credit_code(900 + i as u32));
        if let Ok(r) = d
            .client
            .call_until_answered("baohanapply", &body, plan.patience)
            .await
            && r.ok()
        {
            accepted += 1;
        }
    }
    tokio::time::sleep(plan.down_for.saturating_sub(started.elapsed())).await;
    d.platform.set_down(false);
    let up = Instant::now();
    let mut late = Vec::new();
    for a in &applynos {
        if d.platform
            .wait_accepted(a, "processnotice", |_| true, plan.patience)
            .await
            .is_some()
        {
            late.push(up.elapsed());
        }
    }
    let refused_while_down: usize = applynos
        .iter()
        .map(|a| {
            d.platform
                .received_for(a)
                .iter()
                .filter(|r| r.reply.contains("503"))
                .count()
        })
        .sum();
    let in_order = applynos.iter().all(|a| {
        d.platform
            .accepted_for(a)
            .first()
            .is_none_or(|(i, _)| i == "processnotice")
    });
    evidence.push(format!(
        "the platform answered HTTP 503 for {:.0} s: {accepted} applications accepted meanwhile, {refused_while_down} notice attempts refused",
        plan.down_for.as_secs_f64()
    ));
    evidence.push(format!(
        "after it came back: {} of {} processnotices delivered, the last {:.1} s later; in order: {in_order}",
        late.len(),
        applynos.len(),
        late.iter().max().copied().unwrap_or_default().as_secs_f64()
    ));
    Item {
        title: "应急处置 Emergency handling",
        exercised: "the platform down (HTTP 503) while applications arrive; the gateway retries and delivers late and in order once it is back".into(),
        evidence,
        pass: accepted == applynos.len() && late.len() == applynos.len() && in_order && refused_while_down > 0,
    }
}

async fn load(d: &Demo, plan: &Plan) -> Item {
    use futures::StreamExt;
    let started = Instant::now();
    let results: Vec<(String, Option<Duration>)> = futures::stream::iter(0..plan.load)
        .map(|i| async move {
            let a = format!("TB{}L{i:05}", d.run);
            let mut body = samples::baohanapply(&a);
            body["biddercode"] = json!(samples::credit_code(1000 + i as u32));
            let r = d
                .client
                .call_until_answered("baohanapply", &body, plan.patience)
                .await;
            let latency = r.ok().filter(|r| r.ok()).map(|r| r.latency);
            (a, latency)
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    let calls_done = started.elapsed();
    let mut latencies: Vec<Duration> = results.iter().filter_map(|(_, l)| *l).collect();
    latencies.sort_unstable();
    let mut decided = 0;
    for (a, _) in &results {
        if d.platform
            .wait_accepted(a, "processnotice", |_| true, plan.patience)
            .await
            .is_some()
        {
            decided += 1;
        }
    }
    let all_done = started.elapsed();
    let evidence = vec![
        format!(
            "{} baohanapply calls, {} in flight at once: {} answered code 200 in {:.2} s ({:.0} calls/s)",
            plan.load,
            plan.concurrency,
            latencies.len(),
            calls_done.as_secs_f64(),
            latencies.len() as f64 / calls_done.as_secs_f64().max(0.001)
        ),
        format!(
            "answer latency p50 {} ms, p99 {} ms, max {} ms",
            percentile(&latencies, 0.5).as_millis(),
            percentile(&latencies, 0.99).as_millis(),
            latencies.last().copied().unwrap_or_default().as_millis()
        ),
        format!(
            "{decided} of {} decided and notified (processnotice) within {:.2} s ({:.0} decisions/s)",
            plan.load,
            all_done.as_secs_f64(),
            decided as f64 / all_done.as_secs_f64().max(0.001)
        ),
    ];
    Item {
        title: "高并发 High concurrency",
        exercised: format!(
            "{} applications at once, {} in flight",
            plan.load, plan.concurrency
        ),
        evidence,
        pass: latencies.len() == plan.load && decided == plan.load,
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn write(r: &Rehearsal, platform: &Platform, dir: &Path) -> anyhow::Result<()> {
    let verdict = |p: bool| if p { "PASS" } else { "FAIL" };
    let now = gw_protocol::WireTime::from_utc(chrono::Utc::now());
    let passed = r.items.iter().filter(|i| i.pass).count();
    // Markdown.
    let mut md = format!(
        "# Acceptance rehearsal (附件4)\n\n{now} (China Standard Time). {passed} of {} items pass.\n\n| item | verdict |\n|---|---|\n",
        r.items.len()
    );
    for i in &r.items {
        md.push_str(&format!("| {} | {} |\n", i.title, verdict(i.pass)));
    }
    for i in &r.items {
        md.push_str(&format!(
            "\n## {} — {}\n\nExercised: {}\n\n",
            i.title,
            verdict(i.pass),
            i.exercised
        ));
        for e in &i.evidence {
            md.push_str(&format!("- {e}\n"));
        }
    }
    if r.items.iter().any(|i| i.title.starts_with("在线出函")) && dir.join("guarantee.png").exists()
    {
        md.push_str("\n![the sample guarantee](guarantee.png)\n");
    }
    md.push_str(&format!("\n## Timelines\n\n```text\n{}\n```\n", r.text));
    std::fs::write(dir.join("report.md"), &md)?;

    // HTML.
    let mut html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>Acceptance rehearsal</title>\
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}.PASS{{color:#060}}.FAIL{{color:#b00}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem}}pre{{background:#f6f6f6;padding:1rem;overflow-x:auto}}</style>\
</head><body><h1>Acceptance rehearsal (附件4)</h1><p>{} (China Standard Time). {passed} of {} items pass.</p><table><tr><th>item</th><th>verdict</th></tr>",
        escape(&now.to_string()),
        r.items.len()
    );
    for i in &r.items {
        let v = verdict(i.pass);
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"{v}\">{v}</td></tr>",
            escape(i.title)
        ));
    }
    html.push_str("</table>");
    for i in &r.items {
        let v = verdict(i.pass);
        html.push_str(&format!(
            "<h2>{} — <span class=\"{v}\">{v}</span></h2><p>Exercised: {}</p><ul>",
            escape(i.title),
            escape(&i.exercised)
        ));
        for e in &i.evidence {
            html.push_str(&format!("<li>{}</li>", escape(e)));
        }
        html.push_str("</ul>");
        if i.title.starts_with("在线出函") && dir.join("guarantee.png").exists() {
            html.push_str("<p><a href=\"guarantee.pdf\"><img src=\"guarantee.png\" alt=\"the sample guarantee\" width=\"480\"></a></p>");
        }
        if i.title.starts_with("验真") && dir.join("verification.html").exists() {
            html.push_str("<p><a href=\"verification.html\">the verification page</a></p>");
        }
    }
    html.push_str(&format!(
        "<h2>Timelines</h2><pre>{}</pre></body></html>\n",
        escape(&r.text)
    ));
    std::fs::write(dir.join("report.html"), html)?;
    std::fs::write(
        dir.join("timeline.json"),
        serde_json::to_vec_pretty(&platform.timeline().all())?,
    )?;
    Ok(())
}

/// A rehearsal plan with the defaults of `demo --report`.
pub fn plan(verify: &str, patience: Duration) -> Plan {
    Plan {
        verify: verify.to_owned(),
        load: 200,
        concurrency: 16,
        down_for: Duration::from_secs(5),
        patience,
    }
}
