//! The stand-in OpenID provider lives in `stride_testkit::oidc` (shared with the auth service's
//! tests): test-generated keys, a JWKS endpoint over HTTP that counts requests, token minting.

pub use stride_testkit::oidc::*;
