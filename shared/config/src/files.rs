//! `[files]`: where issued files live, and how platform files are fetched.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Problems;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStoreKind {
    /// In the database: every replica can serve every file.
    Database,
    /// In an S3-compatible bucket (`files.s3`).
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSettings {
    pub store: FileStoreKind,
    /// Largest file fetched from a platform.
    pub max_fetch_bytes: u64,
    #[serde(with = "humantime_serde")]
    pub fetch_timeout: Duration,
    /// Attempts of a platform file download before it is reported failed.
    pub fetch_attempts: u32,
    /// How much lower than the process's other threads its CPU-bound file
    /// work (rendering, signing, SM4 over downloads) runs: a nice value,
    /// 0 (the same) to 19. The first value a process sets is its own.
    pub cpu_nice: i32,
    #[serde(default)]
    pub s3: Option<S3Settings>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// For S3-compatible stores (MinIO, OSS, COS); none for AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<SecretString>,
    #[serde(default)]
    pub allow_http: bool,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl FilesSettings {
    pub(crate) fn check(&self, p: &mut Problems) {
        if self.fetch_attempts == 0 || self.max_fetch_bytes == 0 {
            p.push(
                "files.fetch_attempts and files.max_fetch_bytes",
                "must be at least 1",
            );
        }
        if !(0..=19).contains(&self.cpu_nice) {
            p.push("files.cpu_nice", "must be a nice value from 0 to 19");
        }
        if self.store == FileStoreKind::S3 && self.s3.as_ref().is_none_or(|s| s.bucket.is_empty()) {
            p.push("files.s3.bucket", "required when files.store = \"s3\"");
        }
    }
}
