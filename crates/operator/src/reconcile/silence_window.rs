//! `SilenceWindow` ↔ `/v1/notifications/silence-windows`.
//!
//! The server has no `GET` of one window and window names need not be
//! unique, so the operator lists the windows and takes the one with
//! `status.serverId`, else the one named `<namespace>/<name>` that it
//! created (`source = crd`); a user's window of the same name is never
//! touched.

use super::{Change, Context, Removed, ServerKind, SyncError, Synced};
use crate::crd::silence_window::SilenceWindow;
use crate::server::{OxmonClient, ServerError, Window, WindowBody};

/// The source the server gives objects made with the operator token.
const CRD_SOURCE: &str = "crd";

impl ServerKind for SilenceWindow {
    type Extra = ();

    async fn sync(&self, ctx: &Context, server_name: &str, known_id: Option<&str>) -> Result<Synced<()>, SyncError> {
        let spec = &self.spec;
        let body = WindowBody {
            name: server_name.to_owned(),
            start_time: spec.start_time.trim().to_owned(),
            end_time: spec.end_time.trim().to_owned(),
            recurrence: spec.recurrence.as_deref().map(|r| r.trim().to_ascii_lowercase()).filter(|r| !r.is_empty()),
            timezone: Some(spec.timezone.trim()).filter(|t| !t.is_empty()).unwrap_or("UTC").to_owned(),
        };
        let server = &ctx.server;
        let (server_id, change) = match find(server, server_name, known_id).await? {
            Some(w) if matches(&w, &body) => (w.id, Change::Unchanged),
            Some(w) => (server.update_window(&w.id, &body).await?.id, Change::Updated),
            None => (server.create_window(&body).await?.id, Change::Created),
        };
        Ok(Synced { server_id, change, extra: () })
    }

    async fn remove(&self, ctx: &Context, server_name: &str, known_id: Option<&str>) -> Result<Removed, ServerError> {
        let Some(window) = find(&ctx.server, server_name, known_id).await? else { return Ok(Removed::Missing) };
        match ctx.server.delete_window(&window.id).await {
            Ok(true) => Ok(Removed::Deleted),
            Ok(false) => Ok(Removed::Missing),
            Err(ServerError::Refused { status: 409, .. }) => Ok(Removed::NotOwned),
            Err(e) => Err(e),
        }
    }
}

/// The operator's window: by id when known, else by name among its own.
async fn find(server: &OxmonClient, server_name: &str, known_id: Option<&str>) -> Result<Option<Window>, ServerError> {
    let windows = server.windows().await?;
    let by_id = known_id.and_then(|id| windows.iter().position(|w| w.id == id));
    let by_name = || windows.iter().position(|w| w.source == CRD_SOURCE && w.name.as_deref() == Some(server_name));
    Ok(by_id.or_else(by_name).map(|i| windows[i].clone()))
}

fn matches(w: &Window, body: &WindowBody) -> bool {
    w.name.as_deref() == Some(body.name.as_str())
        && w.start_time == body.start_time
        && w.end_time == body.end_time
        && w.recurrence == body.recurrence
        && w.timezone == body.timezone
}
