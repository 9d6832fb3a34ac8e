fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_profile::SERVICE,
        stride_profile::MIGRATIONS,
        stride_profile::serve,
    )
}
