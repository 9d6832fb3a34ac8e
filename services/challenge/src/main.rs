fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_challenge::SERVICE,
        stride_challenge::MIGRATIONS,
        || stride_kit::service::serve(stride_challenge::SERVICE, stride_challenge::start),
    )
}
