//! The errors analytics answers with: field violations only (`range`, `date`, see
//! [`crate::grpc`]) besides the kit's UNAUTHENTICATED and INTERNAL. It defines no
//! `ErrorInfo.reason` of its own; a new one goes here as a constant with its constructor.
