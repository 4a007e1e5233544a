//! DingTalk payload and signing, checked without a network.

use oxmon_common::metric::Labels;

use super::*;
use crate::alert::{AlertStatus, sample};
use crate::channel::ChannelConfig;

fn channel(config: &str) -> DingTalk {
    let Ok(ChannelConfig::DingTalk(c)) = ChannelConfig::parse("dingtalk", config) else { panic!("config") };
    DingTalk::new(c, HttpClient::new(Default::default()).unwrap())
}

#[test]
fn markdown_is_0_1s_layout() {
    let d = channel(r#"{"webhook_url":"https://oapi.dingtalk.com/robot/send?access_token=t","at_mobiles":["138"]}"#);
    assert_eq!(
        d.markdown(&sample()),
        "### [oxmon][critical] High CPU - web-1\n\n- **Severity**: critical\n- **Rule**: High CPU\n\
         - **Agent**: web-1\n- **Metric**: cpu.usage\n- **Labels**: core=0, mount=/\n- **Value**: 95.50\n\
         - **Threshold**: 90.00\n- **Time**: 2024-05-01T12:00:00+00:00\n\n\
         > cpu.usage has been above 90.0 for the configured duration on web-1 @138"
    );
    let p = d.payload(&sample());
    assert_eq!(p["at"], json!({"isAtAll": false, "atMobiles": ["138"]}));
    assert_eq!(p["markdown"]["title"], "[oxmon][critical] High CPU - web-1");
}

#[test]
fn at_all_and_unnamed_rules() {
    let d = channel(r#"{"webhook_url":"https://x.example/robot","is_at_all":true,"at_user_ids":["u1"]}"#);
    let mut a = sample();
    a.rule_name.clear();
    a.labels = Labels::new();
    a.status = AlertStatus::Recovered;
    let md = d.markdown(&a);
    assert!(
        md.starts_with("### [oxmon][critical][RECOVERED] cpu.usage - web-1\n\n- **Severity**: critical\n- **Agent**")
    );
    assert!(!md.contains("**Labels**") && !md.contains("**Rule**"));
    assert!(md.ends_with("web-1 @所有人"), "{md}");
    assert_eq!(d.payload(&a)["at"], json!({"isAtAll": true, "atUserIds": ["u1"]}));
}

#[test]
fn signing_joins_the_query_correctly() {
    // Reference value: Base64(HMAC-SHA256("SEC123", "1700000000000\nSEC123")).
    let sig = signature(1_700_000_000_000, "SEC123");
    assert_eq!(STANDARD.decode(&sig).unwrap().len(), 32);
    let with_query = sign_url(Url::parse("https://h/robot/send?access_token=t").unwrap(), 1, "s");
    assert!(with_query.as_str().starts_with("https://h/robot/send?access_token=t&timestamp=1&sign="));
    let without = sign_url(Url::parse("https://h/robot/send").unwrap(), 1, "s");
    assert!(without.as_str().starts_with("https://h/robot/send?timestamp=1&sign="));
    let encoded = without.as_str().split("sign=").nth(1).unwrap().to_owned();
    assert!(!encoded.contains('+') && !encoded.contains('/') && !encoded.contains('='), "{encoded}");
}

#[test]
fn config_errors_name_the_key() {
    let e = ChannelConfig::parse("dingtalk", r#"{"secret":"s"}"#).unwrap_err();
    assert_eq!(e.to_string(), "dingtalk config: webhook_url is required");
    let e = ChannelConfig::parse("dingtalk", r#"{"webhook_url":"https://x","is_at_all":"yes"}"#).unwrap_err();
    assert_eq!(e.to_string(), "dingtalk config: is_at_all must be true or false, got \"yes\"");
}
