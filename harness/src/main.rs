//! `bench`: the Distillery command line. See `bench --help`; the commands live in
//! `distillery::cli`, the exit codes in `distillery::error::exit_code`.

fn main() -> std::process::ExitCode {
    distillery::cli::main()
}
