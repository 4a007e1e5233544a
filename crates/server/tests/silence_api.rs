//! `/v1/notifications/silence-windows` over a real server.

#![allow(clippy::unwrap_used)] // tests fail loudly

mod support;

use reqwest::Method;
use serde_json::json;
use support::*;

const PATH: &str = "/v1/notifications/silence-windows";

#[tokio::test]
async fn windows_are_created_listed_and_deleted() {
    let s = TestServer::start().await;
    // oxmon 0.1's body.
    let (status, body) = s
        .call(Method::POST, PATH, Some(json!({"start_time": "02:00", "end_time": "04:00", "recurrence": "daily"})))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["timezone"], "UTC");
    let first = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .call(
            Method::POST,
            PATH,
            Some(json!({"start_time": "22:30", "end_time": "06:00", "recurrence": "Weekdays",
                        "timezone": "Asia/Shanghai", "name": "night shift"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["data"]["recurrence"].as_str(), body["data"]["timezone"].as_str(), body["data"]["name"].as_str()),
        (Some("weekdays"), Some("Asia/Shanghai"), Some("night shift"))
    );
    let list = s.data(PATH).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["start_time"], "22:30", "newest first");

    let (status, body) = s.call(Method::DELETE, &format!("{PATH}/{first}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (200, Some("Silence window deleted")));
    let (status, body) = s.call(Method::DELETE, &format!("{PATH}/{first}"), None).await;
    assert_eq!((status, body["err_msg"].as_str()), (404, Some("Silence window not found")));
    assert_eq!(s.data(PATH).await.as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn bad_windows_are_refused_with_the_reason() {
    let s = TestServer::start().await;
    let cases = [
        (json!({"start_time": "25:00", "end_time": "04:00"}), "start_time must be a time of day as HH:MM"),
        (json!({"start_time": "02:00", "end_time": "4pm"}), "end_time must be a time of day as HH:MM"),
        (json!({"start_time": "02:00", "end_time": "02:00"}), "start_time and end_time must differ"),
        (
            json!({"start_time": "02:00", "end_time": "04:00", "recurrence": "fortnightly"}),
            "recurrence must be daily, weekdays",
        ),
        (
            json!({"start_time": "02:00", "end_time": "04:00", "timezone": "Mars/Olympus"}),
            "timezone \"Mars/Olympus\" is not a known IANA time zone",
        ),
        (json!({"start_time": "02:00"}), "missing field `end_time`"),
    ];
    for (body, message) in cases {
        let (status, resp) = s.call(Method::POST, PATH, Some(body.clone())).await;
        assert_eq!(status, 400, "{body} -> {resp}");
        assert!(resp["err_msg"].as_str().unwrap().contains(message), "{body}: {}", resp["err_msg"]);
    }
    assert_eq!(s.data(PATH).await, json!([]), "nothing stored");
    s.stop().await;
}
