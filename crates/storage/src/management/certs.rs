//! Certificate monitoring: the domains to check (`cert_domains`), the
//! outcome of every check (`cert_check_results`, never pruned) and the
//! newest certificate seen per domain (`certificate_details`). Tables and
//! columns are oxmon 0.1's; times are Unix seconds, lists are JSON arrays.
//!
//! Validation of domains and ports happens before (see the server's
//! `api/certs.rs`); domain names are unique.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Management, Page, Write, is_unique_violation, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cert_domains (
    id                  TEXT PRIMARY KEY,
    domain              TEXT NOT NULL UNIQUE,
    port                INTEGER NOT NULL DEFAULT 443,
    enabled             INTEGER NOT NULL DEFAULT 1,
    check_interval_secs INTEGER,
    note                TEXT,
    last_checked_at     INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cert_check_results (
    id                TEXT PRIMARY KEY,
    domain_id         TEXT NOT NULL,
    domain            TEXT NOT NULL,
    is_valid          INTEGER NOT NULL,
    chain_valid       INTEGER NOT NULL,
    not_before        INTEGER,
    not_after         INTEGER,
    days_until_expiry INTEGER,
    issuer            TEXT,
    subject           TEXT,
    san_list          TEXT,
    resolved_ips      TEXT,
    error             TEXT,
    checked_at        INTEGER NOT NULL,
    created_at        INTEGER,
    updated_at        INTEGER
);
CREATE INDEX IF NOT EXISTS cert_check_results_domain ON cert_check_results (domain_id, checked_at);
CREATE TABLE IF NOT EXISTS certificate_details (
    id                   TEXT PRIMARY KEY,
    domain               TEXT NOT NULL UNIQUE,
    not_before           INTEGER NOT NULL,
    not_after            INTEGER NOT NULL,
    ip_addresses         TEXT NOT NULL DEFAULT '[]',
    issuer_cn            TEXT,
    issuer_o             TEXT,
    issuer_ou            TEXT,
    issuer_c             TEXT,
    subject_alt_names    TEXT NOT NULL DEFAULT '[]',
    chain_valid          INTEGER NOT NULL,
    chain_error          TEXT,
    last_checked         INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    serial_number        TEXT,
    fingerprint_sha256   TEXT,
    version              INTEGER,
    signature_algorithm  TEXT,
    public_key_algorithm TEXT,
    public_key_bits      INTEGER,
    subject_cn           TEXT,
    subject_o            TEXT,
    key_usage            TEXT,
    extended_key_usage   TEXT,
    is_ca                INTEGER,
    is_wildcard          INTEGER,
    ocsp_urls            TEXT,
    crl_urls             TEXT,
    ca_issuer_urls       TEXT,
    sct_count            INTEGER,
    tls_version          TEXT,
    cipher_suite         TEXT,
    chain_depth          INTEGER
);
";

/// A monitored (domain, port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertDomain {
    pub id: String,
    pub domain: String,
    pub port: u16,
    pub enabled: bool,
    /// `None`: the scheduler's default interval.
    pub check_interval_secs: Option<u64>,
    pub note: Option<String>,
    pub last_checked_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CertDomain {
    /// A new enabled domain (id and times are set when it is stored).
    pub fn new(domain: impl Into<String>, port: u16) -> Self {
        Self {
            id: String::new(),
            domain: domain.into(),
            port,
            enabled: true,
            check_interval_secs: None,
            note: None,
            last_checked_at: None,
            created_at: 0,
            updated_at: 0,
        }
    }
}

/// Filters of [`Management::cert_domains`].
#[derive(Clone, Debug, Default)]
pub struct CertDomainFilter {
    pub enabled: Option<bool>,
    /// Substring of the domain name (`%` and `_` match themselves).
    pub domain_contains: Option<String>,
}

/// The outcome of one check of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertCheckResult {
    pub id: String,
    pub domain_id: String,
    pub domain: String,
    pub is_valid: bool,
    pub chain_valid: bool,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub days_until_expiry: Option<i64>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub san_list: Option<Vec<String>>,
    pub resolved_ips: Option<Vec<String>>,
    pub error: Option<String>,
    pub checked_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The newest certificate seen for a domain, with everything extracted
/// from it (meanings in spec/semantics.md §7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertificateDetails {
    pub id: String,
    pub domain: String,
    pub not_before: i64,
    pub not_after: i64,
    pub ip_addresses: Vec<String>,
    pub issuer_cn: Option<String>,
    pub issuer_o: Option<String>,
    pub issuer_ou: Option<String>,
    pub issuer_c: Option<String>,
    pub subject_alt_names: Vec<String>,
    pub chain_valid: bool,
    pub chain_error: Option<String>,
    pub last_checked: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub serial_number: Option<String>,
    pub fingerprint_sha256: Option<String>,
    pub version: Option<i64>,
    pub signature_algorithm: Option<String>,
    pub public_key_algorithm: Option<String>,
    pub public_key_bits: Option<i64>,
    pub subject_cn: Option<String>,
    pub subject_o: Option<String>,
    pub key_usage: Option<Vec<String>>,
    pub extended_key_usage: Option<Vec<String>>,
    pub is_ca: Option<bool>,
    pub is_wildcard: Option<bool>,
    pub ocsp_urls: Option<Vec<String>>,
    pub crl_urls: Option<Vec<String>>,
    pub ca_issuer_urls: Option<Vec<String>>,
    pub sct_count: Option<i64>,
    pub tls_version: Option<String>,
    pub cipher_suite: Option<String>,
    pub chain_depth: Option<i64>,
}

/// Filters of [`Management::certificate_details_list`].
#[derive(Clone, Debug, Default)]
pub struct CertDetailsFilter {
    /// Certificates expiring at or before this Unix second.
    pub not_after_lte: Option<i64>,
    /// Substring of any resolved IP address.
    pub ip_address_contains: Option<String>,
    /// Substring of the issuer's CN or O.
    pub issuer_contains: Option<String>,
}

/// Counts over the enabled domains, each by its newest result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CertSummary {
    pub total_domains: i64,
    pub valid: i64,
    pub invalid: i64,
    /// Valid with at most [`EXPIRING_SOON_DAYS`] days left.
    pub expiring_soon: i64,
}

/// What "expiring soon" means in [`CertSummary`].
pub const EXPIRING_SOON_DAYS: i64 = 30;

const DOMAIN_COLUMNS: &str =
    "id, domain, port, enabled, check_interval_secs, note, last_checked_at, created_at, updated_at";

const RESULT_COLUMNS: &str = "id, domain_id, domain, is_valid, chain_valid, not_before, not_after, days_until_expiry, issuer, subject, san_list, resolved_ips, error, checked_at, created_at, updated_at";

const DETAILS_COLUMNS: &str = "id, domain, not_before, not_after, ip_addresses, issuer_cn, issuer_o, issuer_ou, issuer_c, subject_alt_names, chain_valid, chain_error, last_checked, created_at, updated_at, serial_number, fingerprint_sha256, version, signature_algorithm, public_key_algorithm, public_key_bits, subject_cn, subject_o, key_usage, extended_key_usage, is_ca, is_wildcard, ocsp_urls, crl_urls, ca_issuer_urls, sct_count, tls_version, cipher_suite, chain_depth";

fn domain_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertDomain> {
    let port: i64 = r.get(2)?;
    let interval: Option<i64> = r.get(4)?;
    Ok(CertDomain {
        id: r.get(0)?,
        domain: r.get(1)?,
        port: u16::try_from(port).unwrap_or(0),
        enabled: r.get(3)?,
        check_interval_secs: interval.and_then(|i| u64::try_from(i).ok()),
        note: r.get(5)?,
        last_checked_at: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

fn result_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertCheckResult> {
    Ok(CertCheckResult {
        id: r.get(0)?,
        domain_id: r.get(1)?,
        domain: r.get(2)?,
        is_valid: r.get(3)?,
        chain_valid: r.get(4)?,
        not_before: r.get(5)?,
        not_after: r.get(6)?,
        days_until_expiry: r.get(7)?,
        issuer: r.get(8)?,
        subject: r.get(9)?,
        san_list: list_opt(r.get(10)?),
        resolved_ips: list_opt(r.get(11)?),
        error: r.get(12)?,
        checked_at: r.get(13)?,
        created_at: r.get::<_, Option<i64>>(14)?.unwrap_or_default(),
        updated_at: r.get::<_, Option<i64>>(15)?.unwrap_or_default(),
    })
}

fn details_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertificateDetails> {
    Ok(CertificateDetails {
        id: r.get(0)?,
        domain: r.get(1)?,
        not_before: r.get(2)?,
        not_after: r.get(3)?,
        ip_addresses: list_opt(r.get(4)?).unwrap_or_default(),
        issuer_cn: r.get(5)?,
        issuer_o: r.get(6)?,
        issuer_ou: r.get(7)?,
        issuer_c: r.get(8)?,
        subject_alt_names: list_opt(r.get(9)?).unwrap_or_default(),
        chain_valid: r.get(10)?,
        chain_error: r.get(11)?,
        last_checked: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        serial_number: r.get(15)?,
        fingerprint_sha256: r.get(16)?,
        version: r.get(17)?,
        signature_algorithm: r.get(18)?,
        public_key_algorithm: r.get(19)?,
        public_key_bits: r.get(20)?,
        subject_cn: r.get(21)?,
        subject_o: r.get(22)?,
        key_usage: list_opt(r.get(23)?),
        extended_key_usage: list_opt(r.get(24)?),
        is_ca: r.get(25)?,
        is_wildcard: r.get(26)?,
        ocsp_urls: list_opt(r.get(27)?),
        crl_urls: list_opt(r.get(28)?),
        ca_issuer_urls: list_opt(r.get(29)?),
        sct_count: r.get(30)?,
        tls_version: r.get(31)?,
        cipher_suite: r.get(32)?,
        chain_depth: r.get(33)?,
    })
}

/// A JSON array of strings as stored; text that is not one reads as absent.
fn list_opt(text: Option<String>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn list_text(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn list_text_opt(list: Option<&Vec<String>>) -> Option<String> {
    list.map(|l| list_text(l))
}

/// `%v%` for `LIKE … ESCAPE '\'`, with the value's own wildcards escaped
/// (oxmon 0.1 let `%` and `_` in a filter match anything).
fn like_pattern(value: &str) -> String {
    let mut p = String::with_capacity(value.len() + 2);
    p.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn interval_i64(d: &CertDomain) -> Option<i64> {
    d.check_interval_secs.map(|i| i64::try_from(i).unwrap_or(i64::MAX))
}

fn insert_domain(tx: &Transaction<'_>, d: &CertDomain) -> rusqlite::Result<usize> {
    tx.execute(
        &format!("INSERT INTO cert_domains ({DOMAIN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        params![
            d.id,
            d.domain,
            i64::from(d.port),
            d.enabled,
            interval_i64(d),
            d.note,
            d.last_checked_at,
            d.created_at,
            d.updated_at
        ],
    )
}

fn upsert_details(tx: &Transaction<'_>, d: &CertificateDetails) -> rusqlite::Result<()> {
    // On conflict the row keeps its id and creation time.
    let updates = DETAILS_COLUMNS
        .split(", ")
        .filter(|c| !matches!(*c, "id" | "domain" | "created_at"))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let placeholders = (1..=34).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    tx.execute(
        &format!(
            "INSERT INTO certificate_details ({DETAILS_COLUMNS}) VALUES ({placeholders})
             ON CONFLICT (domain) DO UPDATE SET {updates}"
        ),
        params![
            d.id,
            d.domain,
            d.not_before,
            d.not_after,
            list_text(&d.ip_addresses),
            d.issuer_cn,
            d.issuer_o,
            d.issuer_ou,
            d.issuer_c,
            list_text(&d.subject_alt_names),
            d.chain_valid,
            d.chain_error,
            d.last_checked,
            d.created_at,
            d.updated_at,
            d.serial_number,
            d.fingerprint_sha256,
            d.version,
            d.signature_algorithm,
            d.public_key_algorithm,
            d.public_key_bits,
            d.subject_cn,
            d.subject_o,
            list_text_opt(d.key_usage.as_ref()),
            list_text_opt(d.extended_key_usage.as_ref()),
            d.is_ca,
            d.is_wildcard,
            list_text_opt(d.ocsp_urls.as_ref()),
            list_text_opt(d.crl_urls.as_ref()),
            list_text_opt(d.ca_issuer_urls.as_ref()),
            d.sct_count,
            d.tls_version,
            d.cipher_suite,
            d.chain_depth
        ],
    )?;
    Ok(())
}

// === impl Management: domains ===

impl Management {
    /// Inserts `domain` (its id and times are set here); `NameTaken` when
    /// the domain is already monitored.
    pub fn create_cert_domain(&self, domain: CertDomain, now_s: i64) -> Result<Write<CertDomain>> {
        Ok(match self.create_cert_domains(vec![domain], now_s)? {
            Write::Done(mut v) => v.pop().map_or(Write::NotFound, Write::Done),
            Write::NameTaken => Write::NameTaken,
            Write::NotFound => Write::NotFound,
        })
    }

    /// Inserts all of `domains` in one transaction, or none of them when
    /// one is already monitored (or appears twice).
    pub fn create_cert_domains(&self, domains: Vec<CertDomain>, now_s: i64) -> Result<Write<Vec<CertDomain>>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let mut out = Vec::with_capacity(domains.len());
            for mut d in domains {
                d.id = new_id();
                d.created_at = now_s;
                d.updated_at = now_s;
                d.last_checked_at = None;
                match insert_domain(&tx, &d) {
                    Ok(_) => out.push(d),
                    // Dropping the transaction rolls back the earlier inserts.
                    Err(e) if is_unique_violation(&e) => return Ok(Write::NameTaken),
                    Err(e) => return Err(e),
                }
            }
            tx.commit()?;
            Ok(Write::Done(out))
        })
    }

    /// Domains, newest first, filtered and paged in SQL.
    pub fn cert_domains(&self, f: &CertDomainFilter, limit: usize, offset: usize) -> Result<Page<CertDomain>> {
        let pattern = f.domain_contains.as_deref().map(like_pattern);
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {DOMAIN_COLUMNS} FROM cert_domains
                      WHERE (?1 IS NULL OR enabled = ?1) AND (?2 IS NULL OR domain LIKE ?2 ESCAPE '\\')
                      ORDER BY created_at DESC, rowid DESC"
                ),
                params![f.enabled, pattern],
                limit,
                offset,
                domain_row,
            )
        })
    }

    pub fn cert_domain(&self, id: &str) -> Result<Option<CertDomain>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {DOMAIN_COLUMNS} FROM cert_domains WHERE id = ?1"), [id], domain_row)
                .optional()
        })
    }

    pub fn cert_domain_by_name(&self, domain: &str) -> Result<Option<CertDomain>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {DOMAIN_COLUMNS} FROM cert_domains WHERE domain = ?1"), [domain], domain_row)
                .optional()
        })
    }

    /// Every enabled domain, oldest first.
    pub fn enabled_cert_domains(&self) -> Result<Vec<CertDomain>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DOMAIN_COLUMNS} FROM cert_domains WHERE enabled = 1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([], domain_row)?;
            rows.collect()
        })
    }

    /// Enabled domains never checked, or checked at least their interval
    /// (`default_interval_secs` when they have none) before `now_s`;
    /// never-checked and longest-waiting first.
    pub fn due_cert_domains(&self, now_s: i64, default_interval_secs: u64) -> Result<Vec<CertDomain>> {
        let default = i64::try_from(default_interval_secs).unwrap_or(i64::MAX);
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {DOMAIN_COLUMNS} FROM cert_domains
                  WHERE enabled = 1
                    AND (last_checked_at IS NULL OR ?1 - last_checked_at >= COALESCE(check_interval_secs, ?2))
                  ORDER BY last_checked_at IS NOT NULL, last_checked_at, created_at, rowid"
            ))?;
            let rows = stmt.query_map(params![now_s, default], domain_row)?;
            rows.collect()
        })
    }

    /// Replaces the editable fields of domain `d.id` (port, enabled,
    /// interval, note; not the name); `None` when it does not exist.
    pub fn update_cert_domain(&self, d: &CertDomain, now_s: i64) -> Result<Option<CertDomain>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE cert_domains SET port = ?2, enabled = ?3, check_interval_secs = ?4, note = ?5, updated_at = ?6
                  WHERE id = ?1",
                params![d.id, i64::from(d.port), d.enabled, interval_i64(d), d.note, now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.cert_domain(&d.id)
    }

    /// Deletes a domain and its check results (not its certificate
    /// details: the inventory keeps the last certificate seen).
    pub fn delete_cert_domain(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM cert_check_results WHERE domain_id = ?1", [id])?;
            let n = tx.execute("DELETE FROM cert_domains WHERE id = ?1", [id])?;
            tx.commit()?;
            Ok(n == 1)
        })
    }
}

// === impl Management: results and details ===

impl Management {
    /// Stores the outcome of one check in one transaction: the result row
    /// (id and times set here), the certificate details when a certificate
    /// was seen (upserted by domain), and the domain's `last_checked_at`.
    /// Stores nothing when the domain no longer exists.
    pub fn record_cert_check(
        &self,
        mut result: CertCheckResult,
        details: Option<CertificateDetails>,
        now_s: i64,
    ) -> Result<CertCheckResult> {
        result.id = new_id();
        result.created_at = now_s;
        result.updated_at = now_s;
        self.with(|c| {
            let tx = c.transaction()?;
            let domain_exists = tx.execute(
                "UPDATE cert_domains SET last_checked_at = ?2 WHERE id = ?1",
                params![result.domain_id, result.checked_at],
            )? == 1;
            if !domain_exists {
                // Deleted while it was being checked: keep no orphan rows.
                return Ok(());
            }
            tx.execute(
                &format!(
                    "INSERT INTO cert_check_results ({RESULT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ),
                params![
                    result.id,
                    result.domain_id,
                    result.domain,
                    result.is_valid,
                    result.chain_valid,
                    result.not_before,
                    result.not_after,
                    result.days_until_expiry,
                    result.issuer,
                    result.subject,
                    list_text_opt(result.san_list.as_ref()),
                    list_text_opt(result.resolved_ips.as_ref()),
                    result.error,
                    result.checked_at,
                    result.created_at,
                    result.updated_at
                ],
            )?;
            if let Some(mut d) = details {
                d.id = new_id();
                d.created_at = now_s;
                d.updated_at = now_s;
                upsert_details(&tx, &d)?;
            }
            tx.commit()
        })?;
        Ok(result)
    }

    /// Results of one domain, newest first, paged in SQL.
    pub fn cert_check_history(&self, domain_id: &str, limit: usize, offset: usize) -> Result<Page<CertCheckResult>> {
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM cert_check_results WHERE domain_id = ?1
                      ORDER BY created_at DESC, rowid DESC"
                ),
                params![domain_id],
                limit,
                offset,
                result_row,
            )
        })
    }

    /// The newest result (by `checked_at`) of one domain.
    pub fn latest_cert_result(&self, domain_id: &str) -> Result<Option<CertCheckResult>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {RESULT_COLUMNS} FROM cert_check_results WHERE domain_id = ?1
                      ORDER BY checked_at DESC, rowid DESC LIMIT 1"
                ),
                [domain_id],
                result_row,
            )
            .optional()
        })
    }

    /// The newest result of every enabled domain, most recently stored
    /// first, paged in SQL.
    pub fn latest_cert_results(&self, limit: usize, offset: usize) -> Result<Page<CertCheckResult>> {
        let columns = RESULT_COLUMNS.split(", ").map(|c| format!("r.{c}")).collect::<Vec<_>>().join(", ");
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {columns} FROM cert_domains d JOIN cert_check_results r
                         ON r.rowid = (SELECT x.rowid FROM cert_check_results x WHERE x.domain_id = d.id
                                        ORDER BY x.checked_at DESC, x.rowid DESC LIMIT 1)
                      WHERE d.enabled = 1
                      ORDER BY r.created_at DESC, r.rowid DESC"
                ),
                &[],
                limit,
                offset,
                result_row,
            )
        })
    }

    /// Counts over the enabled domains by their newest result (also the
    /// dashboard's `cert_summary`). A domain not checked yet counts in the
    /// total only.
    pub fn cert_summary(&self) -> Result<CertSummary> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*),
                        COALESCE(SUM(r.is_valid = 1), 0),
                        COALESCE(SUM(r.is_valid = 0), 0),
                        COALESCE(SUM(r.is_valid = 1 AND r.days_until_expiry <= ?1), 0)
                   FROM cert_domains d LEFT JOIN cert_check_results r
                     ON r.rowid = (SELECT x.rowid FROM cert_check_results x WHERE x.domain_id = d.id
                                    ORDER BY x.checked_at DESC, x.rowid DESC LIMIT 1)
                  WHERE d.enabled = 1",
                [EXPIRING_SOON_DAYS],
                |r| {
                    Ok(CertSummary {
                        total_domains: r.get(0)?,
                        valid: r.get(1)?,
                        invalid: r.get(2)?,
                        expiring_soon: r.get(3)?,
                    })
                },
            )
        })
    }

    /// Inserts or replaces the details of `d.domain` outside a check (the
    /// row keeps its id and creation time when it exists).
    pub fn upsert_certificate_details(&self, mut d: CertificateDetails, now_s: i64) -> Result<()> {
        d.id = new_id();
        d.created_at = now_s;
        d.updated_at = now_s;
        self.with(|c| {
            let tx = c.transaction()?;
            upsert_details(&tx, &d)?;
            tx.commit()
        })
    }

    /// Certificate details, soonest expiry first, filtered and paged in SQL.
    pub fn certificate_details_list(
        &self,
        f: &CertDetailsFilter,
        limit: usize,
        offset: usize,
    ) -> Result<Page<CertificateDetails>> {
        let ip = f.ip_address_contains.as_deref().map(like_pattern);
        let issuer = f.issuer_contains.as_deref().map(like_pattern);
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {DETAILS_COLUMNS} FROM certificate_details
                      WHERE (?1 IS NULL OR not_after <= ?1)
                        AND (?2 IS NULL OR ip_addresses LIKE ?2 ESCAPE '\\')
                        AND (?3 IS NULL OR issuer_cn LIKE ?3 ESCAPE '\\' OR issuer_o LIKE ?3 ESCAPE '\\')
                      ORDER BY not_after, rowid"
                ),
                params![f.not_after_lte, ip, issuer],
                limit,
                offset,
                details_row,
            )
        })
    }

    pub fn certificate_details(&self, id: &str) -> Result<Option<CertificateDetails>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {DETAILS_COLUMNS} FROM certificate_details WHERE id = ?1"), [id], details_row)
                .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Management) {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        (dir, m)
    }

    fn done<T: std::fmt::Debug>(w: Write<T>) -> T {
        match w {
            Write::Done(v) => v,
            other => panic!("{other:?}"),
        }
    }

    fn result(d: &CertDomain, checked_at: i64, is_valid: bool, days: Option<i64>) -> CertCheckResult {
        CertCheckResult {
            id: String::new(),
            domain_id: d.id.clone(),
            domain: d.domain.clone(),
            is_valid,
            chain_valid: is_valid,
            not_before: days.map(|_| 0),
            not_after: days.map(|x| checked_at + x * 86_400),
            days_until_expiry: days,
            issuer: Some("CN=ca".into()),
            subject: Some(format!("CN={}", d.domain)),
            san_list: Some(vec![d.domain.clone()]),
            resolved_ips: Some(vec!["127.0.0.1".into()]),
            error: (!is_valid).then(|| "certificate expired".into()),
            checked_at,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn details(domain: &str, not_after: i64, issuer_cn: &str, ip: &str) -> CertificateDetails {
        CertificateDetails {
            domain: domain.into(),
            not_before: 0,
            not_after,
            ip_addresses: vec![ip.into()],
            issuer_cn: Some(issuer_cn.into()),
            issuer_o: Some("Org".into()),
            subject_alt_names: vec![domain.into()],
            chain_valid: true,
            last_checked: 5,
            key_usage: Some(vec!["digital_signature".into()]),
            sct_count: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn domains_are_unique_filtered_paged_updated_and_deleted() {
        let (_dir, m) = open();
        let a = done(m.create_cert_domain(CertDomain::new("a.example", 443), 1).unwrap());
        let mut b = done(
            m.create_cert_domain(CertDomain { note: Some("n".into()), ..CertDomain::new("b.test", 8443) }, 2).unwrap(),
        );
        assert_eq!(m.create_cert_domain(CertDomain::new("a.example", 8443), 3).unwrap(), Write::NameTaken);

        let all = CertDomainFilter::default();
        let names = |f: &CertDomainFilter, limit, offset| -> Vec<String> {
            m.cert_domains(f, limit, offset).unwrap().into_iter().map(|d| d.domain).collect()
        };
        assert_eq!(names(&all, 10, 0), ["b.test", "a.example"], "newest first");
        assert_eq!(names(&all, 1, 1), ["a.example"]);
        let contains = |s: &str| CertDomainFilter { domain_contains: Some(s.into()), ..Default::default() };
        assert_eq!(names(&contains("example"), 10, 0), ["a.example"]);
        assert!(names(&contains("%"), 10, 0).is_empty(), "wildcards in the value match themselves");

        b.enabled = false;
        b.port = 9443;
        b.check_interval_secs = Some(60);
        b.note = None;
        b.domain = "ignored.example".into();
        let b = m.update_cert_domain(&b, 7).unwrap().unwrap();
        assert_eq!(
            (
                b.domain.as_str(),
                b.port,
                b.enabled,
                b.check_interval_secs,
                b.note.as_deref(),
                b.updated_at,
                b.created_at
            ),
            ("b.test", 9443, false, Some(60), None, 7, 2)
        );
        let enabled = |e| CertDomainFilter { enabled: Some(e), ..Default::default() };
        assert_eq!(names(&enabled(false), 10, 0), ["b.test"]);
        assert_eq!(names(&enabled(true), 10, 0), ["a.example"]);
        assert_eq!(m.cert_domain_by_name("a.example").unwrap().unwrap().id, a.id);

        m.record_cert_check(result(&a, 10, true, Some(50)), None, 10).unwrap();
        assert!(m.delete_cert_domain(&a.id).unwrap());
        assert!(!m.delete_cert_domain(&a.id).unwrap());
        assert!(m.cert_check_history(&a.id, 10, 0).unwrap().is_empty(), "results go with their domain");
        let mut gone = a;
        gone.port = 1;
        assert_eq!(m.update_cert_domain(&gone, 8).unwrap(), None);
    }

    #[test]
    fn a_batch_is_stored_whole_or_not_at_all() {
        let (_dir, m) = open();
        done(m.create_cert_domain(CertDomain::new("taken.example", 443), 1).unwrap());
        let batch = |names: &[&str]| names.iter().map(|n| CertDomain::new(*n, 443)).collect::<Vec<_>>();
        assert_eq!(m.create_cert_domains(batch(&["new.example", "taken.example"]), 2).unwrap(), Write::NameTaken);
        assert_eq!(m.create_cert_domains(batch(&["x.example", "x.example"]), 2).unwrap(), Write::NameTaken);
        assert_eq!(m.cert_domains(&CertDomainFilter::default(), 10, 0).unwrap().len(), 1, "nothing was added");
        let stored = done(m.create_cert_domains(batch(&["c.example", "d.example"]), 3).unwrap());
        assert_eq!(stored.len(), 2);
        assert!(stored.iter().all(|d| d.enabled && d.created_at == 3 && !d.id.is_empty()));
        assert_eq!(m.cert_domains(&CertDomainFilter::default(), 10, 0).unwrap().len(), 3);
    }

    #[test]
    fn due_domains_are_never_checked_or_past_their_interval() {
        let (_dir, m) = open();
        done(m.create_cert_domain(CertDomain::new("fresh.example", 443), 1).unwrap());
        let custom = done(
            m.create_cert_domain(
                CertDomain { check_interval_secs: Some(100), ..CertDomain::new("custom.example", 443) },
                1,
            )
            .unwrap(),
        );
        let default = done(m.create_cert_domain(CertDomain::new("default.example", 443), 1).unwrap());
        done(m.create_cert_domain(CertDomain { enabled: false, ..CertDomain::new("off.example", 443) }, 1).unwrap());
        m.record_cert_check(result(&custom, 1_000, true, Some(9)), None, 1_000).unwrap();
        m.record_cert_check(result(&default, 1_000, true, Some(9)), None, 1_000).unwrap();
        assert_eq!(m.cert_domain(&custom.id).unwrap().unwrap().last_checked_at, Some(1_000));

        let due =
            |now| -> Vec<String> { m.due_cert_domains(now, 500).unwrap().into_iter().map(|d| d.domain).collect() };
        assert_eq!(due(1_099), ["fresh.example"]);
        assert_eq!(due(1_100), ["fresh.example", "custom.example"], "interval reached exactly");
        assert_eq!(due(1_500), ["fresh.example", "custom.example", "default.example"], "never the disabled one");
    }

    #[test]
    fn results_page_newest_first_and_the_newest_per_domain_feeds_status_and_summary() {
        let (_dir, m) = open();
        let a = done(m.create_cert_domain(CertDomain::new("a.example", 443), 1).unwrap());
        let b = done(m.create_cert_domain(CertDomain::new("b.example", 443), 1).unwrap());
        let c = done(m.create_cert_domain(CertDomain::new("c.example", 443), 1).unwrap());
        let never = done(m.create_cert_domain(CertDomain::new("never.example", 443), 1).unwrap());
        // a: expired once, now valid with 10 days left (expiring soon).
        m.record_cert_check(result(&a, 100, false, Some(-1)), None, 100).unwrap();
        let a_new = m.record_cert_check(result(&a, 200, true, Some(10)), None, 200).unwrap();
        // b: valid with 90 days; c: invalid.
        m.record_cert_check(result(&b, 150, true, Some(90)), None, 150).unwrap();
        m.record_cert_check(result(&c, 120, false, None), None, 120).unwrap();

        let history = m.cert_check_history(&a.id, 10, 0).unwrap();
        assert_eq!(history.iter().map(|r| r.checked_at).collect::<Vec<_>>(), [200, 100]);
        assert_eq!(m.cert_check_history(&a.id, 1, 1).unwrap()[0].checked_at, 100);
        assert_eq!(history[0], a_new, "stored as returned");
        assert_eq!(history[0].san_list.as_deref(), Some(&["a.example".to_owned()][..]));

        assert_eq!(m.latest_cert_result(&a.id).unwrap().unwrap().checked_at, 200);
        assert_eq!(m.latest_cert_result(&never.id).unwrap(), None);
        let status: Vec<(String, i64)> =
            m.latest_cert_results(10, 0).unwrap().into_iter().map(|r| (r.domain, r.checked_at)).collect();
        assert_eq!(status, [("a.example".into(), 200), ("b.example".into(), 150), ("c.example".into(), 120)]);
        assert_eq!(m.latest_cert_results(1, 2).unwrap()[0].domain, "c.example");

        assert_eq!(m.cert_summary().unwrap(), CertSummary { total_domains: 4, valid: 2, invalid: 1, expiring_soon: 1 });
        let mut b_off = b;
        b_off.enabled = false;
        m.update_cert_domain(&b_off, 300).unwrap();
        assert_eq!(m.cert_summary().unwrap(), CertSummary { total_domains: 3, valid: 1, invalid: 1, expiring_soon: 1 });
        assert_eq!(m.latest_cert_results(10, 0).unwrap().len(), 2, "disabled domains have no status");
    }

    #[test]
    fn details_are_upserted_by_domain_and_filtered() {
        let (_dir, m) = open();
        m.upsert_certificate_details(details("a.example", 1_000, "Let's Encrypt R3", "10.0.0.1"), 1).unwrap();
        m.upsert_certificate_details(details("b.example", 500, "Other CA", "192.168.1.7"), 1).unwrap();
        let all = m.certificate_details_list(&CertDetailsFilter::default(), 10, 0).unwrap();
        assert_eq!(all.iter().map(|d| d.domain.as_str()).collect::<Vec<_>>(), ["b.example", "a.example"]);
        let first = all[1].clone();
        assert_eq!(first.key_usage.as_deref(), Some(&["digital_signature".to_owned()][..]));
        assert_eq!((first.sct_count, first.ocsp_urls.as_ref()), (Some(2), None));

        let mut renewed = details("a.example", 2_000, "Let's Encrypt R3", "10.0.0.1");
        renewed.chain_valid = false;
        renewed.chain_error = Some("certificate expired".into());
        m.upsert_certificate_details(renewed, 9).unwrap();
        let now = m.certificate_details(&first.id).unwrap().unwrap();
        assert_eq!((now.id.as_str(), now.created_at, now.updated_at), (first.id.as_str(), 1, 9), "same row");
        assert_eq!((now.not_after, now.chain_error.as_deref()), (2_000, Some("certificate expired")));
        assert_eq!(m.certificate_details("missing").unwrap(), None);

        let list = |f: CertDetailsFilter| -> Vec<String> {
            m.certificate_details_list(&f, 10, 0).unwrap().into_iter().map(|d| d.domain).collect()
        };
        assert_eq!(list(CertDetailsFilter { not_after_lte: Some(500), ..Default::default() }), ["b.example"]);
        assert_eq!(
            list(CertDetailsFilter { ip_address_contains: Some("10.0".into()), ..Default::default() }),
            ["a.example"]
        );
        assert_eq!(
            list(CertDetailsFilter { issuer_contains: Some("encrypt".into()), ..Default::default() }),
            ["a.example"]
        );
        assert_eq!(
            list(CertDetailsFilter { issuer_contains: Some("Org".into()), ..Default::default() }).len(),
            2,
            "O too"
        );
        assert_eq!(m.certificate_details_list(&CertDetailsFilter::default(), 1, 1).unwrap()[0].domain, "a.example");
    }

    #[test]
    fn a_check_stores_its_details_with_the_result() {
        let (_dir, m) = open();
        let a = done(m.create_cert_domain(CertDomain::new("a.example", 443), 1).unwrap());
        m.record_cert_check(result(&a, 50, true, Some(3)), Some(details("a.example", 309_000, "CA", "127.0.0.1")), 50)
            .unwrap();
        let d = m.certificate_details_list(&CertDetailsFilter::default(), 10, 0).unwrap();
        assert_eq!((d.len(), d[0].created_at), (1, 50));
        // The inventory outlives the domain.
        m.delete_cert_domain(&a.id).unwrap();
        assert_eq!(m.certificate_details_list(&CertDetailsFilter::default(), 10, 0).unwrap().len(), 1);
        // A check that ends after its domain was deleted leaves nothing behind.
        m.record_cert_check(result(&a, 60, true, Some(3)), Some(details("a.example", 1, "CA", "127.0.0.1")), 60)
            .unwrap();
        assert!(m.cert_check_history(&a.id, 10, 0).unwrap().is_empty());
        assert_eq!(m.certificate_details_list(&CertDetailsFilter::default(), 10, 0).unwrap()[0].not_after, 309_000);
    }
}
