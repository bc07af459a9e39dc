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
use gw_bus::Bus;
use gw_config::PaymentSettings;
use gw_contract::PaymentConfirmation;
use gw_lifecycle::State as AppState;
use gw_protocol::{Amount, PayType};
use gw_storage::{Db, applications};
use gw_web::{Markup, html};
use serde::Deserialize;

#[derive(Clone)]
struct Cashier {
    db: Db,
    bus: Bus,
    settings: Arc<PaymentSettings>,
}

const STYLE: &str = "label{display:block;margin:.5em 0}input,select{width:100%;padding:.3em}button{margin-top:1em;padding:.5em 1.5em}";

fn page(title: &str, body: Markup) -> Html<String> {
    Html(gw_web::page(title, STYLE, body).into_string())
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
        page("支付链接无效", html! { p { "该支付链接不存在或已失效。" } }),
    )
        .into_response()
}

fn busy(what: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page("系统繁忙", html! { p { (what) } }),
    )
        .into_response()
}

fn valid_token(t: &str) -> bool {
    t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The application behind a cashier token, or the page to show instead.
async fn application(c: &Cashier, token: &str) -> Result<applications::Application, Response> {
    if !valid_token(token) {
        return Err(not_found());
    }
    match applications::find_by_cashier_token(c.db.conn(), token).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(not_found()),
        Err(e) => {
            tracing::error!(error = %e, "cashier lookup failed");
            Err(busy("系统繁忙，请稍后重试。"))
        }
    }
}

/// Whether the platform asked to cancel the application (it holds at once).
async fn cancel_holds(c: &Cashier, app: &applications::Application) -> Result<bool, Response> {
    gw_storage::cancels::holds(c.db.conn(), &app.applyno)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cashier lookup failed");
            busy("系统繁忙，请稍后重试。")
        })
}

/// What the page offers, by the application's state.
fn payment_part(
    c: &Cashier,
    app: &applications::Application,
    token: &str,
    cancel_holds: bool,
) -> Markup {
    match app.state {
        AppState::Cancelled => html! { p.warn { "该申请已取消，无法支付。" } },
        s if cancel_holds && !s.is_paid() => html! { p.warn { "该申请已取消，无法支付。" } },
        s if s.is_paid() => html! { p.note { "保费已支付，无需重复支付。" } },
        AppState::Approved if c.settings.sandbox => html! {
            h2 { "测试环境支付" }
            p.note { "这是测试环境（sandbox），提交即视为支付完成。" }
            form method="post" action=(format!("/cashier/{token}/pay")) {
                label { "支付方式 " select name="paytype" {
                    @for p in PayType::ALL { option value=(p.code()) { (p.label()) } }
                } }
                label { "付款账户名称 " input name="payname" value=(app.biddername) required; }
                label { "付款账号 " input name="payaccount" required; }
                label { "开户行 " input name="paybank" required; }
                label { "支付金额（元） " input name="paymoney" value=(yuan(app.cost_cents)) required; }
                button type="submit" { "确认支付" }
            }
        },
        AppState::Approved => html! {
            h2 { "银行转账" }
            table {
                tr { th { "户名" } td { (c.settings.bank_account_name) } }
                tr { th { "账号" } td { (c.settings.bank_account_number) } }
                tr { th { "开户行" } td { (c.settings.bank_name) } }
                tr { th { "附言" } td { (app.applyno) } }
            }
            p.note { "请按应付保费足额转账，并在附言中填写申请编号。到账后系统自动确认，请勿重复支付。" }
        },
        _ => html! { p.warn { "该申请尚未通过审核，暂不能支付。" } },
    }
}

async fn show(State(c): State<Cashier>, Path(token): Path<String>) -> Response {
    let app = match application(&c, &token).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let holds = match cancel_holds(&c, &app).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let body = html! {
        table {
            tr { th { "申请编号" } td { (app.applyno) } }
            tr { th { "投标人" } td { (app.biddername) } }
            tr { th { "担保金额" } td { (yuan(Some(app.bzjamount_cents))) " 元" } }
            tr { th { "费率" } td { (app.rate.as_deref().unwrap_or("-")) } }
            tr { th { "应付保费" } td { strong { (yuan(app.cost_cents)) " 元" } } }
        }
        h2 { "支付方式" }
        ul { @for p in PayType::ALL { li { (p.code()) " " (p.label()) } } }
        (payment_part(&c, &app, &token, holds))
    };
    page("电子投标保函保费支付", body).into_response()
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
    if !c.settings.sandbox {
        return not_found();
    }
    let app = match application(&c, &token).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let holds = match cancel_holds(&c, &app).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    if !gw_lifecycle::takes_payment(app.state, holds) {
        let why = if app.state.is_paid() {
            "保费已支付，无需重复支付。"
        } else if app.state == AppState::Cancelled || holds {
            "该申请已取消，无法支付。"
        } else {
            "该申请尚未通过审核，暂不能支付。"
        };
        let body = html! { p.warn { (why) } };
        return (StatusCode::CONFLICT, page("无法支付", body)).into_response();
    }
    let now = gw_protocol::WireTime::now();
    // Twelve random digits: with six, two payments in the same second
    // shared a number about once in 10^6 pairs, which at a few hundred
    // payments a second happened within a benchmark run.
    let paynumber = format!(
        "SBX{}{:012}",
        now.cst().format("%Y%m%d%H%M%S"),
        rand::random::<u64>() % 1_000_000_000_000
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
            let msg = msg.split(" at line").next().unwrap_or(&msg).to_owned();
            let body = html! {
                p.warn { (msg) }
                p { a href=(format!("/cashier/{token}")) { "返回" } }
            };
            return (StatusCode::BAD_REQUEST, page("支付信息有误", body)).into_response();
        }
    };
    let sent = match gw_contract::message(&p) {
        Ok((to, m)) => c.bus.publish(&to, &m).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot queue a sandbox payment");
        return busy("系统繁忙，支付未提交，请稍后重试。");
    }
    tracing::info!(applyno = %app.applyno, paynumber = %paynumber, "sandbox payment submitted");
    page(
        "支付已提交",
        html! {
            p { "支付流水号 " (paynumber) "，正在确认。" }
            p { a href=(format!("/cashier/{token}")) { "返回支付页面" } }
        },
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
