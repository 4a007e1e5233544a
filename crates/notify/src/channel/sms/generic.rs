//! Generic SMS gateway: per phone one request (`POST`, or `PUT` by
//! `method`) to `gateway_url` (0.1's seed calls it `url`) with `headers`,
//! `Authorization: Bearer <api_key>` when a key is given, and the body
//! `{"to": phone, "message": text}` or `body_template` rendered like a
//! webhook's (JSON-escaped values) with `{{recipient}}` as well.

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::json;

use super::config::GenericConfig;
use crate::alert::Alert;
use crate::channel::webhook::render_template_with;
use crate::http::{HttpClient, classify_status};
use crate::report::ReportBuilder;

/// The request body for one phone.
pub(super) fn body(c: &GenericConfig, alert: &Alert, text: &str, phone: &str) -> String {
    match &c.body_template {
        Some(t) => render_template_with(t, alert, &[("recipient", phone)]),
        None => json!({ "to": phone, "message": text }).to_string(),
    }
}

pub(super) async fn send(
    http: &HttpClient,
    c: &GenericConfig,
    alert: &Alert,
    text: &str,
    phones: &[&str],
    report: &mut ReportBuilder,
) {
    let client = http.client();
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in &c.headers {
        headers.insert(name.clone(), value.clone());
    }
    for phone in phones {
        let body = body(c, alert, text, phone);
        let d = http
            .deliver(
                || {
                    let request =
                        client.request(c.method.clone(), &c.gateway_url).headers(headers.clone()).body(body.clone());
                    match &c.api_key {
                        Some(key) => request.bearer_auth(key.expose()),
                        None => request,
                    }
                },
                classify_status,
            )
            .await;
        if let Some(e) = &d.error {
            tracing::warn!(retries = d.retries, error = %e, "SMS gateway notification failed");
        }
        report.record((*phone).to_owned(), d);
    }
}
