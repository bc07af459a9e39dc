//! Guarantee PDFs, drawn with krilla.
//!
//! The CJK font (WenQuanYi Micro Hei) is compiled into the binary; krilla
//! embeds the subset of glyphs used, with a ToUnicode map, so the text is
//! real and searchable. The PDFs are PDF/A-2b (krilla validates
//! them). Lines are laid out here: widths come from the font's
//! advances (`ttf-parser`), long clauses are wrapped by width.
//!
//! A **cipher guarantee** withholds the project and the tenderer (they are
//! secret until bid opening); a **restored guarantee** names them, with the
//! validity. Both carry the number, the applicant, the amount in figures and
//! in capitals, the issuer, the issue time, the pay-on-first-demand clause,
//! the verification code, a QR code of the verification URL and a drawn red
//! seal with the issuer's name around it.

use std::sync::OnceLock;

use anyhow::Context;
use gw_protocol::{Amount, WireTime};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};

static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/wqy-microhei.ttc");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 64.0;
const SEAL_RED: (u8, u8, u8) = (200, 16, 32);

/// The font, parsed once.
fn font() -> anyhow::Result<&'static (Font, ttf_parser::Face<'static>)> {
    static FONT: OnceLock<Option<(Font, ttf_parser::Face<'static>)>> = OnceLock::new();
    FONT.get_or_init(|| {
        let font = Font::new(krilla::Data::from(FONT_BYTES), 0)?;
        let face = ttf_parser::Face::parse(FONT_BYTES, 0).ok()?;
        Some((font, face))
    })
    .as_ref()
    .ok_or_else(|| anyhow::anyhow!("the embedded font cannot be read"))
}

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

/// Renders a throw-away guarantee: the font and the PDF writer work.
pub fn self_check(issuer: &str, issuer_code: &str) -> anyhow::Result<()> {
    render(&GuaranteeDoc {
        baohanno: "BH0".into(),
        applicant: "自检".into(),
        applicant_code: "0".into(),
        amount: Amount::ZERO,
        issuer: issuer.to_owned(),
        issuer_code: issuer_code.to_owned(),
        issued_at: WireTime::now(),
        verify_code: "0".into(),
        verify_url: "http://127.0.0.1/verify".into(),
        project: None,
    })
    .map(|_| ())
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

struct Canvas<'a, 'b> {
    surface: &'b mut Surface<'a>,
    font: Font,
    face: &'static ttf_parser::Face<'static>,
}

impl Canvas<'_, '_> {
    fn width(&self, text: &str, size: f32) -> f32 {
        let upem = f32::from(self.face.units_per_em());
        let units: f32 = text
            .chars()
            .map(|c| {
                self.face
                    .glyph_index(c)
                    .and_then(|g| self.face.glyph_hor_advance(g))
                    .map(f32::from)
                    .unwrap_or(upem)
            })
            .sum();
        units * size / upem
    }

    fn fill(&mut self, (r, g, b): (u8, u8, u8)) {
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
    }

    /// Text whose baseline starts at (x, y).
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.surface.draw_text(
            Point::from_xy(x, y),
            self.font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    fn centered(&mut self, y: f32, size: f32, text: &str) {
        let x = (PAGE_W - self.width(text, size)) / 2.0;
        self.text(x, y, size, text);
    }

    /// Lines of at most `max` points wide, broken between characters
    /// (never inside a run of Latin letters or digits).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        let mut tokens: Vec<String> = Vec::new();
        for c in text.chars() {
            let ascii_word = c.is_ascii_alphanumeric() || c == '.';
            match tokens.last_mut() {
                Some(t)
                    if ascii_word
                        && t.chars()
                            .last()
                            .is_some_and(|l| l.is_ascii_alphanumeric() || l == '.') =>
                {
                    t.push(c)
                }
                _ => tokens.push(c.to_string()),
            }
        }
        for t in tokens {
            if !line.is_empty() && self.width(&format!("{line}{t}"), size) > max {
                lines.push(std::mem::take(&mut line));
            }
            line.push_str(&t);
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A paragraph starting at `y`; returns the `y` after it.
    fn paragraph(
        &mut self,
        x: f32,
        mut y: f32,
        size: f32,
        text: &str,
        max: f32,
        leading: f32,
    ) -> f32 {
        for line in self.wrap(text, size, max) {
            self.text(x, y, size, &line);
            y += leading;
        }
        y
    }

    /// A label and its value, the value wrapped under the label's end.
    fn field(&mut self, y: f32, label: &str, value: &str) -> f32 {
        const SIZE: f32 = 12.0;
        let x = MARGIN + 8.0;
        self.text(x, y, SIZE, label);
        let vx = x + self.width(label, SIZE);
        self.paragraph(vx, y, SIZE, value, PAGE_W - MARGIN - 8.0 - vx, 20.0)
    }

    fn rule(&mut self, y: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(MARGIN, y);
        pb.line_to(PAGE_W - MARGIN, y);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(120, 120, 120).into(),
                width: 0.6,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    fn frame(&mut self) {
        let mut pb = PathBuilder::new();
        if let Some(r) = Rect::from_xywh(
            MARGIN - 24.0,
            MARGIN - 30.0,
            PAGE_W - 2.0 * (MARGIN - 24.0),
            PAGE_H - 2.0 * (MARGIN - 30.0),
        ) {
            pb.push_rect(r);
        }
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(60, 60, 60).into(),
                width: 1.2,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }

    /// The QR code of `url`, `size` points wide, top-left at (x, y).
    fn qr(&mut self, url: &str, x: f32, y: f32, size: f32) -> anyhow::Result<()> {
        let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
            .context("the verification URL does not fit a QR code")?;
        let n = code.width();
        let quiet = 2usize;
        let module = size / (n + 2 * quiet) as f32;
        let colors = code.to_colors();
        let mut pb = PathBuilder::new();
        for (i, c) in colors.iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (cx, cy) = (i % n + quiet, i / n + quiet);
                if let Some(r) = Rect::from_xywh(
                    x + cx as f32 * module,
                    y + cy as f32 * module,
                    module,
                    module,
                ) {
                    pb.push_rect(r);
                }
            }
        }
        if let Some(path) = pb.finish() {
            self.fill((0, 0, 0));
            self.surface.draw_path(&path);
        }
        Ok(())
    }

    /// A red round seal centred at (cx, cy): the issuer's name along the
    /// upper arc, a star in the middle, 电子保函专用章 below it.
    fn seal(&mut self, cx: f32, cy: f32, r: f32, issuer: &str) {
        let red = rgb::Color::new(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2);
        let mut pb = PathBuilder::new();
        circle(&mut pb, cx, cy, r);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                paint: red.into(),
                width: 3.0,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
        let mut star = PathBuilder::new();
        let (outer, inner) = (r * 0.22, r * 0.09);
        for i in 0..10 {
            let rad = if i % 2 == 0 { outer } else { inner };
            let a = (-90.0 + 36.0 * i as f32).to_radians();
            let (px, py) = (cx + rad * a.cos(), cy + rad * a.sin());
            if i == 0 {
                star.move_to(px, py);
            } else {
                star.line_to(px, py);
            }
        }
        star.close();
        self.fill(SEAL_RED);
        if let Some(path) = star.finish() {
            self.surface.draw_path(&path);
        }
        let chars: Vec<char> = issuer.chars().collect();
        let size = (r * 0.26).min(15.0);
        let spread = (chars.len() as f32 * 22.0).min(250.0);
        for (i, c) in chars.iter().enumerate() {
            let angle = if chars.len() == 1 {
                0.0
            } else {
                -spread / 2.0 + spread * i as f32 / (chars.len() - 1) as f32
            };
            let s = c.to_string();
            let w = self.width(&s, size);
            self.surface
                .push_transform(&Transform::from_rotate_at(angle, cx, cy));
            self.text(cx - w / 2.0, cy - r + size + 5.0, size, &s);
            self.surface.pop();
        }
        let label = "电子保函专用章";
        let ls = (r * 0.17).min(11.0);
        let w = self.width(label, ls);
        self.text(cx - w / 2.0, cy + r * 0.5, ls, label);
        self.fill((0, 0, 0));
    }
}

/// Four cubic arcs approximating a circle.
fn circle(pb: &mut PathBuilder, cx: f32, cy: f32, r: f32) {
    const K: f32 = 0.552_284_8;
    let k = K * r;
    pb.move_to(cx + r, cy);
    pb.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    pb.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    pb.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    pb.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    pb.close();
}

fn creation_date(t: WireTime) -> krilla::metadata::DateTime {
    use chrono::{Datelike, Timelike};
    let c = t.cst();
    krilla::metadata::DateTime::new(u16::try_from(c.year()).unwrap_or(2000))
        .month(u8::try_from(c.month()).unwrap_or(1))
        .day(u8::try_from(c.day()).unwrap_or(1))
        .hour(u8::try_from(c.hour()).unwrap_or(0))
        .minute(u8::try_from(c.minute()).unwrap_or(0))
        .second(u8::try_from(c.second()).unwrap_or(0))
        .utc_offset_hour(8)
}

/// Renders a guarantee (PDF/A-2b); returns the PDF bytes.
pub fn render(doc: &GuaranteeDoc) -> anyhow::Result<Vec<u8>> {
    let (font, face) = font()?;
    // PDF/A-2b: an archival document, every font embedded, device-independent colour.
    let configuration = krilla::configure::ConfigurationBuilder::new()
        .with_archival_validator(krilla::configure::Archival::A2_B)
        .finish()
        .map_err(|e| anyhow::anyhow!("PDF/A configuration: {e:?}"))?;
    let mut document = Document::new_with(krilla::SerializeSettings {
        configuration,
        ..Default::default()
    });
    let title = format!("投标保函 {}", doc.baohanno);
    document.set_metadata(
        Metadata::new()
            .title(title)
            .language("zh-CN".to_owned())
            .creator("e-guarantee gateway".to_owned())
            .creation_date(creation_date(doc.issued_at)),
    );
    let settings =
        PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| anyhow::anyhow!("page size"))?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    {
        let mut c = Canvas {
            surface: &mut surface,
            font: font.clone(),
            face,
        };
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
        let capital = crate::capital::to_capital(&doc.amount);
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
        c.seal(PAGE_W - MARGIN - 90.0, qr_y + 40.0, 62.0, &doc.issuer);
    }
    surface.finish();
    page.finish();
    document
        .finish()
        .map_err(|e| anyhow::anyhow!("PDF serialisation failed: {e:?}"))
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
    fn long_text_wraps_without_splitting_numbers() {
        let (font, face) = font().unwrap();
        let mut d = Document::new();
        let mut page = d.start_page_with(PageSettings::from_wh(PAGE_W, PAGE_H).unwrap());
        let mut surface = page.surface();
        let c = Canvas {
            surface: &mut surface,
            font: font.clone(),
            face,
        };
        let lines = c.wrap(
            &clause(&Amount::try_from("123456789.00").unwrap(), "壹亿"),
            11.5,
            300.0,
        );
        assert!(lines.len() > 3);
        assert!(
            lines.iter().any(|l| l.contains("123456789.00")),
            "{lines:?}"
        );
        for l in &lines {
            assert!(c.width(l, 11.5) <= 300.0 + 12.0, "{l}");
        }
    }
}
