//! Documents the gateway issues, drawn with krilla: the page (A4, PDF/A-2b,
//! archival), an embedded CJK font, text laid out by the font's advances and
//! wrapped by width, rules, a frame, QR codes and a drawn red seal.
//! Guarantees (issuance), invoices (invoice) and report summaries share them.
//!
//! The font (WenQuanYi Micro Hei, Apache-2.0) is compiled into the binary;
//! krilla embeds the subset of glyphs used, with a ToUnicode map, so the text
//! is real and searchable (`pdftotext` reads it).

pub mod capital;

use std::sync::OnceLock;

use anyhow::Context;
use gw_protocol::WireTime;
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};

pub use capital::to_capital;

mod qr;

static FONT_BYTES: &[u8] = include_bytes!("../assets/fonts/wqy-microhei.ttc");

pub const PAGE_W: f32 = 595.0;
pub const PAGE_H: f32 = 842.0;
pub const MARGIN: f32 = 64.0;
const SEAL_RED: (u8, u8, u8) = (200, 16, 32);

/// The font's tables for layout and coverage (widths, character map),
/// parsed once.
fn face() -> anyhow::Result<&'static ttf_parser::Face<'static>> {
    static FACE: OnceLock<Option<ttf_parser::Face<'static>>> = OnceLock::new();
    FACE.get_or_init(|| ttf_parser::Face::parse(FONT_BYTES, 0).ok())
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the embedded font cannot be read"))
}

/// The font for the PDF writer, with its layout tables; made once, at the
/// first document (not by [`check_font`]).
fn font() -> anyhow::Result<(&'static Font, &'static ttf_parser::Face<'static>)> {
    static FONT: OnceLock<Option<Font>> = OnceLock::new();
    let face = face()?;
    FONT.get_or_init(|| Font::new(krilla::Data::from(FONT_BYTES), 0))
        .as_ref()
        .map(|font| (font, face))
        .ok_or_else(|| anyhow::anyhow!("the embedded font cannot be read"))
}

/// Checks that the embedded font can be read and has a glyph for every
/// character of `text`, without drawing anything. A PDF/A refuses a missing
/// glyph, so a document holding such a character could not be issued; this
/// says so at start-up, naming the characters, for text known then (the
/// institution's name on every seal). It reads the font's tables and
/// character map only (not even the PDF writer's font): rendering a whole
/// page to check the same kept about 6 MB of the font and the PDF writer
/// resident in an idle service.
pub fn check_font(text: &str) -> anyhow::Result<()> {
    let face = face()?;
    let mut missing: Vec<char> = text
        .chars()
        .filter(|c| !c.is_control() && face.glyph_index(*c).is_none())
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing
        .iter()
        .map(|c| format!("U+{:04X} '{c}'", u32::from(*c)))
        .collect();
    anyhow::bail!("the embedded font has no glyph for {}", list.join(", "))
}

/// A page being drawn.
pub struct Canvas<'a, 'b> {
    surface: &'b mut Surface<'a>,
    font: Font,
    face: &'static ttf_parser::Face<'static>,
}

impl Canvas<'_, '_> {
    /// The glyph drawn for `c` and its advance in font units. A character
    /// the font lacks measures one em and would draw as `.notdef` (glyph 0),
    /// which PDF/A refuses: [`check_font`] names such characters at start-up.
    fn glyph(&self, c: char) -> (u16, u32) {
        let g = self.face.glyph_index(c);
        let advance = g
            .and_then(|g| self.face.glyph_hor_advance(g))
            .unwrap_or(self.face.units_per_em());
        (g.map_or(0, |g| g.0), u32::from(advance))
    }

    /// The width of `text` in font units: the sum of its advances.
    fn units(&self, text: &str) -> u32 {
        text.chars().map(|c| self.glyph(c).1).sum()
    }

    fn points(&self, units: u32, size: f32) -> f32 {
        // Exact: a line's units stay far below 2^24.
        units as f32 * size / f32::from(self.face.units_per_em())
    }

    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.points(self.units(text), size)
    }

    /// `text` as glyphs placed by their advances alone, each mapped back to
    /// its character (the PDF's ToUnicode map: the text stays searchable).
    ///
    /// The documents set Chinese, digits and Latin letters left to right,
    /// which need nothing from a shaper beyond the character map; krilla's
    /// `draw_text` ran rustybuzz (parsing the 5 MB font's tables again) for
    /// every line, about a tenth of a guarantee's rendering. Placing by
    /// advances also draws every line exactly as wide as
    /// [`Canvas::width`] measured it for wrapping and centring (the shaper
    /// applied the font's kerning, which the measurement did not).
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        let upem = f32::from(self.face.units_per_em());
        text.char_indices()
            .map(|(i, c)| {
                let (g, advance) = self.glyph(c);
                KrillaGlyph::new(
                    GlyphId::new(u32::from(g)),
                    advance as f32 / upem,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    pub fn fill(&mut self, (r, g, b): (u8, u8, u8)) {
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
    }

    /// Text whose baseline starts at (x, y).
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let glyphs = self.glyphs(text);
        self.surface.draw_glyphs(
            Point::from_xy(x, y),
            &glyphs,
            self.font.clone(),
            text,
            size,
            false,
        );
    }

    pub fn centered(&mut self, y: f32, size: f32, text: &str) {
        let x = (PAGE_W - self.width(text, size)) / 2.0;
        self.text(x, y, size, text);
    }

    /// Lines of at most `max` points wide, broken between characters
    /// (never inside a run of Latin letters or digits).
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        // The line's width is kept as it grows (each token measured once).
        let mut units = 0;
        for t in tokens(text) {
            let w = self.units(&t);
            if !line.is_empty() && self.points(units + w, size) > max {
                lines.push(std::mem::take(&mut line));
                units = 0;
            }
            line.push_str(&t);
            units += w;
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A paragraph starting at `y`; returns the `y` after it.
    pub fn paragraph(
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
    pub fn field(&mut self, y: f32, label: &str, value: &str) -> f32 {
        const SIZE: f32 = 12.0;
        let x = MARGIN + 8.0;
        self.text(x, y, SIZE, label);
        let vx = x + self.width(label, SIZE);
        self.paragraph(vx, y, SIZE, value, PAGE_W - MARGIN - 8.0 - vx, 20.0)
    }

    pub fn rule(&mut self, y: f32) {
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

    pub fn frame(&mut self) {
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
    pub fn qr(&mut self, url: &str, x: f32, y: f32, size: f32) -> anyhow::Result<()> {
        let code = qr::encode(url.as_bytes(), qrcode::EcLevel::M)
            .context("the verification URL does not fit a QR code")?;
        let n = code.width;
        let quiet = 2usize;
        let module = size / (n + 2 * quiet) as f32;
        let colors = code.dark;
        let mut pb = PathBuilder::new();
        // One rectangle per run of dark modules in a row, not one per
        // module: the same picture in about a third of the path (less to
        // draw, to write and to deflate for every guarantee).
        for (row, modules) in colors.chunks(n).enumerate() {
            let mut col = 0;
            while col < modules.len() {
                if !modules[col] {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < modules.len() && modules[col] {
                    col += 1;
                }
                if let Some(r) = Rect::from_xywh(
                    x + (start + quiet) as f32 * module,
                    y + (row + quiet) as f32 * module,
                    (col - start) as f32 * module,
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
    /// upper arc, a star in the middle, `label` (e.g. 电子保函专用章) below it.
    pub fn seal(&mut self, cx: f32, cy: f32, r: f32, issuer: &str, label: &str) {
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
        let ls = (r * 0.17).min(11.0);
        let w = self.width(label, ls);
        self.text(cx - w / 2.0, cy + r * 0.5, ls, label);
        self.fill((0, 0, 0));
    }
}

/// Where a line may break: each character is a token of its own, except
/// that a run of Latin letters, digits and dots stays one (an amount or a
/// number is never split).
fn tokens(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '.';
    let mut tokens: Vec<String> = Vec::new();
    for c in text.chars() {
        match tokens.last_mut() {
            Some(t) if word(c) && t.chars().last().is_some_and(word) => t.push(c),
            _ => tokens.push(c.to_string()),
        }
    }
    tokens
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

/// Draws one A4 page with `draw` and returns the PDF/A-2b bytes.
pub fn one_page(
    title: &str,
    created: WireTime,
    draw: impl FnOnce(&mut Canvas<'_, '_>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<u8>> {
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
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .language("zh-CN".to_owned())
            .creator("e-guarantee gateway".to_owned())
            .creation_date(creation_date(created)),
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
        c.fill((0, 0, 0));
        draw(&mut c)?;
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

    /// Runs `f` on a canvas of a throw-away page.
    fn on_canvas<R>(f: impl FnOnce(&Canvas<'_, '_>) -> R) -> R {
        let (font, face) = font().unwrap();
        let mut d = Document::new();
        let mut page = d.start_page_with(PageSettings::from_wh(PAGE_W, PAGE_H).unwrap());
        let mut surface = page.surface();
        let c = Canvas {
            surface: &mut surface,
            font: font.clone(),
            face,
        };
        f(&c)
    }

    const LONG: &str =
        "累计赔付金额不超过人民币123456789.00元（大写：壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元整）。";

    #[test]
    fn long_text_wraps_without_splitting_numbers() {
        on_canvas(|c| {
            let text = LONG.repeat(3);
            let lines = c.wrap(&text, 11.5, 300.0);
            assert!(lines.len() > 3);
            for l in &lines {
                assert!(c.width(l, 11.5) <= 300.0 + 12.0, "{l}");
            }
            assert!(
                lines.iter().any(|l| l.contains("123456789.00")),
                "the number stays whole"
            );
        });
    }

    #[test]
    fn wrapping_breaks_where_measuring_each_candidate_line_whole_does() {
        // The reference: measure the line with the next token added anew
        // for every token (what wrap did before it kept the width as the
        // line grew).
        fn reference(c: &Canvas<'_, '_>, text: &str, size: f32, max: f32) -> Vec<String> {
            let (mut lines, mut line) = (Vec::new(), String::new());
            for t in tokens(text) {
                if !line.is_empty() && c.width(&format!("{line}{t}"), size) > max {
                    lines.push(std::mem::take(&mut line));
                }
                line.push_str(&t);
            }
            lines.push(line);
            lines
        }
        on_canvas(|c| {
            let text = format!("{LONG}见索即付 No.2026-0001，保证期间自开标之日起{LONG}");
            for max in [40.0, 80.0, 150.0, 233.3, 300.0, 467.0, 1000.0] {
                assert_eq!(
                    c.wrap(&text, 11.5, max),
                    reference(c, &text, 11.5, max),
                    "{max}"
                );
            }
        });
    }

    #[test]
    fn glyphs_advance_exactly_as_far_as_the_text_measures() {
        on_canvas(|c| {
            let text = "人民币123,456.00元 No.A-1（见索即付）";
            let glyphs = c.glyphs(text);
            assert_eq!(glyphs.len(), text.chars().count());
            let drawn: f32 = glyphs.iter().map(|g| g.x_advance * 12.0).sum();
            assert!((drawn - c.width(text, 12.0)).abs() < 1e-3, "{drawn}");
            // Every glyph maps back to its own character, in order.
            let mut at = 0;
            for (g, ch) in glyphs.iter().zip(text.chars()) {
                assert_eq!(g.text_range, at..at + ch.len_utf8());
                assert_ne!(g.glyph_id.to_u32(), 0, "{ch} has a glyph");
                at = g.text_range.end;
            }
            assert_eq!(at, text.len());
        });
    }

    #[test]
    fn the_font_check_passes_text_the_font_covers() {
        check_font("湖南某某融资担保有限公司 91430100MA4L0000X9（见索即付）").unwrap();
    }

    #[test]
    fn the_font_check_names_the_characters_the_font_lacks() {
        // U+1F600 (an emoji) and U+E000 (private use) are in no CJK font.
        let e = check_font("湖南\u{1F600}担保\u{E000}\u{1F600}")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("no glyph for U+E000 '\u{E000}', U+1F600 '\u{1F600}'"),
            "{e}"
        );
    }

    #[test]
    fn a_page_is_a_pdf_a() {
        let pdf = one_page("t", WireTime::now(), |c| {
            c.frame();
            c.centered(100.0, 20.0, "标题");
            c.seal(300.0, 400.0, 60.0, "湖南某某融资担保有限公司", "发票专用章");
            Ok(())
        })
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(String::from_utf8_lossy(&pdf).contains("pdfaid"));
    }
}
