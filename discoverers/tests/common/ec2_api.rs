//! A test-side EC2 Query API client for moto, independent of the discoverer under test.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// One signed EC2 Query API call, as the test's own client (independent of the discoverer).
pub async fn ec2_call(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("Version", "2016-11-15");
    for (name, value) in params {
        body.append_pair(name, value);
    }
    let body = body.finish();
    let identity = Credentials::new("testing", "testing", None, None, "test").into();
    let signing_params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("ec2")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signable = SignableRequest::new(
        "POST",
        &url,
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &signing_params).unwrap().into_parts();
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", content_type);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request.body(body).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{params:?}: {status}: {text}");
    text
}

/// Every `<tag>value</tag>` in an XML document.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(str::to_owned)
        .collect()
}

/// Start `count` instances in us-east-1a tagged `weirtest=<run>`, `env` and `Name` (`db`
/// for `prod`, else `web`); their ids.
pub async fn run_instances(
    endpoint: &str,
    ami: &str,
    run: &str,
    env: &str,
    count: &str,
) -> Vec<String> {
    let text = ec2_call(
        endpoint,
        &[
            ("Action", "RunInstances"),
            ("ImageId", ami),
            ("MinCount", count),
            ("MaxCount", count),
            (
                "InstanceType",
                if env == "prod" {
                    "m5.large"
                } else {
                    "t3.micro"
                },
            ),
            ("Placement.AvailabilityZone", "us-east-1a"),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "weirtest"),
            ("TagSpecification.1.Tag.1.Value", run),
            ("TagSpecification.1.Tag.2.Key", "env"),
            ("TagSpecification.1.Tag.2.Value", env),
            ("TagSpecification.1.Tag.3.Key", "Name"),
            (
                "TagSpecification.1.Tag.3.Value",
                if env == "prod" { "db" } else { "web" },
            ),
        ],
    )
    .await;
    xml_values(&text, "instanceId")
}
