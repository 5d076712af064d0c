//! `healthcommons-bench`: how fast a Health Commons node does the things
//! people wait for, measured through the same code the node runs. Each
//! benchmark is a subcommand; `docs/benchmarks.md` records results.
//!
//! ```sh
//! cargo run --release -p healthcommons-benchmarks -- all
//! ```

mod ceilings;
mod federated;
mod load;
mod node;
mod receivers;
mod search;
mod support;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "healthcommons-bench",
    about = "Benchmarks of a Health Commons node",
    after_help = "Results and how to read them: docs/benchmarks.md."
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
    /// Signed activities a node accepts per second over HTTP, beside the RSA
    /// verify and database insert ceilings.
    Inbox(federated::Args),
    /// A group with 10,000 followers on 1,000 loopback nodes publishes a post:
    /// deliveries per second, beside the RSA sign ceiling.
    Fanout(federated::Args),
    /// Group page, thread and actor requests per second and p99 latency,
    /// beside a trivial handler on the same server.
    Reads(federated::Args),
    /// Inbox, fan-out and reads on one node per backend, with its peak memory
    /// (the search benchmark runs on its own).
    All(federated::Args),
}

fn main() -> ExitCode {
    // The benchmarks start the node as this same binary with NODE_ENV set.
    if std::env::var_os(node::NODE_ENV).is_some() {
        return healthcommons_server::main();
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("healthcommons-bench: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.benchmark)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("healthcommons-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(benchmark: Benchmark) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    support::print_machine();
    let only = |inbox, fanout, reads| federated::Which { inbox, fanout, reads };
    match benchmark {
        Benchmark::Search(args) => search::run(args).await,
        Benchmark::Inbox(args) => federated::run(args, only(true, false, false)).await,
        Benchmark::Fanout(args) => federated::run(args, only(false, true, false)).await,
        Benchmark::Reads(args) => federated::run(args, only(false, false, true)).await,
        Benchmark::All(args) => federated::run(args, federated::Which::ALL).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn search_is_a_subcommand_with_defaults() {
        let cli = Cli::try_parse_from(["healthcommons-bench", "search"]).expect("search parses");
        let Benchmark::Search(args) = cli.benchmark else {
            panic!("not search");
        };
        assert_eq!(args.items, 10_000);
        assert_eq!(args.iterations, 200);
    }

    #[test]
    fn the_node_benchmarks_take_the_issue_sizes_by_default() {
        for name in ["inbox", "fanout", "reads", "all"] {
            let cli = Cli::try_parse_from(["healthcommons-bench", name]).expect("parses");
            let args = match cli.benchmark {
                Benchmark::Inbox(a) | Benchmark::Fanout(a) | Benchmark::Reads(a) | Benchmark::All(a) => a,
                Benchmark::Search(_) => panic!("{name} parsed as search"),
            };
            assert_eq!(args.followers, 10_000);
            assert_eq!(args.nodes, 1_000);
        }
        let cli = Cli::try_parse_from([
            "healthcommons-bench",
            "fanout",
            "--followers",
            "200",
            "--nodes",
            "20",
            "--reads-seconds",
            "2",
        ])
        .expect("parses");
        let Benchmark::Fanout(args) = cli.benchmark else {
            panic!("not fanout");
        };
        assert_eq!((args.followers, args.nodes, args.reads_seconds), (200, 20, 2));
        let err = Cli::try_parse_from(["healthcommons-bench", "fanout", "--nodes", "many"])
            .expect_err("not a number");
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn an_unknown_benchmark_is_refused_by_name() {
        let err = Cli::try_parse_from(["healthcommons-bench", "scale"]).expect_err("no such benchmark");
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        assert!(err.to_string().contains("scale"), "{err}");
        let err = Cli::try_parse_from(["healthcommons-bench"]).expect_err("a benchmark is required");
        assert_eq!(err.kind(), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
    }
}
