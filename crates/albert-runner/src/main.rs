//! `albert`: see `albert --help`.

fn main() -> std::process::ExitCode {
    albert_core::memory::tune_allocator();
    albert_runner::cli::main()
}
