//! docs/api.md's method table is written by hand; this keeps it whole: every method of every
//! Stride service in the descriptor set is listed there (service-only ones by their package's
//! shared row), so a method added to a proto without its line fails here.

use prost_reflect::DescriptorPool;

#[test]
fn every_method_is_in_the_api_doc() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md"))
        .expect("docs/api.md");
    let pool = DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let mut missing = Vec::new();
    for svc in pool
        .services()
        .filter(|s| s.full_name().starts_with("stride."))
    {
        for m in svc.methods() {
            let full = format!("`{}/{}`", svc.full_name(), m.name());
            // UserDataService exists in every package: one row names them all.
            let shared = format!("`stride.<pkg>.v1.{}/{}`", svc.name(), m.name());
            if !doc.contains(&full) && !doc.contains(&shared) {
                missing.push(full);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/api.md's method table lacks {missing:?}: add a row per method (access, rate limit, route)"
    );
}
