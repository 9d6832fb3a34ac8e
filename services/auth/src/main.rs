fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_auth::SERVICE,
        stride_auth::MIGRATIONS,
        stride_auth::serve,
    )
}
