//! Writing nodes into the test ZooKeeper (`ZOOKEEPER_SERVERS`, from tests/peers/peers.sh).

use zookeeper_client as zk;

/// A client of the test ZooKeeper and a fresh root path for this test, or `None` (after
/// "skipped: ...") when no ZooKeeper is configured and peers are not required.
pub async fn connect(test: &str) -> Option<(zk::Client, String, String)> {
    let servers = super::peer("ZOOKEEPER_SERVERS")?;
    let client = zk::Client::connect(&servers)
        .await
        .unwrap_or_else(|error| panic!("zookeeper {servers}: {error}"));
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| d.as_nanos());
    let root = format!("/weir-{test}-{}-{nanos}", std::process::id());
    Some((client, servers, root))
}

/// Create (or overwrite) `path` with `data`, making its parents.
pub async fn put(client: &zk::Client, path: &str, data: &[u8]) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    if let Some((parent, _)) = path.rsplit_once('/')
        && !parent.is_empty()
    {
        client.mkdir(parent, &options).await.expect("mkdir");
    }
    match client.create(path, data, &options).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            client.set_data(path, data, None).await.expect("set_data");
        }
        Err(error) => panic!("create {path}: {error}"),
    }
}

/// Delete `path` and everything under it.
pub async fn delete_tree(client: &zk::Client, path: &str) {
    let mut stack = vec![path.to_owned()];
    let mut order = Vec::new();
    while let Some(node) = stack.pop() {
        let Ok(children) = client.list_children(&node).await else {
            continue;
        };
        stack.extend(children.iter().map(|child| format!("{node}/{child}")));
        order.push(node);
    }
    for node in order.iter().rev() {
        let _ = client.delete(node, None).await;
    }
}
