//! Incremental SM4-ECB/PKCS#7 for files too large to hold twice in memory.
//!
//! ECB works block by block, so a stream needs only to carry the partial
//! block between chunks. The decryptor also holds back the last full block,
//! because only the end of the stream says whether it carries the padding.

use ecb::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};
use sm4::Sm4;

use crate::{BLOCK, DecryptError, Sm4Key};

/// Encrypts a byte stream chunk by chunk; the output equals
/// [`Sm4Key::encrypt_bytes`] of the whole input.
#[derive(Clone)]
pub struct StreamEncryptor {
    cipher: Sm4,
    pending: Vec<u8>,
}

impl StreamEncryptor {
    pub fn new(key: &Sm4Key) -> Self {
        Self {
            cipher: key.cipher().clone(),
            pending: Vec::with_capacity(BLOCK),
        }
    }

    /// Encrypts every complete block now available and appends it to `out`.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let take = (BLOCK - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < BLOCK {
                return;
            }
            let block = std::mem::take(&mut self.pending);
            self.push_block(&block, out);
        }
        let full = input.len() - input.len() % BLOCK;
        out.reserve(full);
        for block in input[..full].chunks_exact(BLOCK) {
            self.push_block(block, out);
        }
        self.pending.extend_from_slice(&input[full..]);
    }

    /// Pads what is left (always at least one byte of padding) and encrypts it.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        let pad = BLOCK - self.pending.len();
        let pad_byte = u8::try_from(pad).unwrap_or(16);
        self.pending.resize(BLOCK, pad_byte);
        let block = std::mem::take(&mut self.pending);
        self.push_block(&block, out);
    }

    fn push_block(&self, block: &[u8], out: &mut Vec<u8>) {
        let mut b = [0u8; BLOCK];
        b.copy_from_slice(block);
        let mut arr = b.into();
        self.cipher.encrypt_block(&mut arr);
        let b: [u8; BLOCK] = arr.into();
        out.extend_from_slice(&b);
    }
}

/// Decrypts a byte stream chunk by chunk; the output equals
/// [`Sm4Key::decrypt_bytes`] of the whole input.
#[derive(Clone)]
pub struct StreamDecryptor {
    cipher: Sm4,
    pending: Vec<u8>,
    /// The last decrypted block, held back until we know whether it is the end.
    held: Option<[u8; BLOCK]>,
    total: usize,
}

impl StreamDecryptor {
    pub fn new(key: &Sm4Key) -> Self {
        Self {
            cipher: key.cipher().clone(),
            pending: Vec::with_capacity(BLOCK),
            held: None,
            total: 0,
        }
    }

    /// Decrypts every complete block now available, except the last one.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.total += input.len();
        self.pending.extend_from_slice(input);
        let full = self.pending.len() - self.pending.len() % BLOCK;
        if full == 0 {
            return;
        }
        let rest = self.pending.split_off(full);
        let blocks = std::mem::replace(&mut self.pending, rest);
        out.reserve(full);
        for block in blocks.chunks_exact(BLOCK) {
            if let Some(prev) = self.held.take() {
                out.extend_from_slice(&prev);
            }
            let mut b = [0u8; BLOCK];
            b.copy_from_slice(block);
            let mut arr = b.into();
            self.cipher.decrypt_block(&mut arr);
            self.held = Some(arr.into());
        }
    }

    /// Checks the length and the PKCS#7 padding of the final block.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<(), DecryptError> {
        if !self.pending.is_empty() || self.total == 0 {
            return Err(DecryptError::BadLength(self.total));
        }
        let last = self.held.ok_or(DecryptError::BadLength(self.total))?;
        let pad = usize::from(last[BLOCK - 1]);
        if pad == 0 || pad > BLOCK || last[BLOCK - pad..].iter().any(|&b| usize::from(b) != pad) {
            return Err(DecryptError::BadPadding);
        }
        out.extend_from_slice(&last[..BLOCK - pad]);
        Ok(())
    }
}
