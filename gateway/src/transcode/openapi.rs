//! The OpenAPI 3.1 document of every JSON/HTTP route, built from the route table and the
//! message descriptors at start (`GET /openapi.json`), and the self-contained page that renders
//! it (`GET /docs`; no CDN, the network may be closed).

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor};
use serde_json::{Map, Value, json};
use stride_kit::policy::{Policies, Requirement};

use super::routes::{RouteTable, Segment};

/// The docs page: a small renderer of `/openapi.json` with a "try it" form.
pub const DOCS_PAGE: &str = include_str!("docs.html");

pub fn document(
    table: &RouteTable,
    methods: &HashMap<String, MethodDescriptor>,
    policies: &Policies,
) -> anyhow::Result<Value> {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    let mut tags: BTreeMap<String, Value> = BTreeMap::new();
    // Stable operation ids: the method name, then a suffix for each additional binding.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut routes: Vec<_> = table.routes().iter().collect();
    routes.sort_by(|a, b| {
        (
            a.grpc_path.as_str(),
            a.template.source.as_str(),
            a.method.as_str(),
        )
            .cmp(&(
                b.grpc_path.as_str(),
                b.template.source.as_str(),
                b.method.as_str(),
            ))
    });
    for route in routes {
        let Some(m) = methods.get(&route.grpc_path) else {
            continue;
        };
        let service = m.parent_service();
        let tag = service.name().to_owned();
        tags.entry(tag.clone()).or_insert_with(
            || json!({"name": tag, "description": format!("`{}`", service.full_name())}),
        );
        let input = m.input();
        let output = m.output();
        let mut params = Vec::new();
        let mut bound = Vec::new();
        for v in &route.template.variables {
            let dotted = v.field_path.join(".");
            let schema = leaf(&input, &v.field_path)
                .map(|f| field_schema(&f, &mut schemas))
                .unwrap_or_else(|| json!({"type": "string"}));
            params.push(json!({
                "name": dotted, "in": "path", "required": true, "schema": schema,
            }));
            bound.push(dotted);
        }
        if route.body != "*" {
            query_params(
                &input,
                "",
                &bound,
                &route.body,
                &mut params,
                &mut schemas,
                0,
            );
        }
        let id_base = m.name().to_owned();
        let n = seen.entry(id_base.clone()).or_insert(0);
        let op_id = if *n == 0 {
            id_base
        } else {
            format!("{id_base}{}", *n + 1)
        };
        *n += 1;
        let authed = policies.requirement(&route.grpc_path) == Requirement::Authenticated;
        let role = policies
            .get(&route.grpc_path)
            .map(|p| p.role.clone())
            .filter(|r| !r.is_empty());
        let response_schema = if route.response_body.is_empty() {
            message_ref(&output, &mut schemas)
        } else {
            output
                .get_field_by_name(&route.response_body)
                .map(|f| field_schema(&f, &mut schemas))
                .unwrap_or_else(|| json!({}))
        };
        let ok = if m.is_server_streaming() {
            json!({
                "description": "A stream of newline-delimited JSON: one {\"result\": message} per line, and {\"error\": Status} if it fails.",
                "content": {"application/x-ndjson": {"schema": {
                    "type": "object",
                    "properties": {"result": response_schema, "error": {"$ref": "#/components/schemas/google.rpc.Status"}}
                }}}
            })
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": response_schema}}})
        };
        let mut op = json!({
            "operationId": op_id,
            "tags": [tag],
            "summary": m.name(),
            "description": format!(
                "gRPC `{}`; also over Connect at `POST {}`.{}",
                route.grpc_path,
                route.grpc_path,
                match (&role, authed) {
                    (Some(r), _) => format!(" Needs an access token with the `{r}` role."),
                    (None, true) => " Needs an access token.".to_owned(),
                    (None, false) => " Public.".to_owned(),
                }
            ),
            "parameters": params,
            "responses": {
                "200": ok,
                "default": {
                    "description": "An error: google.rpc.Status under the HTTP status of its code.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/google.rpc.Status"}}}
                }
            },
            "x-grpc-method": route.grpc_path,
        });
        if authed && let Some(o) = op.as_object_mut() {
            o.insert("security".into(), json!([{"bearerAuth": []}]));
            if let Some(r) = &role {
                o.insert("x-required-role".into(), json!(r));
            }
        }
        let body_schema = match route.body.as_str() {
            "" => None,
            "*" => Some(message_ref(&input, &mut schemas)),
            field => input
                .get_field_by_name(field)
                .map(|f| field_schema(&f, &mut schemas)),
        };
        if let (Some(schema), Some(o)) = (body_schema, op.as_object_mut()) {
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        paths
            .entry(openapi_path(route))
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), op);
    }
    schemas.insert(
        "google.rpc.Status".into(),
        json!({
            "type": "object",
            "description": "The error shape: a gRPC status code, a message and typed details.",
            "properties": {
                "code": {"type": "integer", "format": "int32", "description": "google.rpc.Code"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"@type": {"type": "string"}},
                    "additionalProperties": true,
                    "description": "google.protobuf.Any: @type names the detail (google.rpc.BadRequest names the fields at fault, google.rpc.ErrorInfo gives a machine-readable reason)."
                }}
            },
            "required": ["code", "message"]
        }),
    );
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Stride API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "JSON over HTTP, generated from the protos' google.api.http rules. Messages follow the proto3 JSON mapping: lowerCamelCase names (proto names are accepted too), enums by name, 64-bit integers as strings, Timestamps as RFC 3339. Every method is also served over Connect, gRPC and grpc-web on this port.",
        },
        "tags": tags.into_values().collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "The access token from a sign-in (tokens.accessToken)."}
            }
        }
    }))
}

/// `/api/v1/sessions/{session_id}/complete`: variables by their field path; a variable over
/// several segments (`{name=shelves/*}`) is still one parameter.
fn openapi_path(route: &super::routes::Route) -> String {
    let t = &route.template;
    let mut out = String::new();
    let mut i = 0;
    while i < t.segments.len() {
        out.push('/');
        if let Some(v) = t.variables.iter().find(|v| v.start == i) {
            out.push('{');
            out.push_str(&v.field_path.join("."));
            out.push('}');
            i = v.end.max(i + 1);
            continue;
        }
        match t.segments.get(i) {
            Some(Segment::Literal(l)) => out.push_str(l),
            Some(Segment::Any) => out.push('*'),
            Some(Segment::Rest) => out.push_str("**"),
            None => {}
        }
        i += 1;
    }
    if let Some(v) = &t.verb {
        out.push(':');
        out.push_str(v);
    }
    out
}

fn leaf(msg: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (last, parents) = path.split_last()?;
    let mut m = msg.clone();
    for p in parents {
        match m.get_field_by_name(p)?.kind() {
            Kind::Message(n) => m = n,
            _ => return None,
        }
    }
    m.get_field_by_name(last)
}

/// Query parameters: the scalar (and repeated scalar) fields not bound by the path or the body,
/// nested messages as `a.b` (three levels at most, never recursing into a cycle).
fn query_params(
    msg: &MessageDescriptor,
    prefix: &str,
    bound: &[String],
    body: &str,
    out: &mut Vec<Value>,
    schemas: &mut BTreeMap<String, Value>,
    depth: usize,
) {
    for f in msg.fields() {
        let name = format!("{prefix}{}", f.json_name());
        let proto = format!("{prefix}{}", f.name());
        if bound.iter().any(|b| *b == proto || *b == name)
            || (prefix.is_empty() && f.name() == body)
        {
            continue;
        }
        match f.kind() {
            Kind::Message(m) if !m.full_name().starts_with("google.protobuf.") => {
                if depth < 2 && !f.is_list() && !f.is_map() {
                    query_params(
                        &m,
                        &format!("{name}."),
                        bound,
                        body,
                        out,
                        schemas,
                        depth + 1,
                    );
                }
            }
            _ if f.is_map() => {}
            _ => out.push(json!({
                "name": name, "in": "query", "required": false,
                "schema": field_schema(&f, schemas),
                "explode": true,
            })),
        }
    }
}

fn message_ref(m: &MessageDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    if let Some(wkt) = wkt_schema(m.full_name()) {
        return wkt;
    }
    let name = m.full_name().to_owned();
    if !schemas.contains_key(&name) {
        // Placeholder first: recursive messages refer to themselves.
        schemas.insert(name.clone(), json!({}));
        let mut props = Map::new();
        for f in m.fields() {
            props.insert(f.json_name().to_owned(), field_schema(&f, schemas));
        }
        schemas.insert(
            name.clone(),
            json!({"type": "object", "properties": props, "additionalProperties": false}),
        );
    }
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn field_schema(f: &FieldDescriptor, schemas: &mut BTreeMap<String, Value>) -> Value {
    if f.is_map() {
        let value = match f.kind() {
            Kind::Message(entry) => field_schema(&entry.map_entry_value_field(), schemas),
            _ => json!({}),
        };
        return json!({"type": "object", "additionalProperties": value});
    }
    let single = kind_schema(&f.kind(), schemas);
    if f.is_list() {
        json!({"type": "array", "items": single})
    } else {
        single
    }
}

fn kind_schema(kind: &Kind, schemas: &mut BTreeMap<String, Value>) -> Value {
    match kind {
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "uint32", "minimum": 0})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({"type": "string", "format": "int64", "description": "64-bit integer as a string"})
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "string", "format": "uint64", "description": "64-bit integer as a string"})
        }
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "contentEncoding": "base64"}),
        Kind::Enum(e) => json!({
            "type": "string",
            "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
            "description": format!("{} (by name; the number is accepted too)", e.full_name()),
        }),
        Kind::Message(m) => message_ref(m, schemas),
    }
}

fn wkt_schema(name: &str) -> Option<Value> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "description": "e.g. 1.5s"})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "comma-separated lowerCamelCase field paths"})
        }
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array"}),
        "google.protobuf.Any" => {
            json!({"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": true})
        }
        "google.protobuf.StringValue" => json!({"type": ["string", "null"]}),
        "google.protobuf.BytesValue" => {
            json!({"type": ["string", "null"], "contentEncoding": "base64"})
        }
        "google.protobuf.BoolValue" => json!({"type": ["boolean", "null"]}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => {
            json!({"type": ["integer", "null"]})
        }
        "google.protobuf.Int64Value" | "google.protobuf.UInt64Value" => {
            json!({"type": ["string", "null"], "description": "64-bit integer as a string"})
        }
        "google.protobuf.FloatValue" | "google.protobuf.DoubleValue" => {
            json!({"type": ["number", "null"]})
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use crate::{proxy::Limits, transcode::Transcoder};

    #[test]
    fn the_document_lists_every_route_with_auth_and_schemas() {
        let t = Transcoder::new(Limits::default()).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(t.openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        let ops: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(ops, t.routes().routes().len(), "one operation per route");
        let me = &paths["/api/v1/me"]["get"];
        assert_eq!(me["security"][0]["bearerAuth"], serde_json::json!([]));
        assert_eq!(
            me["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/stride.profile.v1.GetMyProfileResponse"
        );
        let roles = &paths["/api/v1/admin/users/{user_id}/roles"]["post"];
        assert!(roles["x-required-role"].is_string(), "{roles}");
        let signup = &paths["/api/v1/auth/signup"]["post"];
        assert!(signup.get("security").is_none(), "sign-up is public");
        assert!(signup["requestBody"]["content"]["application/json"]["schema"]["$ref"].is_string());
        let complete = &paths["/api/v1/sessions/{session_id}/complete"]["post"];
        assert_eq!(complete["parameters"][0]["in"], "path");
        assert_eq!(complete["parameters"][0]["name"], "session_id");
        let list = &paths["/api/v1/activities"]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"pageSize"), "{names:?}");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let profile = &schemas["stride.profile.v1.Profile"]["properties"];
        assert_eq!(profile["createTime"]["format"], "date-time");
        assert_eq!(profile["displayName"]["type"], "string");
        assert!(schemas.contains_key("google.rpc.Status"));
        // Every $ref resolves.
        let text = serde_json::to_string(&doc).unwrap();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        assert!(super::DOCS_PAGE.contains("/openapi.json"));
    }
}
