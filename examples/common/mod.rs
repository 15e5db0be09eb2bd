//! What the examples share: where and how they log.

/// Logs to stderr (in colour on a terminal), filtered by `RUST_LOG` if it
/// is set, else by `default_filter` (e.g. `"info"`), so stdout carries only
/// what the example prints on purpose.
pub(crate) fn init_logging(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
}
