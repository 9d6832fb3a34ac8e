//! The codec of every generated client and server: prost's, except that a message that does not
//! decode (invalid UTF-8 in a string, a truncated field) is the caller's mistake, answered with
//! INVALID_ARGUMENT and a `google.rpc.BadRequest` naming the field, not INTERNAL (tonic's default,
//! which would send a hostile caller's garbage to the server's error budget and alerts).

use std::marker::PhantomData;

use prost::Message;
use tonic::{
    Code, Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::ProstEncoder;
use tonic_types::{ErrorDetails, StatusExt as _};

#[derive(Debug, Clone)]
pub struct StrideCodec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for StrideCodec<T, U> {
    fn default() -> Self {
        Self { _pd: PhantomData }
    }
}

impl<T, U> Codec for StrideCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = StrideDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrideDecoder { _pd: PhantomData }
    }
}

#[derive(Debug, Clone)]
pub struct StrideDecoder<U> {
    _pd: PhantomData<U>,
}

impl<U: Message + Default> Decoder for StrideDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| invalid_message(&e))
    }
}

/// INVALID_ARGUMENT naming the field prost could not decode. prost does not expose the field
/// path, but its message does: `Inner.field: Outer.inner: description`, innermost first.
pub fn invalid_message(e: &prost::DecodeError) -> Status {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    let mut parts: Vec<&str> = text.split(": ").collect();
    let description = parts.pop().unwrap_or("cannot be decoded").to_owned();
    let path: Vec<&str> = parts
        .iter()
        .rev()
        .filter_map(|p| p.rsplit_once('.').map(|(_, field)| field))
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .collect();
    let field = if path.is_empty() {
        "message".to_owned()
    } else {
        path.join(".")
    };
    let mut details = ErrorDetails::new();
    details.add_bad_request_violation(field.clone(), description.clone());
    details.set_error_info("INVALID_ARGUMENT", "stride.dev", []);
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_names_the_nested_field() {
        // UpdateMyProfileRequest { profile (1) { display_name (3): 0xff 0xfe } }
        let bytes = [0x0a, 0x04, 0x1a, 0x02, 0xff, 0xfe];
        let err = crate::profile::UpdateMyProfileRequest::decode(&bytes[..]).unwrap_err();
        let status = invalid_message(&err);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .expect("BadRequest")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["profile.display_name"], "{status:?}");
    }

    #[test]
    fn a_truncated_message_is_refused_as_a_whole() {
        let err = crate::profile::UpdateMyProfileRequest::decode(&[0x0a, 0x09][..]).unwrap_err();
        let status = invalid_message(&err);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.get_error_details().bad_request().is_some());
    }
}
