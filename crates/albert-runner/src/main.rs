//! `albert`: see `albert --help`.

fn main() -> std::process::ExitCode {
    #[cfg(feature = "flex")]
    albert_kernels::memory::tune_allocator();
    albert_runner::cli::main()
}
