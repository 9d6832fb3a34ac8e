fn main() -> std::process::ExitCode {
    stride_kit::service::main(
        stride_ai_coach::SERVICE,
        stride_ai_coach::MIGRATIONS,
        stride_ai_coach::serve,
    )
}
