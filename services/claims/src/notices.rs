//! The notices of refunds, claims and write-offs, from what was recorded:
//! a repeat of a request sends exactly what the first answer said.

use gw_bus::Failure;
use gw_lifecycle::{ClaimStatus, Resolution};
use gw_protocol::mask::PiiKind;
use gw_protocol::{
    Amount, ApplyStatus, ClaimNotice, LogoutNotice, Notice, Personal, QuitNotice, Text, WireTime,
};
use gw_storage::requests::{Claim, Logout, Quit};

fn text<const N: usize>(s: &str) -> Result<Text<N>, Failure> {
    Text::try_from(s).map_err(|_| Failure::permanent(anyhow::anyhow!("stored text {s:?}")))
}

fn amount(cents: i64) -> Result<Amount, Failure> {
    Amount::from_cents(cents).map_err(|_| Failure::permanent(anyhow::anyhow!("stored amount")))
}

fn status(granted: bool) -> ApplyStatus {
    if granted {
        ApplyStatus::Approved
    } else {
        ApplyStatus::Rejected
    }
}

/// `quitnotice` of a decided refund.
pub fn quit(q: &Quit) -> Result<Notice, Failure> {
    let granted = q.resolution == Resolution::Granted;
    Ok(Notice::QuitNotice(QuitNotice {
        applicationno: q.applicationno.clone(),
        applyno: q.applyno.clone(),
        baohanno: q.baohanno.clone(),
        applystatus: status(granted),
        quittime: granted.then(|| WireTime::from_utc(q.decided_at)),
        quitamount: if granted {
            Some(amount(q.amount_cents)?)
        } else {
            None
        },
        remark: text(q.refusal.as_deref().unwrap_or("退保成功，保费全额退还"))?,
    }))
}

/// `claimnotice` of a claim paid or refused; `None` while its payout waits.
pub fn claim(c: &Claim) -> Result<Option<Notice>, Failure> {
    let paid = match c.status {
        ClaimStatus::PayoutPending => return Ok(None),
        ClaimStatus::Paid => true,
        ClaimStatus::Refused => false,
    };
    fn pii<const N: usize>(v: &str, k: PiiKind) -> Result<Personal<N>, Failure> {
        Personal::parse(v, k).map_err(|_| Failure::permanent(anyhow::anyhow!("stored payee")))
    }
    let remark = match (&c.refusal, paid) {
        (Some(r), _) => r.clone(),
        (None, true) => "已按见索即付原则赔付".to_owned(),
        (None, false) => "不予赔付".to_owned(),
    };
    Ok(Some(Notice::ClaimNotice(ClaimNotice {
        applicationno: c.applicationno.clone(),
        applyno: c.applyno.clone(),
        baohanno: c.baohanno.clone(),
        applystatus: status(paid),
        claimtime: if paid {
            c.paid_at.map(WireTime::from_utc)
        } else {
            None
        },
        payeeaccount: if paid {
            Some(pii(&c.payeeaccount, PiiKind::Account)?)
        } else {
            None
        },
        payeename: if paid {
            Some(pii(&c.payeename, PiiKind::Name)?)
        } else {
            None
        },
        payeebank: if paid {
            Some(text(&c.payeebank)?)
        } else {
            None
        },
        claimamount: if paid {
            Some(amount(c.amount_cents)?)
        } else {
            None
        },
        remark: text(&remark)?,
    })))
}

/// `logoutnotice` of a decided write-off.
pub fn logout(l: &Logout) -> Result<Notice, Failure> {
    let granted = l.resolution == Resolution::Granted;
    Ok(Notice::LogoutNotice(LogoutNotice {
        applicationno: l.applicationno.clone(),
        applyno: l.applyno.clone(),
        baohanno: l.baohanno.clone(),
        applystatus: status(granted),
        remark: text(l.refusal.as_deref().unwrap_or("保函已注销"))?,
        logouttime: granted.then(|| WireTime::from_utc(l.decided_at)),
    }))
}
