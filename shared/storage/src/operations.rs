//! Operation records (操作记录): append-only, written in the transaction of
//! the action they record wherever the action has one, so an action and
//! its record are committed together or not at all.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use crate::entities::operation_records;

pub use operation_records::Model as OperationRow;

/// Who acted, and through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The operator's name, `cli:<user>`, or `admin` (an admin call that
    /// named no one).
    pub name: String,
    /// `admin_api`, `console`, `cli` or `system`.
    pub channel: &'static str,
}

impl Actor {
    /// The longest name kept.
    pub const MAX_NAME: usize = 64;

    /// An admin API caller: the `X-Operator` name given (control
    /// characters dropped, at most [`Actor::MAX_NAME`] characters), else
    /// `admin`.
    pub fn admin_api(named: Option<&str>) -> Self {
        let name: String = named
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(Self::MAX_NAME)
            .collect();
        let name = name.trim();
        Self {
            name: if name.is_empty() {
                "admin".to_owned()
            } else {
                name.to_owned()
            },
            channel: "admin_api",
        }
    }

    /// An operator signed in to the console: the name they signed in with
    /// (cleaned as [`Actor::admin_api`] cleans it).
    pub fn console(operator: &str) -> Self {
        Self {
            channel: "console",
            ..Self::admin_api(Some(operator))
        }
    }

    /// The gateway itself, acting on something a person changed outside it
    /// (a rules file edited): `system`.
    pub fn system() -> Self {
        Self {
            name: "system".to_owned(),
            channel: "system",
        }
    }

    /// Someone at the command line: `cli:<login name>`.
    pub fn cli() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Self {
            name: format!("cli:{user}"),
            channel: "cli",
        }
    }
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    pub actor: &'a Actor,
    pub service: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    /// The state before and after, masked as in the logs.
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub remark: Option<&'a str>,
}

/// Appends `op` (in the caller's transaction, where it has one).
pub async fn record<C: ConnectionTrait>(conn: &C, op: Operation<'_>) -> Result<(), DbErr> {
    operation_records::ActiveModel {
        at: Set(Utc::now()),
        actor: Set(op.actor.name.clone()),
        channel: Set(op.actor.channel.to_owned()),
        service: Set(op.service.to_owned()),
        action: Set(op.action.to_owned()),
        subject: Set(op.subject.to_owned()),
        before: Set(op.before),
        after: Set(op.after),
        remark: Set(op.remark.map(str::to_owned)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub action: Option<String>,
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: u64,
}

/// Records the filter selects, oldest first.
pub async fn list<C: ConnectionTrait>(conn: &C, f: &Filter) -> Result<Vec<OperationRow>, DbErr> {
    let mut q = operation_records::Entity::find();
    if let Some(a) = &f.action {
        q = q.filter(operation_records::Column::Action.eq(a.clone()));
    }
    if let Some(s) = &f.subject {
        q = q.filter(operation_records::Column::Subject.eq(s.clone()));
    }
    if let Some(a) = &f.actor {
        q = q.filter(operation_records::Column::Actor.eq(a.clone()));
    }
    if let Some(t) = f.since {
        q = q.filter(operation_records::Column::At.gte(t));
    }
    if let Some(t) = f.until {
        q = q.filter(operation_records::Column::At.lt(t));
    }
    q.order_by_asc(operation_records::Column::Id)
        .limit(f.limit.clamp(1, 10_000))
        .all(conn)
        .await
}

/// The records as CSV (a header line, then one line per record; fields
/// quoted where they need it).
pub fn to_csv(rows: &[OperationRow]) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
    let mut out = String::from("id,at,actor,channel,service,action,subject,before,after,remark\n");
    for r in rows {
        let cells = [
            r.id.to_string(),
            r.at.to_rfc3339(),
            r.actor.clone(),
            r.channel.clone(),
            r.service.clone(),
            r.action.clone(),
            r.subject.clone(),
            json(&r.before),
            json(&r.after),
            r.remark.clone().unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_caller_is_named_or_admin() {
        assert_eq!(Actor::admin_api(Some("  张三 ")).name, "张三");
        assert_eq!(Actor::admin_api(Some("a\nb\u{7}")).name, "ab");
        assert_eq!(Actor::admin_api(Some("   ")).name, "admin");
        assert_eq!(Actor::admin_api(None).name, "admin");
        let long = "x".repeat(200);
        assert_eq!(Actor::admin_api(Some(&long)).name.len(), Actor::MAX_NAME);
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let row = OperationRow {
            id: 1,
            at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            actor: "张三".into(),
            channel: "admin_api".into(),
            service: "payment".into(),
            action: "payment.refunded".into(),
            subject: "P-1".into(),
            before: Some(serde_json::json!({"status": "held"})),
            after: None,
            remark: Some("a, \"b\"".into()),
        };
        let csv = to_csv(&[row]);
        let line = csv.lines().nth(1).unwrap_or_default();
        assert!(line.contains("\"{\"\"status\"\":\"\"held\"\"}\""), "{line}");
        assert!(line.ends_with("\"a, \"\"b\"\"\""), "{line}");
    }
}
