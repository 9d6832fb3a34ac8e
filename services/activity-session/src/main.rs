fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_activity_session::SERVICE,
        stride_activity_session::MIGRATIONS,
        stride_activity_session::serve,
    )
}
