//! `httpPost(url...)`: POSTs each message as Kapacitor's JSON result.
//!
//! ```tick
//! stream|from()|httpPost('http://127.0.0.1:9999/hook').header('X-Team', 'ops')
//! ```

use crate::value::Duration;

/// Properties of `httpPost()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpPostSpec {
    /// URLs; each message goes to every one.
    pub urls: Vec<String>,
    /// A configured `[[httppost]]` endpoint instead of URLs.
    pub endpoint: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Request timeout (none: the default).
    pub timeout: Option<Duration>,
}
