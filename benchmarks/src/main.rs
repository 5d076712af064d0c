//! `healthcommons-bench`: how fast a Health Commons node does the things
//! people wait for, measured through the same service and query code the node
//! runs. Each benchmark is a subcommand; `docs/benchmarks.md` records results.
//!
//! ```sh
//! cargo run --release -p healthcommons-benchmarks -- search
//! ```

mod search;
mod support;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "healthcommons-bench",
    about = "Benchmarks of a Health Commons node",
    after_help = "Results and how to read them: docs/benchmarks.md. \
                  The inbox, fan-out and reads benchmarks come with issue 6."
)]
struct Cli {
    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(Debug, Subcommand)]
enum Benchmark {
    /// Garden search latency over a seeded garden (10,000 items by default), on
    /// SQLite and, when HEALTHCOMMONS_BENCH_POSTGRES_URL is set, PostgreSQL.
    Search(search::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    support::print_machine();
    match cli.benchmark {
        Benchmark::Search(args) => search::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn search_is_a_subcommand_with_defaults() {
        let cli = Cli::try_parse_from(["healthcommons-bench", "search"]).expect("search parses");
        let Benchmark::Search(args) = cli.benchmark;
        assert_eq!(args.items, 10_000);
        assert_eq!(args.iterations, 200);
    }

    #[test]
    fn an_unknown_benchmark_is_refused_by_name() {
        let err = Cli::try_parse_from(["healthcommons-bench", "inbox"]).expect_err("no inbox benchmark yet");
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        assert!(err.to_string().contains("inbox"), "{err}");
        let err = Cli::try_parse_from(["healthcommons-bench"]).expect_err("a benchmark is required");
        assert_eq!(err.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
    }
}
