//! A PDF's text and first page as an image, through poppler's `pdftotext`
//! and `pdftoppm` (Debian `poppler-utils`), as a person at the platform
//! would open the file.

use tokio::process::Command;

/// Writes `bytes` to a fresh temporary file; its path (removed on drop).
struct TempPdf(std::path::PathBuf);

impl TempPdf {
    fn new(bytes: &[u8]) -> Result<Self, String> {
        let n: u64 = rand::random();
        let path = std::env::temp_dir().join(format!("sandbox-{n:016x}.pdf"));
        std::fs::write(&path, bytes).map_err(|e| format!("temporary file: {e}"))?;
        Ok(Self(path))
    }
}

impl Drop for TempPdf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn missing(tool: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{tool} is not installed (Debian: apt-get install poppler-utils)")
    } else {
        format!("{tool}: {e}")
    }
}

/// The text of a PDF (`pdftotext -layout`).
pub async fn text(bytes: &[u8]) -> Result<String, String> {
    let file = TempPdf::new(bytes)?;
    let out = Command::new("pdftotext")
        .arg("-layout")
        .arg(&file.0)
        .arg("-")
        .output()
        .await
        .map_err(|e| missing("pdftotext", e))?;
    if !out.status.success() {
        return Err(format!(
            "pdftotext: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first page as PNG at `dpi` (`pdftoppm -png -singlefile`).
pub async fn first_page_png(bytes: &[u8], dpi: u32) -> Result<Vec<u8>, String> {
    let file = TempPdf::new(bytes)?;
    let out = Command::new("pdftoppm")
        .args(["-png", "-singlefile", "-r", &dpi.to_string()])
        // No output root: the image goes to standard output.
        .arg(&file.0)
        .output()
        .await
        .map_err(|e| missing("pdftoppm", e))?;
    if !out.status.success() || !out.stdout.starts_with(b"\x89PNG") {
        return Err(format!(
            "pdftoppm: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}
