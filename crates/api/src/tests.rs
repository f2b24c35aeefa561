//! The OpenAPI description against the routes the app registers.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{ROUTES, spec_json};

/// Every `(METHOD, path)` the spec documents.
fn documented(spec: &Value) -> BTreeSet<(String, String)> {
    spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let registered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| (method.to_uppercase(), (*path).to_owned()))
        .collect();
    assert_eq!(
        registered.len(),
        ROUTES.len(),
        "a route is registered twice"
    );
    let documented = documented(&spec_json());
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI spec: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "spec documents routes that do not exist: {phantom:?}"
    );
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

#[test]
fn the_spec_is_structurally_valid_openapi_3_1() {
    let spec = spec_json();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());
    assert!(spec["components"]["securitySchemes"]["api_key"].is_object());
    let mut operation_ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        assert!(path.starts_with("/v1/"), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(
                ["get", "post", "delete", "put", "patch"].contains(&method.as_str()),
                "{method} {path}"
            );
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "duplicate operationId {id}"
            );
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success"
            );
            // Every `{param}` of the path is declared as a path parameter.
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    declared.contains(name),
                    "{method} {path}: `{name}` undeclared"
                );
            }
        }
    }
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    let mut found = Vec::new();
    refs(&spec, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(schemas.contains_key(name), "dangling $ref {target}");
    }
}

#[test]
fn the_reference_page_lists_every_operation_and_schema() {
    let spec = spec_json();
    let html = crate::docs::render_reference(&spec).expect("renders");
    for (method, path) in ROUTES {
        assert!(
            html.contains(&format!("id=\"{}-{path}\"", method.to_uppercase())),
            "{method} {path}"
        );
    }
    assert!(html.contains("id=\"schema-ErrorResponse\""));
}
