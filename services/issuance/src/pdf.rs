//! Guarantee PDFs (PDF/A-2b), laid out on the shared page of
//! `gw-documents` (the embedded CJK font, wrapping, QR code, seal).
//!
//! A **cipher guarantee** withholds the project and the tenderer (they are
//! secret until bid opening); a **restored guarantee** names them, with the
//! validity. Both carry the number, the applicant, the amount in figures and
//! in capitals, the issuer, the issue time, the pay-on-first-demand clause,
//! the verification code, a QR code of the verification URL and a drawn red
//! seal with the issuer's name around it.

use anyhow::Context;
use gw_documents::{MARGIN, PAGE_H, PAGE_W};
use gw_protocol::{Amount, WireTime};

/// Project details, once restored.
#[derive(Debug, Clone)]
pub struct Project {
    pub pcjname: String,
    pub pcjcode: String,
    pub biaoduanname: String,
    pub biaoduanno: String,
    pub zbr: String,
    pub zbrorgnum: String,
    pub areacode: String,
    pub city: String,
    pub poltime: WireTime,
    pub validtime: WireTime,
}

/// Everything printed on a guarantee.
#[derive(Debug, Clone)]
pub struct GuaranteeDoc {
    pub baohanno: String,
    pub applicant: String,
    pub applicant_code: String,
    pub amount: Amount,
    pub issuer: String,
    pub issuer_code: String,
    pub issued_at: WireTime,
    pub verify_code: String,
    pub verify_url: String,
    /// `None` for the cipher guarantee.
    pub project: Option<Project>,
}

/// Checks at start-up that a guarantee of this institution can be
/// printed: the embedded font has every character of its name and code and
/// of the fixed clause (a PDF/A refuses a missing glyph).
pub fn self_check(issuer: &str, issuer_code: &str) -> anyhow::Result<()> {
    let fixed = clause(&Amount::ZERO, &gw_documents::to_capital(&Amount::ZERO));
    gw_documents::check_font(&format!("{issuer}{issuer_code}{fixed}"))
        .context("institution.name or institution.code cannot be printed on a guarantee")
}

/// The pay-on-first-demand clause (见索即付).
pub fn clause(amount: &Amount, capital: &str) -> String {
    format!(
        "鉴于申请人参加上述招标项目的投标，应申请人的请求，我方愿就申请人履行招标文件规定的投标人义务，\
向受益人提供不可撤销的、见索即付的投标保证。在本保函有效期内，受益人以书面形式向我方提出索赔，\
并载明申请人出现招标文件规定的没收投标保证金情形的，我方在收到索赔通知后七个工作日内无条件支付，\
无需受益人提供其他证明，累计赔付金额不超过人民币{}元（大写：{}）。本保函自开标之日起生效，\
受益人的索赔通知须在保函有效期届满前送达我方。",
        amount.to_cents_string(),
        capital
    )
}

/// Renders a guarantee (PDF/A-2b); returns the PDF bytes.
pub fn render(doc: &GuaranteeDoc) -> anyhow::Result<Vec<u8>> {
    let title = format!("投标保函 {}", doc.baohanno);
    gw_documents::one_page(&title, doc.issued_at, |c| {
        c.frame();
        c.fill((0, 0, 0));
        c.centered(MARGIN + 22.0, 28.0, "投标保函");
        let kind = if doc.project.is_some() {
            "（还原保函）"
        } else {
            "（密文保函）"
        };
        c.centered(MARGIN + 50.0, 13.0, kind);
        let mut y = MARGIN + 86.0;
        y = c.field(y, "保函编号：", &doc.baohanno);
        c.rule(y - 12.0);
        y += 6.0;
        y = c.field(y, "申请人（投标人）：", &doc.applicant);
        y = c.field(y, "统一社会信用代码：", &doc.applicant_code);
        let capital = gw_documents::to_capital(&doc.amount);
        y = c.field(
            y,
            "担保金额：",
            &format!("人民币 {} 元", doc.amount.to_cents_string()),
        );
        y = c.field(y, "金额大写：", &format!("人民币{capital}"));
        match &doc.project {
            None => {
                y = c.field(y, "受益人（招标人）：", "开标前保密，开标前三十分钟还原");
                y = c.field(y, "招标项目：", "开标前保密，开标前三十分钟还原");
                y = c.field(y, "保证期间：", "自开标之日起至投标有效期届满后一日止");
            }
            Some(p) => {
                y = c.field(y, "受益人（招标人）：", &p.zbr);
                y = c.field(y, "招标人信用代码：", &p.zbrorgnum);
                y = c.field(y, "项目名称：", &format!("{}（{}）", p.pcjname, p.pcjcode));
                y = c.field(
                    y,
                    "标段名称：",
                    &format!("{}（{}）", p.biaoduanname, p.biaoduanno),
                );
                y = c.field(y, "项目地区：", &format!("{}（{}）", p.city, p.areacode));
                y = c.field(y, "开标时间（起保）：", &p.poltime.to_string());
                y = c.field(y, "保函有效期至：", &p.validtime.to_string());
            }
        }
        c.rule(y - 12.0);
        y += 8.0;
        y = c.paragraph(
            MARGIN + 8.0,
            y,
            11.5,
            &format!("　　{}", clause(&doc.amount, &capital)),
            PAGE_W - 2.0 * MARGIN - 16.0,
            19.0,
        );
        y += 10.0;
        y = c.field(y, "出具机构：", &doc.issuer);
        y = c.field(y, "机构信用代码：", &doc.issuer_code);
        y = c.field(y, "出具时间：", &doc.issued_at.to_string());
        let _ = c.field(y, "验证码：", &doc.verify_code);

        let qr_size = 110.0;
        let qr_y = PAGE_H - MARGIN - qr_size - 28.0;
        c.qr(&doc.verify_url, MARGIN, qr_y, qr_size)?;
        c.fill((0, 0, 0));
        c.text(
            MARGIN,
            qr_y + qr_size + 14.0,
            9.0,
            "扫码或访问验真页面，输入保函编号与验证码核验",
        );
        c.seal(
            PAGE_W - MARGIN - 90.0,
            qr_y + 40.0,
            62.0,
            &doc.issuer,
            "电子保函专用章",
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(project: Option<Project>) -> GuaranteeDoc {
        GuaranteeDoc {
            baohanno: "BH2025112800000001".into(),
            applicant: "湖南建工集团有限公司".into(),
            applicant_code: "914300001837644275".into(),
            amount: Amount::try_from("200000.00").unwrap(),
            issuer: "湖南某某融资担保有限公司".into(),
            issuer_code: "91430100MA4L0000X9".into(),
            issued_at: WireTime::try_from("2025-11-28 10:05:00").unwrap(),
            verify_code: "ABCD2345".into(),
            verify_url: "https://gw.example.com/verify?baohanno=BH2025112800000001&code=ABCD2345"
                .into(),
            project,
        }
    }

    #[test]
    fn a_cipher_guarantee_renders_as_a_pdf_a() {
        let pdf = render(&doc(None)).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("pdfaid:part") || text.contains("pdfaid"),
            "PDF/A identification in the XMP metadata"
        );
        assert!(pdf.len() > 1000);
        // The font is subset: far smaller than the 5 MB collection.
        assert!(pdf.len() < 600_000, "{} bytes", pdf.len());
    }

    #[test]
    fn the_start_up_check_passes_a_printable_institution_and_names_what_is_not() {
        self_check("湖南某某融资担保有限公司", "91430100MA4L0000X9").unwrap();
        let e = format!(
            "{:#}",
            self_check("湖南\u{1F3E6}融资担保有限公司", "91430100MA4L0000X9").unwrap_err()
        );
        assert!(
            e.contains("institution.name") && e.contains('\u{1F3E6}'),
            "{e}"
        );
    }

    /// The QR code printed on a guarantee, rasterised as a reader would
    /// see the page (poppler's `pdftoppm`, greyscale, 150 dpi), decodes to
    /// the verification address.
    #[test]
    fn the_qr_code_reads_back_as_the_verification_address() {
        let pdf = render(&doc(None)).unwrap();
        let dir = std::env::temp_dir().join(format!("gw-qr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("g.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let out = std::process::Command::new("pdftoppm")
            .args(["-r", "150", "-gray", "-singlefile"])
            .arg(&file)
            .arg(dir.join("page"))
            .status()
            .expect("pdftoppm (Debian poppler-utils) must be installed");
        assert!(out.success());
        let pgm = std::fs::read(dir.join("page.pgm")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // Binary PGM: "P5", width, height, max value, one byte per pixel.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while pgm[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !pgm[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8(pgm[start..at].to_vec()).unwrap());
        }
        let pixels = &pgm[at + 1..];
        assert_eq!(fields[0], "P5");
        let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        assert_eq!(pixels.len(), w * h);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code on the page");
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(
            content,
            "https://gw.example.com/verify?baohanno=BH2025112800000001&code=ABCD2345"
        );
    }
}
