//! `[[ec2]]` against moto (AWS_ENDPOINT_URL): instances with tags, filters, Prometheus'
//! `__meta_ec2_*` labels, and a terminated instance disappearing.
#![cfg(feature = "ec2")]

mod common;

use std::time::{Duration, SystemTime};

use common::ec2_api::{ec2_call, run_instances, xml_values};
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_tags_filters_and_termination() {
    let Some(endpoint) = common::peer("AWS_ENDPOINT_URL") else {
        return;
    };
    let images = ec2_call(
        &endpoint,
        &[("Action", "DescribeImages"), ("Owner.1", "amazon")],
    )
    .await;
    let ami = xml_values(&images, "imageId")
        .into_iter()
        .next()
        .expect("moto lists images");
    let run = format!(
        "run-{}-{}",
        std::process::id(),
        SystemTime::now().elapsed().map_or(0, |d| d.as_nanos())
    );
    let web = run_instances(&endpoint, &ami, &run, "test", "2").await;
    let db = run_instances(&endpoint, &ami, &run, "prod", "1").await;
    assert_eq!((web.len(), db.len()), (2, 1));

    let config: DiscoveryConfig = toml::from_str(&format!(
        r#"
        [[ec2]]
        id = "all"
        region = "us-east-1"
        endpoint = "{endpoint}"
        access-key = "testing"
        secret-key = "testing"
        port = 9100
        refresh-interval = "1h"
        filters = [{{name = "tag:weirtest", values = ["{run}"]}}]
        [[ec2]]
        id = "test-env"
        region = "us-east-1"
        endpoint = "{endpoint}"
        access-key = "testing"
        secret-key = "testing"
        filters = [{{name = "tag:weirtest", values = ["{run}"]}}, {{name = "tag:env", values = ["test"]}}]
        [[ec2]]
        id = "running"
        region = "us-east-1"
        endpoint = "{endpoint}"
        access-key = "testing"
        secret-key = "testing"
        filters = [{{name = "tag:weirtest", values = ["{run}"]}}, {{name = "instance-state-name", values = ["running"]}}]
        "#
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut all = manager.subscribe("ec2", "all");
    let mut test_env = manager.subscribe("ec2", "test-env");
    let mut running = manager.subscribe("ec2", "running");
    manager.apply(&config);
    let timeout = Duration::from_secs(20);
    common::wait_for(&mut all, timeout, |groups| {
        common::addresses(groups).len() == 3
    })
    .await;
    common::wait_for(&mut test_env, timeout, |groups| {
        common::addresses(groups).len() == 2
    })
    .await;
    common::wait_for(&mut running, timeout, |groups| {
        common::addresses(groups).len() == 3
    })
    .await;
    for target in common::targets(&test_env.borrow()) {
        assert!(target["__address__"].ends_with(":80"), "{target:?}");
        assert_eq!(target["__meta_ec2_tag_env"], "test");
    }

    let targets = common::targets(&all.borrow());
    let db_target = targets
        .iter()
        .find(|t| t["__meta_ec2_instance_id"] == db[0])
        .expect("the db instance is discovered");
    assert_eq!(db_target["__meta_ec2_tag_Name"], "db");
    assert_eq!(db_target["__meta_ec2_instance_type"], "m5.large");
    for target in &targets {
        let ip = &target["__meta_ec2_private_ip"];
        assert_eq!(target["__address__"], format!("{ip}:9100"));
        assert_eq!(target["__meta_ec2_region"], "us-east-1");
        assert_eq!(target["__meta_ec2_availability_zone"], "us-east-1a");
        assert!(
            target["__meta_ec2_availability_zone_id"].starts_with("use1-az"),
            "{target:?}"
        );
        assert_eq!(target["__meta_ec2_owner_id"], "123456789012");
        assert_eq!(target["__meta_ec2_instance_state"], "running");
        assert_eq!(target["__meta_ec2_ami"], ami);
        assert_eq!(target["__meta_ec2_tag_weirtest"], run);
        assert!(
            target["__meta_ec2_private_dns_name"].ends_with(".ec2.internal"),
            "{target:?}"
        );
        assert!(target.contains_key("__meta_ec2_vpc_id"), "{target:?}");
        let subnets = &target["__meta_ec2_subnet_id"];
        assert!(
            subnets.starts_with(",subnet-") && subnets.ends_with(','),
            "{subnets}"
        );
        assert!(target.contains_key("__meta_ec2_primary_subnet_id"));
    }

    // Terminate one web instance: a source filtering on the running state drops it. Like
    // Prometheus, an unfiltered source lists it for as long as EC2 (here moto) reports a
    // private IP for it, with the state "terminated".
    ec2_call(
        &endpoint,
        &[("Action", "TerminateInstances"), ("InstanceId.1", &web[0])],
    )
    .await;
    let started = std::time::Instant::now();
    loop {
        assert_eq!(manager.refresh("running").await, Some(true));
        let targets = common::targets(&running.borrow());
        if targets
            .iter()
            .all(|t| t["__meta_ec2_instance_id"] != web[0])
        {
            assert_eq!(targets.len(), 2);
            break;
        }
        assert!(
            started.elapsed() < timeout,
            "terminated instance still listed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(manager.refresh("all").await, Some(true));
    let terminated = common::targets(&all.borrow())
        .into_iter()
        .find(|t| t["__meta_ec2_instance_id"] == web[0])
        .map(|t| t["__meta_ec2_instance_state"].clone());
    assert!(
        matches!(terminated.as_deref(), None | Some("terminated")),
        "{terminated:?}"
    );
    assert_eq!(manager.sources()[0].state, HealthState::Healthy);
    ec2_call(
        &endpoint,
        &[
            ("Action", "TerminateInstances"),
            ("InstanceId.1", &web[1]),
            ("InstanceId.2", &db[0]),
        ],
    )
    .await;
    manager.shutdown().await;
}
