fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_analytics::SERVICE,
        stride_analytics::MIGRATIONS,
        stride_analytics::serve,
    )
}
