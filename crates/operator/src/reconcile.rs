//! The reconcile skeleton shared by the three kinds: finalizer handling,
//! the `Ready` condition, status patches, events, and backoff on errors.
//!
//! A kind supplies only [`ServerKind::sync`] (make the server object match
//! the spec) and [`ServerKind::remove`] (delete it). Everything a sync can
//! end in becomes a `Ready` condition:
//!
//! | outcome | `Ready` | reason | next reconcile |
//! |---|---|---|---|
//! | in sync (created, updated or unchanged) | True | `Synced` | resync interval |
//! | server refused the spec (400) | False | `Invalid`, the server's message | resync interval (or a spec change) |
//! | server object belongs to the REST API (409) | False | `Conflict` | resync interval |
//! | a referenced Secret or key is missing | False | `SecretNotFound` | the Secret changing, or the resync interval |
//! | server unreachable, timing out or failing (5xx) | False | `ServerUnavailable` | backoff |
//! | operator token refused (401/403) | False | `Unauthorized` | backoff |
//!
//! Errors never end the operator: a failed reconcile is retried with
//! jittered exponential backoff (see [`crate::backoff`]), counted per object.

pub mod alert_rule;
pub mod notification_channel;
pub mod silence_window;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};

use crate::backoff::{Backoff, FailureCounts};
use crate::crd::{HasSyncStatus, READY};
use crate::server::{OxmonClient, ServerError};

/// Message of `Ready=True`.
const SYNCED_MESSAGE: &str = "the server object matches the spec";

/// Finalizer that keeps a custom resource until its server object is deleted.
pub const FINALIZER: &str = "oxmon.io/server-object";

/// `Ready` reasons.
pub mod reason {
    pub const SYNCED: &str = "Synced";
    pub const INVALID: &str = "Invalid";
    pub const CONFLICT: &str = "Conflict";
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const SERVER_UNAVAILABLE: &str = "ServerUnavailable";
    pub const UNAUTHORIZED: &str = "Unauthorized";
    pub const REFUSED: &str = "Refused";
    pub const KUBERNETES_ERROR: &str = "KubernetesError";
}

/// What every reconcile can reach.
pub struct Context {
    pub kube: kube::Client,
    pub server: OxmonClient,
    /// Requeue delay of objects in a settled state: drift is corrected this often.
    pub resync: Duration,
    pub backoff: Backoff,
    failures: FailureCounts,
    recorder: Recorder,
}

/// Why a reconcile failed (and will be retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Sync(#[from] SyncError),
    #[error("{0}")]
    Server(ServerError),
    #[error("kubernetes API: {0}")]
    Kube(kube::Error),
    #[error("{0}")]
    Finalizer(Box<finalizer::Error<Error>>),
    #[error("the resource has no namespace")]
    NoNamespace,
}

/// A kind whose objects the operator keeps on the oxmon server.
pub trait ServerKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + HasSyncStatus
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// Status fields the kind adds to [`crate::crd::SyncStatus`] after a sync.
    type Extra: Serialize + Send;

    /// Makes the server object named `server_name` (last seen with id
    /// `known_id`) match the spec, creating it when it is missing.
    fn sync(
        &self,
        ctx: &Context,
        server_name: &str,
        known_id: Option<&str>,
    ) -> impl Future<Output = Result<Synced<Self::Extra>, SyncError>> + Send;

    /// Deletes the server object, if there is one that the operator owns.
    fn remove(
        &self,
        ctx: &Context,
        server_name: &str,
        known_id: Option<&str>,
    ) -> impl Future<Output = Result<Removed, ServerError>> + Send;
}

/// A successful sync.
#[derive(Debug)]
pub struct Synced<E> {
    pub server_id: String,
    pub change: Change,
    pub extra: E,
}

/// What a sync did to the server object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// What a removal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    Deleted,
    /// There was nothing to delete.
    Missing,
    /// The object under that name was created through the REST API: left alone.
    NotOwned,
}

/// Why a sync did not reach the desired state.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The spec cannot become a server object (normally caught by the CRD's CEL rules).
    #[error("{0}")]
    Spec(String),
    /// A referenced Secret or key does not exist.
    #[error("{0}")]
    Secret(String),
    #[error("{0}")]
    Server(#[from] ServerError),
    #[error("kubernetes API: {0}")]
    Kube(kube::Error),
}

// === impl Context ===

impl Context {
    /// `instance` names this replica in events (the pod name).
    pub fn new(kube: kube::Client, server: OxmonClient, resync: Duration, instance: Option<String>) -> Self {
        let reporter = Reporter { controller: "oxmon-operator".into(), instance };
        Self {
            recorder: Recorder::new(kube.clone(), reporter),
            kube,
            server,
            resync,
            backoff: Backoff::default(),
            failures: FailureCounts::default(),
        }
    }

    /// The delay before retrying `key` after one more failure.
    fn retry_delay(&self, key: &str) -> Duration {
        self.backoff.delay(self.failures.fail(key))
    }
}

impl Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("server", &self.server)
            .field("resync", &self.resync)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

// === reconcile ===

/// Reconciles one object of kind `K` (the controller's reconcile function).
#[tracing::instrument(skip_all, fields(kind = %K::kind(&()), object = %object_key(&*obj)))]
pub async fn reconcile<K: ServerKind>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = obj.namespace().ok_or(Error::NoNamespace)?;
    let api: Api<K> = Api::namespaced(ctx.kube.clone(), &namespace);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(obj) => apply(&*obj, &api, &ctx).await,
            finalizer::Event::Cleanup(obj) => cleanup(&*obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(Box::new(other)),
    })
}

/// Retries a failed object with backoff (the controller's error policy).
pub fn error_policy<K: ServerKind>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = failure_key(&*obj);
    let delay = ctx.retry_delay(&key);
    warn!(object = %key, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// `<namespace>/<name>`: the name of the object's server counterpart.
pub fn server_name<K: Resource>(obj: &K) -> String {
    object_key(obj)
}

async fn apply<K: ServerKind>(obj: &K, api: &Api<K>, ctx: &Context) -> Result<Action, Error> {
    let name = server_name(obj);
    let previous = obj.sync_status().cloned().unwrap_or_default();
    let generation = obj.meta().generation;
    let outcome = obj.sync(ctx, &name, previous.server_id.as_deref()).await;

    let mut status = Map::new();
    let (ready, result, change) = match outcome {
        Ok(synced) => {
            status = to_object(&synced.extra);
            status.insert("serverId".into(), Value::String(synced.server_id));
            ctx.failures.reset(&failure_key(obj));
            let ready = ready_condition(previous.ready(), true, reason::SYNCED, SYNCED_MESSAGE, generation);
            (ready, Ok(Action::requeue(ctx.resync)), synced.change)
        }
        Err(e) => {
            let (why, retry) = classify(&e);
            let ready = ready_condition(previous.ready(), false, why, &condition_message(&e), generation);
            let result = if retry { Err(Error::Sync(e)) } else { Ok(Action::requeue(ctx.resync)) };
            (ready, result, Change::Unchanged)
        }
    };
    status.insert("conditions".into(), json!([ready]));
    if let Some(g) = generation {
        status.insert("observedGeneration".into(), json!(g));
    }
    patch_status(obj, api, status).await?;
    announce(obj, ctx, previous.ready(), &ready, change).await;
    result
}

/// Patches the status when any of `fields` differs from what the object has.
async fn patch_status<K: ServerKind>(obj: &K, api: &Api<K>, fields: Map<String, Value>) -> Result<(), Error> {
    let current = serde_json::to_value(obj).ok().and_then(|mut v| v.get_mut("status").map(Value::take));
    let current = current.unwrap_or(Value::Null);
    if !status_differs(&current, &fields) {
        return Ok(());
    }
    let patch = json!({ "status": with_removals(&current, fields) });
    api.patch_status(&obj.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(Error::Kube)?;
    debug!("status patched");
    Ok(())
}

/// Events for server writes and for `Ready` changes (not for every resync).
async fn announce<K: ServerKind>(
    obj: &K,
    ctx: &Context,
    previous: Option<&Condition>,
    ready: &Condition,
    change: Change,
) {
    let name = server_name(obj);
    match change {
        Change::Created => {
            let note = format!("created {name} on the oxmon server");
            info!("{note}");
            publish(ctx, obj, EventType::Normal, "Created", "Sync", note).await;
        }
        Change::Updated => {
            let note = format!("updated {name} on the oxmon server");
            info!("{note}");
            publish(ctx, obj, EventType::Normal, "Updated", "Sync", note).await;
        }
        Change::Unchanged => {}
    }
    let same =
        previous.is_some_and(|p| p.status == ready.status && p.reason == ready.reason && p.message == ready.message);
    if same {
        return;
    }
    if ready.status == "False" {
        warn!(reason = %ready.reason, "{}", ready.message);
        publish(ctx, obj, EventType::Warning, &ready.reason, "Sync", ready.message.clone()).await;
    } else if change == Change::Unchanged && previous.is_some() {
        publish(ctx, obj, EventType::Normal, reason::SYNCED, "Sync", ready.message.clone()).await;
    }
}

/// Publishes an event about `obj`; a failure is only logged.
async fn publish<K: ServerKind>(ctx: &Context, obj: &K, type_: EventType, reason: &str, action: &str, note: String) {
    let event = Event { type_, reason: reason.into(), note: Some(note), action: action.into(), secondary: None };
    if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
        warn!(error = %e, "cannot publish an event");
    }
}

async fn cleanup<K: ServerKind>(obj: &K, ctx: &Context) -> Result<Action, Error> {
    let name = server_name(obj);
    let known_id = obj.sync_status().and_then(|s| s.server_id.clone());
    let removed = obj.remove(ctx, &name, known_id.as_deref()).await.map_err(Error::Server)?;
    ctx.failures.reset(&failure_key(obj));
    let note = match removed {
        Removed::Deleted => format!("deleted {name} from the oxmon server"),
        Removed::Missing => format!("{name} was already gone from the oxmon server"),
        Removed::NotOwned => format!("{name} on the oxmon server was created through the REST API; left alone"),
    };
    info!(removed = ?removed, "{note}");
    publish(ctx, obj, EventType::Normal, "Deleted", "Delete", note).await;
    Ok(Action::await_change())
}

/// The `Ready` reason of a failed sync, and whether to retry it with backoff
/// (rather than wait for a change or the next resync).
fn classify(e: &SyncError) -> (&'static str, bool) {
    match e {
        SyncError::Spec(_) => (reason::INVALID, false),
        SyncError::Secret(_) => (reason::SECRET_NOT_FOUND, false),
        SyncError::Kube(_) => (reason::KUBERNETES_ERROR, true),
        SyncError::Server(ServerError::Unavailable { .. }) => (reason::SERVER_UNAVAILABLE, true),
        SyncError::Server(ServerError::Protocol { .. }) => (reason::SERVER_UNAVAILABLE, true),
        SyncError::Server(ServerError::Refused { status, .. }) => match status {
            400 | 422 => (reason::INVALID, false),
            409 => (reason::CONFLICT, false),
            401 | 403 => (reason::UNAUTHORIZED, true),
            _ => (reason::REFUSED, true),
        },
    }
}

/// The message of a failed `Ready`: a refusal's own words (the reason says it was refused).
fn condition_message(e: &SyncError) -> String {
    match e {
        SyncError::Server(ServerError::Refused { message, .. }) => message.clone(),
        other => other.to_string(),
    }
}

/// The `Ready` condition, keeping the transition time while the status stays.
fn ready_condition(
    previous: Option<&Condition>,
    ready: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    let status = if ready { "True" } else { "False" };
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(k8s_openapi::jiff::Timestamp::now()),
    };
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// `<namespace>/<name>` of an object.
fn object_key<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Key of an object's failure count (kinds may share names).
fn failure_key<K: Resource<DynamicType = ()>>(obj: &K) -> String {
    format!("{}/{}", K::kind(&()), object_key(obj))
}

/// A serialized struct's fields.
fn to_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Whether patching `fields` would change `current` (absent, null, `{}` and
/// `[]` count as the same).
fn status_differs(current: &Value, fields: &Map<String, Value>) -> bool {
    fn empty(v: Option<&Value>) -> Option<&Value> {
        v.filter(|v| match v {
            Value::Null => false,
            Value::Object(o) => !o.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        })
    }
    fields.iter().any(|(k, v)| empty(current.get(k)) != empty(Some(v)))
}

/// A merge patch of `fields` that also removes keys of nested objects that
/// `fields` no longer has (a merge patch keeps keys it does not mention).
fn with_removals(current: &Value, mut fields: Map<String, Value>) -> Value {
    for (key, new) in fields.iter_mut() {
        if let (Some(Value::Object(old)), Value::Object(new)) = (current.get(key), new) {
            for gone in old.keys().filter(|k| !new.contains_key(*k)).cloned().collect::<Vec<_>>() {
                new.insert(gone, Value::Null);
            }
        }
    }
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_comparison_treats_empty_values_as_absent() {
        let current = json!({"serverId": "a", "conditions": []});
        let same: Map<String, Value> = json!({"serverId": "a", "secretVersions": {}}).as_object().unwrap().clone();
        assert!(!status_differs(&current, &same));
        let other: Map<String, Value> = json!({"serverId": "b"}).as_object().unwrap().clone();
        assert!(status_differs(&current, &other));
        assert!(status_differs(&Value::Null, &other));
    }

    #[test]
    fn patches_remove_map_keys_that_are_gone() {
        let current = json!({"secretVersions": {"a/k": "1", "b/k": "2"}});
        let fields = json!({"secretVersions": {"a/k": "3"}}).as_object().unwrap().clone();
        assert_eq!(with_removals(&current, fields), json!({"secretVersions": {"a/k": "3", "b/k": null}}));
    }

    #[test]
    fn refusals_are_classified_for_their_condition_and_retry() {
        let refused = |status| SyncError::Server(ServerError::Refused { status, message: "m".into() });
        assert_eq!(classify(&refused(400)), (reason::INVALID, false));
        assert_eq!(classify(&refused(409)), (reason::CONFLICT, false));
        assert_eq!(classify(&refused(401)), (reason::UNAUTHORIZED, true));
        assert_eq!(classify(&refused(404)), (reason::REFUSED, true));
        let down = SyncError::Server(ServerError::Unavailable { detail: "x".into() });
        assert_eq!(classify(&down), (reason::SERVER_UNAVAILABLE, true));
        assert_eq!(classify(&SyncError::Secret("s".into())), (reason::SECRET_NOT_FOUND, false));
    }

    #[test]
    fn the_transition_time_stays_while_the_status_stays() {
        let first = ready_condition(None, false, reason::INVALID, "bad", Some(1));
        let again = ready_condition(Some(&first), false, reason::CONFLICT, "taken", Some(2));
        assert_eq!(again.last_transition_time, first.last_transition_time);
        assert_eq!((again.reason.as_str(), again.observed_generation), (reason::CONFLICT, Some(2)));
        let flipped = ready_condition(
            Some(&Condition { last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH), ..first }),
            true,
            reason::SYNCED,
            "ok",
            Some(2),
        );
        assert_ne!(flipped.last_transition_time.0, k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    }
}
