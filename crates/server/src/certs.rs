//! Certificate monitoring: the per-domain check routine shared by the
//! scheduler and the REST API (`api/certs.rs`).
//!
//! One check ([`check_domain`]) runs the [`checker`], then stores a
//! `cert_check_results` row, upserts the domain's `certificate_details`
//! and sets its `last_checked_at` (one transaction), and finally records
//! the samples `certificate.is_valid` and `certificate.days_until_expiry`
//! (agent [`CHECKER_AGENT`], label `domain`) through
//! [`AppState::record_internal`], the path that leads to the alert engine.
//! See `docs/certificates.md`.

pub mod checker;
pub mod details;
pub mod scheduler;

use std::sync::Arc;

use oxmon_common::metric::{CERT_DAYS_UNTIL_EXPIRY, CERT_IS_VALID, LABEL_DOMAIN, Labels};
use oxmon_storage::Sample;
use oxmon_storage::management::{CertCheckResult, CertDomain, CertificateDetails};
use tokio::task::JoinSet;

use crate::state::AppState;
use checker::CheckOutcome;

/// Agent id of the samples the checker records.
pub const CHECKER_AGENT: &str = "cert-checker";

/// Checks one domain now, stores the outcome and records its samples;
/// returns the stored result. Only a failing management database is an
/// error (a check that fails is a result with `is_valid = false`).
pub async fn check_domain(state: &AppState, domain: &CertDomain) -> Result<CertCheckResult, oxmon_storage::Error> {
    let now_ms = state.clock.now_ms();
    let now_s = now_ms.div_euclid(1000);
    let outcome = state.cert_checker.check(&domain.domain, domain.port, now_s).await;
    let (name, port) = (&domain.domain, domain.port);
    tracing::debug!(domain = %name, port, valid = outcome.is_valid, error = ?outcome.error, "certificate checked");
    let (result, details) = records(domain, &outcome, now_s);
    let stored = state.management(move |m| m.record_cert_check(result, details, now_s)).await?;
    if let Err(error) = state.record_internal(samples(&stored, now_ms)).await {
        // The result is stored; the samples are a copy for charts and alerts.
        tracing::warn!(domain = %stored.domain, %error, "storing certificate samples failed");
    }
    Ok(stored)
}

/// Checks `domains` with at most `max_concurrent` in flight; results in
/// the order of `domains`.
pub async fn check_domains(
    state: &Arc<AppState>,
    domains: Vec<CertDomain>,
    max_concurrent: usize,
) -> Vec<Result<CertCheckResult, oxmon_storage::Error>> {
    let max_concurrent = max_concurrent.max(1);
    let mut slots: Vec<Option<Result<CertCheckResult, oxmon_storage::Error>>> = Vec::new();
    slots.resize_with(domains.len(), || None);
    let mut pending = domains.into_iter().enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < max_concurrent {
            let Some((i, domain)) = pending.next() else { break };
            let state = state.clone();
            running.spawn(async move { (i, check_domain(&state, &domain).await) });
        }
        match running.join_next().await {
            Some(Ok((i, result))) => slots[i] = Some(result),
            Some(Err(error)) => tracing::error!(%error, "certificate check task failed"),
            None => break,
        }
    }
    slots.into_iter().map(|s| s.unwrap_or(Err(oxmon_storage::Error::WriterGone))).collect()
}

/// The stored forms of an outcome: the result row, and the details row
/// when a certificate was seen.
pub fn records(domain: &CertDomain, o: &CheckOutcome, now_s: i64) -> (CertCheckResult, Option<CertificateDetails>) {
    let ips: Vec<String> = o.resolved_ips.iter().map(ToString::to_string).collect();
    let cert = o.certificate.as_ref();
    let result = CertCheckResult {
        id: String::new(),
        domain_id: domain.id.clone(),
        domain: domain.domain.clone(),
        is_valid: o.is_valid,
        chain_valid: o.chain_valid,
        not_before: cert.map(|c| c.not_before),
        not_after: cert.map(|c| c.not_after),
        days_until_expiry: o.days_until_expiry(now_s),
        issuer: cert.map(|c| c.issuer.clone()),
        subject: cert.map(|c| c.subject.clone()),
        san_list: cert.map(|c| c.dns_names.clone()).filter(|n| !n.is_empty()),
        resolved_ips: (!ips.is_empty()).then(|| ips.clone()),
        error: o.error.clone(),
        checked_at: now_s,
        created_at: now_s,
        updated_at: now_s,
    };
    let details = cert.map(|c| CertificateDetails {
        id: String::new(),
        domain: domain.domain.clone(),
        not_before: c.not_before,
        not_after: c.not_after,
        ip_addresses: ips,
        issuer_cn: c.issuer_cn.clone(),
        issuer_o: c.issuer_o.clone(),
        issuer_ou: c.issuer_ou.clone(),
        issuer_c: c.issuer_c.clone(),
        subject_alt_names: c.subject_alt_names(),
        chain_valid: o.chain_valid,
        chain_error: o.chain_error.clone(),
        last_checked: now_s,
        created_at: now_s,
        updated_at: now_s,
        serial_number: Some(c.serial_number.clone()),
        fingerprint_sha256: Some(c.fingerprint_sha256.clone()),
        version: Some(c.version),
        signature_algorithm: Some(c.signature_algorithm.clone()),
        public_key_algorithm: Some(c.public_key_algorithm.clone()),
        public_key_bits: c.public_key_bits,
        subject_cn: c.subject_cn.clone(),
        subject_o: c.subject_o.clone(),
        key_usage: c.key_usage.clone(),
        extended_key_usage: c.extended_key_usage.clone(),
        is_ca: Some(c.is_ca),
        is_wildcard: Some(c.is_wildcard),
        ocsp_urls: Some(c.ocsp_urls.clone()),
        crl_urls: Some(c.crl_urls.clone()),
        ca_issuer_urls: Some(c.ca_issuer_urls.clone()),
        sct_count: Some(c.sct_count),
        tls_version: o.tls_version.clone(),
        cipher_suite: o.cipher_suite.clone(),
        chain_depth: o.chain_depth.and_then(|d| i64::try_from(d).ok()),
    });
    (result, details)
}

/// `certificate.is_valid` always, `certificate.days_until_expiry` when a
/// certificate was seen.
pub fn samples(result: &CertCheckResult, now_ms: i64) -> Vec<Sample> {
    let sample = |metric: &str, value: f64| Sample {
        timestamp_ms: now_ms,
        agent_id: CHECKER_AGENT.into(),
        metric_name: metric.into(),
        value,
        labels: Labels::one(LABEL_DOMAIN, result.domain.clone()),
    };
    let mut out = vec![sample(CERT_IS_VALID, if result.is_valid { 1.0 } else { 0.0 })];
    if let Some(days) = result.days_until_expiry {
        // Day counts are far below 2^53: exact as f64.
        out.push(sample(CERT_DAYS_UNTIL_EXPIRY, days as f64));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::details::Certificate;

    #[test]
    fn an_unreachable_domain_records_only_validity_and_no_details() {
        let domain = CertDomain { id: "d1".into(), ..CertDomain::new("down.example", 443) };
        let outcome = CheckOutcome { error: Some("cannot connect".into()), ..CheckOutcome::default() };
        let (result, details) = records(&domain, &outcome, 100);
        assert_eq!((result.is_valid, result.resolved_ips.as_ref(), result.days_until_expiry), (false, None, None));
        assert_eq!((result.domain_id.as_str(), result.checked_at), ("d1", 100));
        assert!(details.is_none());
        let s = samples(&result, 100_000);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].metric_name.as_str(), s[0].value, s[0].agent_id.as_str()),
            (CERT_IS_VALID, 0.0, "cert-checker")
        );
        assert_eq!(s[0].labels.get("domain"), Some("down.example"));
    }

    #[test]
    fn a_seen_certificate_records_its_expiry_and_details() {
        let domain = CertDomain::new("a.example", 443);
        let outcome = CheckOutcome {
            resolved_ips: vec!["127.0.0.1".parse().unwrap()],
            is_valid: false,
            chain_valid: false,
            chain_error: Some("certificate expired".into()),
            error: Some("certificate expired".into()),
            certificate: Some(Certificate {
                not_after: 100 - 86_400 * 2,
                dns_names: vec!["a.example".into()],
                ..Certificate::default()
            }),
            chain_depth: Some(2),
            ..CheckOutcome::default()
        };
        let (result, details) = records(&domain, &outcome, 100);
        assert_eq!(result.days_until_expiry, Some(-2));
        assert_eq!(result.san_list, Some(vec!["a.example".to_owned()]));
        let details = details.unwrap();
        assert_eq!((details.chain_error.as_deref(), details.chain_depth), (Some("certificate expired"), Some(2)));
        assert_eq!(details.ip_addresses, ["127.0.0.1"]);
        let s = samples(&result, 100_000);
        assert_eq!(s[1].metric_name, CERT_DAYS_UNTIL_EXPIRY);
        assert_eq!(s[1].value, -2.0);
    }
}
