//! The built-in dictionary, synced at every start, and the seed format of
//! `init-dictionaries`.
//!
//! The built-in entries describe what this server really supports (0.1's
//! listed channel types without plugins, a `trend` rule type, eq/ne
//! operators and metric names no agent emitted).

use oxmon_common::metric::{AGENT_METRICS, CERT_DAYS_UNTIL_EXPIRY, CERT_IS_VALID};
use oxmon_common::rule::RULE_TYPES;
use oxmon_storage::management::{DictItem, DictType, Management, Write};
use serde::Deserialize;

/// (type, label, items as (key, label, value)).
type BuiltIn = (&'static str, &'static str, &'static [(&'static str, &'static str, Option<&'static str>)]);

const FIXED: &[BuiltIn] = &[
    (
        "channel_type",
        "Notification channel types",
        &[
            ("email", "Email", None),
            ("webhook", "Webhook", None),
            ("sms", "SMS", None),
            ("dingtalk", "DingTalk", None),
            ("weixin", "WeCom", None),
        ],
    ),
    (
        "severity",
        "Alert severities",
        &[("info", "Info", Some("1")), ("warning", "Warning", Some("2")), ("critical", "Critical", Some("3"))],
    ),
    (
        "alert_status",
        "Alert statuses",
        &[
            ("pending", "Open", Some("1")),
            ("acknowledged", "Acknowledged", Some("2")),
            ("resolved", "Resolved", Some("3")),
        ],
    ),
    (
        "agent_status",
        "Agent statuses",
        &[("active", "Active", None), ("inactive", "Inactive", None), ("unknown", "Unknown", None)],
    ),
    (
        "compare_operator",
        "Threshold operators",
        &[
            ("gt", "Greater than", Some(">")),
            ("gte", "At least", Some(">=")),
            ("lt", "Less than", Some("<")),
            ("lte", "At most", Some("<=")),
        ],
    ),
    (
        "rule_source",
        "Rule sources",
        &[("api", "REST API", None), ("seed", "Seed file", None), ("crd", "Kubernetes", None)],
    ),
    (
        "recipient_type",
        "Recipient types",
        &[
            ("email_address", "Email address", None),
            ("phone_number", "Phone number", None),
            ("webhook_url", "Webhook URL", None),
        ],
    ),
    ("system_config_type", "System config types", &[("runtime", "Runtime setting", None)]),
];

/// The built-in types and items, in order (sort orders from 1).
pub fn built_in() -> (Vec<DictType>, Vec<DictItem>) {
    let mut types = Vec::new();
    let mut items = Vec::new();
    let add_type = |types: &mut Vec<DictType>, key: &str, label: &str| {
        types.push(DictType {
            dict_type: key.into(),
            dict_type_label: label.into(),
            sort_order: types.len() as i64 + 1,
            description: None,
            is_system: true,
            created_at: 0,
            updated_at: 0,
        });
    };
    let add_items = |items: &mut Vec<DictItem>, t: &str, entries: Vec<(String, String, Option<String>)>| {
        for (i, (key, label, value)) in entries.into_iter().enumerate() {
            items.push(DictItem {
                id: String::new(),
                dict_type: t.into(),
                dict_key: key,
                dict_label: label,
                dict_value: value,
                sort_order: i as i64 + 1,
                enabled: true,
                is_system: true,
                description: None,
                extra_json: None,
                created_at: 0,
                updated_at: 0,
            });
        }
    };
    for (i, (t, label, entries)) in FIXED.iter().enumerate() {
        add_type(&mut types, t, label);
        add_items(
            &mut items,
            t,
            entries.iter().map(|(k, l, v)| ((*k).into(), (*l).into(), v.map(Into::into))).collect(),
        );
        if i == 1 {
            add_type(&mut types, "rule_type", "Alert rule types");
            add_items(&mut items, "rule_type", RULE_TYPES.iter().map(|r| ((*r).into(), (*r).into(), None)).collect());
        }
        if i == 4 {
            add_type(&mut types, "metric_name", "Metric names");
            let names = AGENT_METRICS.iter().chain([&CERT_DAYS_UNTIL_EXPIRY, &CERT_IS_VALID]);
            add_items(&mut items, "metric_name", names.map(|m| ((*m).into(), (*m).into(), None)).collect());
        }
    }
    (types, items)
}

/// A dictionaries seed file (oxmon 0.1's format).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionarySeed {
    #[serde(default)]
    pub dictionary_types: Vec<SeedType>,
    #[serde(default)]
    pub dictionaries: Vec<SeedItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedType {
    pub dict_type: String,
    pub dict_type_label: String,
    #[serde(default)]
    pub sort_order: i64,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedItem {
    pub dict_type: String,
    pub dict_key: String,
    pub dict_label: String,
    pub dict_value: Option<String>,
    #[serde(default)]
    pub sort_order: i64,
    pub enabled: Option<bool>,
    /// Accepted for 0.1 files; seeded items are never built-in.
    pub is_system: Option<bool>,
    pub description: Option<String>,
    pub extra_json: Option<String>,
}

/// Inserts a seed's types and items, skipping existing ones (insert or
/// ignore). Returns (types inserted, items inserted, items skipped). Blocking.
pub fn apply_seed(m: &Management, seed: DictionarySeed, now_s: i64) -> Result<(usize, usize, usize), String> {
    for (i, it) in seed.dictionaries.iter().enumerate() {
        if it.dict_type.trim().is_empty() || it.dict_key.trim().is_empty() || it.dict_label.trim().is_empty() {
            return Err(format!("dictionaries[{i}]: dict_type, dict_key and dict_label are required"));
        }
        if let Some(extra) = &it.extra_json {
            serde_json::from_str::<serde_json::Value>(extra)
                .map_err(|e| format!("dictionaries[{i}] ({}): extra_json is not valid JSON: {e}", it.dict_key))?;
        }
    }
    let (mut types, mut items, mut skipped) = (0, 0, 0);
    for t in seed.dictionary_types {
        let row = DictType {
            dict_type: t.dict_type,
            dict_type_label: t.dict_type_label,
            sort_order: t.sort_order,
            description: t.description,
            is_system: false,
            created_at: 0,
            updated_at: 0,
        };
        if matches!(m.create_dict_type(row, now_s).map_err(|e| e.to_string())?, Write::Done(_)) {
            types += 1;
        }
    }
    for it in seed.dictionaries {
        let _ = it.is_system;
        let row = DictItem {
            id: String::new(),
            dict_type: it.dict_type,
            dict_key: it.dict_key,
            dict_label: it.dict_label,
            dict_value: it.dict_value,
            sort_order: it.sort_order,
            enabled: it.enabled.unwrap_or(true),
            is_system: false,
            description: it.description,
            extra_json: it.extra_json,
            created_at: 0,
            updated_at: 0,
        };
        match m.create_dict_item(row, now_s).map_err(|e| e.to_string())? {
            Write::Done(_) => items += 1,
            _ => skipped += 1,
        }
    }
    Ok((types, items, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_dictionary_lists_what_the_server_supports() {
        let (types, items) = built_in();
        assert_eq!(types.len(), 10);
        let keys = |t: &str| -> Vec<String> {
            items.iter().filter(|i| i.dict_type == t).map(|i| i.dict_key.clone()).collect()
        };
        assert_eq!(keys("rule_type"), RULE_TYPES);
        assert_eq!(keys("channel_type"), ["email", "webhook", "sms", "dingtalk", "weixin"]);
        assert!(keys("metric_name").contains(&"memory.used_percent".to_owned()));
        assert!(!keys("compare_operator").contains(&"eq".to_owned()));
        let orders: Vec<i64> = types.iter().map(|t| t.sort_order).collect();
        assert_eq!(orders, (1..=10).collect::<Vec<_>>());
    }
}
