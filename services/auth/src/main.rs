fn main() -> std::process::ExitCode {
    stride_kit::serve::main("auth", stride_auth::main)
}
