//! The Connect protocol (<https://connectrpc.com/docs/protocol>) at `POST /<package>.<Service>/<Method>`.
//!
//! - Unary: `application/proto` or `application/json` bodies, the message itself; the answer in
//!   the same codec with the upstream's headers, its trailers as `trailer-<name>` headers. A
//!   failure is `application/json` `{"code": "<name>", "message", "details": [{"type", "value"}]}`
//!   under the HTTP status of the code. `GET` with `?message=&encoding=[&base64=1]` for methods
//!   marked `idempotency_level = NO_SIDE_EFFECTS`.
//! - Server streaming: `application/connect+proto` / `application/connect+json`, one enveloped
//!   request message; the answer is HTTP 200 with enveloped messages and an end-of-stream
//!   envelope (flag 0x02) carrying `{"error"?, "metadata"}`.
//! - `Connect-Timeout-Ms` becomes the call's `grpc-timeout` (clamped by the proxy).
//! - Binary bodies are passed through without a decode; JSON is mapped through the descriptors.
//!   Compressed bodies are refused with `unimplemented` (the gateway negotiates `identity` only).

use std::{collections::VecDeque, sync::Arc, time::Duration};

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost_reflect::{MethodDescriptor, SerializeOptions};
use serde_json::{Map, Value};
use tonic::{Code, Status};

use super::{Inner, Transcoder, json};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Codec {
    Proto,
    Json,
}

impl Codec {
    fn name(self) -> &'static str {
        match self {
            Codec::Proto => "proto",
            Codec::Json => "json",
        }
    }
}

/// Serves one Connect call.
pub(crate) async fn handle<S, B>(
    t: Arc<Transcoder>,
    inner: S,
    req: http::Request<B>,
    m: MethodDescriptor,
) -> Result<http::Response<tonic::body::Body>, S::Error>
where
    S: Inner,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<super::BoxError>,
{
    let (parts, body) = req.into_parts();
    let streaming = m.is_server_streaming();
    if m.is_client_streaming() {
        return Ok(error(&Status::unimplemented(
            "client and bidirectional streaming are not served over Connect here",
        )));
    }
    if parts
        .headers
        .get("connect-protocol-version")
        .is_some_and(|v| v != "1")
    {
        return Ok(error(&Status::invalid_argument(
            "connect-protocol-version must be 1",
        )));
    }
    let timeout = match timeout(&parts.headers) {
        Ok(t) => t,
        Err(s) => return Ok(error(&s)),
    };
    // The request message and its codec, by the protocol's request shapes; the body's bytes are
    // held against the gateway's budget until the message is re-encoded.
    let mut held = None;
    let (codec, payload) = if parts.method == Method::GET {
        if streaming || !is_side_effect_free(&m) {
            return Ok(not_allowed());
        }
        match get_message(parts.uri.query().unwrap_or("")) {
            Ok(x) => x,
            Err(s) => return Ok(error(&s)),
        }
    } else if parts.method == Method::POST {
        let media = super::media_type(&parts.headers).unwrap_or_default();
        let codec = match (streaming, media.as_str()) {
            (false, "application/proto") => Codec::Proto,
            (false, "application/json") => Codec::Json,
            (true, "application/connect+proto") => Codec::Proto,
            (true, "application/connect+json") => Codec::Json,
            _ => return Ok(unsupported_media(streaming)),
        };
        let encoding = if streaming {
            "connect-content-encoding"
        } else {
            "content-encoding"
        };
        if let Some(enc) = parts.headers.get(encoding)
            && enc != "identity"
        {
            let s = Status::unimplemented(format!(
                "{} compression is not supported; send identity",
                enc.to_str().unwrap_or("this")
            ));
            return Ok(if streaming {
                end_only(codec, &s)
            } else {
                error(&s)
            });
        }
        let body = match super::read_body(&t, &parts.headers, body).await {
            Ok((bytes, permit)) => {
                held = permit;
                bytes
            }
            Err(s) => return Ok(error(&s)),
        };
        let payload = if streaming {
            match unenvelope(&body) {
                Ok(p) => p,
                Err(s) => return Ok(end_only(codec, &s)),
            }
        } else {
            body
        };
        (codec, payload)
    } else {
        return Ok(not_allowed());
    };
    let message = match codec {
        Codec::Proto => payload,
        Codec::Json => {
            let parsed = serde_json::from_slice::<Value>(&payload)
                .map_err(|e| json::bad("body", &format!("malformed JSON: {e}")))
                .and_then(|v| json::decode_json(&m.input(), v));
            match parsed {
                Ok(msg) => Bytes::from(msg.encode_to_vec()),
                Err(s) => {
                    return Ok(if streaming {
                        end_only(codec, &s)
                    } else {
                        error(&s)
                    });
                }
            }
        }
    };
    drop(held);
    let grpc_path = format!("/{}/{}", m.parent_service().full_name(), m.name());
    let req = match super::grpc_request(parts, &grpc_path, &message, timeout) {
        Ok(r) => r,
        Err(s) => return Ok(error(&s)),
    };
    if streaming {
        return stream(inner, req, m, codec).await;
    }
    let max = t.limits.max_message_bytes.saturating_mul(4);
    let answer = super::call_unary(inner, req, max).await?;
    let mut res = match answer.result {
        Ok(bytes) => match encode_out(&m, codec, bytes) {
            Ok(body) => {
                let mut res = http::Response::new(super::full(body));
                let ct = format!("application/{}", codec.name());
                if let Ok(v) = HeaderValue::from_str(&ct) {
                    res.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                res
            }
            Err(s) => error(&s),
        },
        Err(s) => error(&s),
    };
    copy_metadata(&answer.headers, res.headers_mut(), "");
    copy_metadata(&answer.trailers, res.headers_mut(), "trailer-");
    Ok(res)
}

/// A message from upstream in the caller's codec.
fn encode_out(m: &MethodDescriptor, codec: Codec, bytes: Bytes) -> Result<Bytes, Status> {
    match codec {
        Codec::Proto => Ok(bytes),
        Codec::Json => {
            let msg = prost_reflect::DynamicMessage::decode(m.output(), bytes)
                .map_err(|_| Status::internal("the upstream's answer does not decode"))?;
            let mut out = serde_json::Serializer::new(Vec::with_capacity(64));
            msg.serialize_with_options(&mut out, &SerializeOptions::new())
                .map_err(|_| Status::internal("the answer has no JSON form"))?;
            Ok(Bytes::from(out.into_inner()))
        }
    }
}

async fn stream<S: Inner>(
    mut inner: S,
    req: http::Request<tonic::body::Body>,
    m: MethodDescriptor,
    codec: Codec,
) -> Result<http::Response<tonic::body::Body>, S::Error> {
    use futures::StreamExt as _;
    use tower::ServiceExt as _;
    let res = inner.ready().await?.call(req).await?;
    let (parts, body) = res.into_parts();
    if let Some(Err(s)) = super::head_status(&parts) {
        let mut res = end_only(codec, &s);
        copy_metadata(&parts.headers, res.headers_mut(), "");
        return Ok(res);
    }
    let envelopes = messages(body).map(move |item| {
        let bytes = match item {
            Item::Message(bytes) => match encode_out(&m, codec, bytes) {
                Ok(b) => super::frame(0, &b),
                Err(s) => end_envelope(&s, &HeaderMap::new()),
            },
            Item::End(Ok(()), trailers) => end_envelope(&Status::ok(""), &trailers),
            Item::End(Err(s), trailers) => end_envelope(&s, &trailers),
        };
        Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes))
    });
    let mut res = http::Response::new(tonic::body::Body::new(http_body_util::StreamBody::new(
        envelopes,
    )));
    if let Ok(v) = HeaderValue::from_str(&format!("application/connect+{}", codec.name())) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    copy_metadata(&parts.headers, res.headers_mut(), "");
    Ok(res)
}

/// [`stream`] for the unit tests of the transcoder (binary or JSON codec).
#[cfg(test)]
pub(crate) async fn stream_for_test<S: Inner>(
    inner: S,
    req: http::Request<tonic::body::Body>,
    m: MethodDescriptor,
    json: bool,
) -> Result<http::Response<tonic::body::Body>, S::Error> {
    stream(inner, req, m, if json { Codec::Json } else { Codec::Proto }).await
}

/// What an upstream gRPC answer body yields: its messages, then its status and trailers.
pub(crate) enum Item {
    Message(Bytes),
    End(Result<(), Status>, HeaderMap),
}

/// The messages of a gRPC answer body as they arrive, then exactly one [`Item::End`].
pub(crate) fn messages(body: tonic::body::Body) -> impl Stream<Item = Item> + Send {
    struct State {
        body: tonic::body::Body,
        deframer: super::Deframer,
        pending: VecDeque<Item>,
        done: bool,
    }
    let state = State {
        body,
        deframer: super::Deframer::default(),
        pending: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            let end = |st: &mut State, r: Result<(), Status>, trailers: HeaderMap| {
                st.pending.push_back(Item::End(r, trailers));
                st.done = true;
            };
            match st.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        st.deframer.push(&data);
                        while let Some((flags, msg)) = st.deframer.next() {
                            if flags & 1 != 0 {
                                end(
                                    &mut st,
                                    Err(Status::internal("compressed message from upstream")),
                                    HeaderMap::new(),
                                );
                                break;
                            }
                            st.pending.push_back(Item::Message(msg));
                        }
                    }
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        let r = match Status::from_header_map(&trailers) {
                            Some(s) if s.code() == Code::Ok => Ok(()),
                            Some(s) => Err(s),
                            None => Err(Status::unknown("the upstream's answer had no status")),
                        };
                        end(&mut st, r, trailers);
                    }
                },
                Some(Err(_)) => end(
                    &mut st,
                    Err(Status::unavailable("the upstream's answer was interrupted")),
                    HeaderMap::new(),
                ),
                None => end(
                    &mut st,
                    Err(Status::unknown(
                        "the upstream's answer ended without a status",
                    )),
                    HeaderMap::new(),
                ),
            }
        }
    })
}

/// The single request message of a streaming call's body.
fn unenvelope(body: &[u8]) -> Result<Bytes, Status> {
    let mut d = super::Deframer::default();
    d.push(body);
    let Some((flags, msg)) = d.next() else {
        return Err(Status::invalid_argument(
            "the request envelope is incomplete",
        ));
    };
    if flags & 1 != 0 {
        return Err(Status::unimplemented(
            "compressed envelopes are not supported",
        ));
    }
    if flags != 0 {
        return Err(Status::invalid_argument("unexpected envelope flags"));
    }
    if !d.is_empty() {
        return Err(Status::invalid_argument(
            "a server-streaming call takes exactly one request message",
        ));
    }
    Ok(msg)
}

/// `Connect-Timeout-Ms`: at most 10 digits.
fn timeout(headers: &HeaderMap) -> Result<Option<Duration>, Status> {
    let Some(v) = headers.get("connect-timeout-ms") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .map(|ms| Some(Duration::from_millis(ms.max(1))))
        .ok_or_else(|| json::bad("connect-timeout-ms", "at most 10 digits of milliseconds"))
}

fn is_side_effect_free(m: &MethodDescriptor) -> bool {
    // MethodOptions.idempotency_level (34): NO_SIDE_EFFECTS = 1.
    m.options()
        .get_field_by_name("idempotency_level")
        .and_then(|v| v.as_enum_number())
        == Some(1)
}

/// `GET ?connect=v1&encoding=json|proto&message=...[&base64=1][&compression=identity]`.
fn get_message(query: &str) -> Result<(Codec, Bytes), Status> {
    let mut codec = None;
    let mut message = None;
    let mut base64 = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(v).collect::<Vec<u8>>();
        match k {
            "encoding" => {
                codec = Some(match v.as_slice() {
                    b"proto" => Codec::Proto,
                    b"json" => Codec::Json,
                    _ => return Err(json::bad("encoding", "encoding must be json or proto")),
                })
            }
            "message" => message = Some(v),
            "base64" => base64 = v == b"1",
            "compression" if v != b"identity" => {
                return Err(Status::unimplemented(
                    "compressed GET messages are not supported",
                ));
            }
            _ => {}
        }
    }
    let codec = codec.ok_or_else(|| json::bad("encoding", "the encoding parameter is required"))?;
    let raw = message.ok_or_else(|| json::bad("message", "the message parameter is required"))?;
    let bytes = if base64 {
        let trimmed: Vec<u8> = raw.into_iter().filter(|b| *b != b'=').collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&trimmed)
            .map_err(|_| json::bad("message", "message is not base64url"))?
    } else {
        raw
    };
    Ok((codec, Bytes::from(bytes)))
}

/// Connect's name for a code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// A Connect error object: code by name, message, details as `{type, value}` (unpadded base64
/// of the detail's bytes, type without the `type.googleapis.com/` prefix).
pub fn error_json(status: &Status) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "code".into(),
        Value::String(code_name(status.code()).into()),
    );
    if !status.message().is_empty() {
        obj.insert("message".into(), Value::String(status.message().into()));
    }
    let details: Vec<Value> = tonic_types::pb::Status::decode(status.details())
        .map(|s| s.details)
        .unwrap_or_default()
        .into_iter()
        .map(|any| {
            serde_json::json!({
                "type": any.type_url.rsplit('/').next().unwrap_or(""),
                "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value),
            })
        })
        .collect();
    if !details.is_empty() {
        obj.insert("details".into(), Value::Array(details));
    }
    Value::Object(obj)
}

/// A unary error answer.
fn error(status: &Status) -> http::Response<tonic::body::Body> {
    let body = serde_json::to_vec(&error_json(status)).unwrap_or_default();
    let mut res = http::Response::new(super::full(Bytes::from(body)));
    *res.status_mut() = super::http_status(status.code());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The end-of-stream envelope: `{"error"?: {...}, "metadata": {name: [values]}}`.
fn end_envelope(status: &Status, trailers: &HeaderMap) -> Bytes {
    let mut obj = Map::new();
    if status.code() != Code::Ok {
        obj.insert("error".into(), error_json(status));
    }
    let mut md = Map::new();
    for (name, value) in trailers {
        if !super::is_custom_metadata(name.as_str()) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            let entry = md
                .entry(name.as_str().to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = entry {
                a.push(Value::String(v.to_owned()));
            }
        }
    }
    if !md.is_empty() {
        obj.insert("metadata".into(), Value::Object(md));
    }
    super::frame(
        2,
        &serde_json::to_vec(&Value::Object(obj)).unwrap_or_default(),
    )
}

/// A streaming answer that is only its end: HTTP 200, the error in the end-of-stream envelope.
fn end_only(codec: Codec, status: &Status) -> http::Response<tonic::body::Body> {
    let mut res = http::Response::new(super::full(end_envelope(status, &HeaderMap::new())));
    if let Ok(v) = HeaderValue::from_str(&format!("application/connect+{}", codec.name())) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res
}

fn unsupported_media(streaming: bool) -> http::Response<tonic::body::Body> {
    let mut res = http::Response::new(super::full(Bytes::new()));
    *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    let accept = if streaming {
        "application/connect+proto, application/connect+json, application/grpc, application/grpc-web"
    } else {
        "application/proto, application/json, application/grpc, application/grpc-web"
    };
    res.headers_mut()
        .insert("accept-post", HeaderValue::from_static(accept));
    res
}

fn not_allowed() -> http::Response<tonic::body::Body> {
    let mut res = error(&Status::unimplemented("use POST for this method"));
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}

/// Custom metadata from upstream onto a Connect answer, names prefixed (`trailer-` for trailers).
fn copy_metadata(from: &HeaderMap, to: &mut HeaderMap, prefix: &str) {
    for (name, value) in from {
        if !super::is_custom_metadata(name.as_str()) {
            continue;
        }
        if let Ok(n) = HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()) {
            to.append(n, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_name_their_code_and_carry_details() {
        let s = json::bad("profile.displayName", "too long");
        let v = error_json(&s);
        assert_eq!(v["code"], "invalid_argument");
        assert_eq!(v["message"], "too long");
        assert_eq!(v["details"][0]["type"], "google.rpc.BadRequest");
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(v["details"][0]["value"].as_str().unwrap())
            .unwrap();
        let br = tonic_types::pb::BadRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(br.field_violations[0].field, "profile.displayName");
        let res = error(&Status::unauthenticated("no token"));
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(code_name(Code::Cancelled), "canceled");
    }

    #[test]
    fn end_of_stream_envelopes_carry_the_error_and_metadata() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("x-request-id", HeaderValue::from_static("r1"));
        let env = end_envelope(&Status::not_found("gone"), &trailers);
        let mut d = crate::transcode::Deframer::default();
        d.push(&env);
        let (flags, body) = d.next().unwrap();
        assert_eq!(flags, 2);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
        assert_eq!(v["metadata"]["x-request-id"], serde_json::json!(["r1"]));
        assert!(v["metadata"].get("grpc-status").is_none());
        // Success: no error key.
        let env = end_envelope(&Status::ok(""), &HeaderMap::new());
        let mut d = crate::transcode::Deframer::default();
        d.push(&env);
        let (_, body) = d.next().unwrap();
        assert_eq!(body.as_ref(), b"{}");
    }

    #[test]
    fn streaming_requests_take_exactly_one_plain_envelope() {
        let one = crate::transcode::frame(0, b"abc");
        assert_eq!(unenvelope(&one).unwrap(), Bytes::from_static(b"abc"));
        let mut two = one.to_vec();
        two.extend_from_slice(&one);
        assert_eq!(unenvelope(&two).unwrap_err().code(), Code::InvalidArgument);
        assert_eq!(
            unenvelope(&crate::transcode::frame(1, b"x"))
                .unwrap_err()
                .code(),
            Code::Unimplemented
        );
        assert_eq!(
            unenvelope(&one[..3]).unwrap_err().code(),
            Code::InvalidArgument
        );
    }

    #[test]
    fn timeouts_and_get_queries_parse() {
        let mut h = HeaderMap::new();
        assert_eq!(timeout(&h).unwrap(), None);
        h.insert("connect-timeout-ms", HeaderValue::from_static("1500"));
        assert_eq!(timeout(&h).unwrap(), Some(Duration::from_millis(1500)));
        h.insert(
            "connect-timeout-ms",
            HeaderValue::from_static("12345678901"),
        );
        assert!(timeout(&h).is_err());
        h.insert("connect-timeout-ms", HeaderValue::from_static("-1"));
        assert!(timeout(&h).is_err());

        let (c, m) = get_message("connect=v1&encoding=json&message=%7B%7D").unwrap();
        assert_eq!((c, m.as_ref()), (Codec::Json, b"{}".as_ref()));
        let (c, m) = get_message("encoding=proto&base64=1&message=CgNhYmM").unwrap();
        assert_eq!((c, m.as_ref()), (Codec::Proto, b"\n\x03abc".as_ref()));
        assert!(get_message("message=x").is_err());
        assert!(get_message("encoding=json&message=%7B%7D&compression=gzip").is_err());
    }

    /// A method marked side-effect free, in a pool of its own: `t.v1.S/Get(Msg) returns (Msg)`.
    fn side_effect_free_method() -> MethodDescriptor {
        use prost_types::{
            DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto,
            MethodOptions, ServiceDescriptorProto,
            field_descriptor_proto::{Label, Type},
        };
        let file = FileDescriptorProto {
            name: Some("t.proto".into()),
            package: Some("t.v1".into()),
            syntax: Some("proto3".into()),
            message_type: vec![DescriptorProto {
                name: Some("Msg".into()),
                field: vec![FieldDescriptorProto {
                    name: Some("name".into()),
                    json_name: Some("name".into()),
                    number: Some(1),
                    label: Some(Label::Optional as i32),
                    r#type: Some(Type::String as i32),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("S".into()),
                method: vec![MethodDescriptorProto {
                    name: Some("Get".into()),
                    input_type: Some(".t.v1.Msg".into()),
                    output_type: Some(".t.v1.Msg".into()),
                    options: Some(MethodOptions {
                        idempotency_level: Some(1),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut pool = prost_reflect::DescriptorPool::new();
        pool.add_file_descriptor_proto(file).unwrap();
        pool.get_service_by_name("t.v1.S")
            .unwrap()
            .methods()
            .next()
            .unwrap()
    }

    /// Answers every call with its own request message, a header and a trailer.
    fn echo() -> impl Inner<Error = std::convert::Infallible> {
        tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
            assert_eq!(req.uri().path(), "/t.v1.S/Get");
            assert_eq!(req.headers()["content-type"], "application/grpc");
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            trailers.insert("x-trail", HeaderValue::from_static("2"));
            let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = vec![
                Ok(http_body::Frame::data(body)),
                Ok(http_body::Frame::trailers(trailers)),
            ];
            let mut res = http::Response::new(tonic::body::Body::new(
                http_body_util::StreamBody::new(futures::stream::iter(frames)),
            ));
            res.headers_mut()
                .insert("x-meta", HeaderValue::from_static("1"));
            Ok::<_, std::convert::Infallible>(res)
        })
    }

    async fn call(req: http::Request<tonic::body::Body>) -> (http::response::Parts, Bytes) {
        let t = Arc::new(Transcoder::new(crate::proxy::Limits::default()).unwrap());
        let res = handle(t, echo(), req, side_effect_free_method())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        (parts, body.collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn side_effect_free_methods_answer_get_and_post_with_metadata() {
        let get = |q: &str| {
            http::Request::get(format!("/t.v1.S/Get?{q}"))
                .body(crate::transcode::full(Bytes::new()))
                .unwrap()
        };
        let (parts, body) = call(get(
            "connect=v1&encoding=json&message=%7B%22name%22%3A%22x%22%7D",
        ))
        .await;
        assert_eq!(parts.status, StatusCode::OK, "{body:?}");
        assert_eq!(parts.headers["content-type"], "application/json");
        assert_eq!(body.as_ref(), br#"{"name":"x"}"#);
        assert_eq!(parts.headers["x-meta"], "1");
        assert_eq!(parts.headers["trailer-x-trail"], "2");
        assert!(parts.headers.get("trailer-grpc-status").is_none());

        // Binary, base64url in the query.
        let (parts, body) = call(get("encoding=proto&base64=1&message=CgF5")).await;
        assert_eq!(parts.headers["content-type"], "application/proto");
        assert_eq!(body.as_ref(), b"\n\x01y");

        let post = http::Request::post("/t.v1.S/Get")
            .header("content-type", "application/json; charset=utf-8")
            .header("connect-protocol-version", "1")
            .body(crate::transcode::full(Bytes::from_static(
                br#"{"name":"z"}"#,
            )))
            .unwrap();
        let (parts, body) = call(post).await;
        assert_eq!(parts.status, StatusCode::OK);
        assert_eq!(body.as_ref(), br#"{"name":"z"}"#);

        // A malformed JSON field is refused naming it, before the upstream.
        let bad = http::Request::post("/t.v1.S/Get")
            .header("content-type", "application/json")
            .body(crate::transcode::full(Bytes::from_static(br#"{"name":7}"#)))
            .unwrap();
        let (parts, body) = call(bad).await;
        assert_eq!(parts.status, StatusCode::BAD_REQUEST);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "invalid_argument");
        assert!(v["message"].as_str().unwrap().starts_with("name:"), "{v}");
    }
}
