//! REST authentication: passwords, JWTs and login throttling.
//!
//! Passwords are argon2id hashes (OWASP parameters), computed on blocking
//! threads so a login never stalls the async workers. Tokens are HS256 JWTs
//! carrying the user's `token_version`; a password change bumps it, which
//! revokes every older token. The signing key comes from `[auth] jwt_secret`
//! or is generated once into `<data_dir>/jwt.key`, so tokens survive
//! restarts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// File holding the generated JWT key when the config gives none.
pub const JWT_KEY_FILE: &str = "jwt.key";

/// Leeway on `exp`, as oxmon 0.1.
const LEEWAY_SECS: u64 = 60;

/// Failed logins tolerated per user name (and per client address, times
/// four) within [`FAILURE_WINDOW`] before logins are refused for a while.
const MAX_FAILURES_PER_USER: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
const LOCKOUT: Duration = Duration::from_secs(60);

/// Claims of an oxmon token (the names oxmon 0.1 used).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    pub username: String,
    pub token_version: i64,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

/// Signs and checks tokens; tracks failed logins.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    expire_secs: u64,
    failures: Mutex<HashMap<String, Failures>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("expire_secs", &self.expire_secs).finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Failures {
    count: u32,
    first: Instant,
    last: Instant,
}

impl Auth {
    pub fn new(key: &[u8], expire_secs: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            expire_secs,
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn expire_secs(&self) -> u64 {
        self.expire_secs
    }

    /// A token for `user`, valid for the configured lifetime from `now_s`.
    pub fn issue(&self, user_id: &str, username: &str, token_version: i64, now_s: i64) -> String {
        let claims = Claims {
            sub: user_id.to_owned(),
            username: username.to_owned(),
            token_version,
            iat: now_s,
            exp: now_s.saturating_add(i64::try_from(self.expire_secs).unwrap_or(i64::MAX)),
        };
        // HS256 signing of a serialisable struct cannot fail.
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding).unwrap_or_default()
    }

    /// Checks signature and expiry (60 s leeway).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.required_spec_claims = ["exp"].into_iter().map(str::to_owned).collect();
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(data.claims),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// `Some(wait)` when logins for `username` or from `ip` are refused now.
    pub fn locked_out(&self, username: &str, ip: Option<IpAddr>) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, f| now.duration_since(f.first) < FAILURE_WINDOW || now.duration_since(f.last) < LOCKOUT);
        throttle_keys(username, ip)
            .filter_map(|(key, limit)| {
                let f = map.get(&key)?;
                let until = f.last + LOCKOUT;
                (f.count >= limit && until > now).then(|| until - now)
            })
            .max()
    }

    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for (key, _) in throttle_keys(username, ip) {
            let f = map.entry(key).or_insert(Failures { count: 0, first: now, last: now });
            if now.duration_since(f.first) >= FAILURE_WINDOW {
                *f = Failures { count: 0, first: now, last: now };
            }
            f.count += 1;
            f.last = now;
        }
    }

    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("user:{username}"));
    }
}

fn throttle_keys(username: &str, ip: Option<IpAddr>) -> impl Iterator<Item = (String, u32)> {
    let user = Some((format!("user:{username}"), MAX_FAILURES_PER_USER));
    let addr = ip.map(|ip| (format!("ip:{ip}"), MAX_FAILURES_PER_USER * 4));
    user.into_iter().chain(addr)
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// argon2id PHC string of `password`. Blocking (~tens of ms): call from a
/// blocking thread.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    // 16 bytes is within the PHC salt limits, so encoding cannot fail.
    let salt = SaltString::encode_b64(&salt).expect("a 16-byte salt encodes");
    argon2().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

/// Whether `password` matches `hash`: an argon2id PHC string, or the bcrypt
/// hash of a user taken over from oxmon 0.1 who has not logged in since
/// (see [`needs_rehash`]). Blocking: call from a blocking thread.
pub fn verify_password(hash: &str, password: &str) -> bool {
    if oxmon_storage::legacy::is_bcrypt(hash) {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Whether a stored hash that just verified should be replaced by an
/// argon2id one (oxmon 0.1's bcrypt hashes are, on first login).
pub fn needs_rehash(hash: &str) -> bool {
    oxmon_storage::legacy::is_bcrypt(hash)
}

/// Whether `given` equals the configured secret `expected` (compared in
/// constant time); false when none is configured.
pub fn matches_secret(expected: Option<&str>, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.is_some_and(|e| bool::from(e.as_bytes().ct_eq(given.as_bytes())))
}

/// A real argon2id hash of a random password, computed once, for checking
/// logins of unknown users in the same time as known ones.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&generate_password()))
}

/// A random password for the first admin: 20 characters from an alphabet
/// without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// The JWT key: `configured` if given, else the key in `<data_dir>/jwt.key`,
/// created (32 random bytes, mode 0600) on first use.
pub fn load_or_create_key(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(JWT_KEY_FILE);
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => return Err(std::io::Error::other(format!("{} is shorter than 32 bytes", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_carry_their_claims() {
        let auth = Auth::new(b"0123456789abcdef0123456789abcdef", 3600);
        let now = jiff::Timestamp::now().as_second();
        let token = auth.issue("u1", "admin", 3, now);
        let claims = auth.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.username.as_str(), claims.token_version), ("u1", "admin", 3));
        assert_eq!(claims.exp - claims.iat, 3600);
        let other = Auth::new(b"another key, another key, another", 3600);
        assert_eq!(other.verify(&token), Err(TokenError::Invalid));
        assert_eq!(auth.verify("not.a.jwt"), Err(TokenError::Invalid));
    }

    #[test]
    fn expiry_has_sixty_seconds_of_leeway() {
        let auth = Auth::new(b"0123456789abcdef0123456789abcdef", 10);
        let now = jiff::Timestamp::now().as_second();
        assert!(auth.verify(&auth.issue("u", "a", 0, now - 60)).is_ok(), "expired 50 s ago: within leeway");
        assert_eq!(auth.verify(&auth.issue("u", "a", 0, now - 100)), Err(TokenError::Expired));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("s3cret!");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(&h, "s3cret!"));
        assert!(!verify_password(&h, "s3cret"));
        assert!(!verify_password("garbage", "s3cret!"));
        assert_ne!(hash_password("s3cret!"), h, "salted");
    }

    #[test]
    fn repeated_failures_lock_the_user_out_and_success_resets() {
        let auth = Auth::new(b"0123456789abcdef0123456789abcdef", 10);
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..4 {
            auth.record_failure("admin", ip);
        }
        assert_eq!(auth.locked_out("admin", ip), None);
        auth.record_failure("admin", ip);
        let wait = auth.locked_out("admin", ip).unwrap();
        assert!(wait <= LOCKOUT && wait > LOCKOUT - Duration::from_secs(5));
        assert_eq!(auth.locked_out("other", Some("10.0.0.2".parse().unwrap())), None);
        auth.record_success("admin");
        assert_eq!(auth.locked_out("admin", None), None);
    }

    #[test]
    fn the_generated_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = load_or_create_key(None, dir.path()).unwrap();
        let k2 = load_or_create_key(None, dir.path()).unwrap();
        assert_eq!(k1.len(), 32);
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(JWT_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_create_key(Some("configured"), dir.path()).unwrap(), b"configured");
        let p = generate_password();
        assert_eq!(p.len(), 20);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
