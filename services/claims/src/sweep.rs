//! The expiry sweep: guarantees whose validity (`validtime`) ended are
//! written off (an event, no notice; the standard writes them off by
//! themselves), so verification shows them expired and claims after it are
//! refused. It runs at start and every `claims.sweep_interval`; replicas may
//! all run it (each expiry is one versioned transition).

use gw_contract::details::{self, Details};
use std::time::Duration;

use chrono::Utc;
use gw_bus::Failure;
use gw_contract::EventKey;
use gw_lifecycle::Event;
use gw_storage::guarantees;
use gw_workflow::{DbResultExt, Outcome, Workflow};
use tokio_util::sync::CancellationToken;

pub struct Sweeper {
    pub flow: Workflow,
    pub every: Duration,
}

impl Sweeper {
    /// Sweeps until `stop`.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            match self.sweep_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "expiry sweep"),
                Err(e) => tracing::warn!(error = ?e, "expiry sweep failed; will try again"),
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// Writes off what has ended now; returns how many.
    pub async fn sweep_once(&self) -> Result<usize, Failure> {
        let ended = guarantees::validity_ended(self.flow.db().conn(), Utc::now(), 500)
            .await
            .transient()?;
        let mut expired = 0;
        for g in ended {
            let tx = self.flow.begin().await?;
            let t = match tx.transition(&g.applyno, None, Event::Expire).await? {
                Outcome::Moved(t) => t,
                // Already ended another way, or a payout pending: not now.
                Outcome::Refused { .. } => continue,
            };
            let details = Details::Expired(details::Expired {
                baohanno: g.baohanno.to_string(),
                validtime: g.validtime,
            });
            tx.emit_transition(EventKey::GuaranteeExpired, &t, details)
                .await?;
            tx.save(t).await?;
            tx.commit().await?;
            expired += 1;
        }
        Ok(expired)
    }
}
