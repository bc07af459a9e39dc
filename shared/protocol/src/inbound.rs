//! The 8 requests the platform sends us, and the `payapply` answer.
//!
//! Each has a wire DTO (`...Wire`, every field raw and optional) and a domain
//! type built from it through `TryFrom`, which enforces every rule of the
//! standard and of CONTRACT.md. Domain types serialise back to the wire JSON
//! and deserialise only through the same checks.

use serde::Serialize;

use crate::codes::{AreaCode, InvoiceKind, InvoiceMedium, PremiumStatus, Scene};
use crate::error::{FieldError, Rule};
use crate::mask::PiiKind;
use crate::types::{
    Amount, ApplicationNo, ApplyNo, BaohanNo, BidValidDays, CreditCode, FileRef, HttpUrl, Personal,
    Text, WireTime,
};
use crate::wire::{file_list, needed, optional, required, wire_dto};

fn positive_amount(s: &str) -> Result<Amount, Rule> {
    Amount::try_from(s)?.positive()
}

fn pii<const MAX: usize>(kind: PiiKind) -> impl FnOnce(&str) -> Result<Personal<MAX>, Rule> {
    move |s| Personal::parse(s, kind)
}

wire_dto!(
    /// `v1/gua/tb/baohanapply` as received.
    BaohanApplyWire { applyno, biddername, biddercode, bzjamount, jbrname, jbrphone }
);

/// 投保申请: a bidder asks for a bid guarantee.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "BaohanApplyWire")]
pub struct BaohanApply {
    pub applyno: ApplyNo,
    pub biddername: Text<200>,
    pub biddercode: CreditCode,
    pub bzjamount: Amount,
    pub jbrname: Personal<50>,
    pub jbrphone: Personal<50>,
}

impl TryFrom<BaohanApplyWire> for BaohanApply {
    type Error = FieldError;
    fn try_from(w: BaohanApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            biddername: required("biddername", w.biddername, |s| Text::try_from(s))?,
            biddercode: required("biddercode", w.biddercode, |s| CreditCode::try_from(s))?,
            bzjamount: required("bzjamount", w.bzjamount, positive_amount)?,
            jbrname: required("jbrname", w.jbrname, pii(PiiKind::Name))?,
            jbrphone: required("jbrphone", w.jbrphone, pii(PiiKind::Phone))?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/payapply` as received.
    PayApplyWire { applyno }
);

/// 支付申请: the platform asks for the payment link of an approved application.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "PayApplyWire")]
pub struct PayApply {
    pub applyno: ApplyNo,
}

impl TryFrom<PayApplyWire> for PayApply {
    type Error = FieldError;
    fn try_from(w: PayApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
        })
    }
}

wire_dto!(
    /// The `data` of the `payapply` answer, before encryption.
    PayApplyDataWire { premiumurl, premiumstatus }
);

/// The `data` of the `payapply` answer: the cashier link and whether it is paid.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "PayApplyDataWire")]
pub struct PayApplyData {
    pub premiumurl: HttpUrl<1000>,
    pub premiumstatus: PremiumStatus,
}

impl TryFrom<PayApplyDataWire> for PayApplyData {
    type Error = FieldError;
    fn try_from(w: PayApplyDataWire) -> Result<Self, FieldError> {
        Ok(Self {
            premiumurl: required("premiumurl", w.premiumurl, |s| HttpUrl::try_from(s))?,
            premiumstatus: required("premiumstatus", w.premiumstatus, |s| {
                PremiumStatus::try_from(s)
            })?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/revertapply` as received.
    RevertApplyWire {
        applyno, baohanno, biaoduanno, biaoduanname, zbr, zbrorgnum, bidtime, bidvalid,
        pcjname, pcjcode, areacode,
    }
);

/// 保函还原申请: 30 minutes before bid opening, the project and the tenderer
/// for the restored guarantee.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "RevertApplyWire")]
pub struct RevertApply {
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub biaoduanno: Text<100>,
    pub biaoduanname: Text<255>,
    pub zbr: Text<200>,
    pub zbrorgnum: CreditCode,
    pub bidtime: WireTime,
    pub bidvalid: BidValidDays,
    pub pcjname: Text<255>,
    pub pcjcode: Text<100>,
    pub areacode: AreaCode,
}

impl TryFrom<RevertApplyWire> for RevertApply {
    type Error = FieldError;
    fn try_from(w: RevertApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            biaoduanno: required("biaoduanno", w.biaoduanno, |s| Text::try_from(s))?,
            biaoduanname: required("biaoduanname", w.biaoduanname, |s| Text::try_from(s))?,
            zbr: required("zbr", w.zbr, |s| Text::try_from(s))?,
            zbrorgnum: required("zbrorgnum", w.zbrorgnum, |s| CreditCode::try_from(s))?,
            bidtime: required("bidtime", w.bidtime, |s| WireTime::try_from(s))?,
            bidvalid: required("bidvalid", w.bidvalid, |s| BidValidDays::try_from(s))?,
            pcjname: required("pcjname", w.pcjname, |s| Text::try_from(s))?,
            pcjcode: required("pcjcode", w.pcjcode, |s| Text::try_from(s))?,
            areacode: required("areacode", w.areacode, |s| AreaCode::try_from(s))?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/invoiceapply` as received.
    InvoiceApplyWire {
        applicationno, applyno, baohanno, biddername, biddercode, amount, r#type, invoicetype,
        address, phone, bank, account, email, mobile, contactname, contactaddress,
    }
);

/// 发票申请: the bidder asks for an invoice of the premium.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "InvoiceApplyWire")]
pub struct InvoiceApply {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub biddername: Text<200>,
    pub biddercode: CreditCode,
    pub amount: Amount,
    /// 0 普票, 1 专票.
    pub r#type: InvoiceKind,
    /// 1 电子, 2 纸质.
    pub invoicetype: InvoiceMedium,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Text<500>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Personal<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<Text<200>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Personal<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Personal<100>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Personal<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contactname: Option<Personal<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contactaddress: Option<Personal<500>>,
}

impl TryFrom<InvoiceApplyWire> for InvoiceApply {
    type Error = FieldError;
    fn try_from(w: InvoiceApplyWire) -> Result<Self, FieldError> {
        let r#type = required("type", w.r#type, |s| InvoiceKind::try_from(s))?;
        let invoicetype = required("invoicetype", w.invoicetype, |s| InvoiceMedium::try_from(s))?;
        let mut me = Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            biddername: required("biddername", w.biddername, |s| Text::try_from(s))?,
            biddercode: required("biddercode", w.biddercode, |s| CreditCode::try_from(s))?,
            amount: required("amount", w.amount, positive_amount)?,
            r#type,
            invoicetype,
            address: optional("address", w.address, |s| Text::try_from(s))?,
            phone: optional("phone", w.phone, pii(PiiKind::Phone))?,
            bank: optional("bank", w.bank, |s| Text::try_from(s))?,
            account: optional("account", w.account, pii(PiiKind::Account))?,
            email: optional("email", w.email, pii(PiiKind::Email))?,
            mobile: optional("mobile", w.mobile, pii(PiiKind::Phone))?,
            contactname: optional("contactname", w.contactname, pii(PiiKind::Name))?,
            contactaddress: optional("contactaddress", w.contactaddress, pii(PiiKind::Address))?,
        };
        if r#type == InvoiceKind::Special {
            const WHEN: &str = "type=1（专票）";
            me.address = Some(needed("address", WHEN, me.address)?);
            me.phone = Some(needed("phone", WHEN, me.phone)?);
            me.bank = Some(needed("bank", WHEN, me.bank)?);
            me.account = Some(needed("account", WHEN, me.account)?);
        }
        match invoicetype {
            InvoiceMedium::Electronic => {
                me.email = Some(needed("email", "invoicetype=1（电子发票）", me.email)?);
            }
            InvoiceMedium::Paper => {
                const WHEN: &str = "invoicetype=2（纸质发票）";
                me.mobile = Some(needed("mobile", WHEN, me.mobile)?);
                me.contactname = Some(needed("contactname", WHEN, me.contactname)?);
                me.contactaddress = Some(needed("contactaddress", WHEN, me.contactaddress)?);
            }
        }
        Ok(me)
    }
}

wire_dto!(
    /// `v1/gua/tb/quitapply` as received.
    QuitApplyWire { applicationno, applyno, baohanno, reason, scene }
);

/// 退保申请: the bidder (scene 1) or the platform (scene 2) asks for a refund.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "QuitApplyWire")]
pub struct QuitApply {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub reason: Text<500>,
    pub scene: Scene,
}

impl TryFrom<QuitApplyWire> for QuitApply {
    type Error = FieldError;
    fn try_from(w: QuitApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            reason: required("reason", w.reason, |s| Text::try_from(s))?,
            scene: required("scene", w.scene, |s| Scene::try_from(s))?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/claimapply` as received.
    ClaimApplyWire {
        applicationno, applyno, baohanno, payeename, payeeaccount, payeebank, bank, bankprovince,
        bankcity, applymount, applyusername, applyuserphone, reason, filelist,
    }
);

/// 理赔申请: the tenderer demands payment under the guarantee.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "ClaimApplyWire")]
pub struct ClaimApply {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub payeename: Personal<200>,
    pub payeeaccount: Personal<50>,
    pub payeebank: Text<200>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<Text<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankprovince: Option<Text<50>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bankcity: Option<Text<50>>,
    pub applymount: Amount,
    pub applyusername: Personal<200>,
    pub applyuserphone: Personal<50>,
    pub reason: Text<500>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filelist: Vec<FileRef>,
}

impl TryFrom<ClaimApplyWire> for ClaimApply {
    type Error = FieldError;
    fn try_from(w: ClaimApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            payeename: required("payeename", w.payeename, pii(PiiKind::Name))?,
            payeeaccount: required("payeeaccount", w.payeeaccount, pii(PiiKind::Account))?,
            payeebank: required("payeebank", w.payeebank, |s| Text::try_from(s))?,
            bank: optional("bank", w.bank, |s| Text::try_from(s))?,
            bankprovince: optional("bankprovince", w.bankprovince, |s| Text::try_from(s))?,
            bankcity: optional("bankcity", w.bankcity, |s| Text::try_from(s))?,
            applymount: required("applymount", w.applymount, positive_amount)?,
            applyusername: required("applyusername", w.applyusername, pii(PiiKind::Name))?,
            applyuserphone: required("applyuserphone", w.applyuserphone, pii(PiiKind::Phone))?,
            reason: required("reason", w.reason, |s| Text::try_from(s))?,
            filelist: file_list("filelist", w.filelist)?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/logoutapply` as received.
    LogoutApplyWire { applicationno, applyno, baohanno, filelist }
);

/// 注销申请: the bidder asks to write the guarantee off.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "LogoutApplyWire")]
pub struct LogoutApply {
    pub applicationno: ApplicationNo,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filelist: Vec<FileRef>,
}

impl TryFrom<LogoutApplyWire> for LogoutApply {
    type Error = FieldError;
    fn try_from(w: LogoutApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applicationno: required("applicationno", w.applicationno, |s| {
                ApplicationNo::try_from(s)
            })?,
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            baohanno: required("baohanno", w.baohanno, |s| BaohanNo::try_from(s))?,
            filelist: file_list("filelist", w.filelist)?,
        })
    }
}

wire_dto!(
    /// `v1/gua/tb/cancelapply` as received.
    CancelApplyWire { applyno, scene }
);

/// 取消申请: the bidder (scene 1) or the platform after 72 hours unpaid
/// (scene 2) cancels an unpaid application.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(try_from = "CancelApplyWire")]
pub struct CancelApply {
    pub applyno: ApplyNo,
    pub scene: Scene,
}

impl TryFrom<CancelApplyWire> for CancelApply {
    type Error = FieldError;
    fn try_from(w: CancelApplyWire) -> Result<Self, FieldError> {
        Ok(Self {
            applyno: required("applyno", w.applyno, |s| ApplyNo::try_from(s))?,
            scene: required("scene", w.scene, |s| Scene::try_from(s))?,
        })
    }
}
