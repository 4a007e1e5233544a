//! Generic SMS gateway: per phone `POST <gateway_url>` with
//! `Authorization: Bearer <api_key>` and `{"to": phone, "message": text}`.

use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use super::config::GenericConfig;
use crate::http::{HttpClient, classify_status};
use crate::report::ReportBuilder;

pub(super) async fn send(
    http: &HttpClient,
    c: &GenericConfig,
    text: &str,
    phones: &[&str],
    report: &mut ReportBuilder,
) {
    let client = http.client();
    for phone in phones {
        let body = json!({ "to": phone, "message": text }).to_string();
        let d = http
            .deliver(
                || {
                    client
                        .post(&c.gateway_url)
                        .bearer_auth(c.api_key.expose())
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone())
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
