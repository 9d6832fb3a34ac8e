fn main() -> std::process::ExitCode {
    stride_kit::serve::main("analytics", stride_analytics::main)
}
