//! `logoutapply`: the write-off (注销) of a guarantee.

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::{Consume, EventKey, InboundEnvelope, queues};
use gw_lifecycle::{Event, Refusal, Resolution};
use gw_protocol::LogoutApply;
use gw_storage::inbox;
use gw_storage::requests::{self, NewLogout};
use gw_storage::sea_orm::Set;
use gw_workflow::{DbResultExt, Outcome, Tx};

use crate::{Desk, notices};

fn row(
    env: &InboundEnvelope<LogoutApply>,
    files: &[String],
    resolution: Resolution,
    refusal: Option<String>,
) -> NewLogout {
    let r = &env.request;
    NewLogout {
        applicationno: Set(r.applicationno.clone()),
        counterpart: Set(env.counterpart.clone()),
        applyno: Set(r.applyno.clone()),
        baohanno: Set(r.baohanno.clone()),
        files: Set(serde_json::to_string(files).unwrap_or_else(|_| "[]".into())),
        resolution: Set(resolution),
        refusal: Set(refusal),
        decided_at: Set(Utc::now()),
    }
}

impl Desk {
    async fn decide_logout(
        &self,
        tx: &Tx,
        env: &InboundEnvelope<LogoutApply>,
        files: Result<Vec<String>, String>,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let app = tx
            .application(&req.applyno)
            .await?
            .ok_or_else(|| Failure::transient(anyhow::anyhow!("the application vanished")))?;
        let outcome = match &files {
            Err(reason) => Err((app, reason.clone())),
            Ok(_) if app.baohanno.as_ref() != Some(&req.baohanno) => {
                Err((app, Refusal::BaohanMismatch.to_string()))
            }
            Ok(_) => match Tx::step(Some(app), Event::WriteOff) {
                Outcome::Moved(t) => Ok(t),
                Outcome::Refused { app, refusal } => Err((
                    *app.ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application")))?,
                    refusal.to_string(),
                )),
            },
        };
        let files = files.unwrap_or_default();
        match outcome {
            Ok(mut t) => {
                let l =
                    requests::add_logout(tx.conn(), row(env, &files, Resolution::Granted, None))
                        .await
                        .transient()?;
                tx.notify(&mut t, &notices::logout(&l)?).await?;
                let app = t.app()?.clone();
                let details = serde_json::json!({"applicationno": l.applicationno});
                tx.emit_application(
                    EventKey::GuaranteeWrittenOff,
                    &app.applyno,
                    &app.counterpart,
                    t.next,
                    details,
                )
                .await?;
                tx.save(t).await?;
                tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, "written off");
            }
            Err((app, reason)) => {
                let l = requests::add_logout(
                    tx.conn(),
                    row(env, &files, Resolution::Refused, Some(reason.clone())),
                )
                .await
                .transient()?;
                let details = serde_json::json!({"interface": "logoutapply", "applicationno": l.applicationno, "reason": reason});
                tx.emit_application(
                    EventKey::RequestRefused,
                    &app.applyno,
                    &app.counterpart,
                    app.state,
                    details,
                )
                .await?;
                let mut t = Tx::keep(app);
                tx.notify(&mut t, &notices::logout(&l)?).await?;
                tx.save(t).await?;
                tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, %reason, "write-off refused");
            }
        }
        Ok(())
    }
}

/// One `logoutapply`. The evidence is downloaded before the transaction.
#[async_trait]
impl Consume<InboundEnvelope<LogoutApply>> for Desk {
    async fn consume(&self, m: &Message, env: InboundEnvelope<LogoutApply>) -> Result<(), Failure> {
        let req = &env.request;
        let conn = self.flow.db().conn();
        if inbox::seen(conn, queues::LOGOUTAPPLY, &m.id)
            .await
            .transient()?
        {
            return Ok(());
        }
        let known = requests::logout(conn, &req.applicationno)
            .await
            .transient()?;
        let files = match known {
            Some(_) => Ok(Vec::new()),
            None => {
                self.evidence(&env.counterpart, &req.applyno, &req.filelist, "注销材料")
                    .await?
            }
        };
        let Some(tx) = self.flow.begin_once(queues::LOGOUTAPPLY, &m.id).await? else {
            return Ok(());
        };
        match requests::logout(tx.conn(), &req.applicationno)
            .await
            .transient()?
        {
            Some(l) => {
                let app = tx
                    .application(&req.applyno)
                    .await?
                    .ok_or_else(|| Failure::permanent(anyhow::anyhow!("no application")))?;
                let mut t = Tx::keep(app);
                tx.notify(&mut t, &notices::logout(&l)?).await?;
                tx.save(t).await?;
            }
            None => self.decide_logout(&tx, &env, files).await?,
        }
        tx.commit().await
    }
}
