use std::process::ExitCode;

fn main() -> ExitCode {
    // `stride-analytics rebuild`: the kit's commands are serve and migrate; this one is
    // analytics' own (docs/runbooks/analytics-rebuild.md).
    if std::env::args().nth(1).as_deref() == Some("rebuild") {
        return stride_analytics::rebuild::main();
    }
    stride_kit::service::main(
        stride_analytics::SERVICE,
        stride_analytics::MIGRATIONS,
        stride_analytics::serve,
    )
}
