//! Generated messages, clients and servers for every Stride package, plus the encoded descriptor
//! set used by gRPC reflection and by method-policy lookup, and the event-type registry.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Encoded `FileDescriptorSet` of all Stride protos and their imports, custom options included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/stride_descriptor.bin"));

pub mod codec;

// The module tree (`google::api`, `stride::<package>::v1`, …), written by the build script.
include!(concat!(env!("OUT_DIR"), "/stride_modules.rs"));

pub use google::r#type::Date;
pub use stride::{
    activity_session::v1 as activity_session, ai_coach::v1 as ai_coach, analytics::v1 as analytics,
    auth::v1 as auth, challenge::v1 as challenge, events::v1 as events, profile::v1 as profile,
};

/// A message of `stride.events.v1` and its type name (the routing key, `<entity>.<fact>.v<N>`),
/// taken from the message's `(stride.options.v1.event_type)` option by the build script.
pub trait Event: prost::Message + Default + Send + Sync + 'static {
    const TYPE: &'static str;
}

include!(concat!(env!("OUT_DIR"), "/event_types.rs"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_message_has_its_type() {
        assert_eq!(events::UserRegistered::TYPE, "user.registered.v1");
        assert_eq!(events::UserMerged::TYPE, "user.merged.v1");
        assert!(ALL_EVENT_TYPES.contains(&events::SessionCompleted::TYPE));
        assert_eq!(events::MaterialUploaded::TYPE, "material.uploaded.v1");
        assert_eq!(ALL_EVENT_TYPES.len(), 32);
    }
}
