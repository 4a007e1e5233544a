//! `SilenceWindow`: a daily time range during which the server holds back
//! notifications (`/v1/notifications/silence-windows`), named
//! `<namespace>/<name>` on the server.

// NB: kube's `printcolumn(...)` attributes repeat `type_ = "string"`, which clippy
// mistakes for duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use kube::CustomResource;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{HasSyncStatus, SyncStatus};

/// `HH:MM`, 00:00 to 23:59.
const TIME_PATTERN: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]$";
/// `daily`, `weekdays`, `weekends` or a comma list of days.
const RECURRENCE_PATTERN: &str = "^(daily|weekdays|weekends|(mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday)(,(mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday))*)$";

/// Spec of a `SilenceWindow`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "oxmon.io",
    version = "v1alpha1",
    kind = "SilenceWindow",
    namespaced,
    status = "SilenceWindowStatus",
    derive = "PartialEq",
    shortname = "oxsw",
    category = "oxmon",
    doc = "A silence window of the oxmon server (no notifications while it is active), kept in sync by oxmon-operator.",
    printcolumn(name = "Start", type_ = "string", json_path = ".spec.startTime"),
    printcolumn(name = "End", type_ = "string", json_path = ".spec.endTime"),
    printcolumn(name = "Recurrence", type_ = "string", json_path = ".spec.recurrence"),
    printcolumn(name = "Timezone", type_ = "string", json_path = ".spec.timezone"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = ("self.startTime != self.endTime", "startTime and endTime must differ"))]
#[serde(rename_all = "camelCase")]
pub struct SilenceWindowSpec {
    /// Local start time, `HH:MM`.
    #[schemars(regex(pattern = TIME_PATTERN))]
    pub start_time: String,
    /// Local end time, `HH:MM`; before `startTime` means the window runs past midnight
    /// (and belongs to the day it starts on).
    #[schemars(regex(pattern = TIME_PATTERN))]
    pub end_time: String,
    /// `daily` (default), `weekdays`, `weekends`, or days such as `mon,wed,fri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = RECURRENCE_PATTERN))]
    pub recurrence: Option<String>,
    /// IANA time zone of the times, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    #[schemars(length(min = 1, max = 64))]
    pub timezone: String,
}

/// Status of a `SilenceWindow`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SilenceWindowStatus {
    #[serde(flatten)]
    pub sync: SyncStatus,
}

fn utc() -> String {
    "UTC".into()
}

impl HasSyncStatus for SilenceWindow {
    fn sync_status(&self) -> Option<&SyncStatus> {
        self.status.as_ref().map(|s| &s.sync)
    }
}
