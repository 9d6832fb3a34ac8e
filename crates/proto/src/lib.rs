//! Generated messages, clients and servers for every Stride package, plus the encoded descriptor
//! set used by gRPC reflection and by method-policy lookup.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Encoded `FileDescriptorSet` of all Stride protos and their imports, custom options included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/stride_descriptor.bin"));

pub mod google {
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
    }
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/google.r#type.rs"));
    }
}

pub mod stride {
    pub mod options {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.options.v1.rs"));
        }
    }
    pub mod auth {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.auth.v1.rs"));
        }
    }
    pub mod profile {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.profile.v1.rs"));
        }
    }
    pub mod activity_session {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.activity_session.v1.rs"));
        }
    }
    pub mod challenge {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.challenge.v1.rs"));
        }
    }
    pub mod analytics {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.analytics.v1.rs"));
        }
    }
    pub mod ai_coach {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.ai_coach.v1.rs"));
        }
    }
    pub mod events {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/stride.events.v1.rs"));
        }
    }
}

pub use google::r#type::Date;
pub use stride::{
    activity_session::v1 as activity_session, ai_coach::v1 as ai_coach, analytics::v1 as analytics,
    auth::v1 as auth, challenge::v1 as challenge, events::v1 as events, profile::v1 as profile,
};
