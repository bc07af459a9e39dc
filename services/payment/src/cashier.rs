//! The cashier page behind `premiumurl`: `GET /cashier/{token}`.
//!
//! It shows the applicant, the guaranteed amount, the premium and the
//! payment methods of `paytype`. With `payment.sandbox = true` it carries a
//! plain HTML form (no JavaScript) whose POST to `/cashier/{token}/pay`
//! completes the payment through the same confirmations queue the bank's
//! payment gateway uses; otherwise it shows the bank-transfer details and
//! never the form. A cancelled application says so.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gw_bus::{Bus, Message, queues};
use gw_config::PaymentSettings;
use gw_lifecycle::State as AppState;
use gw_protocol::messages::{PAYMENT_KIND, PAYMENT_SCHEMA, PaymentConfirmation};
use gw_protocol::{Amount, PayType};
use gw_storage::{Db, applications};
use serde::Deserialize;

#[derive(Clone)]
struct Cashier {
    db: Db,
    bus: Bus,
    settings: Arc<PaymentSettings>,
}

use gw_service::escape_html as esc;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.4em .6em;text-align:left}}
.note{{background:#f6f6f6;padding:.8em}}.warn{{color:#a00}}label{{display:block;margin:.5em 0}}
input,select{{width:100%;padding:.3em}}button{{margin-top:1em;padding:.5em 1.5em}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"#
    ))
}

fn yuan(cents: Option<i64>) -> String {
    cents
        .and_then(|c| Amount::from_cents(c).ok())
        .map(|a| a.to_cents_string())
        .unwrap_or_else(|| "-".into())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        page("支付链接无效", "<p>该支付链接不存在或已失效。</p>"),
    )
        .into_response()
}

fn valid_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn show(State(c): State<Cashier>, Path(token): Path<String>) -> Response {
    if !valid_token(&token) {
        return not_found();
    }
    let app = match applications::find_by_cashier_token(c.db.conn(), &token).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "cashier lookup failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page("系统繁忙", "<p>系统繁忙，请稍后重试。</p>"),
            )
                .into_response();
        }
    };
    let state = app.state.parse::<AppState>().ok();
    let methods: String = PayType::ALL
        .iter()
        .map(|p| format!("<li>{} {}</li>", p.code(), p.label()))
        .collect();
    let mut body = format!(
        r#"<table>
<tr><th>申请编号</th><td>{applyno}</td></tr>
<tr><th>投标人</th><td>{bidder}</td></tr>
<tr><th>担保金额</th><td>{amount} 元</td></tr>
<tr><th>费率</th><td>{rate}</td></tr>
<tr><th>应付保费</th><td><strong>{cost} 元</strong></td></tr>
</table>
<h2>支付方式</h2><ul>{methods}</ul>"#,
        applyno = esc(&app.applyno),
        bidder = esc(&app.biddername),
        amount = yuan(Some(app.bzjamount_cents)),
        rate = esc(app.rate.as_deref().unwrap_or("-")),
        cost = yuan(app.cost_cents),
    );
    match state {
        Some(AppState::Cancelled) => body.push_str(r#"<p class="warn">该申请已取消，无法支付。</p>"#),
        Some(s) if s.is_paid() => body.push_str(r#"<p class="note">保费已支付，无需重复支付。</p>"#),
        Some(AppState::Approved) if c.settings.sandbox => {
            let options: String = PayType::ALL
                .iter()
                .map(|p| format!(r#"<option value="{}">{}</option>"#, p.code(), p.label()))
                .collect();
            body.push_str(&format!(
                r#"<h2>测试环境支付</h2>
<p class="note">这是测试环境（sandbox），提交即视为支付完成。</p>
<form method="post" action="/cashier/{token}/pay">
<label>支付方式 <select name="paytype">{options}</select></label>
<label>付款账户名称 <input name="payname" value="{payname}" required></label>
<label>付款账号 <input name="payaccount" required></label>
<label>开户行 <input name="paybank" required></label>
<label>支付金额（元） <input name="paymoney" value="{cost}" required></label>
<button type="submit">确认支付</button>
</form>"#,
                token = esc(&token),
                payname = esc(&app.biddername),
                cost = yuan(app.cost_cents),
            ));
        }
        Some(AppState::Approved) => body.push_str(&format!(
            r#"<h2>银行转账</h2><table>
<tr><th>户名</th><td>{name}</td></tr><tr><th>账号</th><td>{number}</td></tr><tr><th>开户行</th><td>{bank}</td></tr>
<tr><th>附言</th><td>{applyno}</td></tr></table>
<p class="note">请按应付保费足额转账，并在附言中填写申请编号。到账后系统自动确认，请勿重复支付。</p>"#,
            name = esc(&c.settings.bank_account_name),
            number = esc(&c.settings.bank_account_number),
            bank = esc(&c.settings.bank_name),
            applyno = esc(&app.applyno),
        )),
        _ => body.push_str(r#"<p class="warn">该申请尚未通过审核，暂不能支付。</p>"#),
    }
    page("电子投标保函保费支付", &body).into_response()
}

#[derive(Deserialize)]
struct PayForm {
    paytype: String,
    payname: String,
    payaccount: String,
    paybank: String,
    paymoney: String,
}

async fn pay(
    State(c): State<Cashier>,
    Path(token): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(f): Form<PayForm>,
) -> Response {
    if !c.settings.sandbox || !valid_token(&token) {
        return not_found();
    }
    let app = match applications::find_by_cashier_token(c.db.conn(), &token).await {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "cashier lookup failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                page("系统繁忙", "<p>系统繁忙，请稍后重试。</p>"),
            )
                .into_response();
        }
    };
    let now = gw_protocol::WireTime::now();
    let paynumber = format!(
        "SBX{}{:06}",
        now.cst().format("%Y%m%d%H%M%S"),
        rand::random::<u32>() % 1_000_000
    );
    let confirmation = serde_json::json!({
        "applyno": app.applyno, "paynumber": paynumber, "paytype": f.paytype, "paymoney": f.paymoney,
        "paydate": now.to_string(), "payname": f.payname, "payaccount": f.payaccount, "paybank": f.paybank,
        "ipcontent": peer.ip().to_string(), "source": "sandbox",
    });
    let p: PaymentConfirmation = match serde_json::from_value(confirmation) {
        Ok(p) => p,
        Err(e) => {
            let msg = e.to_string();
            let msg = msg.split(" at line").next().unwrap_or(&msg);
            return (
                StatusCode::BAD_REQUEST,
                page(
                    "支付信息有误",
                    &format!(
                        "<p class=\"warn\">{}</p><p><a href=\"/cashier/{}\">返回</a></p>",
                        esc(msg),
                        esc(&token)
                    ),
                ),
            )
                .into_response();
        }
    };
    let m = match Message::json(PAYMENT_KIND, PAYMENT_SCHEMA, Some(&app.applyno), &p) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a payment");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                page("系统错误", "<p>系统错误。</p>"),
            )
                .into_response();
        }
    };
    if let Err(e) = c.bus.send(queues::PAYMENT_CONFIRMATIONS, &m).await {
        tracing::warn!(error = %e, "cannot queue a sandbox payment");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            page("系统繁忙", "<p>系统繁忙，支付未提交，请稍后重试。</p>"),
        )
            .into_response();
    }
    tracing::info!(applyno = %app.applyno, paynumber = %paynumber, "sandbox payment submitted");
    page(
        "支付已提交",
        &format!(
            "<p>支付流水号 {}，正在确认。</p><p><a href=\"/cashier/{}\">返回支付页面</a></p>",
            esc(&paynumber),
            esc(&token)
        ),
    )
    .into_response()
}

pub fn routes(db: Db, bus: Bus, settings: PaymentSettings) -> Router {
    Router::new()
        .route("/cashier/{token}", get(show))
        .route("/cashier/{token}/pay", post(pay))
        .with_state(Cashier {
            db,
            bus,
            settings: Arc::new(settings),
        })
}
