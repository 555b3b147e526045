//! `httpPost(url...)`: POSTs every message as `{"series":[row]}` and passes it on.

use weir_dsl::nodes::HttpPostSpec;

use crate::json;
use crate::message::Message;
use crate::nodes::{Context, Node};
use crate::runtime::HttpRequest;

/// Runtime state of `httpPost()`.
pub struct HttpPost {
    urls: Vec<String>,
    headers: Vec<(String, String)>,
    timeout: Option<std::time::Duration>,
}

impl HttpPost {
    /// Build from the spec. A named `endpoint` is handed to the outputs as the URL
    /// `endpoint:NAME`, for the binary to resolve against its `[[httppost]]` config.
    pub fn new(spec: &HttpPostSpec) -> HttpPost {
        let mut urls = spec.urls.clone();
        if let Some(endpoint) = &spec.endpoint {
            urls.push(format!("endpoint:{endpoint}"));
        }
        HttpPost {
            urls,
            headers: spec.headers.clone(),
            timeout: spec
                .timeout
                .and_then(|timeout| u64::try_from(timeout.nanos()).ok())
                .map(std::time::Duration::from_nanos),
        }
    }
}

impl Node for HttpPost {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let body = json::series(vec![json::message_row(&message)])
            .to_string()
            .into_bytes();
        for url in &self.urls {
            ctx.outputs().http_post(HttpRequest {
                url: url.clone(),
                headers: self.headers.clone(),
                body: body.clone(),
                timeout: self.timeout,
            });
        }
        ctx.emit(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;

    #[test]
    fn posts_each_message_to_each_url() {
        let spec = HttpPostSpec {
            urls: vec!["http://a".into(), "http://b".into()],
            headers: vec![("X-Team".into(), "ops".into())],
            ..Default::default()
        };
        let mut node = HttpPost::new(&spec);
        let recorder = Recorder::default();
        let g = group(&[]);
        let (out, _) = run(
            &mut node,
            vec![(0, value_point(1, 2.5, &g))],
            &recorder,
            false,
        );
        assert_eq!(out.len(), 1);
        let posts = recorder.posts.lock().unwrap();
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[1].url, "http://b");
        let body: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
        assert_eq!(body["series"][0]["values"][0][1], 2.5);
        assert_eq!(body["series"][0]["tags"]["extra"], "x");
    }
}
