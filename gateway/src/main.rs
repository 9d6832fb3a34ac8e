fn main() -> std::process::ExitCode {
    stride_kit::serve::main("gateway", stride_gateway::main)
}
