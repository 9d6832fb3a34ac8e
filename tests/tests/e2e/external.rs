//! A client nobody here wrote: the reference gRPC C-core client (Python grpcio) calls the mesh
//! through the gateway. `cargo xtask test` installs grpcio into its tool venv and exports
//! `STRIDE_TEST_PYTHON`.

use stride_e2e::Mesh;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpcio_reference_client_through_the_gateway() {
    stride_kit::telemetry::init_for_tests();
    let python = std::env::var("STRIDE_TEST_PYTHON").expect(
        "STRIDE_TEST_PYTHON is not set: run through `cargo xtask test`, which installs grpcio",
    );
    let mesh = Mesh::start(&crate::shared_stores().await)
        .await
        .expect("mesh");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(python)
        .arg(root.join("external/grpcio_check.py"))
        .arg(mesh.gateway.to_string())
        .arg(root.join("../proto"))
        .output()
        .await
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "grpcio check failed:\n{text}");
    assert!(text.contains("grpcio: all checks passed"), "{text}");
    mesh.stop().await.expect("stop");
}
