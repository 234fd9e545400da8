//! The telemetry contract exists three times: the constants in
//! `src/attributes.rs`, the weaver registry `registry/checkout.yaml`, and the
//! README tables. These tests keep the three equal.

use std::collections::BTreeSet;

use checkout_otel::attributes as attr;
use serde_yaml::Value;

fn registry() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/registry/checkout.yaml"
    ))
    .expect("registry/checkout.yaml");
    let doc: Value = serde_yaml::from_str(&text).expect("registry is valid YAML");
    doc["groups"].as_sequence().expect("groups:").clone()
}

fn groups_of(kind: &str) -> Vec<Value> {
    registry()
        .into_iter()
        .filter(|g| g["type"].as_str() == Some(kind))
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn refs(group: &Value) -> Vec<String> {
    group["attributes"]
        .as_sequence()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["ref"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Attributes the registry references from the OpenTelemetry semantic conventions.
const SEMCONV: &[&str] = &[
    attr::ERROR_TYPE,
    attr::EXCEPTION_TYPE,
    attr::EXCEPTION_MESSAGE,
    attr::USER_HASH,
    attr::HTTP_REQUEST_METHOD,
    attr::HTTP_RESPONSE_STATUS_CODE,
    attr::HTTP_ROUTE,
    attr::URL_FULL,
    attr::SERVER_ADDRESS,
    attr::SERVER_PORT,
    attr::HTTP_REQUEST_METHOD_ORIGINAL,
    attr::URL_PATH,
    attr::URL_SCHEME,
    attr::CLIENT_ADDRESS,
    attr::NETWORK_PROTOCOL_VERSION,
    attr::USER_AGENT_ORIGINAL,
    attr::RPC_SYSTEM_NAME,
    attr::RPC_METHOD,
    attr::RPC_METHOD_ORIGINAL,
    attr::RPC_RESPONSE_STATUS_CODE,
    attr::PEER_SERVICE,
    attr::DB_SYSTEM_NAME,
    attr::DB_OPERATION_NAME,
    attr::DB_COLLECTION_NAME,
    attr::DB_QUERY_TEXT,
];

#[test]
fn registry_defines_exactly_the_domain_attributes() {
    let defined: BTreeSet<String> = groups_of("attribute_group")
        .iter()
        .flat_map(|g| g["attributes"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|a| a["id"].as_str().map(str::to_owned))
        .collect();
    let mut constants = set(attr::CONTRACT_ATTRIBUTE_KEYS);
    constants.extend(set(attr::CONTRACT_METRIC_ATTRIBUTE_KEYS));
    let domain: BTreeSet<String> = constants.difference(&set(SEMCONV)).cloned().collect();
    assert_eq!(defined, domain);
    for group in groups_of("attribute_group") {
        for a in group["attributes"].as_sequence().unwrap() {
            for field in ["type", "brief", "examples", "stability"] {
                assert!(!a[field].is_null(), "{:?} lacks {field}", a["id"]);
            }
        }
    }
}

#[test]
fn every_reference_resolves_and_every_key_is_used() {
    let mut known = set(attr::CONTRACT_ATTRIBUTE_KEYS);
    known.extend(set(attr::CONTRACT_METRIC_ATTRIBUTE_KEYS));
    let mut used = BTreeSet::new();
    for group in registry() {
        for r in refs(&group) {
            assert!(
                known.contains(&r),
                "{:?} references unknown {r}",
                group["id"]
            );
            used.insert(r);
        }
    }
    assert_eq!(
        used, known,
        "keys defined in src/attributes.rs but used by no span, event or metric"
    );
}

#[test]
fn registry_spans_events_and_metrics_match_the_constants() {
    let spans: BTreeSet<String> = groups_of("span")
        .iter()
        .map(|g| {
            g["id"]
                .as_str()
                .unwrap()
                .trim_start_matches("span.")
                .to_owned()
        })
        // Database, HTTP and RPC spans are named after their operation
        // (`SELECT stock`, `POST`, `POST /checkout`, `shop.Payment/Charge`).
        .filter(|id| {
            ![
                "db.client",
                "http.client",
                "http.server",
                "rpc.client",
                "rpc.server",
            ]
            .contains(&id.as_str())
        })
        .collect();
    assert_eq!(spans, set(attr::CONTRACT_SPAN_NAMES));

    let events: BTreeSet<String> = groups_of("event")
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, set(attr::CONTRACT_EVENT_NAMES));
    for span in groups_of("span") {
        for e in strs(&span["events"]) {
            assert!(
                events.contains(&e),
                "{:?} lists unknown event {e}",
                span["id"]
            );
        }
    }

    let metrics: BTreeSet<String> = groups_of("metric")
        .iter()
        .map(|g| g["metric_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(metrics, set(attr::CONTRACT_METRIC_NAMES));
    for m in groups_of("metric") {
        for r in refs(&m) {
            assert!(
                attr::CONTRACT_METRIC_ATTRIBUTE_KEYS.contains(&r.as_str()),
                "metric {:?} uses {r}, which is not a bounded metric attribute",
                m["metric_name"]
            );
        }
    }
}

#[test]
fn span_kinds_in_the_registry_are_the_helpers_kinds() {
    let kind = |name: &str| {
        groups_of("span")
            .into_iter()
            .find(|g| g["id"].as_str() == Some(&format!("span.{name}")))
            .and_then(|g| g["span_kind"].as_str().map(str::to_owned))
            .unwrap()
    };
    assert_eq!(kind(attr::PAYMENT_PROCESS), "client");
    assert_eq!(kind(attr::PAYMENT_GATEWAY_CALL), "client");
    assert_eq!(kind(attr::NOTIFICATION_SEND), "producer");
    assert_eq!(kind(attr::CHECKOUT_PROCESS), "internal");
}

#[test]
fn readme_documents_every_name() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let all = attr::CONTRACT_SPAN_NAMES
        .iter()
        .chain(attr::CONTRACT_ATTRIBUTE_KEYS)
        .chain(attr::CONTRACT_EVENT_NAMES)
        .chain(attr::CONTRACT_METRIC_NAMES)
        .chain(attr::CONTRACT_METRIC_ATTRIBUTE_KEYS)
        .chain(attr::CONTRACT_RESOURCE_KEYS);
    let missing: Vec<_> = all
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md does not document {missing:?}"
    );
}
