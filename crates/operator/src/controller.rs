//! The three controllers: what triggers a reconcile of each kind.
//!
//! * A change of an object's `metadata.generation` (its spec, or the start
//!   of its deletion) or of its finalizers. Status-only changes, including
//!   the operator's own status patches, trigger nothing.
//! * The periodic resync (`Action::requeue(resync)` after each reconcile),
//!   which restores server objects changed or deleted behind the operator's
//!   back.
//! * For `NotificationChannel`s, a change of a Secret they refer to.

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Predicate, WatchStreamExt, predicates, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use crate::crd::notification_channel::NotificationChannel;
use crate::crd::{alert_rule::AlertRule, silence_window::SilenceWindow};
use crate::reconcile::{self, Context, ServerKind};

/// The hash that decides whether a watch event triggers a reconcile:
/// generation and finalizers, so status-only updates are ignored.
pub fn trigger_hash<K: Resource>(obj: &K) -> Option<u64> {
    predicates::generation.combine(predicates::finalizers).hash_property(obj)
}

/// Runs the three controllers until `shutdown` completes; reconciles in
/// flight then finish.
pub async fn run(ctx: Arc<Context>, namespace: Option<String>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let ns = namespace.as_deref();
    let (rules, _) = controller::<AlertRule>(&ctx, ns);
    let (channels, channel_store) = controller::<NotificationChannel>(&ctx, ns);
    let (windows, _) = controller::<SilenceWindow>(&ctx, ns);
    // Metadata only: the operator reads a Secret's data when it needs it, not on every change.
    let secret_api: Api<PartialObjectMeta<Secret>> = match ns {
        Some(ns) => Api::namespaced(ctx.kube.clone(), ns),
        None => Api::all(ctx.kube.clone()),
    };
    let secrets = watcher(secret_api, watcher::Config::default()).default_backoff().touched_objects();
    let channels = channels.watches_stream(secrets, move |secret| channels_using(&channel_store, &secret));

    futures::join!(
        drive(rules.graceful_shutdown_on(shutdown.clone()), &ctx),
        drive(channels.graceful_shutdown_on(shutdown.clone()), &ctx),
        drive(windows.graceful_shutdown_on(shutdown), &ctx),
    );
}

/// A controller of `K` whose trigger ignores status-only changes, and its store.
fn controller<K>(ctx: &Context, namespace: Option<&str>) -> (Controller<K>, Store<K>)
where
    K: ServerKind + Resource<Scope = NamespaceResourceScope>,
{
    let (reader, writer) = reflector::store();
    let trigger = watcher(api::<K>(&ctx.kube, namespace), watcher::Config::default().any_semantic())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(trigger_hash::<K>, Default::default());
    (Controller::for_stream(trigger, reader.clone()), reader)
}

async fn drive<K: ServerKind>(controller: Controller<K>, ctx: &Arc<Context>) {
    log_results(controller.run(reconcile::reconcile::<K>, reconcile::error_policy::<K>, ctx.clone())).await;
}

async fn log_results<T: std::fmt::Debug, E: std::fmt::Display>(results: impl Stream<Item = Result<(T, Action), E>>) {
    results
        .for_each(|result| async move {
            match result {
                Ok((object, action)) => debug!(?object, ?action, "reconciled"),
                Err(e) => warn!(error = %e, "controller"),
            }
        })
        .await;
}

fn api<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The channels in the Secret's namespace that refer to it.
pub fn channels_using(
    channels: &Store<NotificationChannel>,
    secret: &PartialObjectMeta<Secret>,
) -> Vec<ObjectRef<NotificationChannel>> {
    let (Some(ns), name) = (secret.namespace(), secret.name_any()) else { return Vec::new() };
    channels
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns.as_str()))
        .filter(|c| c.spec.secret_refs().iter().any(|r| r.name == name))
        .map(|c| ObjectRef::from_obj(&**c))
        .collect()
}

#[cfg(test)]
mod tests {
    use kube::runtime::watcher::Event;
    use serde_json::json;

    use super::*;

    fn channel(name: &str, namespace: &str, secret: &str) -> NotificationChannel {
        serde_json::from_value(json!({
            "apiVersion": "oxmon.io/v1alpha1", "kind": "NotificationChannel",
            "metadata": {"name": name, "namespace": namespace, "generation": 1},
            "spec": {"type": "email", "email": {"smtpHost": "h", "smtpPort": 25, "fromEmail": "a@b.c",
                     "smtpUsername": "u", "smtpPasswordSecretRef": {"name": secret, "key": "password"}}},
        }))
        .unwrap()
    }

    #[test]
    fn status_only_changes_trigger_nothing() {
        let obj = channel("c", "ns", "s");
        let mut status_only = obj.clone();
        status_only.status = Some(Default::default());
        status_only.status.as_mut().unwrap().sync.server_id = Some("id".into());
        status_only.metadata.resource_version = Some("2".into());
        assert_eq!(trigger_hash(&obj), trigger_hash(&status_only));

        let mut spec_change = obj.clone();
        spec_change.metadata.generation = Some(2);
        assert_ne!(trigger_hash(&obj), trigger_hash(&spec_change));
        let mut finalized = obj.clone();
        finalized.metadata.finalizers = Some(vec![crate::reconcile::FINALIZER.into()]);
        assert_ne!(trigger_hash(&obj), trigger_hash(&finalized), "adding the finalizer leads to the first sync");
    }

    #[test]
    fn a_secret_change_triggers_the_channels_of_its_namespace_that_use_it() {
        let (reader, mut writer) = reflector::store::<NotificationChannel>();
        for c in [channel("a", "ns", "smtp"), channel("b", "ns", "other"), channel("c", "elsewhere", "smtp")] {
            writer.apply_watcher_event(&Event::Apply(c));
        }
        let mut secret = PartialObjectMeta::<Secret>::default();
        secret.metadata.name = Some("smtp".into());
        secret.metadata.namespace = Some("ns".into());
        let hits: Vec<String> = channels_using(&reader, &secret).into_iter().map(|r| r.name).collect();
        assert_eq!(hits, ["a"]);
    }
}
