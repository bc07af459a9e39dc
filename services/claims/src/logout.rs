//! `logoutapply`: the write-off (注销) of a guarantee.

use async_trait::async_trait;
use chrono::Utc;
use gw_bus::{Failure, Message};
use gw_contract::details::{self, Details};
use gw_contract::{Consume, EventKey, InboundEnvelope, queues};
use gw_lifecycle::{Event, Refusal, Resolution};
use gw_protocol::{Interface, LogoutApply};
use gw_storage::requests::{self, NewLogout};
use gw_storage::sea_orm::Set;
use gw_workflow::{DbResultExt, Tx};

use crate::request::{Evidence, Request};
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
        files: Evidence,
    ) -> Result<(), Failure> {
        let req = &env.request;
        let app = tx.existing(&req.applyno, None).await?;
        let decision = match &files {
            Err(reason) => Err((app, reason.clone())),
            Ok(_) if app.baohanno.as_ref() != Some(&req.baohanno) => {
                Err((app, Refusal::BaohanMismatch.to_string()))
            }
            Ok(_) => (Tx::step(Some(app), Event::WriteOff).decided()?)
                .map_err(|(app, refusal)| (app, refusal.to_string())),
        };
        let files = files.unwrap_or_default();
        match decision {
            Ok(mut t) => {
                let granted = row(env, &files, Resolution::Granted, None);
                let l = requests::add_logout(tx.conn(), granted).await.transient()?;
                tx.notify(&mut t, &notices::logout(&l)?).await?;
                let details = Details::WrittenOff(details::WrittenOff {
                    applicationno: l.applicationno.to_string(),
                });
                tx.emit_transition(EventKey::GuaranteeWrittenOff, &t, details)
                    .await?;
                tx.save(t).await?;
                tracing::info!(applyno = %req.applyno, applicationno = %req.applicationno, "written off");
                Ok(())
            }
            Err((app, reason)) => {
                let refused = row(env, &files, Resolution::Refused, Some(reason.clone()));
                let l = requests::add_logout(tx.conn(), refused).await.transient()?;
                let notice = notices::logout(&l)?;
                tx.refuse(
                    app,
                    Interface::LogoutApply,
                    &l.applicationno,
                    &reason,
                    Some(&notice),
                )
                .await
            }
        }
    }
}

/// One `logoutapply`. The evidence is downloaded before the transaction.
#[async_trait]
impl Consume<InboundEnvelope<LogoutApply>> for Desk {
    async fn consume(&self, m: &Message, env: InboundEnvelope<LogoutApply>) -> Result<(), Failure> {
        let req = &env.request;
        let known = requests::logout(self.flow.db().conn(), &req.applicationno).await;
        let r = Request {
            queue: queues::LOGOUTAPPLY,
            counterpart: &env.counterpart,
            applyno: &req.applyno,
            files: &req.filelist,
            what: "注销材料",
            decided: known.transient()?.is_some(),
        };
        let Some((tx, files)) = self.begin_with_evidence(m, r).await? else {
            return Ok(());
        };
        let known = requests::logout(tx.conn(), &req.applicationno).await;
        match known.transient()? {
            Some(l) => {
                let app = tx.existing(&req.applyno, None).await?;
                tx.answer(app, Some(&notices::logout(&l)?)).await?;
            }
            None => self.decide_logout(&tx, &env, files).await?,
        }
        tx.commit().await
    }
}
