//! SMS config: `provider` (`generic`, the default, `aliyun` or `tencent`)
//! and that provider's keys.

use std::fmt;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};

use crate::channel::ConfigError;
use crate::channel::fields::{Fields, check_url};
use crate::secret::Secret;

#[derive(Debug)]
pub enum SmsConfig {
    Generic(GenericConfig),
    Aliyun(AliyunConfig),
    Tencent(TencentConfig),
}

/// A generic HTTP gateway. `url`, `method`, `headers` and `body_template`
/// are the keys of oxmon 0.1's seed example (`sms_generic`).
pub struct GenericConfig {
    pub(crate) gateway_url: String,
    /// Sent as `Authorization: Bearer <api_key>` when given.
    pub(crate) api_key: Option<Secret>,
    /// POST (default) or PUT.
    pub(crate) method: Method,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// The body with webhook placeholders plus `{{recipient}}`; without it,
    /// `{"to": phone, "message": text}`.
    pub(crate) body_template: Option<String>,
}

#[derive(Debug)]
pub struct AliyunConfig {
    pub(crate) access_key_id: String,
    pub(crate) access_key_secret: Secret,
    pub(crate) sign_name: String,
    pub(crate) template_code: String,
    /// `TemplateParam` as given (a JSON object in a string), else `{"msg": text}`.
    pub(crate) template_param: Option<String>,
    pub(crate) endpoint: String,
}

#[derive(Debug)]
pub struct TencentConfig {
    pub(crate) secret_id: String,
    pub(crate) secret_key: Secret,
    pub(crate) sdk_app_id: String,
    pub(crate) sign_name: String,
    pub(crate) template_id: String,
    /// `TemplateParamSet` as given, else `[text]`.
    pub(crate) template_params: Vec<String>,
    pub(crate) endpoint: String,
    pub(crate) region: String,
}

pub const ALIYUN_ENDPOINT: &str = "dysmsapi.aliyuncs.com";
pub const TENCENT_ENDPOINT: &str = "sms.tencentcloudapi.com";
pub const TENCENT_REGION: &str = "ap-guangzhou";

impl SmsConfig {
    pub(crate) fn parse(f: &Fields<'_>) -> Result<Self, ConfigError> {
        let provider = f.opt_string("provider")?.unwrap_or_else(|| "generic".into());
        match provider.as_str() {
            "generic" => {
                f.only(&["provider", "gateway_url", "url", "api_key", "method", "headers", "body_template"])?;
                let gateway_url = match (f.opt_string("gateway_url")?, f.opt_string("url")?) {
                    (Some(_), Some(_)) => return Err(f.error("give gateway_url or url (0.1's name for it), not both")),
                    (None, Some(_)) => f.url("url")?,
                    _ => f.url("gateway_url")?,
                };
                let method = match f.opt_string("method")?.map(|m| m.to_ascii_uppercase()).as_deref() {
                    None | Some("POST") => Method::POST,
                    Some("PUT") => Method::PUT,
                    Some(other) => return Err(f.error(format!("method must be POST or PUT, got {other:?}"))),
                };
                let headers = f.headers("headers")?;
                let api_key = f.opt_secret("api_key")?;
                if api_key.is_some() && headers.iter().any(|(n, _)| n == reqwest::header::AUTHORIZATION) {
                    return Err(f.error("give api_key or an Authorization header, not both"));
                }
                Ok(SmsConfig::Generic(GenericConfig {
                    gateway_url,
                    api_key,
                    method,
                    headers,
                    body_template: f.opt_string("body_template")?,
                }))
            }
            "aliyun" => {
                f.only(&[
                    "provider",
                    "access_key_id",
                    "access_key_secret",
                    "sign_name",
                    "template_code",
                    "template_param",
                    "endpoint",
                ])?;
                let template_param = f.opt_string("template_param")?;
                if let Some(p) = &template_param
                    && !serde_json::from_str::<serde_json::Value>(p).is_ok_and(|v| v.is_object())
                {
                    return Err(f.error(format!("template_param must be a JSON object in a string, got {p:?}")));
                }
                Ok(SmsConfig::Aliyun(AliyunConfig {
                    access_key_id: f.string("access_key_id")?,
                    access_key_secret: f.secret("access_key_secret")?,
                    sign_name: f.string("sign_name")?,
                    template_code: f.string("template_code")?,
                    template_param,
                    endpoint: endpoint(f, ALIYUN_ENDPOINT)?,
                }))
            }
            "tencent" => {
                f.only(&[
                    "provider",
                    "secret_id",
                    "secret_key",
                    "sdk_app_id",
                    "sign_name",
                    "template_id",
                    "template_params",
                    "endpoint",
                    "region",
                ])?;
                Ok(SmsConfig::Tencent(TencentConfig {
                    secret_id: f.string("secret_id")?,
                    secret_key: f.secret("secret_key")?,
                    sdk_app_id: f.string("sdk_app_id")?,
                    sign_name: f.string("sign_name")?,
                    template_id: f.string("template_id")?,
                    template_params: f.strings("template_params")?,
                    endpoint: endpoint(f, TENCENT_ENDPOINT)?,
                    region: f.opt_string("region")?.unwrap_or_else(|| TENCENT_REGION.into()),
                }))
            }
            other => Err(f.error(format!("provider must be generic, aliyun or tencent, got {other:?}"))),
        }
    }
}

/// A host name (`https://` implied) or a full `http(s)://host[:port]` base.
fn endpoint(f: &Fields<'_>, default: &str) -> Result<String, ConfigError> {
    let Some(e) = f.opt_string("endpoint")? else { return Ok(default.into()) };
    let full = if e.contains("://") { e.clone() } else { format!("https://{e}") };
    match check_url(&full) {
        Ok(u) if u.path() == "/" && u.query().is_none() => Ok(e),
        _ => Err(f.error(format!("endpoint must be a host name or an http(s)://host[:port] base, got {e:?}"))),
    }
}

impl fmt::Debug for GenericConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericConfig")
            .field("gateway_url", &crate::channel::redact_url(&self.gateway_url))
            .field("api_key", &self.api_key)
            .field("method", &self.method)
            .field("headers", &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .field("body_template", &self.body_template)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::channel::ChannelConfig;

    fn err(config: &str) -> String {
        ChannelConfig::parse("sms", config).unwrap_err().to_string()
    }

    #[test]
    fn providers_and_their_keys_are_checked() {
        assert!(matches!(
            ChannelConfig::parse("sms", r#"{"gateway_url":"https://sms.example/send","api_key":"k"}"#),
            Ok(ChannelConfig::Sms(super::SmsConfig::Generic(_)))
        ));
        assert_eq!(
            err(r#"{"provider":"twilio"}"#),
            "sms config: provider must be generic, aliyun or tencent, got \"twilio\""
        );
        assert_eq!(err(r#"{"provider":"aliyun","access_key_id":"i"}"#), "sms config: access_key_secret is required");
        assert!(err(r#"{"provider":"tencent","gateway_url":"x"}"#).contains("unknown key \"gateway_url\""));
        assert_eq!(err(r#"{"api_key":"k"}"#), "sms config: gateway_url is required");
        assert!(err(r#"{"url":"https://a/","gateway_url":"https://b/"}"#).contains("not both"));
        assert!(err(r#"{"url":"https://a/","method":"GET"}"#).contains("method must be POST or PUT"));
        assert!(err(r#"{"url":"https://a/","headers":{"Bad Name":"x"}}"#).contains("not a valid header name"));
        assert!(err(r#"{"url":"sms-gateway"}"#).contains("url must be an http(s) URL"));
        let e = err(
            r#"{"provider":"aliyun","access_key_id":"i","access_key_secret":"s","sign_name":"n","template_code":"c","template_param":"[1]"}"#,
        );
        assert!(e.contains("template_param must be a JSON object"), "{e}");
        let e = err(
            r#"{"provider":"tencent","secret_id":"i","secret_key":"k","sdk_app_id":"1","sign_name":"n","template_id":"t","endpoint":"https://h/path"}"#,
        );
        assert!(e.contains("endpoint must be a host name"), "{e}");
    }
}
