//! The 8 notices we send the platform. Workers build the domain types; egress
//! parses every notice again through the same `TryFrom` before sending, so a
//! malformed notice can never leave.

use serde::Serialize;

use crate::codes::{ApplyStatus, PayType, PremiumStatus};
use crate::error::{FieldError, Rule};
use crate::mask::PiiKind;
use crate::types::{
    Amount, ApplicationNo, ApplyNo, BaohanNo, CreditCode, HttpUrl, Personal, Rate, Text, WireTime,
};
use crate::wire::{needed, optional, required, wire_dto};

const APPROVED: &str = "applystatus=1";

fn positive_amount(s: &str) -> Result<Amount, Rule> {
    Amount::try_from(s)?.positive()
}

fn pii<const MAX: usize>(kind: PiiKind) -> impl FnOnce(&str) -> Result<Personal<MAX>, Rule> {
    move |s| Personal::parse(s, kind)
}

wire_dto!(
    /// `v1/gua/tb/processnotice` on the wire.
    ProcessNoticeWire { applyno, applystatus, remark, rate, cost }
);

/// 投保审核结果通知: the underwriting decision. `rate` and `cost` are
/// present exactly when approved.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "ProcessNoticeWire")]
pub struct ProcessNotice {
    pub applyno: ApplyNo,
    pub applystatus: ApplyStatus,
    pub remark: Text<500>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
}

impl TryFrom<ProcessNoticeWire> for ProcessNotice {
    type Error = FieldError;
    fn try_from(w: ProcessNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            applystatus: required("applystatus", w.applystatus, |s| ApplyStatus::try_from(s))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
            rate: optional("rate", w.rate, |s| Rate::try_from(s))?,
            cost: optional("cost", w.cost, positive_amount)?,
        };
        if me.applystatus == ApplyStatus::Approved {
            needed("rate", APPROVED, me.rate)?;
            needed("cost", APPROVED, me.cost)?;
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/paynotice` on the wire.
    PayNoticeWire {
        applyno, premiumstatus, paytype, paynumber, paymoney, paydate, payname, payaccount,
        paybank, ipcontent, remark,
    }
);

/// 支付申请结果通知: the premium is paid.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "PayNoticeWire")]
pub struct PayNotice {
    pub applyno: ApplyNo,
    /// Always 1 (已支付): the notice is only sent once paid.
    pub premiumstatus: PremiumStatus,
    pub paytype: PayType,
    pub paynumber: Text<50>,
    pub paymoney: Amount,
    pub paydate: WireTime,
    pub payname: Personal<200>,
    pub payaccount: Personal<50>,
    pub paybank: Text<200>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipcontent: Option<Personal<50>>,
    pub remark: Text<500>,
}

impl TryFrom<PayNoticeWire> for PayNotice {
    type Error = FieldError;
    fn try_from(w: PayNoticeWire) -> Result<Self, FieldError> {
        let premiumstatus = required("premiumstatus", w.premiumstatus, |s| {
            PremiumStatus::try_from(s)
        })?;
        if premiumstatus != PremiumStatus::Paid {
            return Err(FieldError::new(
                "premiumstatus",
                Rule::MustBe { value: "1" },
            ));
        }
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            premiumstatus,
            paytype: required("paytype", w.paytype, |s| PayType::try_from(s))?,
            paynumber: required("paynumber", w.paynumber, |s| Text::try_from(s))?,
            paymoney: required("paymoney", w.paymoney, positive_amount)?,
            paydate: required("paydate", w.paydate, |s| WireTime::try_from(s))?,
            payname: required("payname", w.payname, pii(PiiKind::Name))?,
            payaccount: required("payaccount", w.payaccount, pii(PiiKind::Account))?,
            paybank: required("paybank", w.paybank, |s| Text::try_from(s))?,
            ipcontent: optional("ipcontent", w.ipcontent, pii(PiiKind::Ip))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/baohannotice` on the wire.
    BaohanNoticeWire {
        applyno, baohanno, instname, instcode, generatetime, rate, cost, baohanurl, remark,
    }
);

/// 投保申请结果通知: the guarantee is issued; the platform downloads
/// `baohanurl` at once.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "BaohanNoticeWire")]
pub struct BaohanNotice {
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub instname: Text<200>,
    pub instcode: CreditCode,
    pub generatetime: WireTime,
    pub rate: Rate,
    pub cost: Amount,
    pub baohanurl: HttpUrl<500>,
    pub remark: Text<500>,
}

impl TryFrom<BaohanNoticeWire> for BaohanNotice {
    type Error = FieldError;
    fn try_from(w: BaohanNoticeWire) -> Result<Self, FieldError> {
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            instname: required("instname", w.instname, |s| Text::try_from(s))?,
            instcode: required("instcode", w.instcode, |s| CreditCode::try_from(s))?,
            generatetime: required("generatetime", w.generatetime, |s| WireTime::try_from(s))?,
            rate: required("rate", w.rate, |s| Rate::try_from(s))?,
            cost: required("cost", w.cost, positive_amount)?,
            baohanurl: required("baohanurl", w.baohanurl, |s| HttpUrl::try_from(s))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/revertnotice` on the wire.
    RevertNoticeWire { applyno, baohanno, poltime, validtime, baohanurl }
);

/// 保函还原结果通知: the restored guarantee; `validtime` is later than `poltime`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "RevertNoticeWire")]
pub struct RevertNotice {
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub poltime: WireTime,
    pub validtime: WireTime,
    pub baohanurl: HttpUrl<500>,
}

impl TryFrom<RevertNoticeWire> for RevertNotice {
    type Error = FieldError;
    fn try_from(w: RevertNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            poltime: required("poltime", w.poltime, |s| WireTime::try_from(s))?,
            validtime: required("validtime", w.validtime, |s| WireTime::try_from(s))?,
            baohanurl: required("baohanurl", w.baohanurl, |s| HttpUrl::try_from(s))?,
        };
        if me.validtime <= me.poltime {
            return Err(FieldError::new(
                "validtime",
                Rule::NotAfter { other: "poltime" },
            ));
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/invoicenotice` on the wire.
    InvoiceNoticeWire {
        applicationno, baohanno, applyno, applystatus, invoiceamount, invoicetime, invoiceurl,
        remark,
    }
);

/// 发票申请结果通知. `invoiceamount` (at most 10 characters) and
/// `invoicetime` are required when issued; `invoiceurl` when there is a PDF.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "InvoiceNoticeWire")]
pub struct InvoiceNotice {
    pub applicationno: ApplicationNo,
    pub baohanno: BaohanNo,
    pub applyno: ApplyNo,
    pub applystatus: ApplyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoiceamount: Option<Amount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoicetime: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoiceurl: Option<HttpUrl<500>>,
    pub remark: Text<500>,
}

impl TryFrom<InvoiceNoticeWire> for InvoiceNotice {
    type Error = FieldError;
    fn try_from(w: InvoiceNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            applystatus: required("applystatus", w.applystatus, |s| ApplyStatus::try_from(s))?,
            invoiceamount: optional("invoiceamount", w.invoiceamount, |s| {
                if s.trim().chars().count() > 10 {
                    return Err(Rule::TooLong { max: 10 });
                }
                positive_amount(s)
            })?,
            invoicetime: optional("invoicetime", w.invoicetime, |s| WireTime::try_from(s))?,
            invoiceurl: optional("invoiceurl", w.invoiceurl, |s| HttpUrl::try_from(s))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
        };
        if me.applystatus == ApplyStatus::Approved {
            needed("invoiceamount", APPROVED, me.invoiceamount)?;
            needed("invoicetime", APPROVED, me.invoicetime)?;
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/quitnotice` on the wire.
    QuitNoticeWire { applicationno, applyno, baohanno, applystatus, quittime, quitamount, remark }
);

/// 退保申请结果通知. `quittime` and `quitamount` are required when refunded.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "QuitNoticeWire")]
pub struct QuitNotice {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub applystatus: ApplyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quittime: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quitamount: Option<Amount>,
    pub remark: Text<500>,
}

impl TryFrom<QuitNoticeWire> for QuitNotice {
    type Error = FieldError;
    fn try_from(w: QuitNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            applystatus: required("applystatus", w.applystatus, |s| ApplyStatus::try_from(s))?,
            quittime: optional("quittime", w.quittime, |s| WireTime::try_from(s))?,
            quitamount: optional("quitamount", w.quitamount, |s| Amount::try_from(s))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
        };
        if me.applystatus == ApplyStatus::Approved {
            needed("quittime", APPROVED, me.quittime)?;
            needed("quitamount", APPROVED, me.quitamount)?;
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/claimnotice` on the wire.
    ClaimNoticeWire {
        applicationno, applyno, baohanno, applystatus, claimtime, payeeaccount, payeename,
        payeebank, claimamount, remark,
    }
);

/// 理赔申请结果通知. On payment, the time, the payee and the amount.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "ClaimNoticeWire")]
pub struct ClaimNotice {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub applystatus: ApplyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimtime: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payeeaccount: Option<Personal<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payeename: Option<Personal<200>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payeebank: Option<Text<200>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimamount: Option<Amount>,
    pub remark: Text<500>,
}

impl TryFrom<ClaimNoticeWire> for ClaimNotice {
    type Error = FieldError;
    fn try_from(w: ClaimNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            applystatus: required("applystatus", w.applystatus, |s| ApplyStatus::try_from(s))?,
            claimtime: optional("claimtime", w.claimtime, |s| WireTime::try_from(s))?,
            payeeaccount: optional("payeeaccount", w.payeeaccount, pii(PiiKind::Account))?,
            payeename: optional("payeename", w.payeename, pii(PiiKind::Name))?,
            payeebank: optional("payeebank", w.payeebank, |s| Text::try_from(s))?,
            claimamount: optional("claimamount", w.claimamount, positive_amount)?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
        };
        if me.applystatus == ApplyStatus::Approved {
            needed("claimtime", APPROVED, me.claimtime)?;
            needed("payeeaccount", APPROVED, me.payeeaccount.as_ref())?;
            needed("payeename", APPROVED, me.payeename.as_ref())?;
            needed("payeebank", APPROVED, me.payeebank.as_ref())?;
            needed("claimamount", APPROVED, me.claimamount)?;
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/logoutnotice` on the wire.
    LogoutNoticeWire { applicationno, applyno, baohanno, applystatus, remark, logouttime }
);

/// 注销申请结果通知. `logouttime` is required when written off.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "LogoutNoticeWire")]
pub struct LogoutNotice {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub applystatus: ApplyStatus,
    pub remark: Text<500>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logouttime: Option<WireTime>,
}

impl TryFrom<LogoutNoticeWire> for LogoutNotice {
    type Error = FieldError;
    fn try_from(w: LogoutNoticeWire) -> Result<Self, FieldError> {
        let me = Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            applystatus: required("applystatus", w.applystatus, |s| ApplyStatus::try_from(s))?,
            remark: required("remark", w.remark, |s| Text::try_from(s))?,
            logouttime: optional("logouttime", w.logouttime, |s| WireTime::try_from(s))?,
        };
        if me.applystatus == ApplyStatus::Approved {
            needed("logouttime", APPROVED, me.logouttime)?;
        }
        Ok(me)
    }
}
