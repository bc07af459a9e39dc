//! The built-in electronic invoice (电子发票), one A4 page on the shared
//! document layout: number, date, buyer, seller, the premium line with the
//! tax, the total in figures and capitals, the guarantee number as remark,
//! and the seller's seal. A 专票 also prints the buyer's address, telephone,
//! bank and account.

use gw_documents::{MARGIN, PAGE_W};
use gw_protocol::{Amount, Rate, WireTime};
use rust_decimal::Decimal;

/// Everything printed on an invoice.
#[derive(Debug, Clone)]
pub struct InvoiceDoc {
    pub number: String,
    pub issued_at: WireTime,
    /// 增值税专用发票 rather than 普通发票.
    pub special: bool,
    pub buyer_name: String,
    pub buyer_code: String,
    /// Address and telephone, bank and account (专票).
    pub buyer_address: Option<String>,
    pub buyer_bank: Option<String>,
    pub seller_name: String,
    pub seller_code: String,
    pub seller_address: String,
    pub seller_bank: String,
    /// The premium, tax included.
    pub total: Amount,
    pub tax_rate: Rate,
    pub baohanno: String,
}

/// The tax included in `total` at `rate`: total × rate / (1 + rate),
/// rounded half-up to cents.
/// Checked: an `Amount` times a rate below 1 cannot overflow, and the tax
/// never exceeds the total.
pub fn tax_of(total: Amount, rate: Rate) -> Amount {
    let tax = total
        .value()
        .checked_mul(rate.value())
        .and_then(|t| t.checked_div(Decimal::ONE + rate.value()));
    tax.and_then(|t| Amount::from_decimal_rounded(t).ok())
        .filter(|t| t.value() <= total.value())
        .unwrap_or(Amount::ZERO)
}

/// Renders the invoice (PDF/A-2b).
pub fn render(d: &InvoiceDoc) -> anyhow::Result<Vec<u8>> {
    let tax = tax_of(d.total, d.tax_rate);
    let net = d
        .total
        .value()
        .checked_sub(tax.value())
        .and_then(|n| Amount::from_decimal_rounded(n).ok())
        .ok_or_else(|| anyhow::anyhow!("the invoice's net amount"))?;
    let kind = if d.special {
        "电子发票（增值税专用发票）"
    } else {
        "电子发票（普通发票）"
    };
    gw_documents::one_page(&format!("{kind} {}", d.number), d.issued_at, |c| {
        c.frame();
        c.centered(MARGIN + 22.0, 24.0, kind);
        let mut y = MARGIN + 64.0;
        y = c.field(y, "发票号码：", &d.number);
        y = c.field(y, "开票日期：", &d.issued_at.to_string());
        c.rule(y - 12.0);
        y += 6.0;
        y = c.field(y, "购买方名称：", &d.buyer_name);
        y = c.field(y, "纳税人识别号：", &d.buyer_code);
        if let Some(a) = &d.buyer_address {
            y = c.field(y, "地址、电话：", a);
        }
        if let Some(b) = &d.buyer_bank {
            y = c.field(y, "开户行及账号：", b);
        }
        c.rule(y - 12.0);
        y += 6.0;
        y = c.field(y, "项目名称：", "*经纪代理服务*投标保函担保服务费");
        y = c.field(y, "数量：", "1");
        y = c.field(
            y,
            "金额（不含税）：",
            &format!("{} 元", net.to_cents_string()),
        );
        y = c.field(y, "税率：", &percent(d.tax_rate));
        y = c.field(y, "税额：", &format!("{} 元", tax.to_cents_string()));
        y = c.field(
            y,
            "价税合计：",
            &format!("人民币 {} 元", d.total.to_cents_string()),
        );
        y = c.field(
            y,
            "价税合计（大写）：",
            &format!("人民币{}", gw_documents::to_capital(&d.total)),
        );
        c.rule(y - 12.0);
        y += 6.0;
        y = c.field(y, "销售方名称：", &d.seller_name);
        y = c.field(y, "纳税人识别号：", &d.seller_code);
        if !d.seller_address.is_empty() {
            y = c.field(y, "地址、电话：", &d.seller_address);
        }
        if !d.seller_bank.is_empty() {
            y = c.field(y, "开户行及账号：", &d.seller_bank);
        }
        let y = c.field(y + 6.0, "备注：", &format!("保函编号 {}", d.baohanno));
        c.seal(
            PAGE_W - MARGIN - 90.0,
            y + 90.0,
            62.0,
            &d.seller_name,
            "发票专用章",
        );
        Ok(())
    })
}

fn percent(r: Rate) -> String {
    let p = (r.value() * Decimal::ONE_HUNDRED).normalize();
    format!("{p}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tax_is_the_part_of_the_premium_at_the_rate() {
        let rate = Rate::try_from("0.06").unwrap();
        // 300.00 / 1.06 = 283.02; tax 16.98.
        assert_eq!(
            tax_of(Amount::try_from("300.00").unwrap(), rate).to_cents_string(),
            "16.98"
        );
        assert_eq!(
            tax_of(Amount::try_from("106.00").unwrap(), rate).to_cents_string(),
            "6.00"
        );
        assert_eq!(
            tax_of(Amount::try_from("100.00").unwrap(), Rate::ZERO).to_cents_string(),
            "0.00"
        );
        assert_eq!(percent(rate), "6%");
    }

    #[test]
    fn an_invoice_renders_as_a_pdf() {
        let pdf = render(&InvoiceDoc {
            number: "202600000001".into(),
            issued_at: WireTime::now(),
            special: true,
            buyer_name: "湖南建工集团有限公司".into(),
            buyer_code: "914300001837644275".into(),
            buyer_address: Some("长沙市芙蓉区 0731-88888888".into()),
            buyer_bank: Some("中国银行长沙分行 6222020000001234".into()),
            seller_name: "湖南某某融资担保有限公司".into(),
            seller_code: "91430100MA4L0000X9".into(),
            seller_address: String::new(),
            seller_bank: String::new(),
            total: Amount::try_from("300.00").unwrap(),
            tax_rate: Rate::try_from("0.06").unwrap(),
            baohanno: "BH2025112800000001".into(),
        })
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
