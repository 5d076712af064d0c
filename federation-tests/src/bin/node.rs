//! The `healthcommons` binary, built in this package for the tests.
fn main() -> std::process::ExitCode {
    healthcommons_server::main()
}
