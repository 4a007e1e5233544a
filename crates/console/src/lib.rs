//! oxmon's web console: the embedded assets and the router the server
//! mounts at `/` on its HTTP port.
//!
//! The console is plain JavaScript (no bundler, no Node at run time) and
//! uPlot for charts, vendored under `assets/vendor/` with its licence. The
//! build script embeds every asset in the binary precompressed with gzip
//! and brotli, under a content-hash URL served `immutable`; the HTML
//! (`index.html`, the same for every page path) is `no-cache`. Every
//! response carries a strict Content-Security-Policy (no inline scripts or
//! styles, nothing from another origin). The console talks to the server
//! only through the REST API under `/v1`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path under `assets/`.
    pub path: &'static str,
    /// The URL it is served at (`/assets/...<hash>...`, or `/` for the HTML).
    pub url: &'static str,
    /// Hex prefix of the SHA-256 of `raw`.
    pub hash: &'static str,
    pub content_type: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The page paths of the console; each serves the same HTML, and the script
/// shows the page the path names.
pub const PAGES: &[&str] = &["/", "/login", "/alerts", "/hosts/{id}"];

/// `Content-Security-Policy` of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";

/// The console's routes, for merging into the server's router.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for page in PAGES {
        router = router.route(page, get(index));
    }
    router.route("/assets/{*path}", get(asset))
}

/// Every asset with its URL, for tests and tools (the HTML first).
pub fn assets() -> impl Iterator<Item = &'static Asset> {
    std::iter::once(&INDEX).chain(ASSETS.iter())
}

async fn index(headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", INDEX.hash);
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        secure(response.headers_mut());
        return response;
    }
    let mut response = serve(&INDEX, &headers, "no-cache");
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let url = format!("/assets/{path}");
    match ASSETS.iter().find(|a| a.url == url) {
        Some(a) => serve(a, &headers, "public, max-age=31536000, immutable"),
        None => {
            let mut response = (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/json")],
                format!(
                    r#"{{"err_code":1004,"err_msg":"no console asset at {}","trace_id":""}}"#,
                    url.escape_default()
                ),
            )
                .into_response();
            secure(response.headers_mut());
            response
        }
    }
}

/// The encoding to send: brotli, then gzip, when the client accepts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// Picks the encoding from an `Accept-Encoding` value (q=0 refuses one;
/// `*` accepts any not named).
pub fn negotiate(accept: Option<&str>) -> Encoding {
    let Some(accept) = accept else { return Encoding::Identity };
    let q = |name: &str| -> Option<f32> {
        let mut star = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let token = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = it
                .filter_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.trim().parse::<f32>().ok()))
                .next()
                .unwrap_or(1.0);
            if token == name {
                return Some(weight);
            }
            if token == "*" {
                star = Some(weight);
            }
        }
        star
    };
    let br = q("br").unwrap_or(0.0);
    let gz = q("gzip").unwrap_or(0.0);
    if br > 0.0 && br >= gz {
        Encoding::Brotli
    } else if gz > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn serve(asset: &'static Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let encoding = negotiate(headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()));
    let (body, content_encoding) = match encoding {
        Encoding::Brotli => (asset.brotli, Some("br")),
        Encoding::Gzip => (asset.gzip, Some("gzip")),
        Encoding::Identity => (asset.raw, None),
    };
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(e) = content_encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    secure(h);
    response
}

/// The security headers of every console response.
fn secure(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_negotiated_from_accept_encoding() {
        assert_eq!(negotiate(None), Encoding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.9")), Encoding::Gzip);
        assert_eq!(negotiate(Some("*")), Encoding::Brotli);
        assert_eq!(negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(negotiate(Some("*;q=0, gzip;q=0")), Encoding::Identity);
    }
}
