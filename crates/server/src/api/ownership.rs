//! Who may change an object. Rules, channels and silence windows created
//! through the operator token belong to Kubernetes custom resources
//! (`source = crd`): users get 409 naming the owning kind, and the operator
//! may touch nothing else, so objects made through the REST API are never
//! changed by the operator.

use axum::http::StatusCode;
use oxmon_common::rule::Source;

use super::auth::Caller;
use super::response::{ApiError, code};

/// The `source` of an object `caller` creates.
pub fn source_for(caller: Caller) -> Source {
    match caller {
        Caller::Operator => Source::Crd,
        Caller::User => Source::Api,
    }
}

/// Refuses a change to an object (`what` such as "rule 'cpu'") of `source`
/// that `caller` does not own; `kind` is the custom resource kind.
pub fn check(caller: Caller, source: &str, what: &str, kind: &str) -> Result<(), ApiError> {
    let owned_by_crd = Source::parse_lenient(source) == Source::Crd;
    match (caller, owned_by_crd) {
        (Caller::User, true) => Err(ApiError::new(
            StatusCode::CONFLICT,
            code::CONFLICT,
            format!("{what} is managed by a Kubernetes {kind} custom resource; change it there"),
        )),
        (Caller::Operator, false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            code::CONFLICT,
            format!("{what} was created through the REST API; the operator leaves it alone"),
        )),
        _ => Ok(()),
    }
}
