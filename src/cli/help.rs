//! Text for `--help` beyond clap's own: the failsafe and access
//! paragraphs after the options.

/// The paragraphs after the options in `--help` and `-h`: the failsafe,
/// then who may switch the pins.
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
are told, then closed. On SIGKILL or out of memory the kernel leaves the \
lines at their last level: run `pinsocket safe --config FILE` after the \
server ends (systemd ExecStopPost=) to drive them safe. Nothing acts on a \
power cut: wire outputs that must never stay on through a hardware watchdog.

Access: on 127.0.0.1 (the default) only this machine can connect, and \
nothing more is asked. Listening beyond it (0.0.0.0, [::], an address) \
requires an access token: a random one is made at each start and printed \
in the URLs to open; the browser keeps it in a cookie after the first \
visit, and scripts send `Authorization: Bearer TOKEN`. PINSOCKET_TOKEN or \
`[access] token` in the config sets a fixed one; --no-auth turns it off. \
Pages of other sites cannot open WebSockets to the server (Origin), and \
requests for other host names are refused (Host): add names the server is \
reached by with `[access] hosts`.";

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
        assert!(FAILSAFE_HELP.contains("\n\nAccess: "));
        assert!(FAILSAFE_HELP.contains("PINSOCKET_TOKEN"));
        assert_eq!(pinsocket_device::TOKEN_ENV, "PINSOCKET_TOKEN");
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
