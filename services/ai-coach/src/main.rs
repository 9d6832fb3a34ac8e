fn main() -> std::process::ExitCode {
    stride_kit::serve::main("ai-coach", stride_ai_coach::main)
}
