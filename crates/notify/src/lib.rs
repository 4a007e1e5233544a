//! oxmon notifications: the five channel types (e-mail, webhook, SMS,
//! DingTalk and WeCom robots) and the pipeline that silences, aggregates and
//! routes alerts to them.
//!
//! The crate does no storage: the server turns channel rows into
//! [`ChannelEntry`] values with [`build_channel`], hands alerts to a
//! [`Notifier`], and writes the [`NotificationLog`]s the notifier gives its
//! [`LogSink`]. Every network call has a timeout (see [`NetConfig`]) and every
//! channel send runs in its own task, so a slow receiver delays nothing else.
//!
//! Message formats follow oxmon 0.1 (spec `semantics.md` §6) where they are
//! not defects; `README.md` in this crate documents each channel.

#![forbid(unsafe_code)]

pub mod alert;
pub mod channel;
pub mod http;
pub mod pipeline;
pub mod report;
mod secret;

pub use alert::{Alert, AlertStatus};
pub use channel::{
    BoxFuture, CHANNEL_TYPES, Channel, ConfigError, build_channel, recipient_type, redact_config, redact_url,
};
pub use http::{HttpClient, HttpClientError, NetConfig};
pub use pipeline::{ChannelEntry, Clock, LogSink, NotificationLog, Notifier, NotifierStats, SilenceEntry, SystemClock};
pub use report::{RecipientResult, SendReport};
