//! `/v1/certs/*` and `/v1/certificates*`: monitored domains, their checks,
//! and the inventory of certificates seen (spec/api.md §5.7, §5.8).
//!
//! Paths, bodies and error codes (1101–1105) follow oxmon 0.1. Unlike 0.1:
//! a domain must be a plausible host name (no scheme, path, port or
//! spaces), `check_interval_secs` must be at least 1, `PUT` clears
//! `check_interval_secs` and `note` with JSON `null`, and
//! `POST /v1/certs/check` checks up to `[cert_check] max_concurrent`
//! domains at a time instead of one after another.

use std::collections::HashSet;
use std::net::IpAddr;

use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_storage::management::{
    CertCheckResult, CertDetailsFilter, CertDomain, CertDomainFilter, CertificateDetails, Write,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, present, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult};

/// Business codes of certificate monitoring (spec/api.md §2.1).
pub mod cert_code {
    pub const DUPLICATE_DOMAIN: i32 = 1101;
    pub const INVALID_DOMAIN: i32 = 1102;
    pub const INVALID_PORT: i32 = 1103;
    pub const EMPTY_BATCH: i32 = 1104;
    pub const NO_RESULTS: i32 = 1105;
}

const DEFAULT_PORT: i64 = 443;

// === DTOs ===

/// A monitored domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertDomainItem {
    id: String,
    domain: String,
    port: u16,
    enabled: bool,
    /// Re-check period; null: the server's `[cert_check] default_interval_secs`.
    check_interval_secs: Option<u64>,
    note: Option<String>,
    /// RFC 3339; null until the first check.
    last_checked_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<CertDomain> for CertDomainItem {
    fn from(d: CertDomain) -> Self {
        Self {
            last_checked_at: d.last_checked_at.map(secs),
            created_at: secs(d.created_at),
            updated_at: secs(d.updated_at),
            id: d.id,
            domain: d.domain,
            port: d.port,
            enabled: d.enabled,
            check_interval_secs: d.check_interval_secs,
            note: d.note,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertCheckResultItem {
    id: String,
    domain_id: String,
    domain: String,
    /// Handshake done, chain trusted, within validity, valid for the domain.
    is_valid: bool,
    /// The presented chain leads to a trusted root and is within its validity period.
    chain_valid: bool,
    /// RFC 3339; null when no certificate was seen.
    not_before: Option<String>,
    /// RFC 3339; null when no certificate was seen.
    not_after: Option<String>,
    /// Whole days left, rounded down; negative once expired.
    days_until_expiry: Option<i64>,
    /// Issuer distinguished name.
    issuer: Option<String>,
    /// Subject distinguished name.
    subject: Option<String>,
    /// DNS subject alternative names.
    san_list: Option<Vec<String>>,
    resolved_ips: Option<Vec<String>>,
    /// Why the certificate is not valid or could not be checked.
    error: Option<String>,
    checked_at: String,
    created_at: String,
    updated_at: String,
}

impl From<CertCheckResult> for CertCheckResultItem {
    fn from(r: CertCheckResult) -> Self {
        Self {
            not_before: r.not_before.map(secs),
            not_after: r.not_after.map(secs),
            checked_at: secs(r.checked_at),
            created_at: secs(r.created_at),
            updated_at: secs(r.updated_at),
            id: r.id,
            domain_id: r.domain_id,
            domain: r.domain,
            is_valid: r.is_valid,
            chain_valid: r.chain_valid,
            days_until_expiry: r.days_until_expiry,
            issuer: r.issuer,
            subject: r.subject,
            san_list: r.san_list,
            resolved_ips: r.resolved_ips,
            error: r.error,
        }
    }
}

/// The newest certificate seen for a domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateDetailsItem {
    id: String,
    domain: String,
    not_before: String,
    not_after: String,
    ip_addresses: Vec<String>,
    issuer_cn: Option<String>,
    issuer_o: Option<String>,
    issuer_ou: Option<String>,
    issuer_c: Option<String>,
    /// DNS and IP subject alternative names.
    subject_alt_names: Vec<String>,
    chain_valid: bool,
    chain_error: Option<String>,
    last_checked: String,
    created_at: String,
    updated_at: String,
    /// Lowercase hex bytes joined by `:`.
    serial_number: Option<String>,
    /// SHA-256 of the DER, uppercase hex bytes joined by `:`.
    fingerprint_sha256: Option<String>,
    version: Option<i64>,
    signature_algorithm: Option<String>,
    public_key_algorithm: Option<String>,
    public_key_bits: Option<i64>,
    subject_cn: Option<String>,
    subject_o: Option<String>,
    key_usage: Option<Vec<String>>,
    extended_key_usage: Option<Vec<String>>,
    is_ca: Option<bool>,
    is_wildcard: Option<bool>,
    ocsp_urls: Option<Vec<String>>,
    crl_urls: Option<Vec<String>>,
    ca_issuer_urls: Option<Vec<String>>,
    /// Signed certificate timestamps embedded in the certificate.
    sct_count: Option<i64>,
    /// e.g. `TLSv1_3`.
    tls_version: Option<String>,
    /// e.g. `TLS13_AES_256_GCM_SHA384`.
    cipher_suite: Option<String>,
    /// Certificates presented by the server.
    chain_depth: Option<i64>,
}

impl From<CertificateDetails> for CertificateDetailsItem {
    fn from(d: CertificateDetails) -> Self {
        Self {
            not_before: secs(d.not_before),
            not_after: secs(d.not_after),
            last_checked: secs(d.last_checked),
            created_at: secs(d.created_at),
            updated_at: secs(d.updated_at),
            id: d.id,
            domain: d.domain,
            ip_addresses: d.ip_addresses,
            issuer_cn: d.issuer_cn,
            issuer_o: d.issuer_o,
            issuer_ou: d.issuer_ou,
            issuer_c: d.issuer_c,
            subject_alt_names: d.subject_alt_names,
            chain_valid: d.chain_valid,
            chain_error: d.chain_error,
            serial_number: d.serial_number,
            fingerprint_sha256: d.fingerprint_sha256,
            version: d.version,
            signature_algorithm: d.signature_algorithm,
            public_key_algorithm: d.public_key_algorithm,
            public_key_bits: d.public_key_bits,
            subject_cn: d.subject_cn,
            subject_o: d.subject_o,
            key_usage: d.key_usage,
            extended_key_usage: d.extended_key_usage,
            is_ca: d.is_ca,
            is_wildcard: d.is_wildcard,
            ocsp_urls: d.ocsp_urls,
            crl_urls: d.crl_urls,
            ca_issuer_urls: d.ca_issuer_urls,
            sct_count: d.sct_count,
            tls_version: d.tls_version,
            cipher_suite: d.cipher_suite,
            chain_depth: d.chain_depth,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateChainItem {
    id: String,
    domain: String,
    chain_valid: bool,
    chain_error: Option<String>,
    last_checked: String,
}

/// Counts over the enabled domains, each by its newest result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertSummaryItem {
    total_domains: i64,
    valid: i64,
    invalid: i64,
    /// Valid with at most 30 days left.
    expiring_soon: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedItem {
    deleted: bool,
}

/// Body of `POST /v1/certs/domains` (and each item of a batch).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateDomain {
    /// Host name or IP address, without scheme, path or port.
    #[serde(default)]
    #[schema(required = true)]
    domain: String,
    /// 1–65535, default 443.
    #[schema(value_type = Option<i32>)]
    port: Option<i64>,
    /// At least 1; default: the server's `[cert_check] default_interval_secs`.
    check_interval_secs: Option<u64>,
    note: Option<String>,
    /// Default true (added in 0.2).
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateDomains {
    domains: Vec<CreateDomain>,
}

/// Body of `PUT /v1/certs/domains/{id}`: any subset. `check_interval_secs`
/// and `note` are cleared with JSON `null`. The domain name cannot change;
/// the read-only fields a GET returns are accepted (and ignored), so a
/// fetched domain can be sent back.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateDomain {
    #[schema(value_type = Option<i32>)]
    port: Option<i64>,
    enabled: Option<bool>,
    /// `null` restores the server default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    check_interval_secs: Option<Option<u64>>,
    /// `null` removes the note.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    note: Option<Option<String>>,
    /// Must equal the domain's name when given.
    domain: Option<String>,
}

/// Filters of `GET /v1/certs/domains`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DomainFilterParams {
    /// `true` or `false`.
    #[serde(rename = "enabled__eq")]
    #[param(rename = "enabled__eq", value_type = Option<bool>)]
    enabled: Option<String>,
    /// Substring of the domain.
    #[serde(rename = "domain__contains")]
    #[param(rename = "domain__contains")]
    domain: Option<String>,
}

/// Filters of `GET /v1/certificates`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CertificateFilterParams {
    /// Expiring at or before this instant (Unix seconds).
    #[serde(rename = "not_after__lte")]
    #[param(rename = "not_after__lte", value_type = Option<i64>)]
    not_after: Option<String>,
    /// Substring of a resolved IP address.
    #[serde(rename = "ip_address__contains")]
    #[param(rename = "ip_address__contains")]
    ip_address: Option<String>,
    /// Substring of the issuer's CN or O.
    #[serde(rename = "issuer__contains")]
    #[param(rename = "issuer__contains")]
    issuer: Option<String>,
}

// === validation ===

fn secs(s: i64) -> String {
    rfc3339(s.saturating_mul(1000))
}

fn invalid_domain(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, cert_code::INVALID_DOMAIN, message)
}

fn domain_not_found() -> ApiError {
    ApiError::not_found("Domain not found")
}

/// The domain as stored: trimmed, lowercase, without a trailing dot; IP
/// addresses in canonical form. Refuses what cannot be a host name.
pub fn normalize_domain(raw: &str) -> Result<String, ApiError> {
    let d = raw.trim();
    if d.is_empty() {
        return Err(invalid_domain("Domain cannot be empty"));
    }
    let bad = |why: &str| invalid_domain(format!("Domain '{d}' is not a valid host name: {why}"));
    if d.contains("://") {
        return Err(bad("remove the scheme (such as https://)"));
    }
    if d.chars().any(char::is_whitespace) {
        return Err(bad("it contains spaces"));
    }
    if d.contains('/') {
        return Err(bad("remove the path"));
    }
    if let Ok(ip) = d.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    if d.contains(':') {
        return Err(bad("remove the port and use the port field"));
    }
    let host = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
    if host.len() > 253 {
        return Err(bad("longer than 253 characters"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(bad("empty label (two dots in a row, or a leading dot)"));
        }
        if label.len() > 63 {
            return Err(bad("a label is longer than 63 characters"));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            return Err(bad(&format!("character {c:?} is not allowed (letters, digits, '-' and '_' only)")));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label starts or ends with '-'"));
        }
    }
    Ok(host)
}

fn valid_port(port: Option<i64>) -> Result<u16, ApiError> {
    let port = port.unwrap_or(DEFAULT_PORT);
    u16::try_from(port).ok().filter(|p| *p >= 1).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            cert_code::INVALID_PORT,
            format!("port must be between 1 and 65535, got {port}"),
        )
    })
}

fn valid_interval(interval: Option<u64>) -> Result<Option<u64>, ApiError> {
    match interval {
        Some(0) => Err(ApiError::bad_request(
            "check_interval_secs must be at least 1 (leave it out to use the server default)",
        )),
        Some(i) if i > i64::MAX as u64 => Err(ApiError::bad_request("check_interval_secs is too large")),
        other => Ok(other),
    }
}

fn clean_note(note: Option<String>) -> Option<String> {
    note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

impl CreateDomain {
    fn validated(self) -> Result<CertDomain, ApiError> {
        Ok(CertDomain {
            port: valid_port(self.port)?,
            check_interval_secs: valid_interval(self.check_interval_secs)?,
            note: clean_note(self.note),
            enabled: self.enabled.unwrap_or(true),
            ..CertDomain::new(normalize_domain(&self.domain)?, 443)
        })
    }
}

fn parse_bool(name: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(other) => Err(ApiError::bad_request(format!("{name} must be true or false, got {other:?}"))),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

async fn load_domain(state: &AppStateRef, id: String) -> Result<CertDomain, ApiError> {
    state.management(move |m| m.cert_domain(&id)).await?.ok_or_else(domain_not_found)
}

// === certificates ===

/// Certificates seen, soonest expiry first.
#[utoipa::path(get, path = "/certificates", tag = "certificates",
    params(CertificateFilterParams, PageParams), security(("bearer_auth" = [])), responses(
        (status = 200, description = "Certificate details", body = Envelope<Vec<CertificateDetailsItem>>),
        (status = 400, description = "Bad filter or paging parameter", body = EmptyEnvelope),
        (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn list_certificates(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<CertificateFilterParams>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    let not_after_lte = match q.not_after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("not_after__lte must be a Unix time in seconds, got {raw:?}"))
        })?),
    };
    let filter = CertDetailsFilter {
        not_after_lte,
        ip_address_contains: non_empty(q.ip_address),
        issuer_contains: non_empty(q.issuer),
    };
    let rows = state.management(move |m| m.certificate_details_list(&filter, page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(CertificateDetailsItem::from).collect::<Vec<_>>(), rows.total))
}

async fn load_certificate(state: &AppStateRef, id: String) -> Result<CertificateDetails, ApiError> {
    let key = id.clone();
    state
        .management(move |m| m.certificate_details(&key))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Certificate with id '{id}' not found")))
}

/// One certificate's details.
#[utoipa::path(get, path = "/certificates/{id}", tag = "certificates", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Certificate details id")), responses(
        (status = 200, description = "Certificate details", body = Envelope<CertificateDetailsItem>),
        (status = 404, description = "`Certificate with id '<id>' not found`", body = EmptyEnvelope)))]
pub async fn get_certificate(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    Ok(ApiOk::data(CertificateDetailsItem::from(load_certificate(&state, id).await?)))
}

/// Whether a certificate's chain verified, and why not.
#[utoipa::path(get, path = "/certificates/{id}/chain", tag = "certificates", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Certificate details id")), responses(
        (status = 200, description = "Chain verdict", body = Envelope<CertificateChainItem>),
        (status = 404, description = "`Certificate with id '<id>' not found`", body = EmptyEnvelope)))]
pub async fn certificate_chain(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let d = load_certificate(&state, id).await?;
    Ok(ApiOk::data(CertificateChainItem {
        last_checked: secs(d.last_checked),
        id: d.id,
        domain: d.domain,
        chain_valid: d.chain_valid,
        chain_error: d.chain_error,
    }))
}

// === domains ===

/// Monitor a domain (created enabled).
#[utoipa::path(post, path = "/certs/domains", tag = "certificates", request_body = CreateDomain,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The domain", body = Envelope<CertDomainItem>),
        (status = 400, description = "1102 bad domain, 1103 bad port, 1001 bad interval or body", body = EmptyEnvelope),
        (status = 409, description = "1101 `Domain '<d>' already exists`", body = EmptyEnvelope)))]
pub async fn create_domain(state: AppStateRef, ApiJson(body): ApiJson<CreateDomain>) -> ApiResult {
    let domain = body.validated()?;
    let name = domain.domain.clone();
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_cert_domain(domain, now)).await? {
        Write::Done(d) => Ok(ApiOk::created(CertDomainItem::from(d))),
        Write::NameTaken | Write::NotFound => Err(ApiError::new(
            StatusCode::CONFLICT,
            cert_code::DUPLICATE_DOMAIN,
            format!("Domain '{name}' already exists"),
        )),
    }
}

/// Monitor several domains: all of them, or none when one is invalid or
/// already monitored.
#[utoipa::path(post, path = "/certs/domains/batch", tag = "certificates", request_body = CreateDomains,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The domains", body = Envelope<Vec<CertDomainItem>>),
        (status = 400, description = "1104 empty list; 1102/1103 an invalid item, named by index",
            body = EmptyEnvelope),
        (status = 409, description = "1101 `One or more domains already exist`, or a domain listed twice",
            body = EmptyEnvelope)))]
pub async fn create_domains(state: AppStateRef, ApiJson(body): ApiJson<CreateDomains>) -> ApiResult {
    if body.domains.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, cert_code::EMPTY_BATCH, "Domain list cannot be empty"));
    }
    let mut domains = Vec::with_capacity(body.domains.len());
    let mut seen = HashSet::new();
    for (i, item) in body.domains.into_iter().enumerate() {
        let d = item.validated().map_err(|e| ApiError { message: format!("domains[{i}]: {}", e.message), ..e })?;
        if !seen.insert(d.domain.clone()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                cert_code::DUPLICATE_DOMAIN,
                format!("Domain '{}' appears more than once in the batch", d.domain),
            ));
        }
        domains.push(d);
    }
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_cert_domains(domains, now)).await? {
        Write::Done(ds) => Ok(ApiOk::created(ds.into_iter().map(CertDomainItem::from).collect::<Vec<_>>())),
        Write::NameTaken | Write::NotFound => {
            Err(ApiError::new(StatusCode::CONFLICT, cert_code::DUPLICATE_DOMAIN, "One or more domains already exist"))
        }
    }
}

/// Monitored domains, newest first.
#[utoipa::path(get, path = "/certs/domains", tag = "certificates", params(DomainFilterParams, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Domains", body = Envelope<Vec<CertDomainItem>>),
        (status = 400, description = "Bad filter or paging parameter", body = EmptyEnvelope),
        (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn list_domains(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<DomainFilterParams>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    let filter = CertDomainFilter {
        enabled: parse_bool("enabled__eq", q.enabled.as_deref())?,
        domain_contains: non_empty(q.domain).map(|d| d.trim().to_owned()),
    };
    let rows = state.management(move |m| m.cert_domains(&filter, page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(CertDomainItem::from).collect::<Vec<_>>(), rows.total))
}

/// One monitored domain.
#[utoipa::path(get, path = "/certs/domains/{id}", tag = "certificates", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Domain id")), responses(
        (status = 200, description = "The domain", body = Envelope<CertDomainItem>),
        (status = 404, description = "`Domain not found`", body = EmptyEnvelope)))]
pub async fn get_domain(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    Ok(ApiOk::data(CertDomainItem::from(load_domain(&state, id).await?)))
}

/// Change a domain's port, enabled flag, interval or note.
#[utoipa::path(put, path = "/certs/domains/{id}", tag = "certificates", request_body = UpdateDomain,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Domain id")), responses(
        (status = 200, description = "The domain", body = Envelope<CertDomainItem>),
        (status = 400, description = "1103 bad port; 1001 bad interval, body or a changed domain name",
            body = EmptyEnvelope),
        (status = 404, description = "`Domain not found`", body = EmptyEnvelope)))]
pub async fn update_domain(
    state: AppStateRef,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateDomain>,
) -> ApiResult {
    let mut d = load_domain(&state, id).await?;
    if let Some(name) = &body.domain
        && normalize_domain(name).ok().as_deref() != Some(d.domain.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "domain cannot be changed (it is '{}'); delete it and add the new one",
            d.domain
        )));
    }
    if body.port.is_some() {
        d.port = valid_port(body.port)?;
    }
    if let Some(enabled) = body.enabled {
        d.enabled = enabled;
    }
    if let Some(interval) = body.check_interval_secs {
        d.check_interval_secs = valid_interval(interval)?;
    }
    if let Some(note) = body.note {
        d.note = clean_note(note);
    }
    let now = state.clock.now_ms() / 1000;
    let updated = state.management(move |m| m.update_cert_domain(&d, now)).await?.ok_or_else(domain_not_found)?;
    Ok(ApiOk::data(CertDomainItem::from(updated)))
}

/// Stop monitoring a domain; its check results go too (its certificate
/// details stay in the inventory).
#[utoipa::path(delete, path = "/certs/domains/{id}", tag = "certificates", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Domain id")), responses(
        (status = 200, description = "`{deleted: true}`", body = Envelope<DeletedItem>),
        (status = 404, description = "`Domain not found`", body = EmptyEnvelope)))]
pub async fn delete_domain(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    if !state.management(move |m| m.delete_cert_domain(&id)).await? {
        return Err(domain_not_found());
    }
    Ok(ApiOk::data(DeletedItem { deleted: true }))
}

/// Check a domain now (even a disabled one): the result is stored, the
/// certificate details refreshed and the samples recorded.
#[utoipa::path(post, path = "/certs/domains/{id}/check", tag = "certificates", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Domain id")), responses(
        (status = 200, description = "The result", body = Envelope<CertCheckResultItem>),
        (status = 404, description = "`Domain not found`", body = EmptyEnvelope),
        (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn check_domain(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let d = load_domain(&state, id).await?;
    let result = crate::certs::check_domain(&state, &d).await?;
    Ok(ApiOk::data(CertCheckResultItem::from(result)))
}

/// A domain's check results, newest first.
#[utoipa::path(get, path = "/certs/domains/{id}/history", tag = "certificates", params(("id" = String, Path,
    description = "Domain id"), PageParams), security(("bearer_auth" = [])), responses(
        (status = 200, description = "Results", body = Envelope<Vec<CertCheckResultItem>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope),
        (status = 404, description = "`Domain not found`", body = EmptyEnvelope)))]
pub async fn domain_history(
    state: AppStateRef,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    let d = load_domain(&state, id).await?;
    let rows = state.management(move |m| m.cert_check_history(&d.id, page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(CertCheckResultItem::from).collect::<Vec<_>>(), rows.total))
}

// === checks and status ===

/// Check every enabled domain now, up to `[cert_check] max_concurrent` at a
/// time (0.1 checked one after another); results in the order of the
/// domains' creation.
#[utoipa::path(post, path = "/certs/check", tag = "certificates", security(("bearer_auth" = [])), responses(
    (status = 200, description = "One result per enabled domain", body = Envelope<Vec<CertCheckResultItem>>),
    (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn check_all(state: AppStateRef) -> ApiResult {
    let domains = state.management(|m| m.enabled_cert_domains()).await?;
    let results = crate::certs::check_domains(&state, domains, state.config.cert_check.max_concurrent).await;
    let items = results.into_iter().map(|r| r.map(CertCheckResultItem::from)).collect::<Result<Vec<_>, _>>()?;
    Ok(ApiOk::data(items))
}

/// The newest result of every enabled domain, most recent first.
#[utoipa::path(get, path = "/certs/status", tag = "certificates", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Results", body = Envelope<Vec<CertCheckResultItem>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope),
        (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn status(state: AppStateRef, ApiQuery(p): ApiQuery<PageParams>) -> ApiResult {
    let page = p.page()?;
    let rows = state.management(move |m| m.latest_cert_results(page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(CertCheckResultItem::from).collect::<Vec<_>>(), rows.total))
}

/// The newest result of one domain, by host name.
#[utoipa::path(get, path = "/certs/status/{domain}", tag = "certificates", security(("bearer_auth" = [])),
    params(("domain" = String, Path, description = "Host name")), responses(
        (status = 200, description = "The newest result", body = Envelope<CertCheckResultItem>),
        (status = 404,
            description = "1004 `Domain is not being monitored`; 1105 `No check results yet for this domain`",
            body = EmptyEnvelope)))]
pub async fn domain_status(state: AppStateRef, Path(domain): Path<String>) -> ApiResult {
    let not_monitored = || ApiError::not_found("Domain is not being monitored");
    let name = normalize_domain(&domain).map_err(|_| not_monitored())?;
    let result = state
        .management(move |m| match m.cert_domain_by_name(&name)? {
            None => Ok(None),
            Some(d) => m.latest_cert_result(&d.id).map(Some),
        })
        .await?
        .ok_or_else(not_monitored)?
        .ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, cert_code::NO_RESULTS, "No check results yet for this domain")
        })?;
    Ok(ApiOk::data(CertCheckResultItem::from(result)))
}

/// Counts of valid, invalid and soon-expiring certificates.
#[utoipa::path(get, path = "/certs/summary", tag = "certificates", security(("bearer_auth" = [])), responses(
    (status = 200, description = "Counts", body = Envelope<CertSummaryItem>),
    (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn summary(state: AppStateRef) -> ApiResult {
    let s = state.management(|m| m.cert_summary()).await?;
    Ok(ApiOk::data(CertSummaryItem {
        total_domains: s.total_domains,
        valid: s.valid,
        invalid: s.invalid,
        expiring_soon: s.expiring_soon,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(raw: &str, expected: Result<&str, &str>) {
        let got = normalize_domain(raw).map_err(|e| {
            assert_eq!(e.code, cert_code::INVALID_DOMAIN, "{raw:?}");
            e.message
        });
        match expected {
            Ok(d) => assert_eq!(got.as_deref(), Ok(d), "{raw:?}"),
            Err(fragment) => {
                let message = got.unwrap_err();
                assert!(message.contains(fragment), "{raw:?}: {message}");
            }
        }
    }

    #[test]
    fn domains_are_normalised_or_refused_with_the_reason() {
        check(" Example.COM. ", Ok("example.com"));
        check("localhost", Ok("localhost"));
        check("_dmarc.x-y.example", Ok("_dmarc.x-y.example"));
        check("127.0.0.1", Ok("127.0.0.1"));
        check("[::1]", Ok("::1"));
        check("", Err("Domain cannot be empty"));
        check("   ", Err("Domain cannot be empty"));
        check("https://example.com", Err("remove the scheme"));
        check("exa mple.com", Err("contains spaces"));
        check("example.com/path", Err("remove the path"));
        check("example.com:8443", Err("use the port field"));
        check("a..b", Err("empty label"));
        check("-a.b", Err("starts or ends with '-'"));
        check("*.example.com", Err("character '*' is not allowed"));
        check(&format!("{}.com", "a".repeat(64)), Err("longer than 63"));
    }

    #[test]
    fn ports_and_intervals_are_range_checked() {
        assert_eq!(valid_port(None).unwrap(), 443);
        assert_eq!(valid_port(Some(65_535)).unwrap(), 65_535);
        for bad in [0, -1, 65_536] {
            let e = valid_port(Some(bad)).unwrap_err();
            assert_eq!(
                (e.code, e.message),
                (cert_code::INVALID_PORT, format!("port must be between 1 and 65535, got {bad}"))
            );
        }
        assert!(valid_interval(Some(0)).unwrap_err().message.starts_with("check_interval_secs must be at least 1"));
        assert_eq!(valid_interval(Some(60)).unwrap(), Some(60));
    }
}
