//! What the requests with evidence files (`claimapply`, `logoutapply`)
//! share: the files are downloaded before the transaction that decides
//! (a download can take seconds; no transaction waits on it), and not at
//! all for a repeat of a decided request.

use gw_bus::{Failure, Message};
use gw_protocol::{ApplyNo, CounterpartName, FileRef};
use gw_storage::inbox;
use gw_workflow::{DbResultExt, Tx};

use crate::Desk;

/// The tokens of the stored evidence files, or the refusal naming the file
/// that stayed unreachable.
pub type Evidence = Result<Vec<String>, String>;

/// The request a message carries, as far as fetching its evidence goes.
pub struct Request<'a> {
    pub queue: &'static str,
    pub counterpart: &'a CounterpartName,
    pub applyno: &'a ApplyNo,
    pub files: &'a [FileRef],
    /// What the files are, in the refusal (`理赔材料`).
    pub what: &'a str,
    /// Whether its `applicationno` was decided already (a repeat).
    pub decided: bool,
}

impl Desk {
    /// Nothing if the message was handled already; else its evidence (none
    /// for a repeat) and the transaction that handles it once.
    pub(crate) async fn begin_with_evidence(
        &self,
        m: &Message,
        r: Request<'_>,
    ) -> Result<Option<(Tx, Evidence)>, Failure> {
        if inbox::seen(self.flow.db().conn(), r.queue, &m.id)
            .await
            .transient()?
        {
            return Ok(None);
        }
        let evidence = if r.decided {
            Ok(Vec::new())
        } else {
            self.evidence(r.counterpart, r.applyno, r.files, r.what)
                .await?
        };
        let tx = self.flow.begin_once(r.queue, m).await?;
        Ok(tx.map(|tx| (tx, evidence)))
    }

    /// Downloads every evidence file (SM4-decrypted, stored, linked to the
    /// application); the reason naming the file that stayed unreachable.
    async fn evidence(
        &self,
        counterpart: &CounterpartName,
        applyno: &ApplyNo,
        files: &[FileRef],
        what: &str,
    ) -> Result<Result<Vec<String>, String>, Failure> {
        let Some(cp) = self.counterparts.by_name(counterpart.as_str()) else {
            return Err(Failure::permanent(anyhow::anyhow!(
                "unknown counterpart {counterpart}"
            )));
        };
        let mut tokens = Vec::with_capacity(files.len());
        for f in files {
            let url = f.fileurl.as_str();
            let fetched = self
                .fetcher
                .fetch_and_store(
                    &cp,
                    url,
                    self.store.as_ref(),
                    self.flow.db(),
                    Some(applyno.as_str()),
                )
                .await;
            match fetched {
                Ok(stored) => tokens.push(stored.token),
                Err(e) => {
                    tracing::warn!(%applyno, url, error = %e, "evidence file unreachable");
                    return Ok(Err(format!("{what}无法下载：{url}（{e}）")));
                }
            }
        }
        Ok(Ok(tokens))
    }
}
