//! `scoreboard`: see `scoreboard --help`. Everything lives in the library.

fn main() -> std::process::ExitCode {
    scoreboard_server::cli::main()
}
