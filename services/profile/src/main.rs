fn main() -> std::process::ExitCode {
    stride_kit::serve::main("profile", stride_profile::main)
}
