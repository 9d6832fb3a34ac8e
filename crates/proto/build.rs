//! Compiles every proto under `proto/` once, in pure Rust (protox: no system `protoc`).

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read proto dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let root = root.canonicalize().expect("proto/ exists");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root.join("stride"), &mut files);
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }

    let mut compiler = protox::Compiler::new([&root]).expect("protox compiler");
    compiler.include_imports(true).include_source_info(false);
    compiler
        .open_files(&files)
        .unwrap_or_else(|e| panic!("proto error: {e:?}"));

    // The encoded set keeps custom options (method policy, http rules) that prost-types would drop.
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(
        out.join("stride_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )
    .expect("write descriptor set");

    std::fs::write(
        out.join("event_types.rs"),
        event_impls(&compiler.descriptor_pool()),
    )
    .expect("write event impls");

    // `include_file` writes the module tree, so a new package is a proto change only.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .include_file("stride_modules.rs")
        // Undecodable requests are INVALID_ARGUMENT naming the field (src/codec.rs).
        .codec_path("crate::codec::StrideCodec")
        .compile_fds(compiler.file_descriptor_set())
        .expect("generate code");
}

/// `impl Event for X { const TYPE = "..." }` for every message carrying the
/// `(stride.options.v1.event_type)` option: the type name is written once, in the proto.
fn event_impls(pool: &prost_reflect::DescriptorPool) -> String {
    let ext = pool
        .get_extension_by_name("stride.options.v1.event_type")
        .expect("stride.options.v1.event_type is declared");
    let mut code = String::new();
    let mut seen = std::collections::BTreeMap::new();
    for msg in pool.all_messages() {
        let options = msg.options();
        if !options.has_extension(&ext) {
            continue;
        }
        let value = options.get_extension(&ext);
        let ty = value.as_str().expect("event_type is a string").to_owned();
        let valid = ty.rsplit_once(".v").is_some_and(|(head, v)| {
            !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && head.contains('.')
        }) && ty
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_');
        assert!(
            valid,
            "{}: event_type {ty:?} is not <entity>.<fact>.v<N>",
            msg.full_name()
        );
        if let Some(other) = seen.insert(ty.clone(), msg.full_name().to_owned()) {
            panic!(
                "event_type {ty:?} is used by both {other} and {}",
                msg.full_name()
            );
        }
        assert_eq!(
            msg.package_name(),
            "stride.events.v1",
            "{}: events live in stride.events.v1",
            msg.full_name()
        );
        code.push_str(&format!(
            "impl crate::Event for crate::events::{} {{ const TYPE: &'static str = {ty:?}; }}\n",
            msg.name()
        ));
    }
    code.push_str(&format!(
        "/// Every event type of the contract.\npub const ALL_EVENT_TYPES: &[&str] = &{:?};\n",
        seen.keys().collect::<Vec<_>>()
    ));
    code
}
