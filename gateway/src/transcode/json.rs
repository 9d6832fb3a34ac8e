//! JSON over HTTP: a `google.api.http` route's request (path variables, query parameters, JSON
//! body) becomes the method's protobuf request; its answer becomes JSON by the proto3 JSON
//! mapping; a failure becomes `google.rpc.Status` JSON under the standard HTTP status.
//!
//! Output: lowerCamelCase names, enums by name, 64-bit integers as strings, well-known types in
//! their JSON forms, and fields at their default value included (clients written against REST
//! APIs expect every field to be there). Input: both the JSON and the proto field names, enums
//! by name or number, unknown fields refused (400 naming the field).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, SerializeOptions,
};
use serde_json::{Map, Value};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt as _};

use super::{Inner, Transcoder, routes::Route};

/// Serves one JSON/HTTP call.
pub(crate) async fn handle<S, B>(
    t: Arc<Transcoder>,
    inner: S,
    req: http::Request<B>,
    route: Route,
    vars: Vec<(Vec<String>, String)>,
) -> Result<http::Response<tonic::body::Body>, S::Error>
where
    S: Inner,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<super::BoxError>,
{
    let Some(method) = t.methods.get(&route.grpc_path).cloned() else {
        return Ok(status_response(
            &t.pool,
            &Status::not_found("no such method"),
        ));
    };
    let (parts, body) = req.into_parts();
    let (body, held) = match super::read_body(&t, &parts.headers, body).await {
        Ok(read) => read,
        Err(s) => return Ok(status_response(&t.pool, &s)),
    };
    let has_body = !route.body.is_empty() && !body.is_empty();
    if has_body
        && super::media_type(&parts.headers)
            .is_some_and(|m| m != "application/json" && !m.ends_with("+json"))
    {
        return Ok(error_response(
            &t.pool,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &Status::invalid_argument("the request body must be application/json"),
        ));
    }
    let message = match request_message(&method.input(), &route, &vars, parts.uri.query(), &body) {
        Ok(m) => m.encode_to_vec(),
        Err(s) => return Ok(status_response(&t.pool, &s)),
    };
    // The JSON is no longer needed; the proxy counts the protobuf it forwards.
    drop((body, held));
    let timeout = match server_timeout(&parts.headers) {
        Ok(t) => t,
        Err(s) => return Ok(status_response(&t.pool, &s)),
    };
    let req = match super::grpc_request(parts, &route.grpc_path, &message, timeout) {
        Ok(r) => r,
        Err(s) => return Ok(status_response(&t.pool, &s)),
    };
    if method.is_server_streaming() {
        return stream(t, inner, req, method.output(), route.response_body).await;
    }
    let max = t.limits.max_message_bytes.saturating_mul(4);
    let answer = super::call_unary(inner, req, max).await?;
    let bytes = match answer.result {
        Ok(b) => b,
        Err(s) => return Ok(status_response(&t.pool, &s)),
    };
    match response_bytes(&method.output(), &bytes, &route.response_body) {
        Ok(body) => Ok(bytes_response(StatusCode::OK, body)),
        Err(s) => Ok(status_response(&t.pool, &s)),
    }
}

/// `X-Server-Timeout: <seconds>` (decimal, as Google's front ends take it): the call's deadline,
/// clamped by the proxy like a `grpc-timeout`.
fn server_timeout(headers: &http::HeaderMap) -> Result<Option<std::time::Duration>, Status> {
    let Some(v) = headers.get("x-server-timeout") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Some(std::time::Duration::from_secs_f64(s.min(86_400.0))))
        .ok_or_else(|| {
            Status::with_error_details(
                tonic::Code::InvalidArgument,
                "X-Server-Timeout must be a positive number of seconds",
                ErrorDetails::with_bad_request_violation(
                    "X-Server-Timeout",
                    "a positive number of seconds",
                ),
            )
        })
}

pub(crate) async fn stream<S: Inner>(
    t: Arc<Transcoder>,
    mut inner: S,
    req: http::Request<tonic::body::Body>,
    output: MessageDescriptor,
    response_body: String,
) -> Result<http::Response<tonic::body::Body>, S::Error> {
    use futures::StreamExt as _;
    use tower::ServiceExt as _;
    let res = inner.ready().await?.call(req).await?;
    let (parts, body) = res.into_parts();
    if let Some(Err(s)) = super::head_status(&parts) {
        return Ok(status_response(&t.pool, &s));
    }
    let pool = t.pool.clone();
    let lines = super::connect::messages(body).filter_map(move |item| {
        let line = match item {
            super::connect::Item::Message(bytes) => {
                match response_json(&output, &bytes, &response_body) {
                    Ok(v) => Some(serde_json::json!({ "result": v })),
                    Err(s) => Some(serde_json::json!({ "error": status_json(&pool, &s) })),
                }
            }
            super::connect::Item::End(Ok(()), _) => None,
            super::connect::Item::End(Err(s), _) => {
                Some(serde_json::json!({ "error": status_json(&pool, &s) }))
            }
        };
        std::future::ready(line.map(|line| {
            let mut out = serde_json::to_vec(&line).unwrap_or_default();
            out.push(b'\n');
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(out)))
        }))
    });
    let mut res = http::Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
        lines,
    )));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(res)
}

/// Builds the request message from the path variables, the query and the body.
pub(crate) fn request_message(
    desc: &MessageDescriptor,
    route: &Route,
    vars: &[(Vec<String>, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, Status> {
    let mut root = Map::new();
    match route.body.as_str() {
        "" => {}
        "*" => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                match parse_json(body)? {
                    Value::Object(m) => root = m,
                    _ => return Err(bad("body", "the request body must be a JSON object")),
                }
            }
        }
        field => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                let f = desc
                    .get_field_by_name(field)
                    .ok_or_else(|| Status::internal("body field"))?;
                root.insert(f.json_name().to_owned(), parse_json(body)?);
            }
        }
    }
    let bound: Vec<String> = vars.iter().map(|(f, _)| f.join(".")).collect();
    // Query parameters fill the fields neither the path nor a `*` body take.
    if route.body != "*"
        && let Some(q) = query
    {
        for (key, value) in query_pairs(q) {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            if bound.iter().any(|b| b == &key) {
                continue;
            }
            if !route.body.is_empty()
                && path.first().is_some_and(|p| is_field(desc, p, &route.body))
            {
                return Err(bad(&key, "this field is taken from the request body"));
            }
            set_field(desc, &mut root, &path, &value, true)?;
        }
    }
    for (path, value) in vars {
        set_field(desc, &mut root, path, value, false)?;
    }
    decode_json(desc, Value::Object(root))
}

fn is_field(desc: &MessageDescriptor, name: &str, field: &str) -> bool {
    field_by_any_name(desc, name).is_some_and(|f| f.name() == field)
}

fn parse_json(body: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(body).map_err(|e| {
        bad(
            "body",
            &format!(
                "malformed JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Decodes a JSON value by the proto3 JSON mapping; a failure names the field (its JSON path).
pub(crate) fn decode_json(
    desc: &MessageDescriptor,
    value: Value,
) -> Result<DynamicMessage, Status> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    let opts = DeserializeOptions::new().deny_unknown_fields(true);
    DynamicMessage::deserialize_with_options(desc.clone(), de, &opts).map_err(|e| {
        let path = track.path().to_string();
        let msg = e.to_string();
        // An unknown field is reported at its parent: name the field itself.
        let unknown = msg
            .strip_prefix("unrecognized field name '")
            .or_else(|| msg.strip_prefix("unknown field `"));
        let field = match (unknown, path.as_str()) {
            (Some(rest), p) => {
                let name = rest.split(['\'', '`']).next().unwrap_or("");
                if p == "." || p.is_empty() {
                    name.to_owned()
                } else {
                    format!("{p}.{name}")
                }
            }
            (None, "." | "") => "body".to_owned(),
            (None, p) => p.to_owned(),
        };
        bad(&field, &format!("{field}: {msg}"))
    })
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` naming `field`.
pub(crate) fn bad(field: &str, description: &str) -> Status {
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        description,
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

fn field_by_any_name(
    desc: &MessageDescriptor,
    name: &str,
) -> Option<prost_reflect::FieldDescriptor> {
    desc.get_field_by_name(name)
        .or_else(|| desc.get_field_by_json_name(name))
}

/// Sets `path` (proto or JSON names) in the JSON object `root` from a path or query string value,
/// typed by the field's kind. Repeated fields collect every value given (`?tag=a&tag=b`).
fn set_field(
    desc: &MessageDescriptor,
    root: &mut Map<String, Value>,
    path: &[String],
    raw: &str,
    from_query: bool,
) -> Result<(), Status> {
    let shown = path.join(".");
    let unknown = || {
        if from_query {
            bad(&shown, &format!("unknown query parameter {shown:?}"))
        } else {
            Status::internal("path variable names no field")
        }
    };
    let (last, parents) = path.split_last().ok_or_else(unknown)?;
    let mut msg = desc.clone();
    let mut obj = root;
    for p in parents {
        let f = field_by_any_name(&msg, p).ok_or_else(unknown)?;
        let Kind::Message(next) = f.kind() else {
            return Err(bad(&shown, &format!("{p} is not a message")));
        };
        if f.is_list() || f.is_map() || is_wkt(&next) {
            return Err(bad(
                &shown,
                &format!("{p} cannot be set from a query parameter"),
            ));
        }
        normalize_key(obj, &f);
        let entry = obj
            .entry(f.json_name().to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(inner) = entry else {
            return Err(unknown());
        };
        obj = inner;
        msg = next;
    }
    let f = field_by_any_name(&msg, last).ok_or_else(unknown)?;
    if f.is_map() {
        return Err(bad(&shown, "a map cannot be set from a query parameter"));
    }
    let value = scalar(&f.kind(), raw)
        .ok_or_else(|| bad(&shown, &format!("{shown}: {raw:?} is not a valid value")))?;
    normalize_key(obj, &f);
    let key = f.json_name().to_owned();
    if f.is_list() {
        match obj.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(a) => a.push(value),
            other => *other = Value::Array(vec![value]),
        }
    } else {
        obj.insert(key, value);
    }
    Ok(())
}

/// A body may spell a field by its proto name; move it to the JSON name so a path or query value
/// for the same field replaces it instead of standing beside it.
fn normalize_key(obj: &mut Map<String, Value>, f: &prost_reflect::FieldDescriptor) {
    if f.name() != f.json_name()
        && !obj.contains_key(f.json_name())
        && let Some(v) = obj.remove(f.name())
    {
        obj.insert(f.json_name().to_owned(), v);
    }
}

fn is_wkt(m: &MessageDescriptor) -> bool {
    m.full_name().starts_with("google.protobuf.")
}

/// A string from a path or query, as the JSON value the field's kind takes. `None`: not a value
/// of that kind (the caller names the field).
fn scalar(kind: &Kind, raw: &str) -> Option<Value> {
    Some(match kind {
        Kind::Bool => match raw {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return None,
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::from(raw.parse::<i32>().ok()?),
        Kind::Uint32 | Kind::Fixed32 => Value::from(raw.parse::<u32>().ok()?),
        // The JSON mapping takes 64-bit integers as strings; checked here for a clear error.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            raw.parse::<i64>().ok()?;
            Value::String(raw.to_owned())
        }
        Kind::Uint64 | Kind::Fixed64 => {
            raw.parse::<u64>().ok()?;
            Value::String(raw.to_owned())
        }
        Kind::Float | Kind::Double => match raw {
            "NaN" | "Infinity" | "-Infinity" => Value::String(raw.to_owned()),
            _ => Value::from(raw.parse::<f64>().ok().filter(|f| f.is_finite())?),
        },
        Kind::Enum(e) => match raw.parse::<i32>() {
            Ok(n) => Value::from(n),
            Err(_) => {
                e.get_value_by_name(raw)?;
                Value::String(raw.to_owned())
            }
        },
        // Strings, bytes (base64) and well-known types written as strings (Timestamp,
        // Duration, FieldMask, wrappers) go through the JSON mapping as they are.
        _ => Value::String(raw.to_owned()),
    })
}

/// `a=1&b=x+y` → pairs, `+` as space and percent-decoded.
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The answer as JSON bytes: written straight from the message when the whole message is the
/// answer (the common case, one pass), through a JSON value when `response_body` picks a field.
fn response_bytes(
    output: &MessageDescriptor,
    bytes: &[u8],
    response_body: &str,
) -> Result<Bytes, Status> {
    if !response_body.is_empty() {
        let v = response_json(output, bytes, response_body)?;
        return serde_json::to_vec(&v)
            .map(Bytes::from)
            .map_err(|_| Status::internal("the answer has no JSON form"));
    }
    let msg = DynamicMessage::decode(output.clone(), bytes)
        .map_err(|_| Status::internal("the upstream's answer does not decode"))?;
    let mut out = serde_json::Serializer::new(Vec::with_capacity(bytes.len() * 2 + 16));
    msg.serialize_with_options(
        &mut out,
        &SerializeOptions::new().skip_default_fields(false),
    )
    .map_err(|_| Status::internal("the answer has no JSON form"))?;
    Ok(Bytes::from(out.into_inner()))
}

/// The answer as JSON (or its `response_body` field).
pub(crate) fn response_json(
    output: &MessageDescriptor,
    bytes: &[u8],
    response_body: &str,
) -> Result<Value, Status> {
    let msg = DynamicMessage::decode(output.clone(), bytes)
        .map_err(|_| Status::internal("the upstream's answer does not decode"))?;
    let opts = SerializeOptions::new().skip_default_fields(false);
    let v = to_value(&msg, &opts)?;
    if response_body.is_empty() {
        return Ok(v);
    }
    let key = output
        .get_field_by_name(response_body)
        .map(|f| f.json_name().to_owned())
        .unwrap_or_default();
    Ok(match v {
        Value::Object(mut m) => m.remove(&key).unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

pub(crate) fn to_value(msg: &DynamicMessage, opts: &SerializeOptions) -> Result<Value, Status> {
    msg.serialize_with_options(serde_json::value::Serializer, opts)
        .map_err(|_| Status::internal("the answer has no JSON form"))
}

/// `google.rpc.Status` as JSON: `code` (number), `message`, `details` (each an `Any` with its
/// `@type` and fields).
pub fn status_json(pool: &DescriptorPool, status: &Status) -> Value {
    let details: Vec<Value> = tonic_types::pb::Status::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default()
        .iter()
        .map(|any| any_json(pool, any))
        .collect();
    serde_json::json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": details,
    })
}

/// An `Any` by the JSON mapping when its type is known (the google.rpc error details are);
/// otherwise its type and base64 bytes.
fn any_json(pool: &DescriptorPool, any: &prost_types::Any) -> Value {
    let name = any.type_url.rsplit('/').next().unwrap_or("");
    let known = pool.get_message_by_name(name).and_then(|desc| {
        let msg = DynamicMessage::decode(desc, any.value.as_slice()).ok()?;
        match to_value(&msg, &SerializeOptions::new()).ok()? {
            Value::Object(mut m) => {
                let mut out = Map::new();
                out.insert("@type".into(), Value::String(any.type_url.clone()));
                out.append(&mut m);
                Some(Value::Object(out))
            }
            _ => None,
        }
    });
    known.unwrap_or_else(|| {
        use base64::Engine as _;
        serde_json::json!({
            "@type": any.type_url,
            "value": base64::engine::general_purpose::STANDARD.encode(&any.value),
        })
    })
}

pub(crate) fn status_response(
    pool: &DescriptorPool,
    status: &Status,
) -> http::Response<tonic::body::Body> {
    error_response(pool, super::http_status(status.code()), status)
}

pub(crate) fn error_response(
    pool: &DescriptorPool,
    code: StatusCode,
    status: &Status,
) -> http::Response<tonic::body::Body> {
    json_response(code, &status_json(pool, status))
}

fn json_response(code: StatusCode, v: &Value) -> http::Response<tonic::body::Body> {
    bytes_response(code, Bytes::from(serde_json::to_vec(v).unwrap_or_default()))
}

fn bytes_response(code: StatusCode, body: Bytes) -> http::Response<tonic::body::Body> {
    let mut res = http::Response::new(super::full(body));
    *res.status_mut() = code;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcode::routes::Template;

    fn pool() -> DescriptorPool {
        let mut p = DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET).unwrap();
        p.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .unwrap();
        p
    }

    fn route(tpl: &str, body: &str) -> Route {
        Route {
            method: http::Method::POST,
            template: Template::parse(tpl).unwrap(),
            grpc_path: "/x/Y".into(),
            body: body.into(),
            response_body: String::new(),
        }
    }

    fn field_of(s: &Status) -> String {
        s.get_error_details()
            .bad_request()
            .map(|b| b.field_violations[0].field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn body_path_and_query_fill_the_request() {
        let p = pool();
        let d = p
            .get_message_by_name("stride.profile.v1.UpdateMyProfileRequest")
            .unwrap();
        // Both spellings in; the path variable wins over the body; WKTs by their JSON form.
        let body = br#"{"profile": {"display_name": "A", "locale": "fr"}, "updateMask": "displayName,locale"}"#;
        let m = request_message(
            &d,
            &route("/p/{profile.display_name}", "*"),
            &[(
                vec!["profile".into(), "display_name".into()],
                "From Path".into(),
            )],
            None,
            body,
        )
        .unwrap();
        let v = to_value(&m, &SerializeOptions::new()).unwrap();
        assert_eq!(v["profile"]["displayName"], "From Path");
        assert_eq!(v["profile"]["locale"], "fr");
        assert_eq!(v["updateMask"], "displayName,locale");
        // body: "field" puts the whole body into that field.
        let m = request_message(
            &d,
            &route("/p", "profile"),
            &[],
            None,
            br#"{"locale": "en"}"#,
        )
        .unwrap();
        let v = to_value(&m, &SerializeOptions::new()).unwrap();
        assert_eq!(v["profile"]["locale"], "en");
        // ... and a query parameter may not set it again.
        let err = request_message(
            &d,
            &route("/p", "profile"),
            &[],
            Some("profile.locale=x"),
            b"{}",
        )
        .unwrap_err();
        assert_eq!(field_of(&err), "profile.locale");
    }

    #[test]
    fn query_parameters_map_onto_nested_and_repeated_fields() {
        let p = pool();
        let d = p
            .get_message_by_name("stride.profile.v1.UpdateMyProfileRequest")
            .unwrap();
        let r = route("/p", "");
        let m = request_message(
            &d,
            &r,
            &[],
            Some("profile.displayName=Al+Ice&profile.time_zone_unused=1"),
            b"",
        );
        assert_eq!(field_of(&m.unwrap_err()), "profile.time_zone_unused");
        let m = request_message(
            &d,
            &r,
            &[],
            Some("profile.displayName=Al+Ice&profile.locale=fr"),
            b"",
        )
        .unwrap();
        let v = to_value(&m, &SerializeOptions::new()).unwrap();
        assert_eq!(v["profile"]["displayName"], "Al Ice");
        assert_eq!(v["profile"]["locale"], "fr");
        let err = request_message(&d, &r, &[], Some("nope=1"), b"").unwrap_err();
        assert_eq!(field_of(&err), "nope");

        // Numbers and enums by name or number.
        let list = p
            .get_message_by_name("stride.activity_session.v1.ListActivitiesRequest")
            .unwrap();
        let kind = match list.get_field_by_name("kind").unwrap().kind() {
            Kind::Enum(e) => e.values().last().unwrap(),
            _ => unreachable!(),
        };
        let q = format!("page_size=20&kind={}", kind.name());
        let m = request_message(&list, &r, &[], Some(&q), b"").unwrap();
        let v = to_value(&m, &SerializeOptions::new()).unwrap();
        assert_eq!(v["pageSize"], 20);
        assert_eq!(v["kind"], kind.name());
        let err = request_message(&list, &r, &[], Some("pageSize=lots"), b"").unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(field_of(&err), "pageSize");
        let err = request_message(&list, &r, &[], Some("kind=NOT_A_KIND"), b"").unwrap_err();
        assert_eq!(field_of(&err), "kind");

        // Repeated: every value is kept.
        let roles = p
            .get_message_by_name("stride.auth.v1.SetUserRolesRequest")
            .unwrap();
        let m = request_message(&roles, &r, &[], Some("roles=a&roles=b&user_id=u"), b"").unwrap();
        let v = to_value(&m, &SerializeOptions::new()).unwrap();
        assert_eq!(v["roles"], serde_json::json!(["a", "b"]));
        assert_eq!(v["userId"], "u");
    }

    #[test]
    fn malformed_bodies_name_the_field() {
        let p = pool();
        let d = p
            .get_message_by_name("stride.profile.v1.UpdateMyProfileRequest")
            .unwrap();
        let r = route("/p", "*");
        let err =
            request_message(&d, &r, &[], None, br#"{"profile": {"displayName": 5}}"#).unwrap_err();
        assert_eq!(field_of(&err), "profile.displayName");
        let err = request_message(&d, &r, &[], None, br#"{"profile": {"colour": 1}}"#).unwrap_err();
        assert_eq!(field_of(&err), "profile.colour");
        let err = request_message(
            &d,
            &r,
            &[],
            None,
            br#"{"profile": {"createTime": "yesterday"}}"#,
        )
        .unwrap_err();
        assert_eq!(field_of(&err), "profile.createTime");
        let err = request_message(&d, &r, &[], None, br#"{"profile": "#).unwrap_err();
        assert_eq!(field_of(&err), "body");
        assert!(
            err.message().contains("malformed JSON"),
            "{}",
            err.message()
        );
        let err = request_message(&d, &r, &[], None, b"[1]").unwrap_err();
        assert_eq!(field_of(&err), "body");
        // An empty body is an empty message.
        assert!(request_message(&d, &r, &[], None, b"  ").is_ok());
    }

    #[test]
    fn output_follows_the_proto3_json_mapping() {
        let p = pool();
        let d = p
            .get_message_by_name("stride.profile.v1.GetMyProfileResponse")
            .unwrap();
        let input = serde_json::json!({"profile": {"user_id": "u1", "displayName": "A"}});
        let m = decode_json(&d, input).unwrap();
        let v = response_json(&d, &m.encode_to_vec(), "").unwrap();
        // lowerCamelCase out, defaults present.
        assert_eq!(v["profile"]["userId"], "u1");
        assert_eq!(v["profile"]["locale"], "");
        // Written in one pass, the same JSON.
        let direct: Value =
            serde_json::from_slice(&response_bytes(&d, &m.encode_to_vec(), "").unwrap()).unwrap();
        assert_eq!(direct, v);
        // response_body picks one field.
        let only = response_json(&d, &m.encode_to_vec(), "profile").unwrap();
        assert_eq!(only["displayName"], "A");
    }

    #[test]
    fn int64_enums_and_timestamps_use_their_json_forms() {
        let p = pool();
        // Find any Stride message with an int64, an enum and a Timestamp field and check each.
        for m in p
            .all_messages()
            .filter(|m| m.full_name().starts_with("stride."))
        {
            for f in m.fields().filter(|f| !f.is_list() && !f.is_map()) {
                let mut dm = DynamicMessage::new(m.clone());
                let expect = match f.kind() {
                    Kind::Int64 => {
                        dm.set_field(&f, prost_reflect::Value::I64(-5));
                        Value::String("-5".into())
                    }
                    Kind::Enum(e) => {
                        let Some(v) = e.values().find(|v| v.number() != 0) else {
                            continue;
                        };
                        dm.set_field(&f, prost_reflect::Value::EnumNumber(v.number()));
                        Value::String(v.name().into())
                    }
                    Kind::Message(t) if t.full_name() == "google.protobuf.Timestamp" => {
                        let mut ts = DynamicMessage::new(t.clone());
                        ts.set_field_by_name("seconds", prost_reflect::Value::I64(0));
                        ts.set_field_by_name("nanos", prost_reflect::Value::I32(0));
                        dm.set_field(&f, prost_reflect::Value::Message(ts));
                        Value::String("1970-01-01T00:00:00Z".into())
                    }
                    _ => continue,
                };
                let v = response_json(&m, &dm.encode_to_vec(), "").unwrap();
                assert_eq!(v[f.json_name()], expect, "{}", f.full_name());
                // And back in.
                let back = decode_json(&m, v).unwrap();
                assert_eq!(
                    back.encode_to_vec(),
                    dm.encode_to_vec(),
                    "{}",
                    f.full_name()
                );
            }
        }
    }

    #[test]
    fn input_accepts_every_spelling_the_mapping_allows() {
        let p = pool();
        let entry = p
            .get_message_by_name("stride.challenge.v1.LeaderboardEntry")
            .unwrap();
        let out = |v: Value| {
            let m = decode_json(&entry, v).unwrap();
            response_json(&entry, &m.encode_to_vec(), "").unwrap()
        };
        // 64-bit integers as a string or a number; out always as a string.
        assert_eq!(out(serde_json::json!({"points": "5"}))["points"], "5");
        assert_eq!(out(serde_json::json!({"points": 5}))["points"], "5");
        // 32-bit integers as a number or a string; null is the default.
        assert_eq!(out(serde_json::json!({"rank": "3"}))["rank"], 3);
        assert_eq!(out(serde_json::json!({"rank": null}))["rank"], 0);
        // Proto and JSON names.
        assert_eq!(
            out(serde_json::json!({"display_name": "x"}))["displayName"],
            "x"
        );
        // Out of range, or a fraction, names the field.
        let err = decode_json(&entry, serde_json::json!({"rank": 3_000_000_000u64})).unwrap_err();
        assert_eq!(
            err.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "rank"
        );
        let err = decode_json(&entry, serde_json::json!({"rank": 1.5})).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);

        let list = p
            .get_message_by_name("stride.activity_session.v1.ListActivitiesRequest")
            .unwrap();
        // Enums by name or by number; out by name.
        let m = decode_json(&list, serde_json::json!({"kind": 1})).unwrap();
        let v = response_json(&list, &m.encode_to_vec(), "").unwrap();
        assert_eq!(v["kind"], "ACTIVITY_KIND_FOCUS");
        let err = decode_json(&list, serde_json::json!({"kind": "FOCUS"})).unwrap_err();
        assert_eq!(
            err.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "kind"
        );

        // Durations by their string form; a bad one names the field.
        let start = p
            .get_message_by_name("stride.activity_session.v1.StartSessionRequest")
            .unwrap();
        let m = decode_json(&start, serde_json::json!({"plannedDuration": "90s"})).unwrap();
        let v = response_json(&start, &m.encode_to_vec(), "").unwrap();
        assert_eq!(v["plannedDuration"], "90s");
        let err = decode_json(&start, serde_json::json!({"plannedDuration": 90})).unwrap_err();
        assert_eq!(
            err.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "plannedDuration"
        );
    }

    #[test]
    fn status_json_carries_the_details_by_type() {
        let p = pool();
        let s = bad("profile.displayName", "too long");
        let v = status_json(&p, &s);
        assert_eq!(v["code"], 3);
        assert_eq!(v["message"], "too long");
        let d = &v["details"][0];
        assert_eq!(d["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(d["fieldViolations"][0]["field"], "profile.displayName");
        let mut info = ErrorDetails::new();
        info.set_error_info("TOKEN_MISSING", "stride", []);
        let s = Status::with_error_details(tonic::Code::Unauthenticated, "no token", info);
        let v = status_json(&p, &s);
        assert_eq!(v["code"], 16);
        assert_eq!(v["details"][0]["reason"], "TOKEN_MISSING");
        // No details: an empty list.
        let v = status_json(&p, &Status::not_found("x"));
        assert_eq!(v["details"], serde_json::json!([]));
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            query_pairs("a=1&b=x+y&c=%2Fz&flag&"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "/z".into()),
                ("flag".into(), "".into())
            ]
        );
        assert_eq!(scalar(&Kind::Bool, "true"), Some(Value::Bool(true)));
        assert_eq!(scalar(&Kind::Bool, "yes"), None);
        assert_eq!(scalar(&Kind::Int64, "12"), Some(Value::String("12".into())));
        assert_eq!(scalar(&Kind::Int64, "1.5"), None);
        assert_eq!(scalar(&Kind::Uint32, "-1"), None);
        assert_eq!(scalar(&Kind::Double, "2.5"), Some(Value::from(2.5)));
    }
}
