fn main() -> std::process::ExitCode {
    healthcommons_server::main()
}
