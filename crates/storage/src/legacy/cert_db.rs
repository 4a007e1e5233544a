//! The new `cert.db`: our schema (created by [`Management::open`]), filled
//! from oxmon 0.1's `cert.db` by SQL over an attached read-only copy, plus
//! 0.1's alert events from the day files and the agents seen in its samples.
//!
//! [`Management::open`]: crate::management::Management::open

use std::collections::BTreeMap;
use std::path::Path;

use oxmon_common::silence::Window;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::source::{self, Source};
use super::token::{TokenKey, is_bcrypt};
use super::{CertDb, Detection, Error, Result, Summary};
use crate::MANAGEMENT_DB;
use crate::management::{STATUS_ACKNOWLEDGED, STATUS_OPEN, STATUS_RESOLVED};

/// Channel types this version has (the server's `CHANNEL_TYPES`).
const CHANNEL_TYPES: &[&str] = &["email", "webhook", "sms", "dingtalk", "weixin"];

/// Tables whose rows carry over as they are: (kind in the summary, 0.1
/// table, statement). Column lists are explicit, so our extra columns take
/// their defaults.
const COPIES: &[(&str, &str, &str)] = &[
    (
        "users",
        "users",
        "INSERT OR IGNORE INTO main.users (id, username, password_hash, token_version, created_at, updated_at)
         SELECT id, username, password_hash, token_version, created_at, updated_at FROM old.users",
    ),
    (
        "alert rules",
        "alert_rules",
        "INSERT OR IGNORE INTO main.alert_rules (id, name, rule_type, metric, agent_pattern, severity, enabled,
             config_json, silence_secs, source, created_at, updated_at)
         SELECT id, name, rule_type, metric, agent_pattern, severity, enabled, config_json, silence_secs, source,
             created_at, updated_at FROM old.alert_rules",
    ),
    (
        "system configs",
        "system_configs",
        "INSERT OR IGNORE INTO main.system_configs (id, config_key, config_type, provider, display_name, description,
             config_json, enabled, created_at, updated_at)
         SELECT id, config_key, config_type, provider, display_name, description, config_json, enabled, created_at,
             updated_at FROM old.system_configs",
    ),
    (
        "dictionary types",
        "dictionary_types",
        "INSERT OR IGNORE INTO main.dictionary_types (dict_type, dict_type_label, sort_order, description, created_at,
             updated_at)
         SELECT dict_type, dict_type_label, sort_order, description, created_at, updated_at FROM old.dictionary_types",
    ),
    (
        "dictionary items",
        "system_dictionaries",
        "INSERT OR IGNORE INTO main.system_dictionaries (id, dict_type, dict_key, dict_label, dict_value, sort_order,
             enabled, is_system, description, extra_json, created_at, updated_at)
         SELECT id, dict_type, dict_key, dict_label, dict_value, sort_order, enabled, is_system, description,
             extra_json, created_at, updated_at FROM old.system_dictionaries",
    ),
    (
        "certificate domains",
        "cert_domains",
        "INSERT OR IGNORE INTO main.cert_domains (id, domain, port, enabled, check_interval_secs, note,
             last_checked_at, created_at, updated_at)
         SELECT id, domain, port, enabled, check_interval_secs, note, last_checked_at, created_at, updated_at
           FROM old.cert_domains",
    ),
    (
        "certificate check results",
        "cert_check_results",
        "INSERT OR IGNORE INTO main.cert_check_results (id, domain_id, domain, is_valid, chain_valid, not_before,
             not_after, days_until_expiry, issuer, subject, san_list, resolved_ips, error, checked_at, created_at,
             updated_at)
         SELECT id, domain_id, domain, is_valid, chain_valid, not_before, not_after, days_until_expiry, issuer,
             subject, san_list, resolved_ips, error, checked_at, created_at, updated_at FROM old.cert_check_results",
    ),
    (
        "certificate details",
        "certificate_details",
        "INSERT OR IGNORE INTO main.certificate_details (id, domain, not_before, not_after, ip_addresses, issuer_cn,
             issuer_o, issuer_ou, issuer_c, subject_alt_names, chain_valid, chain_error, last_checked, created_at,
             updated_at, serial_number, fingerprint_sha256, version, signature_algorithm, public_key_algorithm,
             public_key_bits, subject_cn, subject_o, key_usage, extended_key_usage, is_ca, is_wildcard, ocsp_urls,
             crl_urls, ca_issuer_urls, sct_count, tls_version, cipher_suite, chain_depth)
         SELECT id, domain, not_before, not_after, COALESCE(ip_addresses, '[]'), issuer_cn, issuer_o, issuer_ou,
             issuer_c, COALESCE(subject_alt_names, '[]'), chain_valid, chain_error, last_checked, created_at,
             updated_at, serial_number, fingerprint_sha256, version, signature_algorithm, public_key_algorithm,
             public_key_bits, subject_cn, subject_o, key_usage, extended_key_usage, is_ca, is_wildcard, ocsp_urls,
             crl_urls, ca_issuer_urls, sct_count, tls_version, cipher_suite, chain_depth
           FROM old.certificate_details",
    ),
    (
        "notification logs",
        "notification_logs",
        "INSERT OR IGNORE INTO main.notification_logs (id, alert_event_id, rule_id, rule_name, agent_id, channel_id,
             channel_name, channel_type, status, error_message, duration_ms, recipient_count, severity, created_at_ms,
             http_status_code, response_body, request_body, retry_count, recipient_details, api_message_id,
             api_error_code)
         SELECT id, alert_event_id, rule_id, rule_name, agent_id, channel_id, channel_name, channel_type, status,
             error_message, duration_ms, recipient_count, severity, created_at * 1000, http_status_code,
             response_body, request_body, retry_count, recipient_details, api_message_id, api_error_code
           FROM old.notification_logs",
    ),
];

/// Builds `out/cert.db`.
pub(super) fn build(
    data_dir: &Path,
    detection: &Detection,
    key: Option<&TokenKey>,
    out: &Path,
    scratch: &Path,
    agents: &BTreeMap<String, (i64, i64)>,
    summary: &mut Summary,
) -> Result<()> {
    let target = out.join(MANAGEMENT_DB);
    let live = data_dir.join(MANAGEMENT_DB);
    let write_err = |source| Error::Write { path: target.clone(), source };
    if detection.cert_db == CertDb::Current {
        // Our own cert.db (0.1's was replaced by a fresh one): a consistent
        // copy of it receives the 0.1 alert events.
        let src = Source::new(&live, scratch)?;
        let conn = src.open()?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy()]).map_err(|e| src.read_err(e))?;
    }
    drop(crate::management::Management::open(out)?);
    let conn = Connection::open(&target).map_err(write_err)?;
    if detection.cert_db == CertDb::Legacy {
        let src = Source::new(&live, scratch)?;
        conn.execute("ATTACH DATABASE ?1 AS old", [&src.uri]).map_err(|e| src.read_err(e))?;
        conn.execute_batch("BEGIN").map_err(write_err)?;
        import_management(&conn, &src, key, summary)?;
        conn.execute_batch("COMMIT").map_err(write_err)?;
        conn.execute_batch("DETACH DATABASE old").map_err(write_err)?;
    }
    import_alert_events(&conn, detection, scratch, summary)?;
    save_agents(&conn, agents).map_err(write_err)?;
    // Fold the WAL into the file before it is moved into place.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").map_err(write_err)?;
    drop(conn);
    Ok(())
}

fn import_management(conn: &Connection, src: &Source, key: Option<&TokenKey>, summary: &mut Summary) -> Result<()> {
    let schema_err = |table: &str, e: rusqlite::Error| Error::Schema {
        path: src.path.clone(),
        message: format!(
            "table {table}: {e} (start oxmon 0.1.4 on this data dir once, so that it adds its newer columns, then retry)"
        ),
    };
    let has = |table: &str| source::has_table(conn, "old", table).map_err(|e| src.read_err(e));
    for &(kind, table, sql) in COPIES.iter().take(1) {
        copy_table(conn, kind, table, sql, has(table)?, summary).map_err(|e| schema_err(table, e))?;
    }
    if has("agent_whitelist")? {
        whitelist(conn, key, summary).map_err(|e| schema_err("agent_whitelist", e))?;
    }
    for &(kind, table, sql) in COPIES.iter().skip(1) {
        copy_table(conn, kind, table, sql, has(table)?, summary).map_err(|e| schema_err(table, e))?;
    }
    if has("notification_channels")? {
        channels(conn, summary).map_err(|e| schema_err("notification_channels", e))?;
    }
    if has("notification_recipients")? {
        recipients(conn, summary).map_err(|e| schema_err("notification_recipients", e))?;
    }
    if has("notification_silence_windows")? {
        silence_windows(conn, summary).map_err(|e| schema_err("notification_silence_windows", e))?;
    }
    Ok(())
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| u64::try_from(n).unwrap_or(0))
}

fn copy_table(
    conn: &Connection,
    kind: &'static str,
    table: &str,
    sql: &str,
    exists: bool,
    summary: &mut Summary,
) -> rusqlite::Result<()> {
    if !exists {
        summary.add(kind, 0);
        return Ok(());
    }
    let total = count(conn, &format!("SELECT COUNT(*) FROM old.\"{table}\""))?;
    let copied = conn.execute(sql, [])? as u64;
    summary.add(kind, copied);
    summary.reject(kind, total.saturating_sub(copied), "duplicate key or a required value missing");
    Ok(())
}

/// Agent whitelist: a token sealed under `token.key` is opened and stored
/// as our SHA-256, so the agent's token keeps working on the fast path; an
/// entry with only 0.1's bcrypt hash keeps that hash, which the whitelist
/// checks with bcrypt on the agent's next report and then replaces by the
/// SHA-256 of the token it proved (see `management/whitelist.rs`).
fn whitelist(conn: &Connection, key: Option<&TokenKey>, summary: &mut Summary) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, agent_id, token_hash, encrypted_token, description, created_at, updated_at
           FROM old.agent_whitelist ORDER BY created_at, id",
    )?;
    type Row = (String, String, String, Option<String>, Option<String>, i64, i64);
    let rows: Vec<Row> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = conn.prepare(
        "INSERT OR IGNORE INTO main.agent_whitelist (id, agent_id, token_hash, description, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let (mut opened, mut kept_bcrypt) = (0u64, Vec::new());
    for (id, agent_id, bcrypt_hash, sealed, description, created_at, updated_at) in rows {
        let token = sealed.as_deref().zip(key).and_then(|(s, k)| k.open(s));
        let hash = match &token {
            Some(token) => hex::encode(Sha256::digest(token.as_bytes())),
            None if is_bcrypt(&bcrypt_hash) => bcrypt_hash,
            None => {
                summary.reject(
                    format!("agent whitelist entry {agent_id:?}"),
                    1,
                    "its token is neither sealed under token.key nor a bcrypt hash; add the agent again",
                );
                continue;
            }
        };
        if insert.execute(params![id, agent_id, hash, description, created_at, updated_at])? == 0 {
            summary.reject(format!("agent whitelist entry {agent_id:?}"), 1, "duplicate agent id");
            continue;
        }
        if token.is_some() {
            opened += 1;
        } else {
            kept_bcrypt.push(agent_id);
        }
    }
    summary.add("agent whitelist entries", opened + kept_bcrypt.len() as u64);
    if !kept_bcrypt.is_empty() {
        summary.notes.push(format!(
            "agent tokens kept as 0.1 bcrypt hashes (no sealed copy{}): {}; each keeps working and is stored as \
             SHA-256 on its first use",
            if key.is_none() { ", or no token.key" } else { " that token.key opens" },
            kept_bcrypt.join(", ")
        ));
    }
    Ok(())
}

/// Channels: 0.1's `sms_aliyun`, `sms_tencent` and `sms_generic` become the
/// `sms` type with that provider in the config (unless it names one).
fn channels(conn: &Connection, summary: &mut Summary) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, name, channel_type, description, min_severity, enabled, config_json, created_at, updated_at
           FROM old.notification_channels ORDER BY created_at, id",
    )?;
    type Row = (String, String, String, Option<String>, String, i64, String, i64, i64);
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = conn.prepare(
        "INSERT OR IGNORE INTO main.notification_channels (id, name, channel_type, description, min_severity,
             enabled, config_json, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut n = 0u64;
    for (id, name, channel_type, description, min_severity, enabled, config_json, created_at, updated_at) in rows {
        let requested = channel_type.trim().to_ascii_lowercase();
        let (stored_type, config_json) = match requested.strip_prefix("sms_") {
            Some(provider @ ("aliyun" | "tencent" | "generic")) => {
                ("sms".to_owned(), with_provider(&config_json, provider))
            }
            _ if CHANNEL_TYPES.contains(&requested.as_str()) => (requested, config_json),
            _ => {
                summary.reject(
                    format!("channel {name:?}"),
                    1,
                    format!("unknown channel_type {channel_type:?} (its recipients are not migrated either)"),
                );
                continue;
            }
        };
        let params =
            params![id, name, stored_type, description, min_severity, enabled, config_json, created_at, updated_at];
        if insert.execute(params)? == 0 {
            summary.reject(format!("channel {name:?}"), 1, "duplicate id or name");
        } else {
            n += 1;
        }
    }
    summary.add("notification channels", n);
    Ok(())
}

/// `config_json` with `provider` set, unless the config names one already
/// or is not a JSON object (then it is kept as it is; the server reports
/// an invalid config when it loads the channel).
fn with_provider(config_json: &str, provider: &str) -> String {
    let parsed: Option<serde_json::Map<String, serde_json::Value>> = match serde_json::from_str(config_json) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        // 0.1 also accepted the object encoded as a JSON string.
        Ok(serde_json::Value::String(inner)) => serde_json::from_str(&inner).ok(),
        _ => None,
    };
    match parsed {
        Some(mut map) => {
            map.entry("provider").or_insert_with(|| serde_json::Value::String(provider.to_owned()));
            serde_json::Value::Object(map).to_string()
        }
        None => config_json.to_owned(),
    }
}

fn recipients(conn: &Connection, summary: &mut Summary) -> rusqlite::Result<()> {
    let total = count(conn, "SELECT COUNT(*) FROM old.notification_recipients")?;
    let orphans = count(
        conn,
        "SELECT COUNT(*) FROM old.notification_recipients
          WHERE channel_id NOT IN (SELECT id FROM old.notification_channels)",
    )?;
    let copied = conn.execute(
        "INSERT OR IGNORE INTO main.notification_recipients (id, channel_id, value, created_at)
         SELECT id, channel_id, value, created_at FROM old.notification_recipients
          WHERE channel_id IN (SELECT id FROM main.notification_channels)",
        [],
    )? as u64;
    summary.add("notification recipients", copied);
    summary.reject("notification recipients", orphans, "their channel was deleted in 0.1");
    summary.reject(
        "notification recipients",
        total.saturating_sub(copied + orphans),
        "their channel is not migrated, or a duplicate",
    );
    Ok(())
}

/// Silence windows. 0.1 treated every window as daily whatever its
/// `recurrence`; ours honours it, so one this version cannot read is stored
/// as daily (what 0.1 did), and a window whose times 0.1 could not read
/// either (it skipped those) is reported.
fn silence_windows(conn: &Connection, summary: &mut Summary) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, start_time, end_time, recurrence, created_at, updated_at
           FROM old.notification_silence_windows ORDER BY created_at, id",
    )?;
    let rows: Vec<(String, String, String, Option<String>, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = conn.prepare(
        "INSERT OR IGNORE INTO main.notification_silence_windows (id, start_time, end_time, recurrence, timezone,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'UTC', ?5, ?6)",
    )?;
    let mut n = 0u64;
    for (id, start, end, recurrence, created_at, updated_at) in rows {
        let recurrence = recurrence.map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty());
        let recurrence = match Window::parse(start.trim(), end.trim(), recurrence.as_deref()) {
            Ok(_) => recurrence,
            Err(e) => match Window::parse(start.trim(), end.trim(), None) {
                Ok(_) => {
                    summary.notes.push(format!(
                        "silence window {start}-{end}: recurrence {:?} is not understood ({e}); stored as daily, as \
                         0.1 applied it",
                        recurrence.unwrap_or_default()
                    ));
                    None
                }
                Err(e) => {
                    summary.reject(format!("silence window {start}-{end}"), 1, e);
                    continue;
                }
            },
        };
        n += insert.execute(params![id, start.trim(), end.trim(), recurrence, created_at, updated_at])? as u64;
    }
    summary.add("silence windows", n);
    Ok(())
}

/// 0.1's alert events, kept in its day files, go into `cert.db` (where
/// metric retention does not reach them). 0.1 never stored an event's
/// status at insert, so recoveries were left `open`; they are stored as
/// resolved, as this version stores recoveries.
fn import_alert_events(conn: &Connection, detection: &Detection, scratch: &Path, summary: &mut Summary) -> Result<()> {
    let mut n = 0u64;
    for file in &detection.day_files {
        let src = Source::new(&file.path, scratch)?;
        let write_err = |e| Error::Write { path: src.path.clone(), source: e };
        conn.execute("ATTACH DATABASE ?1 AS day", [&src.uri]).map_err(|e| src.read_err(e))?;
        let result = (|| -> Result<()> {
            if !source::has_table(conn, "day", "alert_events").map_err(|e| src.read_err(e))? {
                return Ok(());
            }
            let has_status = source::columns(conn, "day", "alert_events")
                .map_err(|e| src.read_err(e))?
                .iter()
                .any(|c| c == "status");
            let status = if has_status { "status" } else { "'open'" };
            let total = count(conn, "SELECT COUNT(*) FROM day.alert_events").map_err(|e| src.read_err(e))?;
            let copied = conn
                .execute(
                    &format!(
                        "INSERT OR IGNORE INTO main.alert_events (id, rule_id, rule_name, agent_id, metric_name,
                             severity, message, value, threshold, timestamp_ms, predicted_breach_ms, status, labels,
                             first_triggered_at_ms, created_at, updated_at)
                         SELECT id, rule_id, COALESCE(rule_name, ''), agent_id, metric_name, severity, message, value,
                             threshold, timestamp, predicted_breach,
                             CASE WHEN message LIKE '[RECOVERED]%' THEN {STATUS_RESOLVED}
                                  WHEN {status} = 'acknowledged' THEN {STATUS_ACKNOWLEDGED}
                                  WHEN {status} = 'resolved' THEN {STATUS_RESOLVED}
                                  ELSE {STATUS_OPEN} END,
                             COALESCE(labels, '{{}}'), first_triggered_at,
                             COALESCE(created_at, timestamp / 1000), COALESCE(updated_at, created_at, timestamp / 1000)
                           FROM day.alert_events"
                    ),
                    [],
                )
                .map_err(write_err)? as u64;
            n += copied;
            summary.reject(
                format!("alert events in {}", file.day.file_name()),
                total.saturating_sub(copied),
                "duplicate id or a required value missing",
            );
            Ok(())
        })();
        conn.execute_batch("DETACH DATABASE day").map_err(write_err)?;
        result?;
    }
    summary.add("alert events", n);
    Ok(())
}

/// The agent id 0.1's certificate checker wrote its samples under; it is
/// not an agent.
const CERT_CHECKER: &str = "cert-checker";

/// Agents seen in the 0.1 samples, so they are listed (as offline until
/// they report) with their real first and last report.
fn save_agents(conn: &Connection, agents: &BTreeMap<String, (i64, i64)>) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO agents (agent_id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (agent_id) DO UPDATE SET
            first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
            last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)",
    )?;
    for (agent_id, (first, last)) in agents.iter().filter(|(a, _)| *a != CERT_CHECKER) {
        stmt.execute(params![agent_id, first, last])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_types_get_their_provider_unless_the_config_names_one() {
        assert_eq!(with_provider(r#"{"a":1}"#, "aliyun"), r#"{"a":1,"provider":"aliyun"}"#);
        assert_eq!(with_provider(r#"{"provider":"tencent"}"#, "aliyun"), r#"{"provider":"tencent"}"#);
        assert_eq!(with_provider(r#""{\"a\":1}""#, "generic"), r#"{"a":1,"provider":"generic"}"#);
        assert_eq!(with_provider("not json", "aliyun"), "not json");
    }
}
