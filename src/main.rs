//! `ferrokv [CONFIG-FILE] [--option value ...]`, like redis-server.
#![warn(clippy::undocumented_unsafe_blocks)]
use clap::Parser;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ferrokv",
    version,
    about = "A Redis-compatible key-value server (TLS-first, single-threaded)",
    after_help = "Examples:\n  ferrokv                               (default config, port 6379)\n  ferrokv /etc/redis/6379.conf\n  ferrokv --port 7777\n  ferrokv --tls-port 6379 --port 0 --tls-cert-file redis.crt --tls-key-file redis.key --tls-ca-cert-file ca.crt\n  ferrokv /etc/myredis.conf --loglevel verbose\n  ferrokv - < redis.conf                (config from standard input)"
)]
struct Cli {
    /// Check the configuration and exit.
    #[arg(long)]
    test_config: bool,
    /// A config file (or '-' for stdin), then any config option as --name value [value ...].
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CONFIG-FILE] [--OPTION VALUE"
    )]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let (file, words) = match cli.args.first() {
        Some(f) if !f.starts_with("--") || f == "-" => (Some(f.clone()), cli.args[1..].to_vec()),
        _ => (None, cli.args.clone()),
    };
    let loader = match ferrokv::load_config(file.as_deref(), &words) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if cli.test_config {
        println!("Configuration test passed");
        return;
    }
    let abs = file.filter(|f| f != "-").map(|f| {
        std::fs::canonicalize(&f)
            .map(|p| p.display().to_string())
            .unwrap_or(f)
    });
    if let Err(e) = ferrokv::run(loader, abs) {
        ferrokv::warn!("{}", e);
        eprintln!("{e}");
        std::process::exit(1);
    }
}
