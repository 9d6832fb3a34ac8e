fn main() -> std::process::ExitCode {
    stride_kit::serve::main("challenge", stride_challenge::main)
}
