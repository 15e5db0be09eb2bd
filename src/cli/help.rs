//! Text for `--help` beyond clap's own: the failsafe paragraph after the
//! options.

/// The paragraph after the options in `--help` and `-h`.
pub(crate) const FAILSAFE_HELP: &str = "\
Failsafe: without --config, the board's output `led` is failsafe, with \
safe level off. Once a client switches it on, that client controls it, and \
it goes back off as soon as that client disconnects or stops answering the \
server's pings for 1 s (failsafe_timeout; it is pinged every 0.25 s while \
silent, failsafe_ping; browsers answer by themselves), and when the last \
client disconnects. Another page that only watches does not keep it on. \
Outputs marked `failsafe = true` in the config behave the same. On exit \
(Ctrl-C, SIGTERM, SIGHUP) or a crash the server can catch (a panic), every \
output, failsafe or not, returns to its safe level first; then the pages \
are told, then closed. Nothing can act on SIGKILL or a power cut: wire \
outputs that must never stay on through a hardware watchdog.";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_failsafe_paragraph_matches_the_built_in_board() {
        use pinsocket_device::{Level, Mode};
        let config =
            pinsocket_device::Config::parse("", std::path::Path::new("(built-in)")).unwrap();
        let failsafe: Vec<_> = config
            .board
            .pins
            .iter()
            .filter_map(|p| match p.mode {
                Mode::Output(o) if o.failsafe => Some((p.name.as_str(), o.safe)),
                _ => None,
            })
            .collect();
        assert_eq!(failsafe, [("led", Level::Low)]);
        assert!(FAILSAFE_HELP.contains("output `led` is failsafe, with safe level off"));
        assert!(FAILSAFE_HELP.contains("for 1 s (failsafe_timeout"));
        assert!(FAILSAFE_HELP.contains("every 0.25 s while silent, failsafe_ping"));
        assert_eq!(
            config.board.failsafe_timeout,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(
            config.board.failsafe_ping,
            std::time::Duration::from_millis(250)
        );
    }
}
