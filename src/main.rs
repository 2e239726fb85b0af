use clap::Parser;

fn main() {
    let cli = berth::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts");
    let code = runtime.block_on(berth::cli::run::run(cli));
    // Do not wait for background work (progress ticks, idle connections) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code.code());
}
