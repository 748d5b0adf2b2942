fn main() {
    std::process::exit(cfmap::cli::main_with_args(std::env::args_os()));
}
