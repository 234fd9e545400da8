//! `registry/` is a weaver registry: a `manifest.yaml` declaring the
//! semantic-conventions dependency, and `checkout.yaml` in weaver's `groups:`
//! format. weaver itself cannot be installed here, so these tests apply the
//! rules `weaver registry check` applies to a definition registry (from
//! weaver's `manifest.rs`, `group.rs` and `attribute.rs`), offline:
//!
//! - the manifest has a versioned `schema_url` and versioned dependencies,
//!   and the semantic-conventions version is the one the crate's constants
//!   come from;
//! - every group has the fields its type requires and none it forbids;
//! - requirement levels, attribute types, examples and stabilities parse as
//!   weaver parses them;
//! - every `ref` resolves, to this registry or to the semantic conventions
//!   (checked against opentelemetry-semantic-conventions' constants, which are
//!   generated from that registry).
//!
//! `tests/contract.rs` keeps the registry equal to `src/attributes.rs`.

#![allow(deprecated)] // peer.service is looked up on purpose: see checkout.yaml.

use std::collections::{BTreeMap, BTreeSet};

use checkout_otel::opentelemetry_semantic_conventions as semconv;
use semconv::attribute as sc;
use serde_yaml::Value;

fn load(file: &str) -> Value {
    let path = format!("{}/registry/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn groups() -> Vec<Value> {
    load("checkout.yaml")["groups"]
        .as_sequence()
        .expect("checkout.yaml has `groups:`")
        .clone()
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v[field].as_str()
}

/// weaver's `SchemaUrl`: `http[s]://host[:port]/path/<version>`.
fn split_schema_url(url: &str) -> (String, String) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("{url}: a schema URL is http(s)"));
    let (name, version) = rest
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{url}: no version segment"));
    assert!(name.contains('/'), "{url}: no path before the version");
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "{url}: version {version:?} is not MAJOR.MINOR.PATCH"
    );
    (name.to_owned(), version.to_owned())
}

#[test]
fn the_manifest_declares_the_registry_and_its_semantic_conventions_dependency() {
    let manifest = load("manifest.yaml");
    assert!(
        manifest.get("file_format").is_none(),
        "a definition manifest has no file_format (that marks a published one)"
    );
    for legacy in ["semconv_version", "schema_base_url"] {
        assert!(
            manifest.get(legacy).is_none(),
            "{legacy} is deprecated in favour of schema_url"
        );
    }
    let (_, version) = split_schema_url(text(&manifest, "schema_url").expect("schema_url"));
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "the registry is versioned with the crate"
    );
    assert!(text(&manifest, "description").is_some_and(|d| !d.is_empty()));
    assert_eq!(text(&manifest, "stability"), Some("development"));

    let deps = manifest["dependencies"]
        .as_sequence()
        .expect("dependencies:");
    assert_eq!(deps.len(), 1, "one dependency: the semantic conventions");
    let dep = &deps[0];
    let url = text(dep, "schema_url").expect("a dependency has a schema_url");
    assert_eq!(
        url,
        semconv::SCHEMA_URL,
        "the semantic conventions the crate's constants come from"
    );
    let (_, semconv_version) = split_schema_url(url);
    let path = text(dep, "registry_path").expect("registry_path");
    assert_eq!(
        path,
        format!(
            "https://github.com/open-telemetry/semantic-conventions/archive/refs/tags/v{semconv_version}.zip[model]"
        ),
        "the model folder of the same release"
    );
}

const GROUP_TYPES: &[&str] = &["attribute_group", "span", "event", "metric", "entity"];
const STABILITIES: &[&str] = &[
    "stable",
    "development",
    "alpha",
    "beta",
    "release_candidate",
    "deprecated",
];
const SPAN_KINDS: &[&str] = &["client", "server", "internal", "producer", "consumer"];
const INSTRUMENTS: &[&str] = &["counter", "updowncounter", "gauge", "histogram"];
const PRIMITIVE_TYPES: &[&str] = &[
    "string",
    "int",
    "double",
    "boolean",
    "string[]",
    "int[]",
    "double[]",
    "boolean[]",
];

/// weaver's `RequirementLevel`: `required`, `recommended`, `opt_in`, or a
/// one-key map `conditionally_required|recommended|opt_in: <text>`. A bare
/// `conditionally_required` does not parse.
fn check_requirement_level(owner: &str, level: &Value) {
    match level {
        Value::Null => {}
        Value::String(s) => assert!(
            ["required", "recommended", "opt_in"].contains(&s.as_str()),
            "{owner}: requirement_level {s:?} (conditionally_required needs its condition: \
             `conditionally_required: \"If ...\"`)"
        ),
        Value::Mapping(m) => {
            assert_eq!(m.len(), 1, "{owner}: requirement_level has one key");
            let (k, v) = m.iter().next().unwrap();
            assert!(
                ["conditionally_required", "recommended", "opt_in"].contains(&k.as_str().unwrap()),
                "{owner}: requirement_level key {k:?}"
            );
            assert!(
                v.as_str().is_some_and(|t| !t.trim().is_empty()),
                "{owner}: the condition is text"
            );
        }
        other => panic!("{owner}: requirement_level {other:?}"),
    }
}

/// An attribute definition: a type weaver knows (or an enum with members),
/// examples of that type, a brief and a stability.
fn check_definition(owner: &str, a: &Value) {
    let id = text(a, "id").unwrap();
    let owner = format!("{owner}/{id}");
    assert!(
        text(a, "brief").is_some_and(|b| !b.trim().is_empty()),
        "{owner}: brief"
    );
    let stability = text(a, "stability").unwrap_or_else(|| panic!("{owner}: stability"));
    assert!(STABILITIES.contains(&stability), "{owner}: {stability}");
    let ty = &a["type"];
    let primitive = match ty {
        Value::String(t) => {
            assert!(PRIMITIVE_TYPES.contains(&t.as_str()), "{owner}: type {t:?}");
            t.as_str()
        }
        Value::Mapping(_) => {
            let members = ty["members"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{owner}: an enum type has members"));
            assert!(!members.is_empty(), "{owner}: members");
            for m in members {
                for field in ["id", "value", "stability"] {
                    assert!(!m[field].is_null(), "{owner}: a member lacks {field}");
                }
            }
            return;
        }
        other => panic!("{owner}: type {other:?}"),
    };
    let examples = match &a["examples"] {
        Value::Sequence(s) => s.clone(),
        Value::Null => panic!("{owner}: examples"),
        one => vec![one.clone()],
    };
    for e in &examples {
        let ok = match primitive.trim_end_matches("[]") {
            "string" => {
                e.is_string()
                    || e.as_sequence()
                        .is_some_and(|s| s.iter().all(Value::is_string))
            }
            "int" => e.is_i64() || e.as_sequence().is_some_and(|s| s.iter().all(Value::is_i64)),
            "double" => e.is_f64() || e.is_i64(),
            "boolean" => e.is_bool(),
            _ => false,
        };
        assert!(ok, "{owner}: example {e:?} is not a {primitive}");
    }
}

/// What `check` found: attributes defined here, and every `ref`.
#[derive(Default)]
struct Found {
    defined: BTreeSet<String>,
    refs: BTreeMap<String, Vec<String>>,
}

fn check_group(g: &Value, found: &mut Found) {
    let id = text(g, "id").expect("every group has an id").to_owned();
    let ty = text(g, "type").unwrap_or_else(|| panic!("{id}: type"));
    assert!(GROUP_TYPES.contains(&ty), "{id}: type {ty}");
    assert!(
        text(g, "brief").is_some_and(|b| !b.trim().is_empty()),
        "{id}: brief"
    );
    assert!(
        g.get("prefix").is_none(),
        "{id}: prefix is no longer allowed"
    );
    if ty != "attribute_group" {
        let stability = text(g, "stability").unwrap_or_else(|| panic!("{id}: stability"));
        assert!(STABILITIES.contains(&stability), "{id}: {stability}");
        assert_ne!(
            stability, "deprecated",
            "{id}: a group is deprecated with `deprecated:`, not a stability"
        );
    }
    let attributes = g["attributes"].as_sequence().cloned().unwrap_or_default();
    if ty != "metric" && ty != "event" {
        assert!(
            !attributes.is_empty() || g.get("extends").is_some(),
            "{id}: has neither attributes nor extends"
        );
    }
    if ty == "span" {
        let kind = text(g, "span_kind").unwrap_or_else(|| panic!("{id}: span_kind"));
        assert!(SPAN_KINDS.contains(&kind), "{id}: span_kind {kind}");
    } else {
        assert!(g.get("span_kind").is_none(), "{id}: span_kind on a {ty}");
        assert!(g.get("events").is_none(), "{id}: events on a {ty}");
    }
    if ty == "event" {
        assert!(text(g, "name").is_some(), "{id}: an event has a name");
    }
    if ty == "metric" {
        assert!(text(g, "metric_name").is_some(), "{id}: metric_name");
        let instrument = text(g, "instrument").unwrap_or_else(|| panic!("{id}: instrument"));
        assert!(INSTRUMENTS.contains(&instrument), "{id}: {instrument}");
        assert!(text(g, "unit").is_some(), "{id}: unit");
    }

    let mut seen_refs = BTreeSet::new();
    for a in &attributes {
        match (text(a, "id"), text(a, "ref")) {
            (Some(attr), None) => {
                assert_eq!(
                    ty, "attribute_group",
                    "{id}: defines {attr}; definitions live in the registry's attribute groups"
                );
                assert!(id.starts_with("registry."), "{id}: a registry group's id");
                check_definition(&id, a);
                assert!(
                    found.defined.insert(attr.to_owned()),
                    "{attr} is defined twice"
                );
            }
            (None, Some(r)) => {
                assert!(seen_refs.insert(r), "{id}: references {r} twice");
                found.refs.entry(r.to_owned()).or_default().push(id.clone());
            }
            _ => panic!("{id}: an attribute is an `id` or a `ref`: {a:?}"),
        }
        check_requirement_level(&id, &a["requirement_level"]);
    }
}

/// The semantic-conventions attributes the registry may reference, as
/// opentelemetry-semantic-conventions defines them: a name missing from the
/// semantic conventions does not compile here.
fn semantic_conventions() -> BTreeSet<&'static str> {
    [
        sc::ERROR_TYPE,
        sc::EXCEPTION_TYPE,
        sc::EXCEPTION_MESSAGE,
        sc::USER_HASH,
        sc::HTTP_REQUEST_METHOD,
        sc::HTTP_REQUEST_METHOD_ORIGINAL,
        sc::HTTP_RESPONSE_STATUS_CODE,
        sc::HTTP_ROUTE,
        sc::URL_FULL,
        sc::URL_PATH,
        sc::URL_SCHEME,
        sc::URL_QUERY,
        sc::SERVER_ADDRESS,
        sc::SERVER_PORT,
        sc::CLIENT_ADDRESS,
        sc::CLIENT_PORT,
        sc::NETWORK_PROTOCOL_VERSION,
        sc::USER_AGENT_ORIGINAL,
        sc::PEER_SERVICE,
        sc::SERVICE_PEER_NAME,
        sc::DB_SYSTEM_NAME,
        sc::DB_OPERATION_NAME,
        sc::DB_COLLECTION_NAME,
        sc::DB_QUERY_TEXT,
        sc::RPC_METHOD,
        sc::RPC_SERVICE,
        sc::RPC_SYSTEM_NAME,
        sc::RPC_METHOD_ORIGINAL,
        sc::RPC_RESPONSE_STATUS_CODE,
    ]
    .into_iter()
    .collect()
}

#[test]
fn every_group_is_one_weaver_accepts() {
    let mut found = Found::default();
    let mut ids = BTreeSet::new();
    for g in groups() {
        assert!(
            ids.insert(text(&g, "id").unwrap_or_default().to_owned()),
            "group {:?} twice",
            g["id"]
        );
        check_group(&g, &mut found);
    }
    assert!(!found.defined.is_empty());
    let semconv = semantic_conventions();
    for (r, users) in &found.refs {
        let local = found.defined.contains(r);
        let standard = semconv.contains(r.as_str());
        assert!(
            local || standard,
            "{users:?} reference {r}, defined neither here nor in the semantic conventions"
        );
        assert!(
            !(local && standard),
            "{r} is a semantic-conventions attribute: reference it, do not redefine it"
        );
    }
}

#[test]
fn deprecated_and_development_names_say_so() {
    // A referenced name the semantic conventions deprecate carries a note
    // saying why it is still emitted.
    for g in groups() {
        for a in g["attributes"].as_sequence().cloned().unwrap_or_default() {
            if text(&a, "ref") == Some(sc::PEER_SERVICE) {
                let note = text(&a, "note").unwrap_or_default();
                assert!(
                    note.contains(sc::SERVICE_PEER_NAME),
                    "{:?}: peer.service needs a note naming its replacement",
                    g["id"]
                );
            }
        }
    }
}

#[test]
fn the_checks_reject_what_weaver_rejects() {
    // The checks above can fail: each broken group is refused.
    let broken = [
        "{id: span.x, type: span, brief: b, stability: development, attributes: [{ref: cart.id}]}",
        "{id: span.x, type: span, span_kind: inside, brief: b, stability: development, attributes: [{ref: cart.id}]}",
        "{id: metric.x, type: metric, brief: b, stability: development, instrument: histogram, unit: s}",
        "{id: span.x, type: span, span_kind: client, brief: b, stability: development, attributes: [{ref: cart.id, requirement_level: conditionally_required}]}",
        "{id: span.x, type: span, span_kind: client, brief: b, stability: development, attributes: [{ref: cart.id}, {ref: cart.id}]}",
        "{id: registry.x, type: attribute_group, brief: b, attributes: [{id: a.b, type: int, brief: b, stability: development, examples: [\"one\"]}]}",
        "{id: event.x, type: event, span_kind: client, name: x, brief: b, stability: development}",
    ];
    for yaml in broken {
        let group: Value = serde_yaml::from_str(yaml).unwrap();
        let refused = std::panic::catch_unwind(|| check_group(&group, &mut Found::default()));
        assert!(refused.is_err(), "accepted: {yaml}");
    }
}
