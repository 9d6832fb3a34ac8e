fn main() -> std::process::ExitCode {
    stride_kit::serve::main("activity-session", stride_activity_session::main)
}
