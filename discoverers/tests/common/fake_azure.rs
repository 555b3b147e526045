//! A fake of the two Azure APIs the azure discoverer (and Prometheus' azure SD) call: Azure AD's
//! v1 client-credentials token endpoint and Resource Manager's lists of network interfaces,
//! virtual machines (with `statusOnly=true` for power states) and scale sets, with `nextLink`
//! pages, answering only with the token it issued.

use serde_json::{Value, json};

use super::http_server::{Request, Response};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const SUBSCRIPTION: &str = "6f6b3a8e-0c5d-4a43-9d6f-3f1d2b1c0a11";
pub const CLIENT_ID: &str = "weir-sp";
pub const CLIENT_SECRET: &str = "s3cret";
const TOKEN: &str = "fake-arm-token";

fn vm_id(group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"
    )
}

fn nic_id(group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Network/networkInterfaces/{name}"
    )
}

/// (group, name, os, power state, private IP, public IP, tags)
type Machine = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, &'static str)],
);

const MACHINES: [Machine; 4] = [
    (
        "RG-Web",
        "web-1",
        "Linux",
        "running",
        "10.0.0.4",
        Some("52.1.2.3"),
        &[("env", "prod"), ("cost-center", "42")],
    ),
    (
        "RG-Web",
        "web-2",
        "Linux",
        "starting",
        "10.0.0.5",
        None,
        &[],
    ),
    (
        "rg-db",
        "db-1",
        "Windows",
        "running",
        "10.0.1.4",
        None,
        &[("role", "db")],
    ),
    (
        "rg-db",
        "db-old",
        "Linux",
        "deallocated",
        "10.0.1.9",
        None,
        &[],
    ),
];

fn machine(index: usize, status_only: bool) -> Value {
    let (group, name, os, state, _, _, tags) = MACHINES[index];
    let tags: serde_json::Map<String, Value> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    if status_only {
        return json!({"id": vm_id(group, name), "name": name, "properties": {"instanceView": {
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info"},
                         {"code": format!("PowerState/{state}"), "level": "Info"}]}}});
    }
    json!({
        "id": vm_id(group, name), "name": name, "type": "Microsoft.Compute/virtualMachines",
        "location": "westeurope", "tags": tags,
        "properties": {
            "vmId": format!("0000-{index}"),
            "hardwareProfile": {"vmSize": "Standard_B1s"},
            "storageProfile": {"osDisk": {"osType": os, "name": format!("{name}-disk")}},
            "osProfile": {"computerName": format!("{name}-host"), "adminUsername": "azure"},
            "networkProfile": {"networkInterfaces": [{"id": nic_id(group, &format!("{name}-nic"))}]},
            "provisioningState": "Succeeded"
        }
    })
}

fn nic(index: usize) -> Value {
    let (group, name, _, _, private_ip, public_ip, _) = MACHINES[index];
    let mut ip = json!({"privateIPAddress": private_ip, "privateIPAllocationMethod": "Dynamic"});
    if let Some(public_ip) = public_ip {
        ip["publicIPAddress"] = json!({"id": "/subscriptions/x/publicIPAddresses/p",
                                       "properties": {"ipAddress": public_ip}});
    }
    json!({"id": nic_id(group, &format!("{name}-nic")), "name": format!("{name}-nic"),
           "properties": {"primary": true, "ipConfigurations": [{"name": "ipconfig1", "properties": ip}]}})
}

/// The fake's handler; `base` is the server's URL (for `nextLink`).
pub fn handle(request: &Request, base: &str) -> Response {
    let path = request.path().to_owned();
    if request.method == "POST" && path == format!("/{TENANT}/oauth2/token") {
        if request.form("grant_type").as_deref() != Some("client_credentials")
            || request.form("client_id").as_deref() != Some(CLIENT_ID)
            || request.form("client_secret").as_deref() != Some(CLIENT_SECRET)
        {
            return Response::with_type(401, "application/json", r#"{"error": "invalid_client"}"#);
        }
        return Response::json(&json!({"token_type": "Bearer", "expires_in": "3599",
            "ext_expires_in": "3599", "expires_on": "4102444800", "not_before": "1700000000",
            "resource": request.form("resource"), "access_token": TOKEN}));
    }
    if request.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return Response::with_type(
            401,
            "application/json",
            r#"{"error": {"code": "AuthenticationFailed"}}"#,
        );
    }
    let lower = path.to_lowercase();
    let subscription = format!("/subscriptions/{SUBSCRIPTION}").to_lowercase();
    let list = |items: Vec<Value>, next: Option<String>| {
        let mut page = json!({"value": items});
        if let Some(next) = next {
            page["nextLink"] = json!(next);
        }
        Response::json(&page)
    };
    if lower == format!("{subscription}/providers/microsoft.network/networkinterfaces") {
        // Two pages, to follow nextLink.
        return if request.query("page").as_deref() == Some("2") {
            list((2..MACHINES.len()).map(nic).collect(), None)
        } else {
            let next = format!("{base}{path}?api-version=2021-05-01&page=2");
            list((0..2).map(nic).collect(), Some(next))
        };
    }
    if lower == format!("{subscription}/providers/microsoft.compute/virtualmachines") {
        let status_only = request.query("statusOnly").as_deref() == Some("true");
        return list(
            (0..MACHINES.len())
                .map(|i| machine(i, status_only))
                .collect(),
            None,
        );
    }
    if let Some(group) = lower
        .strip_prefix(&format!("{subscription}/resourcegroups/"))
        .and_then(|rest| rest.strip_suffix("/providers/microsoft.compute/virtualmachines"))
    {
        let status_only = request.query("statusOnly").as_deref() == Some("true");
        return list(
            (0..MACHINES.len())
                .filter(|&i| MACHINES[i].0.to_lowercase() == group)
                .map(|i| machine(i, status_only))
                .collect(),
            None,
        );
    }
    if lower.ends_with("/providers/microsoft.compute/virtualmachinescalesets") {
        return list(Vec::new(), None);
    }
    // One network interface by id (what older clients ask for).
    if let Some(index) = (0..MACHINES.len()).find(|&i| {
        nic(i)["id"]
            .as_str()
            .is_some_and(|id| id.to_lowercase() == lower)
    }) {
        return Response::json(&nic(index));
    }
    Response::with_type(
        404,
        "application/json",
        r#"{"error": {"code": "ResourceNotFound"}}"#,
    )
}
