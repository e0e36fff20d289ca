//! `albert`: see `albert --help`.

fn main() -> std::process::ExitCode {
    albert_runner::cli::main()
}
