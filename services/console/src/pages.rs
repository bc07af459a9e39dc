//! The pages and the actions behind their buttons.
//!
//! An action checks the session's CSRF token, calls the admin API's own
//! function, and sends the browser back to the page with a note of what
//! was done (post, redirect, get), or shows why it was refused.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use gw_lifecycle::{NoticeState, PaymentStatus};
use gw_protocol::ApplyNo;
use gw_storage::{console, dead_letters, operations, payments, requests, underwriting};
use maud::{Markup, html};
use serde::Deserialize;

use crate::State as Console;
use crate::auth::{CsrfOnly, Posted, Signed, WithCsrf};
use crate::layout::{self, account, button, cst, cst_opt, name, phone, yuan};

/// What a redirect after an action tells the page.
#[derive(Deserialize, Default)]
pub struct Flash {
    done: Option<String>,
    n: Option<u32>,
}

impl Flash {
    fn show(&self) -> Markup {
        let text = match self.done.as_deref() {
            Some("decided") => {
                "审核决定已提交：审核结果通知（processnotice）将发往平台。".to_owned()
            }
            Some("resent") => match self.n {
                Some(n) => format!("已重发 {n} 条通知。"),
                None => "通知已重新发送。".to_owned(),
            },
            Some("replayed") => match self.n {
                Some(n) => format!("已重新投递 {n} 条死信。"),
                None => "死信已重新投递。".to_owned(),
            },
            Some("refunded") => "已登记退款：等待银行办理退款。".to_owned(),
            _ => return html! {},
        };
        html! { p.flash role="status" { (text) } }
    }
}

/// `s` as one path segment or query value.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn app_link(applyno: &str) -> Markup {
    html! { a href=(format!("/console/applications/{}", enc(applyno))) { (applyno) } }
}

fn file_link(token: &str, label: &str) -> Markup {
    html! { a href=(format!("/console/files/{}", enc(token))) target="_blank" { (label) } }
}

fn state_label(state: &str) -> &str {
    match state {
        "referred" => "待人工审核",
        "approved" => "审核通过，待缴费",
        "rejected" => "审核不通过",
        "cancelled" => "已撤销",
        "paid" => "已缴费，出函中",
        "issued" => "已出函",
        "restored" => "已还原",
        "claiming" => "理赔中",
        "partly_claimed" => "部分理赔",
        "claimed" => "已理赔",
        "refunded" => "已退保",
        "written_off" => "已注销",
        "expired" => "已到期",
        other => other,
    }
}

fn notice_label(state: NoticeState) -> Markup {
    let (class, text) = match state {
        NoticeState::Pending => ("warn", "待发送"),
        NoticeState::Waiting => ("warn", "排队（等待前序通知）"),
        NoticeState::Sending => ("warn", "发送中"),
        NoticeState::Retrying => ("warn", "重试中"),
        NoticeState::Delivered => ("ok", "已送达"),
        NoticeState::Dead => ("bad", "发送失败"),
        NoticeState::Suppressed => ("muted", "已取消（申请已撤销）"),
    };
    html! { span class=(class) { (text) } }
}

fn payment_label(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Accepted => "已入账",
        PaymentStatus::Held => "挂起待处理",
        PaymentStatus::RefundNeeded => "待退款（自动）",
        PaymentStatus::RefundRequested => "待退款（人工确认）",
    }
}

/// The start of today, China time.
fn today() -> DateTime<Utc> {
    let now = Utc::now().with_timezone(&gw_protocol::types::cst());
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(gw_protocol::types::cst()).single())
        .map_or_else(Utc::now, |d| d.with_timezone(&Utc))
}

fn html_page(title: &str, who: &Signed, body: Markup) -> Response {
    layout::page(title, Some(who), body).into_response()
}

/// `GET /console`: today's figures.
pub async fn overview(State(st): State<Console>, who: Signed, Query(f): Query<Flash>) -> Response {
    let o = match console::overview(st.db.conn(), today()).await {
        Ok(o) => o,
        Err(e) => return layout::internal("reading the overview", e),
    };
    let dead = match dead_letters::open_count(st.db.conn()).await {
        Ok(n) => n,
        Err(e) => return layout::internal("counting dead letters", e),
    };
    let card = |label: &str, value: String, href: &str| {
        html! { a.card href=(href) { span { (label) } b { (value) } } }
    };
    let body = html! {
        (f.show())
        div.cards {
            (card("今日收到申请", o.applications.to_string(), "/console/applications"))
            (card("今日核保通过", o.approvals.to_string(), "/console/applications"))
            (card("今日出函", o.guarantees.to_string(), "/console/applications"))
            (card("待人工审核", o.referred.to_string(), "/console/referrals"))
            (card("待送达通知", o.notices_open.to_string(), "/console/notices?state=retrying"))
            (card("发送失败通知", o.notices_dead.to_string(), "/console/notices?state=dead"))
            (card("最久未送达通知已等待", o.oldest_open_notice.map_or_else(|| "无".to_owned(), layout::age), "/console/notices"))
            (card("待处理死信", dead.to_string(), "/console/dead-letters"))
        }
        p.hint { "“今日”按北京时间计。" }
    };
    html_page("概览", &who, body)
}

#[derive(Deserialize, Default)]
pub struct Search {
    q: Option<String>,
}

/// `GET /console/applications?q=`: by applyno, bidder code or guarantee number.
pub async fn applications(
    State(st): State<Console>,
    who: Signed,
    Query(s): Query<Search>,
) -> Response {
    let term = s.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let found = match console::search(st.db.conn(), term, 100).await {
        Ok(f) => f,
        Err(e) => return layout::internal("searching applications", e),
    };
    let body = html! {
        form.row method="get" action="/console/applications" {
            input name="q" value=(term.unwrap_or_default()) placeholder="申请编号 / 统一社会信用代码 / 保函编号" size="40";
            button type="submit" { "查询" }
        }
        @if found.is_empty() {
            p.muted { "没有找到申请。" }
        } @else {
            @if term.is_none() { p.hint { "最近 100 笔申请：" } }
            table {
                tr { th { "申请编号" } th { "投标人" } th { "统一社会信用代码" } th { "保证金（元）" } th { "状态" } th { "保函编号" } th { "经办人" } th { "电话" } th { "收到时间" } }
                @for a in &found {
                    tr {
                        td { (app_link(a.applyno.as_str())) }
                        td { (a.biddername) }
                        td { (a.biddercode) }
                        td { (yuan(a.bzjamount_cents)) }
                        td { (state_label(&a.state.to_string())) }
                        td { (a.baohanno.as_ref().map(|b| b.as_str().to_owned()).unwrap_or_default()) }
                        td { (name(&a.jbrname)) }
                        td { (phone(&a.jbrphone)) }
                        td { (cst(a.created_at)) }
                    }
                }
            }
        }
    };
    html_page("保函申请", &who, body)
}

/// One line of an application's timeline.
struct Event {
    at: DateTime<Utc>,
    /// Where it comes in the lifecycle: orders events of the same second
    /// (some times are kept to the second only).
    rank: u8,
    what: String,
    detail: Markup,
}

/// Where a notice comes in the lifecycle (see [`Event::rank`]): just after
/// what it reports.
fn notice_rank(interface: &str) -> u8 {
    match interface {
        "processnotice" => 2,
        "paynotice" => 4,
        "baohannotice" => 6,
        "revertnotice" => 8,
        "invoicenotice" => 10,
        "quitnotice" => 12,
        "claimnotice" => 14,
        "logoutnotice" => 16,
        _ => 18,
    }
}

fn checks(json: &str) -> Markup {
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    html! {
        ul {
            @for c in &list {
                li {
                    (c["rule"].as_str().unwrap_or_default()) "："
                    @match c["outcome"].as_str().unwrap_or_default() {
                        "pass" => span.ok { "通过" },
                        "fail" => span.bad { "不通过" },
                        "refer" => span.warn { "转人工" },
                        other => span { (other) },
                    }
                    @if let Some(d) = c["detail"].as_str().filter(|d| !d.is_empty()) {
                        " （" (d) "）"
                    }
                }
            }
        }
    }
}

/// `GET /console/applications/{applyno}`: everything about one application,
/// personal data unmasked.
pub async fn application(
    State(st): State<Console>,
    who: Signed,
    Path(applyno): Path<String>,
    Query(f): Query<Flash>,
) -> Response {
    let Ok(applyno) = ApplyNo::try_from(applyno.as_str()) else {
        return layout::refusal(
            StatusCode::BAD_REQUEST,
            "申请编号有误",
            "这不是一个有效的申请编号。",
        );
    };
    match timeline(&st, &applyno, &who).await {
        Ok(Some(body)) => html_page(
            &format!("申请 {}", applyno.as_str()),
            &who,
            html! { (f.show()) (body) },
        ),
        Ok(None) => layout::refusal(StatusCode::NOT_FOUND, "未找到", "没有这个申请编号的申请。"),
        Err(e) => layout::internal("reading an application's timeline", format!("{e:#}")),
    }
}

/// The application's page body, or `None` when there is no such application.
async fn timeline(st: &Console, applyno: &ApplyNo, who: &Signed) -> anyhow::Result<Option<Markup>> {
    use anyhow::Context as _;
    let conn = st.db.conn();
    let Some(app) = gw_storage::applications::find(conn, applyno).await? else {
        return Ok(None);
    };
    let decisions = underwriting::decisions(conn, applyno).await?;
    let cancel = gw_storage::cancels::find(conn, applyno).await?;
    let pays = payments::list(conn, Some(applyno.as_str()), None).await?;
    let guarantee = gw_storage::guarantees::find(conn, applyno).await?;
    let superseded = console::superseded_restorations(conn, applyno).await?;
    let invoices = requests::invoices(conn, Some(applyno.as_str()), 100).await?;
    let (quits, logouts) = console::quits_and_logouts(conn, applyno).await?;
    let claims = requests::claims(conn, Some(applyno.as_str()), 100).await?;
    let notices = st
        .notices
        .list(&gw_storage::notices::Filter {
            state: None,
            applyno: Some(applyno.as_str().to_owned()),
            limit: 1000,
        })
        .await
        .context("reading notices")?;
    let ops = operations::list(
        conn,
        &operations::Filter {
            subject: Some(applyno.as_str().to_owned()),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?;

    let mut events = vec![Event {
        rank: 0,
        at: app.created_at,
        what: "收到投保申请（baohanapply）".into(),
        detail: html! { (app.biddername) "，保证金 " (yuan(app.bzjamount_cents)) " 元" },
    }];
    for d in &decisions {
        let verdict = match d.decision.as_str() {
            "approve" => "通过",
            "reject" => "不通过",
            "refer" => "转人工审核",
            other => other,
        };
        events.push(Event {
            rank: 1,
            at: d.decided_at,
            what: format!("核保决定：{verdict}"),
            detail: html! {
                (d.reason) " · 决定人 " (d.decided_by) " · 规则版本 " (d.rules_version)
                @if let Some(r) = &d.rate { " · 费率 " (r) }
                @if let Some(c) = d.cost_cents { " · 保费 " (yuan(c)) " 元" }
                (checks(&d.checks))
            },
        });
    }
    if let Some(c) = &cancel {
        events.push(Event {
            rank: 3,
            at: c.requested_at,
            what: "撤销申请（cancelapply）".into(),
            detail: html! { "场景 " (c.scene) " · 结果 " (c.resolution.to_string()) },
        });
    }
    for p in &pays {
        events.push(Event {
            rank: 3,
            at: p.received_at,
            what: format!("收到付款：{}", payment_label(p.status)),
            detail: html! {
                "流水号 " (p.paynumber) " · " (yuan(p.paymoney_cents)) " 元 · 付款人 " (p.payname)
                " · 账号 " (p.payaccount) " · " (p.paybank) " · 来源 " (p.source)
                @if let Some(r) = &p.reason { " · " span.warn { (r) } }
            },
        });
    }
    if let Some(g) = &guarantee {
        events.push(Event {
            rank: 5,
            at: g.issued_at,
            what: "出具保函（密文版）".into(),
            detail: html! { "保函编号 " (g.baohanno.as_str()) " · 验真码 " (g.verify_code) " · " (file_link(&g.cipher_token, "查看 PDF")) },
        });
        if let (Some(at), Some(token)) = (g.restored_at, &g.restored_token) {
            events.push(Event {
                rank: 7,
                at,
                what: "还原保函（revertapply）".into(),
                detail: html! {
                    "标段 " (g.biaoduanname.clone().unwrap_or_default()) " · 开标时间 " (cst_opt(g.poltime))
                    " · 有效期至 " (cst_opt(g.validtime)) " · " (file_link(token, "查看 PDF"))
                },
            });
        }
    }
    for r in &superseded {
        events.push(Event {
            rank: 7,
            at: r.restored_at,
            what: "还原保函（已被后一次还原替换）".into(),
            detail: html! { "开标时间 " (cst(r.poltime)) " · 有效期至 " (cst(r.validtime)) " · 替换于 " (cst(r.superseded_at)) " · " (file_link(&r.token, "查看 PDF")) },
        });
    }
    for i in &invoices {
        events.push(Event {
            rank: 9,
            at: i.requested_at,
            what: format!("发票申请（invoiceapply）：{}", i.status),
            detail: html! {
                (i.applicationno.as_str()) " · " (yuan(i.amount_cents)) " 元 · 税额 " (yuan(i.tax_cents)) " 元 · 购方 " (i.buyer_name)
                @if let Some(r) = &i.reason { " · " span.warn { (r) } }
                @if let Some(n) = &i.invoice_number { " · 发票号 " (n) }
                @if let Some(t) = &i.file_token { " · " (file_link(t, "查看发票")) }
            },
        });
    }
    for q in &quits {
        events.push(Event {
            rank: 11,
            at: q.decided_at,
            what: format!("退保申请（quitapply）：{}", q.resolution),
            detail: html! {
                (q.applicationno.as_str()) " · 退款 " (yuan(q.amount_cents)) " 元 · " (q.reason)
                @if let Some(r) = &q.refusal { " · " span.bad { (r) } }
            },
        });
    }
    for c in &claims {
        events.push(Event {
            rank: 13,
            at: c.requested_at,
            what: format!("理赔申请（claimapply）：{}", c.status),
            detail: html! {
                (c.applicationno.as_str()) " · " (yuan(c.amount_cents)) " 元 · 收款人 " (c.payeename)
                " · 账号 " (c.payeeaccount) " · " (c.payeebank) " · 申请人 " (c.applyusername) " " (c.applyuserphone)
                @if let Some(r) = &c.refusal { " · " span.bad { (r) } }
                @if let Some(p) = c.paid_at { " · 已支付于 " (cst(p)) }
                @if let Some(r) = &c.payout_reference { " · 支付流水 " (r) }
            },
        });
    }
    for l in &logouts {
        events.push(Event {
            rank: 15,
            at: l.decided_at,
            what: format!("注销申请（logoutapply）：{}", l.resolution),
            detail: html! {
                (l.applicationno.as_str())
                @if let Some(r) = &l.refusal { " · " span.bad { (r) } }
            },
        });
    }
    let mut dead = 0;
    for n in &notices {
        if n.state == NoticeState::Dead {
            dead += 1;
        }
        events.push(Event {
            rank: notice_rank(&n.interface),
            at: n.created_at,
            what: format!("通知 {}", n.interface),
            detail: html! {
                (notice_label(n.state)) " · 已尝试 " (n.attempts) " 次"
                @if let Some(e) = &n.last_error { " · " span.bad { (e) } }
                pre { (serde_json::to_string(&n.body).unwrap_or_default()) }
            },
        });
        for a in &n.attempt_log {
            events.push(Event {
                rank: notice_rank(&n.interface),
                at: a.at,
                what: format!("发送 {} 第 {} 次", n.interface, a.attempt),
                detail: html! {
                    @if a.delivered { span.ok { "平台已接收" } } @else { span.bad { "未接收" } }
                    @if let Some(s) = a.http_status { " · HTTP " (s) }
                    @if let Some(c) = &a.reply_code { " · 回执 code " (c) }
                    @if let Some(m) = &a.reply_msg { " · " (m) }
                    " · 用时 " (a.latency_ms) " ms"
                    @if let Some(e) = &a.error { " · " span.bad { (e) } }
                },
            });
        }
    }
    for o in &ops {
        events.push(Event {
            rank: 20,
            at: o.at,
            what: format!("操作：{}", o.action),
            detail: html! {
                (o.actor) "（" (o.channel) "）"
                @if let Some(a) = &o.after { " · " (a.to_string()) }
                @if let Some(r) = &o.remark { " · " (r) }
            },
        });
    }
    events.sort_by_key(|e| (e.at.timestamp(), e.rank, e.at));

    let files: Vec<(String, String)> = guarantee
        .iter()
        .flat_map(|g| {
            std::iter::once(("保函（密文版）".to_owned(), g.cipher_token.clone())).chain(
                g.restored_token
                    .clone()
                    .map(|t| ("保函（还原版）".to_owned(), t)),
            )
        })
        .chain(invoices.iter().filter_map(|i| {
            i.file_token
                .clone()
                .map(|t| (format!("发票 {}", i.applicationno.as_str()), t))
        }))
        .collect();
    Ok(Some({
        html! {
            h2 { "基本信息" }
            table {
                tr { th { "申请编号" } td { (app.applyno.as_str()) } th { "平台" } td { (app.counterpart.as_str()) } }
                tr { th { "状态" } td { (state_label(&app.state.to_string())) } th { "保函编号" } td { (app.baohanno.as_ref().map(|b| b.as_str().to_owned()).unwrap_or_default()) } }
                tr { th { "投标人" } td { (app.biddername) } th { "统一社会信用代码" } td { (app.biddercode) } }
                tr { th { "保证金（元）" } td { (yuan(app.bzjamount_cents)) } th { "费率 / 保费（元）" } td { (app.rate.clone().unwrap_or_default()) " / " (app.cost_cents.map(yuan).unwrap_or_default()) } }
                tr { th { "经办人" } td { (app.jbrname) } th { "经办人电话" } td { (app.jbrphone) } }
                tr { th { "收到时间" } td { (cst(app.created_at)) } th { "最后变更" } td { (cst(app.updated_at)) } }
            }
            @if !files.is_empty() {
                h2 { "文件" }
                ul { @for (label, token) in &files { li { (file_link(token, label)) } } }
            }
            @if dead > 0 {
                h2 { "发送失败的通知" }
                p { "本申请有 " (dead) " 条通知发送失败。" (button(who, &format!("/console/applications/{}/resend", enc(app.applyno.as_str())), "按顺序全部重发")) }
            }
            h2 { "时间线" }
            table.timeline {
                tr { th { "时间（北京时间）" } th { "事件" } th { "详情" } }
                @for e in &events {
                    tr { td { (cst(e.at)) } td { (e.what) } td { (e.detail) } }
                }
            }
        }
    }))
}

/// `GET /console/files/{token}`: a guarantee or invoice PDF, shown inline.
pub async fn file(State(st): State<Console>, _who: Signed, Path(token): Path<String>) -> Response {
    if !gw_files::is_token(&token) {
        return layout::refusal(StatusCode::NOT_FOUND, "未找到", "没有这个文件。");
    }
    match st.files.get(&token).await {
        Ok(Some((row, bytes))) => {
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&row.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            );
            r
        }
        Ok(None) => layout::refusal(StatusCode::NOT_FOUND, "未找到", "没有这个文件。"),
        Err(e) => layout::internal("reading a file", e),
    }
}

/// `GET /console/referrals`: the applications waiting for a person.
pub async fn referrals(State(st): State<Console>, who: Signed, Query(f): Query<Flash>) -> Response {
    let queue = match console::referrals(st.db.conn()).await {
        Ok(q) => q,
        Err(e) => return layout::internal("reading the referral queue", e),
    };
    let body = html! {
        (f.show())
        @if queue.is_empty() {
            p.muted { "没有待人工审核的申请。" }
        } @else {
            table {
                tr { th { "申请编号" } th { "投标人" } th { "保证金（元）" } th { "转人工原因" } th { "收到时间" } th { "决定" } }
                @for (a, d) in &queue {
                    tr {
                        td { (app_link(a.applyno.as_str())) }
                        td { (a.biddername) br; span.muted { (a.biddercode) } }
                        td { (yuan(a.bzjamount_cents)) }
                        td {
                            @if let Some(d) = d { (d.reason) (checks(&d.checks)) } @else { span.muted { "（无记录）" } }
                        }
                        td { (cst(a.created_at)) }
                        td {
                            form.row method="post" action=(format!("/console/referrals/{}", enc(a.applyno.as_str()))) {
                                (layout::csrf(&who))
                                input name="remark" required maxlength="500" placeholder="审核意见（拒绝时发给平台）" size="28";
                                button type="submit" name="verdict" value="approve" { "通过" }
                                button.danger type="submit" name="verdict" value="reject" { "拒绝" }
                            }
                        }
                    }
                }
            }
        }
    };
    html_page("人工审核", &who, body)
}

#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    verdict: String,
    remark: String,
}

impl WithCsrf for DecisionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/referrals/{applyno}`: approve or reject, with a remark.
pub async fn decide(
    State(st): State<Console>,
    Path(applyno): Path<String>,
    Posted { who, form: f }: Posted<DecisionForm>,
) -> Response {
    if f.remark.trim().is_empty() {
        return layout::problem(gw_web::admin::Problem::bad_request("请填写审核意见"));
    }
    let decision: gw_contract::ReviewDecision = match serde_json::from_value(serde_json::json!({
        "applyno": applyno, "verdict": f.verdict, "remark": f.remark.trim(), "decided_by": who.actor().name,
    })) {
        Ok(d) => d,
        Err(e) => return layout::problem(gw_web::admin::Problem::bad_request(e)),
    };
    match ::underwriting::admin::decide_referral(&st.db, &st.bus, &who.actor(), &decision).await {
        Ok(_) => Redirect::to("/console/referrals?done=decided").into_response(),
        Err(p) => layout::problem(p),
    }
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    state: Option<String>,
    done: Option<String>,
    n: Option<u32>,
}

/// `GET /console/notices?state=`: notices by state, newest first.
pub async fn notices(
    State(st): State<Console>,
    who: Signed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let state = match q
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<NoticeState>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return layout::problem(gw_web::admin::Problem::bad_request(e)),
    };
    let found = st
        .notices
        .list(&gw_storage::notices::Filter {
            state,
            applyno: None,
            limit: 200,
        })
        .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => return layout::internal("listing notices", format!("{e:#}")),
    };
    let flash = Flash {
        done: q.done,
        n: q.n,
    };
    let states = [
        NoticeState::Dead,
        NoticeState::Retrying,
        NoticeState::Pending,
        NoticeState::Waiting,
        NoticeState::Sending,
        NoticeState::Delivered,
        NoticeState::Suppressed,
    ];
    let body = html! {
        (flash.show())
        form.row method="get" action="/console/notices" {
            select name="state" {
                option value="" { "全部状态" }
                @for s in states {
                    option value=(s.to_string()) selected[state == Some(s)] { (s.to_string()) }
                }
            }
            button type="submit" { "筛选" }
        }
        @if found.is_empty() {
            p.muted { "没有通知。" }
        } @else {
            table {
                tr { th { "生成时间" } th { "申请编号" } th { "接口" } th { "状态" } th { "尝试" } th { "最后一次回执 / 错误" } th { "送达时间" } th { "" } }
                @for n in &found {
                    tr {
                        td { (cst(n.created_at)) }
                        td { (app_link(&n.applyno)) }
                        td { (n.interface) }
                        td { (notice_label(n.state)) }
                        td { (n.attempts) }
                        td {
                            @if let Some(a) = n.attempt_log.last() {
                                @if let Some(s) = a.http_status { "HTTP " (s) " " }
                                @if let Some(c) = &a.reply_code { "code " (c) " " }
                                @if let Some(m) = &a.reply_msg { (m) }
                            }
                            @if let Some(e) = &n.last_error { br; span.bad { (e) } }
                        }
                        td { (cst_opt(n.delivered_at)) }
                        td {
                            @if n.state == NoticeState::Dead {
                                (button(&who, &format!("/console/notices/{}/resend", enc(&n.id)), "重发"))
                            }
                        }
                    }
                }
            }
        }
    };
    html_page("通知", &who, body)
}

/// `POST /console/notices/{id}/resend`.
pub async fn resend(
    State(st): State<Console>,
    Path(id): Path<String>,
    Posted { who, .. }: Posted<CsrfOnly>,
) -> Response {
    match st.notices.resend(&id, &who.actor()).await {
        Ok(_) => Redirect::to("/console/notices?done=resent").into_response(),
        Err(e) => layout::problem(e.into()),
    }
}

/// `POST /console/applications/{applyno}/resend`: every dead notice of an
/// application, oldest first (its successors follow in order).
pub async fn resend_all(
    State(st): State<Console>,
    Path(applyno): Path<String>,
    Posted { who, .. }: Posted<CsrfOnly>,
) -> Response {
    let Ok(applyno) = ApplyNo::try_from(applyno.as_str()) else {
        return layout::refusal(
            StatusCode::BAD_REQUEST,
            "申请编号有误",
            "这不是一个有效的申请编号。",
        );
    };
    let filter = gw_storage::notices::Filter {
        state: Some(NoticeState::Dead),
        applyno: Some(applyno.as_str().to_owned()),
        limit: 1000,
    };
    let mut dead = match st.notices.list(&filter).await {
        Ok(d) => d,
        Err(e) => return layout::internal("listing dead notices", format!("{e:#}")),
    };
    dead.sort_by_key(|n| n.created_at);
    let actor = who.actor();
    let mut n = 0;
    for notice in &dead {
        match st.notices.resend(&notice.id, &actor).await {
            Ok(_) => n += 1,
            Err(e) => return layout::problem(e.into()),
        }
    }
    Redirect::to(&format!(
        "/console/applications/{}?done=resent&n={n}",
        enc(applyno.as_str())
    ))
    .into_response()
}

#[derive(Deserialize, Default)]
pub struct DeadQuery {
    #[serde(default)]
    all: bool,
    done: Option<String>,
    n: Option<u32>,
}

/// `GET /console/dead-letters?all=`: messages every worker gave up on.
pub async fn dead_letters(
    State(st): State<Console>,
    who: Signed,
    Query(q): Query<DeadQuery>,
) -> Response {
    let filter = dead_letters::Filter {
        destination: None,
        include_replayed: q.all,
        limit: 500,
    };
    let found = match st.dead.list(&filter).await {
        Ok(f) => f,
        Err(e) => return layout::problem(e.into()),
    };
    let flash = Flash {
        done: q.done,
        n: q.n,
    };
    let open = found.iter().filter(|d| d.replayed_at.is_none()).count();
    let body = html! {
        (flash.show())
        p {
            @if q.all { a href="/console/dead-letters" { "只看未处理的" } } @else { a href="/console/dead-letters?all=true" { "包括已重新投递的" } }
            @if open > 0 { " " (button(&who, "/console/dead-letters/replay", &format!("全部重新投递（{open} 条）"))) }
        }
        @if found.is_empty() {
            p.muted { "没有死信。" }
        } @else {
            table {
                tr { th { "失败时间" } th { "队列" } th { "消息" } th { "申请编号" } th { "最后错误" } th { "次数" } th { "重新投递" } }
                @for d in &found {
                    tr {
                        td { (cst(d.failed_at)) }
                        td { (d.destination) }
                        td { (d.kind) br; span.muted { (d.message_id) } }
                        td { @if let Some(a) = &d.applyno { (app_link(a)) } }
                        td.bad { (d.error) }
                        td { (d.deaths) }
                        td {
                            @if let Some(at) = d.replayed_at {
                                (cst(at)) " · " (d.replayed_by.clone().unwrap_or_default())
                            } @else {
                                (button(&who, &format!("/console/dead-letters/{}/replay", enc(&d.id)), "重新投递"))
                            }
                        }
                    }
                }
            }
        }
    };
    html_page("死信", &who, body)
}

/// `POST /console/dead-letters/{id}/replay`.
pub async fn replay(
    State(st): State<Console>,
    Path(id): Path<String>,
    Posted { who, .. }: Posted<CsrfOnly>,
) -> Response {
    match st.dead.replay(&id, &who.actor()).await {
        Ok(_) => Redirect::to("/console/dead-letters?done=replayed").into_response(),
        Err(e) => layout::problem(e.into()),
    }
}

/// `POST /console/dead-letters/replay`: every open one, oldest first.
pub async fn replay_all(
    State(st): State<Console>,
    Posted { who, .. }: Posted<CsrfOnly>,
) -> Response {
    let all = dead_letters::Filter {
        destination: None,
        include_replayed: false,
        limit: 10_000,
    };
    match st.dead.replay_all(&all, &who.actor()).await {
        Ok(n) => {
            Redirect::to(&format!("/console/dead-letters?done=replayed&n={n}")).into_response()
        }
        Err(e) => layout::problem(e.into()),
    }
}

/// `GET /console/payments`: held payments, refunds and claim payouts.
pub async fn payments(State(st): State<Console>, who: Signed, Query(f): Query<Flash>) -> Response {
    let conn = st.db.conn();
    let read = async {
        let held = payments::list(conn, None, Some(PaymentStatus::Held)).await?;
        let mut refunds = payments::list(conn, None, Some(PaymentStatus::RefundRequested)).await?;
        refunds.extend(payments::list(conn, None, Some(PaymentStatus::RefundNeeded)).await?);
        refunds.sort_by_key(|p| std::cmp::Reverse(p.updated_at));
        let quits = console::refunds(conn, 100).await?;
        let claims = requests::claims(conn, None, 100).await?;
        Ok::<_, gw_storage::sea_orm::DbErr>((held, refunds, quits, claims))
    };
    let (held, refunds, quits, claims) = match read.await {
        Ok(r) => r,
        Err(e) => return layout::internal("reading payments", e),
    };
    let body = html! {
        (f.show())
        h2 { "挂起的付款（金额不符、撤销后到账等）" }
        @if held.is_empty() { p.muted { "没有挂起的付款。" } } @else {
            table {
                tr { th { "流水号" } th { "申请编号" } th { "金额（元）" } th { "付款人" } th { "账号" } th { "原因" } th { "到账时间" } th { "" } }
                @for p in &held {
                    tr {
                        td { (p.paynumber) }
                        td { (app_link(p.applyno.as_str())) }
                        td { (yuan(p.paymoney_cents)) }
                        td { (name(&p.payname)) }
                        td { (account(&p.payaccount)) }
                        td.warn { (p.reason.clone().unwrap_or_default()) }
                        td { (cst(p.received_at)) }
                        td { (button(&who, &format!("/console/payments/{}/refund", enc(&p.paynumber)), "退款")) }
                    }
                }
            }
        }
        h2 { "待退款的付款" }
        @if refunds.is_empty() { p.muted { "没有待退款的付款。" } } @else {
            table {
                tr { th { "流水号" } th { "申请编号" } th { "金额（元）" } th { "账号" } th { "状态" } th { "原因" } th { "更新时间" } }
                @for p in &refunds {
                    tr {
                        td { (p.paynumber) }
                        td { (app_link(p.applyno.as_str())) }
                        td { (yuan(p.paymoney_cents)) }
                        td { (account(&p.payaccount)) }
                        td { (payment_label(p.status)) }
                        td { (p.reason.clone().unwrap_or_default()) }
                        td { (cst(p.updated_at)) }
                    }
                }
            }
        }
        h2 { "退保（quitapply）" }
        @if quits.is_empty() { p.muted { "没有退保申请。" } } @else {
            table {
                tr { th { "退保编号" } th { "申请编号" } th { "退款（元）" } th { "结果" } th { "时间" } }
                @for q in &quits {
                    tr {
                        td { (q.applicationno.as_str()) }
                        td { (app_link(q.applyno.as_str())) }
                        td { (yuan(q.amount_cents)) }
                        td { (q.resolution.to_string()) @if let Some(r) = &q.refusal { " · " span.bad { (r) } } }
                        td { (cst(q.decided_at)) }
                    }
                }
            }
        }
        h2 { "理赔支付" }
        @if claims.is_empty() { p.muted { "没有理赔。" } } @else {
            table {
                tr { th { "理赔编号" } th { "申请编号" } th { "金额（元）" } th { "收款人" } th { "账号" } th { "状态" } th { "银行确认" } }
                @for c in &claims {
                    tr {
                        td { (c.applicationno.as_str()) }
                        td { (app_link(c.applyno.as_str())) }
                        td { (yuan(c.amount_cents)) }
                        td { (name(&c.payeename)) }
                        td { (account(&c.payeeaccount)) }
                        td { (c.status.to_string()) }
                        td { (cst_opt(c.paid_at)) " " (c.payout_reference.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    html_page("付款与退款", &who, body)
}

/// `POST /console/payments/{paynumber}/refund`: a held payment goes back.
pub async fn refund(
    State(st): State<Console>,
    Path(paynumber): Path<String>,
    Posted { who, .. }: Posted<CsrfOnly>,
) -> Response {
    match payment::admin::refund_held(&st.flow, &paynumber, &who.actor()).await {
        Ok(_) => Redirect::to("/console/payments?done=refunded").into_response(),
        Err(p) => layout::problem(p),
    }
}

/// `GET /console/verifications`: the latest 验真 lookups.
pub async fn verifications(State(st): State<Console>, who: Signed) -> Response {
    let found = match gw_storage::verifications::list(st.db.conn(), None, None, 200).await {
        Ok(f) => f,
        Err(e) => return layout::internal("listing verifications", e),
    };
    let body = html! {
        @if found.is_empty() { p.muted { "没有验真记录。" } } @else {
            table {
                tr { th { "时间" } th { "来源地址" } th { "方式" } th { "保函编号" } th { "结果" } }
                @for v in &found {
                    tr {
                        td { (cst(v.at)) }
                        td { (gw_protocol::mask::mask(gw_protocol::mask::PiiKind::Ip, &v.client)) }
                        td { (v.method) }
                        td { (v.baohanno.clone().unwrap_or_default()) }
                        td { (v.outcome) }
                    }
                }
            }
        }
        p.hint { "最近 200 条。" }
    };
    html_page("验真记录", &who, body)
}
