//! oxmon 0.1's agent-token formats: a bcrypt hash, and the token sealed
//! with AES-256-GCM under `data_dir/token.key` (32 raw bytes), stored as
//! Base64 of nonce (12 bytes) ‖ ciphertext ‖ tag.

use std::path::Path;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use super::Summary;

/// The key file of oxmon 0.1, beside `cert.db`.
pub(super) const KEY_FILE: &str = "token.key";

/// Whether `hash` is a bcrypt hash (`$2a$`, `$2b$`, `$2x$`, `$2y$`), as
/// oxmon 0.1 stored passwords and agent tokens.
pub fn is_bcrypt(hash: &str) -> bool {
    hash.len() == 60 && hash.starts_with("$2") && hash.as_bytes().get(3) == Some(&b'$')
}

/// The AES key that opens 0.1's sealed tokens.
pub(super) struct TokenKey(LessSafeKey);

/// Reads `token.key`; `None` (with a note) when it is missing or not 32
/// bytes, in which case sealed tokens fall back to their bcrypt hashes.
pub(super) fn load_key(data_dir: &Path, summary: &mut Summary) -> Option<TokenKey> {
    let path = data_dir.join(KEY_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            summary
                .notes
                .push(format!("{} cannot be read ({e}); agent tokens keep their bcrypt hashes", path.display()));
            return None;
        }
    };
    match UnboundKey::new(&AES_256_GCM, &bytes) {
        Ok(key) => Some(TokenKey(LessSafeKey::new(key))),
        Err(_) => {
            summary.notes.push(format!(
                "{} is {} bytes, not 32; agent tokens keep their bcrypt hashes",
                path.display(),
                bytes.len()
            ));
            None
        }
    }
}

impl TokenKey {
    /// Opens a sealed token; `None` when it is not one this key sealed.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let data = base64::engine::general_purpose::STANDARD.decode(sealed.trim()).ok()?;
        if data.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, ciphertext) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut in_out = ciphertext.to_vec();
        let plain = self.0.open_in_place(nonce, Aad::empty(), &mut in_out).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

    use super::*;

    fn seal(key: &[u8; 32], nonce: [u8; 12], token: &str) -> String {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
        let mut in_out = token.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut in_out).unwrap();
        let mut all = nonce.to_vec();
        all.extend_from_slice(&in_out);
        base64::engine::general_purpose::STANDARD.encode(all)
    }

    #[test]
    fn sealed_tokens_open_only_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = [7u8; 32];
        std::fs::write(dir.path().join(KEY_FILE), key).unwrap();
        let mut summary = Summary::default();
        let opened = load_key(dir.path(), &mut summary).unwrap();
        let sealed = seal(&key, [1; 12], "the-token");
        assert_eq!(opened.open(&sealed).as_deref(), Some("the-token"));
        assert_eq!(opened.open(&seal(&[8u8; 32], [1; 12], "the-token")), None, "another key");
        assert_eq!(opened.open("not base64!"), None);
        assert_eq!(opened.open("AAAA"), None, "too short");
        assert!(summary.notes.is_empty());
    }

    #[test]
    fn a_key_of_the_wrong_size_is_reported_and_unused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), [1u8; 16]).unwrap();
        let mut summary = Summary::default();
        assert!(load_key(dir.path(), &mut summary).is_none());
        assert!(summary.notes[0].contains("16 bytes, not 32"), "{:?}", summary.notes);
        assert!(load_key(&dir.path().join("missing"), &mut summary).is_none());
    }

    #[test]
    fn bcrypt_hashes_are_recognised() {
        let h = bcrypt::hash("pw", 4).unwrap();
        assert!(is_bcrypt(&h), "{h}");
        assert!(is_bcrypt(&h.replacen("$2b$", "$2y$", 1)));
        assert!(!is_bcrypt("$argon2id$v=19$m=19456,t=2,p=1$abc$def"));
        assert!(!is_bcrypt(&"a".repeat(64)));
    }
}
