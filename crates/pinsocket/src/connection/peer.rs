//! [`PeerAddr`]: a client's address, stored compactly in every connection.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A peer's address in 19 bytes rather than `SocketAddr`'s 32: IPv6 flow
/// labels and scope ids do not matter for a TCP client's address here.
#[derive(Clone, Copy)]
pub(super) struct PeerAddr {
    ip: [u8; 16],
    port: [u8; 2],
    v4: bool,
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        let (ip, v4) = match addr.ip() {
            IpAddr::V4(ip) => (ip.to_ipv6_mapped().octets(), true),
            IpAddr::V6(ip) => (ip.octets(), false),
        };
        PeerAddr {
            ip,
            port: addr.port().to_ne_bytes(),
            v4,
        }
    }
}

impl From<PeerAddr> for SocketAddr {
    fn from(peer: PeerAddr) -> SocketAddr {
        let v6 = Ipv6Addr::from(peer.ip);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) if peer.v4 => IpAddr::V4(v4),
            _ => IpAddr::V6(v6),
        };
        SocketAddr::new(ip, u16::from_ne_bytes(peer.port))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::PeerAddr;

    #[test]
    fn peer_addresses_survive_the_compact_form() {
        for text in [
            "127.0.0.1:8080",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:443",
            "[::ffff:10.0.0.1]:80",
            "[2001:db8::7]:1",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(SocketAddr::from(PeerAddr::from(addr)), addr, "{text}");
        }
    }
}
