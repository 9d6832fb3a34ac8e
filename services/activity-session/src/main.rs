fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_activity_session::SERVICE,
        stride_activity_session::MIGRATIONS,
        || {
            stride_kit::service::serve(
                stride_activity_session::SERVICE,
                stride_activity_session::start,
            )
        },
    )
}
