fn main() -> std::process::ExitCode {
    // Operator commands (admin bootstrap, key rotation and revocation) run and exit; anything
    // else is the service's own command line (serve, migrate).
    let args: Vec<String> = std::env::args().skip(1).collect();
    match stride_auth::ops::Op::parse(&args) {
        Some(Ok(op)) => stride_auth::ops::main(op),
        Some(Err(usage)) => {
            eprintln!("{usage}");
            std::process::ExitCode::from(2)
        }
        None => stride_kit::service::main(
            stride_auth::SERVICE,
            stride_auth::MIGRATIONS,
            stride_auth::serve,
        ),
    }
}
