//! The SM4 envelope of the Hunan e-guarantee interface, byte-compatible with
//! Hutool's `SmUtil.sm4(key)`.
//!
//! * Messages are SM4-ECB with PKCS#7 padding; ciphertext leaves as lowercase
//!   hex ([`Sm4Key::encrypt_hex`]).
//! * Decryption accepts everything Hutool's `decryptStr` accepts: hex in
//!   either case, or Base64 (hex wins when a string is both), with
//!   surrounding whitespace ignored ([`Sm4Key::decrypt_text`]). Inbound HTTP
//!   bodies may also arrive JSON-quoted or as `{"data": "..."}`
//!   ([`Sm4Key::decrypt_body`]).
//! * Files are the raw bytes, encrypted the same way, carried as raw binary
//!   ([`Sm4Key::encrypt_bytes`], [`StreamEncryptor`]).
//!
//! A key is built once, from the 16-character appsecret, at start-up: any other
//! length is refused there ([`KeyError`]), never at request time.
//!
//! [`sign`] adds the SM3-HMAC request signature that our outbound notices carry.

use base64::Engine as _;
use ecb::cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit,
    block_padding::Pkcs7, common::InnerInit,
};
use sm4::Sm4;

pub mod sign;
mod stream;

pub use stream::{StreamDecryptor, StreamEncryptor};

/// SM4 block size in bytes.
pub const BLOCK: usize = 16;

/// The appsecret could not become a key. Raised at start-up only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Hutool refuses anything but 16 characters, and the key is the UTF-8
    /// bytes of those characters, so only 16 single-byte characters fit.
    #[error(
        "appsecret must be exactly 16 ASCII characters (16 bytes as UTF-8); got {chars} characters, {bytes} bytes"
    )]
    WrongLength { chars: usize, bytes: usize },
}

/// Why a ciphertext could not be opened. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("the ciphertext is empty")]
    Empty,
    #[error("the ciphertext is neither hex nor Base64")]
    NotHexOrBase64,
    #[error("the body is not a ciphertext, a JSON string or {{\"data\": ...}}")]
    BadWrapper,
    #[error("the ciphertext is {0} bytes, not a positive multiple of 16")]
    BadLength(usize),
    /// The usual symptom of a wrong key or a damaged ciphertext.
    #[error("the PKCS#7 padding is invalid (wrong key or damaged ciphertext)")]
    BadPadding,
    #[error("the plaintext is not UTF-8 (wrong key or damaged ciphertext)")]
    NotUtf8,
}

/// An SM4 key expanded once from an appsecret. Cheap to clone; the round keys
/// are never printed.
#[derive(Clone)]
pub struct Sm4Key {
    cipher: Sm4,
}

impl std::fmt::Debug for Sm4Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sm4Key(<redacted>)")
    }
}

impl Sm4Key {
    /// Builds the key from the appsecret the platform issued.
    pub fn from_appsecret(appsecret: &str) -> Result<Self, KeyError> {
        let bytes = appsecret.as_bytes();
        let chars = appsecret.chars().count();
        if bytes.len() != BLOCK || chars != BLOCK {
            return Err(KeyError::WrongLength {
                chars,
                bytes: bytes.len(),
            });
        }
        let mut key = [0u8; BLOCK];
        key.copy_from_slice(bytes);
        Ok(Self::from_raw(key))
    }

    /// Builds the key from 16 raw bytes (test vectors, not appsecrets).
    pub fn from_raw(key: [u8; BLOCK]) -> Self {
        Self {
            cipher: Sm4::new(&key.into()),
        }
    }

    pub(crate) fn cipher(&self) -> &Sm4 {
        &self.cipher
    }

    /// Encrypts bytes with PKCS#7 padding. The output is `len + 16 - len % 16`
    /// bytes long.
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        ecb::Encryptor::<Sm4>::inner_init(self.cipher.clone())
            .encrypt_padded_vec::<Pkcs7>(plaintext)
    }

    /// Decrypts bytes and strips PKCS#7 padding.
    pub fn decrypt_bytes(&self, ciphertext: &[u8]) -> Result<Vec<u8>, DecryptError> {
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(BLOCK) {
            return Err(DecryptError::BadLength(ciphertext.len()));
        }
        ecb::Decryptor::<Sm4>::inner_init(self.cipher.clone())
            .decrypt_padded_vec::<Pkcs7>(ciphertext)
            .map_err(|_| DecryptError::BadPadding)
    }

    /// Hutool `encryptHex(s, UTF_8)`: lowercase hex of the ciphertext.
    pub fn encrypt_hex(&self, plaintext: &str) -> String {
        hex::encode(self.encrypt_bytes(plaintext.as_bytes()))
    }

    /// Hutool `decryptStr(s, UTF_8)`: hex (either case) or Base64, trimmed.
    pub fn decrypt_text(&self, ciphertext: &str) -> Result<String, DecryptError> {
        let raw = decode_text(ciphertext)?;
        let plain = self.decrypt_bytes(&raw)?;
        String::from_utf8(plain).map_err(|_| DecryptError::NotUtf8)
    }

    /// Opens an inbound HTTP body: a bare ciphertext, the same string
    /// JSON-quoted, or a JSON object `{"data": "<ciphertext>"}`.
    pub fn decrypt_body(&self, body: &[u8]) -> Result<String, DecryptError> {
        let text = unwrap_body(body)?;
        self.decrypt_text(&text)
    }

    /// Encrypts one 16-byte block with no padding (the GB/T 32907 vector).
    pub fn encrypt_block(&self, block: [u8; BLOCK]) -> [u8; BLOCK] {
        let mut b = block.into();
        self.cipher.encrypt_block(&mut b);
        b.into()
    }

    /// Decrypts one 16-byte block with no padding.
    pub fn decrypt_block(&self, block: [u8; BLOCK]) -> [u8; BLOCK] {
        let mut b = block.into();
        self.cipher.decrypt_block(&mut b);
        b.into()
    }
}

/// Extracts the ciphertext string from an inbound body, whichever of the three
/// accepted forms it has.
pub fn unwrap_body(body: &[u8]) -> Result<String, DecryptError> {
    let text = std::str::from_utf8(body).map_err(|_| DecryptError::BadWrapper)?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DecryptError::Empty);
    }
    match trimmed.as_bytes()[0] {
        b'"' => match serde_json::from_str::<String>(trimmed) {
            Ok(s) => Ok(s),
            Err(_) => Err(DecryptError::BadWrapper),
        },
        b'{' => {
            let value: serde_json::Value =
                serde_json::from_str(trimmed).map_err(|_| DecryptError::BadWrapper)?;
            match value.get("data") {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                _ => Err(DecryptError::BadWrapper),
            }
        }
        _ => Ok(trimmed.to_owned()),
    }
}

/// Hutool `SecureUtil.decode`: hex when every character is a hex digit,
/// otherwise Base64 (standard or URL-safe, padded or not).
fn decode_text(ciphertext: &str) -> Result<Vec<u8>, DecryptError> {
    let s = ciphertext.trim();
    if s.is_empty() {
        return Err(DecryptError::Empty);
    }
    if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(s).map_err(|_| DecryptError::NotHexOrBase64);
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(s).ok())
        .ok_or(DecryptError::NotHexOrBase64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        standard_block_vector: BlockVector,
        appsecret: String,
        messages: Vec<MessageVector>,
        file_stream: FileVector,
    }
    #[derive(serde::Deserialize)]
    struct BlockVector {
        key_hex: String,
        plaintext_hex: String,
        ciphertext_hex: String,
    }
    #[derive(serde::Deserialize)]
    struct MessageVector {
        name: String,
        plaintext: String,
        ciphertext_hex: String,
        ciphertext_hex_upper: String,
        ciphertext_base64: String,
    }
    #[derive(serde::Deserialize)]
    struct FileVector {
        plaintext_hex: String,
        ciphertext_hex: String,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../tests/data/sm4-vectors.json")).unwrap()
    }

    fn key() -> Sm4Key {
        Sm4Key::from_appsecret(&vectors().appsecret).unwrap()
    }

    fn block16(h: &str) -> [u8; 16] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn gbt_32907_single_block() {
        let v = vectors().standard_block_vector;
        let key = Sm4Key::from_raw(block16(&v.key_hex));
        let ct = key.encrypt_block(block16(&v.plaintext_hex));
        assert_eq!(hex::encode(ct), v.ciphertext_hex);
        assert_eq!(key.decrypt_block(ct), block16(&v.plaintext_hex));
    }

    #[test]
    fn every_message_vector_encrypts_to_lowercase_hex() {
        let key = key();
        for m in vectors().messages {
            assert_eq!(
                key.encrypt_hex(&m.plaintext),
                m.ciphertext_hex,
                "{}",
                m.name
            );
        }
    }

    #[test]
    fn every_message_vector_decrypts_from_lower_upper_and_base64() {
        let key = key();
        for m in vectors().messages {
            for form in [
                &m.ciphertext_hex,
                &m.ciphertext_hex_upper,
                &m.ciphertext_base64,
            ] {
                assert_eq!(key.decrypt_text(form).unwrap(), m.plaintext, "{}", m.name);
            }
        }
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let key = key();
        let m = &vectors().messages[3];
        let padded = format!(" \r\n\t{}\n ", m.ciphertext_hex);
        assert_eq!(key.decrypt_text(&padded).unwrap(), m.plaintext);
    }

    #[test]
    fn body_forms_bare_quoted_and_data_object() {
        let key = key();
        let m = &vectors().messages[3];
        let bare = m.ciphertext_hex.clone();
        let quoted = format!("\"{}\"", m.ciphertext_hex_upper);
        let object = format!("{{\"data\": \"{}\"}}", m.ciphertext_base64);
        for body in [bare, quoted, object] {
            assert_eq!(key.decrypt_body(body.as_bytes()).unwrap(), m.plaintext);
        }
    }

    #[test]
    fn file_stream_vector_raw_bytes() {
        let key = key();
        let f = vectors().file_stream;
        let plain = hex::decode(&f.plaintext_hex).unwrap();
        let cipher = hex::decode(&f.ciphertext_hex).unwrap();
        assert_eq!(plain.len(), 1000);
        assert_eq!(cipher.len(), 1008);
        assert_eq!(key.encrypt_bytes(&plain), cipher);
        assert_eq!(key.decrypt_bytes(&cipher).unwrap(), plain);
    }

    #[test]
    fn file_stream_vector_through_the_streaming_api_in_odd_chunks() {
        let key = key();
        let f = vectors().file_stream;
        let plain = hex::decode(&f.plaintext_hex).unwrap();
        let cipher = hex::decode(&f.ciphertext_hex).unwrap();
        for chunk in [1usize, 7, 16, 33, 999, 4096] {
            let mut enc = StreamEncryptor::new(&key);
            let mut out = Vec::new();
            for c in plain.chunks(chunk) {
                enc.update(c, &mut out);
            }
            enc.finish(&mut out);
            assert_eq!(out, cipher, "encrypt chunk {chunk}");

            let mut dec = StreamDecryptor::new(&key);
            let mut back = Vec::new();
            for c in cipher.chunks(chunk) {
                dec.update(c, &mut back);
            }
            dec.finish(&mut back).unwrap();
            assert_eq!(back, plain, "decrypt chunk {chunk}");
        }
    }

    #[test]
    fn appsecret_of_wrong_length_is_refused() {
        for bad in [
            "",
            "short",
            "hn2025guarantee12",
            "湖南省公共资源交易中心电子保函系",
        ] {
            let err = Sm4Key::from_appsecret(bad).unwrap_err();
            assert!(matches!(err, KeyError::WrongLength { .. }), "{bad}");
            assert!(err.to_string().contains("16"));
        }
        // 16 characters but not 16 bytes: Hutool would fail too.
        let sixteen_chars = "湖南省公共资源交易中心电子保函系统";
        assert!(
            Sm4Key::from_appsecret(&sixteen_chars.chars().take(16).collect::<String>()).is_err()
        );
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        assert_eq!(format!("{:?}", key()), "Sm4Key(<redacted>)");
    }

    #[test]
    fn garbage_is_a_typed_error() {
        let key = key();
        assert_eq!(key.decrypt_text(""), Err(DecryptError::Empty));
        assert_eq!(key.decrypt_text("   "), Err(DecryptError::Empty));
        assert_eq!(
            key.decrypt_text("not a ciphertext!!"),
            Err(DecryptError::NotHexOrBase64)
        );
        assert_eq!(key.decrypt_text("abc"), Err(DecryptError::NotHexOrBase64));
        assert_eq!(key.decrypt_text("abcd"), Err(DecryptError::BadLength(2)));
        assert_eq!(
            key.decrypt_body(b"{\"nodata\": 1}"),
            Err(DecryptError::BadWrapper)
        );
        assert_eq!(
            key.decrypt_body(b"{\"data\": 5}"),
            Err(DecryptError::BadWrapper)
        );
        assert_eq!(
            key.decrypt_body(b"\"unterminated"),
            Err(DecryptError::BadWrapper)
        );
        assert_eq!(
            key.decrypt_body(&[0xff, 0xfe]),
            Err(DecryptError::BadWrapper)
        );
        assert_eq!(key.decrypt_bytes(&[]), Err(DecryptError::BadLength(0)));
    }

    #[test]
    fn wrong_key_is_a_typed_error() {
        let m = &vectors().messages[3];
        let other = Sm4Key::from_appsecret("0000000000000000").unwrap();
        let err = other.decrypt_text(&m.ciphertext_hex).unwrap_err();
        assert!(
            matches!(err, DecryptError::BadPadding | DecryptError::NotUtf8),
            "{err:?}"
        );
    }

    #[test]
    fn bad_padding_is_a_typed_error() {
        let key = key();
        // A block whose last byte decrypts to 0x00 or > 16 is not PKCS#7.
        let mut block = [0u8; 16];
        block[15] = 0x20;
        let ct = key.encrypt_block(block);
        assert_eq!(key.decrypt_bytes(&ct), Err(DecryptError::BadPadding));
        let zero = key.encrypt_block([0u8; 16]);
        assert_eq!(key.decrypt_bytes(&zero), Err(DecryptError::BadPadding));
        // Inconsistent padding bytes: ends in 0x02 0x03.
        let mut mixed = [0u8; 16];
        mixed[14] = 3;
        mixed[15] = 2;
        let ct = key.encrypt_block(mixed);
        assert_eq!(key.decrypt_bytes(&ct), Err(DecryptError::BadPadding));
        let mut dec = StreamDecryptor::new(&key);
        let mut out = Vec::new();
        dec.update(&ct, &mut out);
        assert_eq!(dec.finish(&mut out), Err(DecryptError::BadPadding));
        let mut dec = StreamDecryptor::new(&key);
        dec.update(&ct[..5], &mut out);
        assert_eq!(dec.finish(&mut out), Err(DecryptError::BadLength(5)));
    }

    #[test]
    fn non_utf8_plaintext_is_a_typed_error() {
        let key = key();
        let ct = hex::encode(key.encrypt_bytes(&[0xc3, 0x28]));
        assert_eq!(key.decrypt_text(&ct), Err(DecryptError::NotUtf8));
    }

    proptest! {
        #[test]
        fn encrypt_then_decrypt_is_identity(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let key = key();
            let ct = key.encrypt_bytes(&data);
            prop_assert_eq!(ct.len() % 16, 0);
            prop_assert!(ct.len() > data.len());
            prop_assert_eq!(key.decrypt_bytes(&ct).unwrap(), data);
        }

        #[test]
        fn text_round_trips_through_hex_and_base64(s in "\\PC{0,300}") {
            let key = key();
            let hex_ct = key.encrypt_hex(&s);
            prop_assert_eq!(&hex_ct, &hex_ct.to_lowercase());
            prop_assert_eq!(key.decrypt_text(&hex_ct).unwrap(), s.clone());
            let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex_ct).unwrap());
            prop_assert_eq!(key.decrypt_text(&b64).unwrap(), s);
        }

        #[test]
        fn garbage_never_panics(s in "\\PC{0,200}") {
            let _ = key().decrypt_body(s.as_bytes());
        }

        /// Every body form the platform may use carries the same text:
        /// bare hex, bare Base64, either JSON-quoted, or `{"data": ...}`.
        #[test]
        fn every_body_form_decrypts_to_the_text(s in "\\PC{0,300}", ws in "[ \\t\\r\\n]{0,3}") {
            let key = key();
            let hex_ct = key.encrypt_hex(&s);
            let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex_ct).unwrap());
            for ct in [&hex_ct, &b64] {
                for body in [
                    format!("{ws}{ct}{ws}"),
                    format!("\"{ct}\""),
                    format!("{{\"data\": \"{ct}\"}}"),
                ] {
                    prop_assert_eq!(key.decrypt_body(body.as_bytes()).unwrap(), s.clone(), "{}", body);
                }
            }
        }

        /// Random bytes (not just text) are refused with a typed error.
        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = key().decrypt_body(&b);
        }
    }
}
