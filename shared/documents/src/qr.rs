//! QR codes with the mask chosen by a penalty search that does not allocate.
//!
//! `qrcode::QrCode` scores each of the eight masks with iterator chains that
//! box a closure per module and allocate per row: about a sixth of a
//! guarantee's rendering time went there. This module builds the same
//! symbol through the crate's public parts (encoding, error correction,
//! placement, masking) and scores the masks on a flat array with the same
//! rules and the same tie-break, so the symbol is the one the crate would
//! have drawn (a test compares them module by module).

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::types::{Color, EcLevel, QrResult};

/// The masks in the order the crate tries them (the first lowest wins).
const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// A QR code: `width` modules a side, row by row, `true` for dark.
pub struct Symbol {
    pub width: usize,
    pub dark: Vec<bool>,
}

/// The QR code of `data` at error correction level `ec`.
pub fn encode(data: &[u8], ec: EcLevel) -> QrResult<Symbol> {
    let bits = qrcode::bits::encode_auto(data, ec)?;
    let version = bits.version();
    let (codewords, ec_codewords) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, ec)?;
    let mut canvas = Canvas::new(version, ec);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&codewords, &ec_codewords);
    let width = usize::try_from(version.width()).unwrap_or(0);
    let mut best: Option<(i64, Vec<bool>)> = None;
    for mask in MASKS {
        let mut c = canvas.clone();
        c.apply_mask(mask);
        let dark: Vec<bool> = c
            .into_colors()
            .into_iter()
            .map(|m| m == Color::Dark)
            .collect();
        let score = penalty(&dark, width);
        if best.as_ref().is_none_or(|(b, _)| score < *b) {
            best = Some((score, dark));
        }
    }
    let dark = best.map(|(_, d)| d).unwrap_or_default();
    Ok(Symbol { width, dark })
}

/// The penalty of a masked symbol (ISO/IEC 18004 §7.8.3, as the qrcode
/// crate reckons it): runs of five or more, 2×2 blocks, finder-like
/// patterns, and the dark/light balance. Lower is better.
fn penalty(dark: &[bool], w: usize) -> i64 {
    let at = |x: usize, y: usize| dark[y * w + x];
    let mut score = 0i64;
    // N1: a run of n ≥ 5 modules of one colour in a row or column: n - 2.
    for horizontal in [true, false] {
        for i in 0..w {
            let mut run = 1i64;
            for j in 1..=w {
                let same = j < w && {
                    let (a, b) = if horizontal {
                        (at(j, i), at(j - 1, i))
                    } else {
                        (at(i, j), at(i, j - 1))
                    };
                    a == b
                };
                if same {
                    run += 1;
                } else {
                    if run >= 5 {
                        score += run - 2;
                    }
                    run = 1;
                }
            }
        }
    }
    // N2: every 2×2 block of one colour (overlaps counted): 3.
    for y in 0..w.saturating_sub(1) {
        for x in 0..w.saturating_sub(1) {
            let c = at(x, y);
            if at(x + 1, y) == c && at(x, y + 1) == c && at(x + 1, y + 1) == c {
                score += 3;
            }
        }
    }
    // N3: dark-light-dark-dark-dark-light-dark with no dark module among
    // the four on either side: 40 (less the three finder patterns' own).
    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];
    for horizontal in [true, false] {
        let mut found = 0i64;
        for i in 0..w {
            let get = |k: usize| if horizontal { at(k, i) } else { at(i, k) };
            for j in 0..w.saturating_sub(6) {
                if (0..7).any(|k| get(j + k) != FINDER[k]) {
                    continue;
                }
                let before = (j.saturating_sub(4)..j).any(get);
                let after = (j + 7..(j + 11).min(w)).any(get);
                if !before || !after {
                    found += 40;
                }
            }
        }
        score += found - 360;
    }
    // N4: the deviation of the dark share from half.
    let n = dark.len().max(1);
    let ratio = i64::try_from(dark.iter().filter(|d| **d).count() * 200 / n).unwrap_or(0);
    score + (ratio - 100).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_symbol_is_the_one_the_qrcode_crate_draws() {
        for i in 0..300u32 {
            let url = format!(
                "https://guarantee.example.com/verify?baohanno=BH2026112900{i:04}&code={:08X}",
                i.wrapping_mul(2_654_435_761)
            );
            let ours = encode(url.as_bytes(), EcLevel::M).unwrap();
            let theirs =
                qrcode::QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M).unwrap();
            assert_eq!(ours.width, theirs.width(), "{url}");
            let theirs: Vec<bool> = theirs
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect();
            assert!(ours.dark == theirs, "a different symbol for {url}");
        }
    }

    #[test]
    fn data_too_long_for_any_version_is_an_error() {
        assert!(encode(&[b'x'; 4000], EcLevel::M).is_err());
    }
}
