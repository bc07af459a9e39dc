//! Files.
//!
//! * [`FileStore`]: where the PDFs we issue live. [`DbFileStore`] (the
//!   default) keeps them in the database, so every replica serves every file;
//!   [`S3FileStore`] keeps the bytes in an S3-compatible bucket and the
//!   metadata in the database. Either way a file is found by an unguessable
//!   token (256 random bits) and never by a path.
//! * [`fetch::Fetcher`]: downloads a platform's file (`filelist[].fileurl`)
//!   from the counterpart's configured hosts only, decrypts and stores it.
//! * [`cpu::run`]: CPU-bound work on files (rendering, signing, SM4), at
//!   most a core's worth at once per core, below the priority of the
//!   process's other threads.

pub mod cpu;
pub mod fetch;

use std::sync::Arc;

use async_trait::async_trait;
use gw_config::{FileStoreKind, FilesSettings};
use gw_storage::files::FileRow;
use gw_storage::sea_orm::DatabaseTransaction;
use gw_storage::{Db, files};
use object_store::{ObjectStore, ObjectStoreExt};
use secrecy::ExposeSecret;

/// What a stored file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The cipher guarantee (密文保函).
    Guarantee,
    /// The restored guarantee (还原保函).
    RestoredGuarantee,
    Invoice,
    /// A file the platform sent (claim or logout evidence).
    Evidence,
    /// A business report (XLSX, CSV or PDF), for people, not the platform.
    Report,
}

impl FileKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            FileKind::Guarantee => "guarantee",
            FileKind::RestoredGuarantee => "restored_guarantee",
            FileKind::Invoice => "invoice",
            FileKind::Evidence => "evidence",
            FileKind::Report => "report",
        }
    }
}

/// A file to store.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub kind: FileKind,
    pub applyno: Option<String>,
    /// Whose key encrypts its download.
    pub counterpart: String,
    pub content_type: String,
}

/// A file's bytes and their SM3 digest, computed once, where the bytes are
/// made: issuance signs the same digest the file's row records, so a
/// guarantee is hashed once (hashing a PDF takes about a quarter of a
/// millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    bytes: Vec<u8>,
    sm3: [u8; 32],
}

impl Content {
    pub fn new(bytes: Vec<u8>) -> Self {
        let sm3 = gw_envelope::sign::sm3_digest(&bytes);
        Self { bytes, sm3 }
    }

    /// SM3 of the bytes.
    pub fn digest(&self) -> &[u8; 32] {
        &self.sm3
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub token: String,
    pub size: u64,
    /// SM3 of the clear bytes, lowercase hex.
    pub sm3: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("file database error: {0}")]
    Db(#[from] gw_storage::sea_orm::DbErr),
    #[error("object store error: {0}")]
    Object(String),
    #[error("file store configuration: {0}")]
    Config(String),
}

/// A file uploaded and not yet recorded: [`FileStore::record`] makes it
/// known in the caller's transaction.
#[derive(Debug)]
pub struct Staged {
    row: FileRow,
}

impl Staged {
    pub fn token(&self) -> &str {
        &self.row.token
    }

    /// The SM3 the row records, in hex.
    pub fn sm3(&self) -> &str {
        &self.row.sm3
    }
}

/// Where issued files live.
///
/// Storing is two steps, so that no transaction is ever held open across a
/// network upload: [`upload`](FileStore::upload) before the transaction
/// (the object goes to the bucket; for the database store, nothing leaves
/// yet), then [`record`](FileStore::record) inside it: the metadata row
/// joins the caller's transaction, so a notice written in the same
/// transaction can only leave once the file is committed. An upload whose
/// transaction rolls back leaves an object no row names: never served.
#[async_trait]
pub trait FileStore: Send + Sync {
    /// Step 1, outside any transaction.
    async fn upload(&self, file: NewFile, content: Content) -> Result<Staged, FileError>;
    /// Step 2, in the caller's transaction: the row (with the bytes, for
    /// the database store).
    async fn record(
        &self,
        txn: &DatabaseTransaction,
        staged: Staged,
    ) -> Result<StoredFile, FileError> {
        let stored = stored_of(&staged.row);
        files::insert(txn, staged.row).await?;
        Ok(stored)
    }
    /// The file and its clear bytes, if the token is known.
    async fn get(&self, token: &str) -> Result<Option<(FileRow, Vec<u8>)>, FileError>;
}

/// A fresh download token: 256 random bits as 64 lowercase hex digits.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether `s` has the shape of a token. Anything else is refused before any
/// lookup, so no path or pattern from a URL ever reaches storage.
pub fn is_token(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The row of `content` (its bytes not yet in it).
fn row(file: NewFile, token: &str, content: &Content, storage: &str) -> FileRow {
    FileRow {
        token: token.to_owned(),
        kind: file.kind.as_str().to_owned(),
        applyno: file.applyno,
        counterpart: file.counterpart,
        content_type: file.content_type,
        size_bytes: i64::try_from(content.bytes.len()).unwrap_or(i64::MAX),
        sm3: hex::encode(content.sm3),
        storage: storage.to_owned(),
        bytes: None,
        created_at: chrono::Utc::now(),
    }
}

fn stored_of(r: &FileRow) -> StoredFile {
    StoredFile {
        token: r.token.clone(),
        size: u64::try_from(r.size_bytes).unwrap_or(0),
        sm3: r.sm3.clone(),
    }
}

/// Files in the database (the default).
#[derive(Clone, Debug)]
pub struct DbFileStore {
    db: Db,
}

impl DbFileStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl FileStore for DbFileStore {
    async fn upload(&self, file: NewFile, content: Content) -> Result<Staged, FileError> {
        let token = new_token();
        let r = row(file, &token, &content, "database");
        Ok(Staged {
            row: FileRow {
                bytes: Some(content.bytes),
                ..r
            },
        })
    }

    async fn get(&self, token: &str) -> Result<Option<(FileRow, Vec<u8>)>, FileError> {
        if !is_token(token) {
            return Ok(None);
        }
        Ok(files::find(self.db.conn(), token)
            .await?
            .and_then(|mut r| r.bytes.take().map(|b| (r, b))))
    }
}

/// Bytes in an S3-compatible bucket, metadata in the database.
pub struct S3FileStore {
    db: Db,
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl std::fmt::Debug for S3FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3FileStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl S3FileStore {
    pub fn new(db: Db, store: Arc<dyn ObjectStore>, prefix: String) -> Self {
        Self { db, store, prefix }
    }

    fn path(&self, token: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}{token}", self.prefix))
    }
}

#[async_trait]
impl FileStore for S3FileStore {
    async fn upload(&self, file: NewFile, content: Content) -> Result<Staged, FileError> {
        let token = new_token();
        let r = row(file, &token, &content, "s3");
        // The object first: once the row commits, the file is downloadable.
        self.store
            .put(&self.path(&token), content.bytes.into())
            .await
            .map_err(|e| FileError::Object(e.to_string()))?;
        Ok(Staged { row: r })
    }

    async fn get(&self, token: &str) -> Result<Option<(FileRow, Vec<u8>)>, FileError> {
        if !is_token(token) {
            return Ok(None);
        }
        let Some(r) = files::find(self.db.conn(), token).await? else {
            return Ok(None);
        };
        let got = self
            .store
            .get(&self.path(token))
            .await
            .map_err(|e| FileError::Object(e.to_string()))?;
        let bytes = got
            .bytes()
            .await
            .map_err(|e| FileError::Object(e.to_string()))?;
        Ok(Some((r, bytes.to_vec())))
    }
}

/// The store `files.store` selects. Every service that works on files
/// opens its store here, which also gives the CPU threads their nice value
/// (`files.cpu_nice`, [`cpu::set_nice`]).
pub fn from_settings(settings: &FilesSettings, db: Db) -> Result<Arc<dyn FileStore>, FileError> {
    cpu::set_nice(settings.cpu_nice);
    match settings.store {
        FileStoreKind::Database => Ok(Arc::new(DbFileStore::new(db))),
        FileStoreKind::S3 => {
            let s3 = settings
                .s3
                .as_ref()
                .ok_or_else(|| FileError::Config("files.s3 is missing".into()))?;
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(&s3.bucket)
                .with_region(&s3.region)
                .with_allow_http(s3.allow_http);
            if let Some(e) = &s3.endpoint {
                b = b.with_endpoint(e);
            }
            if let Some(k) = &s3.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &s3.secret_access_key {
                b = b.with_secret_access_key(k.expose_secret());
            }
            let store = b.build().map_err(|e| FileError::Config(e.to_string()))?;
            Ok(Arc::new(S3FileStore::new(
                db,
                Arc::new(store),
                s3.prefix.clone(),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_carries_the_sm3_of_its_bytes_and_the_row_records_it() {
        // GB/T 32905 example 1.
        let c = Content::new(b"abc".to_vec());
        assert_eq!(
            hex::encode(c.digest()),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(c.bytes(), b"abc");
        let file = NewFile {
            kind: FileKind::Guarantee,
            applyno: None,
            counterpart: "hunan".into(),
            content_type: "application/pdf".into(),
        };
        let r = row(file, &new_token(), &c, "database");
        assert_eq!(r.sm3, hex::encode(c.digest()));
        assert_eq!(r.size_bytes, 3);
    }

    #[test]
    fn tokens_are_256_random_bits_in_hex() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 64);
        assert!(is_token(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn only_the_token_shape_is_accepted() {
        for bad in [
            "",
            "../etc/passwd",
            "..%2f..%2f",
            &"A".repeat(64),
            &"g".repeat(64),
            &"a".repeat(63),
        ] {
            assert!(!is_token(bad), "{bad}");
        }
    }
}
