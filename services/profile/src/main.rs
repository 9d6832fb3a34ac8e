fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_profile::SERVICE,
        stride_profile::MIGRATIONS,
        || async {
            stride_kit::service::run(stride_profile::Config::from_env()?, stride_profile::start)
                .await
        },
    )
}
