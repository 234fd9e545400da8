//! `deploy/otel-collector-config.yaml` stays in step with the crate: its
//! redaction allow-list is exactly the telemetry contract, its blocked values
//! catch card numbers and emails but not contract values, its HMAC settings
//! leave the crate's `user.hash` values alone, and the pipeline has the
//! article's shape. The in-process equivalent of its `resource` processor is
//! checked too.

use std::collections::BTreeSet;

use checkout_otel::Telemetry;
use checkout_otel::attributes as attr;
use checkout_otel::init::Exporter;
use checkout_otel::opentelemetry::{Key, Value as OtelValue};
use checkout_otel::pii::UserHasher;
use regex::Regex;
use serde_yaml::Value;

fn config() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/otel-collector-config.yaml"
    ))
    .expect("deploy/otel-collector-config.yaml");
    serde_yaml::from_str(&text).expect("valid YAML")
}

fn registry() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/registry/checkout.yaml"
    ))
    .expect("registry/checkout.yaml");
    serde_yaml::from_str(&text).expect("valid YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("expected a list, got {v:?}"))
        .iter()
        .map(|s| s.as_str().expect("string item").to_owned())
        .collect()
}

fn regexes(v: &Value) -> Vec<Regex> {
    strings(v)
        .iter()
        .map(|r| Regex::new(r).unwrap_or_else(|e| panic!("{r}: {e}")))
        .collect()
}

/// Resource keys that are not the crate's contract but must survive: the
/// OpenTelemetry SDK's own, and `platform` (the article's tag, which a
/// service may set in-process instead of in the collector).
const OTHER_RESOURCE_KEYS: &[&str] = &[
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "platform",
];

#[test]
fn redaction_allow_list_is_exactly_the_contract() {
    let config = config();
    let redaction = &config["processors"]["redaction"];
    assert_eq!(redaction["allow_all_keys"].as_bool(), Some(false));
    let listed = strings(&redaction["allowed_keys"]);
    let allowed: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(allowed.len(), listed.len(), "duplicate allowed_keys");

    let expected: BTreeSet<String> = attr::CONTRACT_ATTRIBUTE_KEYS
        .iter()
        .chain(attr::CONTRACT_METRIC_ATTRIBUTE_KEYS)
        .chain(attr::CONTRACT_RESOURCE_KEYS)
        .chain(OTHER_RESOURCE_KEYS)
        .map(|k| k.to_string())
        .collect();
    assert_eq!(
        allowed.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "allowed but not in the contract"
    );
    assert_eq!(
        expected.difference(&allowed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in the contract but removed by the collector"
    );

    // Every attribute the registry defines or references passes too.
    for group in registry()["groups"].as_sequence().unwrap() {
        for a in group["attributes"].as_sequence().into_iter().flatten() {
            let key = a["id"].as_str().or(a["ref"].as_str()).unwrap();
            assert!(allowed.contains(key), "registry key {key} is not allowed");
        }
    }
}

#[test]
fn blocked_values_catch_cards_and_emails_but_not_contract_values() {
    let config = config();
    let blocked = regexes(&config["processors"]["redaction"]["blocked_values"]);
    let caught = |text: &str| blocked.iter().any(|r| r.is_match(text));
    for pii in [
        "4111111111111111",
        "card 4242 4242 4242 4242 was declined",
        "5555-5555-5555-4444",
        "amex 378282246310005",
        "6011000990139424.",
        "jane.doe@example.com",
        "receipt sent to J.Doe+shop@mail.example.co.uk",
    ] {
        assert!(caught(pii), "not blocked: {pii}");
    }
    let hash = UserHasher::parse("raw:a shared secret of at least thirty-two bytes")
        .unwrap()
        .hash("customer-42");
    for safe in [
        "ord-5521",
        "cart-7f3a",
        "49.98",
        "4998",
        "4242",
        "rsv-88f1-1",
        "ch_3Nx9Xq2eZvKYlo2C0a1b2c3d",
        "http://inventory:8080/reservations",
        "POST /checkout/{cart}",
        "550e8400-e29b-41d4-a716-446655440000",
        hash.hash(),
    ] {
        assert!(!caught(safe), "blocked: {safe}");
    }
}

#[test]
fn user_hash_settings_leave_the_crates_hashes_alone_and_hash_raw_ids() {
    let config = config();
    let redaction = &config["processors"]["redaction"];
    assert_eq!(redaction["hash_function"].as_str(), Some("hmac-sha256"));
    // The key comes from the environment, never from the file.
    assert_eq!(
        redaction["hmac_key"].as_str(),
        Some("${env:CHECKOUT_OTEL_USER_HASH_SECRET}")
    );
    let key_patterns = regexes(&redaction["blocked_key_patterns"]);
    assert!(key_patterns.iter().any(|r| r.is_match(attr::USER_HASH)));
    assert!(!key_patterns.iter().any(|r| r.is_match("user.hash_extra")));

    let allowed_values = regexes(&redaction["allowed_values"]);
    let passes = |v: &str| allowed_values.iter().any(|r| r.is_match(v));
    let hasher = UserHasher::parse("raw:a shared secret of at least thirty-two bytes").unwrap();
    for id in ["customer-42", "jane@example.com", ""] {
        assert!(
            passes(hasher.hash(id).hash()),
            "crate hash of {id:?} would be re-hashed"
        );
        assert!(!passes(id), "raw {id:?} would not be hashed");
    }
    assert!(!passes(&hasher.hash("c").hash().to_uppercase()));

    // Raw `user.id` from services without the crate becomes `user.hash`.
    let actions = config["processors"]["attributes/user_hash"]["actions"]
        .as_sequence()
        .unwrap();
    assert_eq!(actions[0]["key"].as_str(), Some(attr::USER_HASH));
    assert_eq!(actions[0]["from_attribute"].as_str(), Some("user.id"));
    assert_eq!(actions[0]["action"].as_str(), Some("insert"));
    assert_eq!(actions[1]["key"].as_str(), Some("user.id"));
    assert_eq!(actions[1]["action"].as_str(), Some("delete"));
}

#[test]
fn pipeline_has_the_articles_shape() {
    let config = config();
    let protocols = &config["receivers"]["otlp"]["protocols"];
    assert_eq!(protocols["grpc"]["endpoint"].as_str(), Some("0.0.0.0:4317"));
    assert_eq!(protocols["http"]["endpoint"].as_str(), Some("0.0.0.0:4318"));

    let resource = &config["processors"]["resource"]["attributes"][0];
    assert_eq!(resource["key"].as_str(), Some("platform"));
    assert_eq!(resource["value"].as_str(), Some("ecommerce"));
    assert_eq!(resource["action"].as_str(), Some("upsert"));

    let exporters: Vec<String> = config["exporters"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    for signal in ["traces", "metrics"] {
        let pipeline = &config["service"]["pipelines"][signal];
        assert_eq!(strings(&pipeline["receivers"]), ["otlp"]);
        assert_eq!(
            strings(&pipeline["processors"]),
            [
                "memory_limiter",
                "attributes/user_hash",
                "redaction",
                "resource",
                "batch"
            ],
            "{signal}: memory_limiter first, user.id moved before redaction, batch last"
        );
        assert_eq!(strings(&pipeline["exporters"]), exporters);
        for p in strings(&pipeline["processors"]) {
            assert!(
                !config["processors"][p.as_str()].is_null(),
                "{p} not configured"
            );
        }
    }
    assert!(exporters.iter().all(|e| e.starts_with("otlp_grpc")));
}

/// The in-process equivalent of the collector's `resource` processor: from
/// the builder or from `OTEL_RESOURCE_ATTRIBUTES`.
#[test]
fn platform_resource_attribute_in_process() {
    let platform = |builder: checkout_otel::TelemetryBuilder| {
        let guard = builder
            .traces_exporter(Exporter::None)
            .metrics_exporter(Exporter::None)
            .build()
            .expect("build");
        guard.resource().get(&Key::from_static_str("platform"))
    };
    let from_builder = platform(
        Telemetry::builder("checkout-api")
            .with_env(Vec::<(String, String)>::new())
            .resource_attribute("platform", "ecommerce"),
    );
    let from_env = platform(
        Telemetry::builder("checkout-api")
            .with_env([("OTEL_RESOURCE_ATTRIBUTES", "platform=ecommerce")]),
    );
    assert_eq!(from_builder, Some(OtelValue::from("ecommerce")));
    assert_eq!(from_env, Some(OtelValue::from("ecommerce")));
}
