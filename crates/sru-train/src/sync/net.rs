//! How a node is reached: [`NodeLink`] (the orchestrator's and this node's data-service
//! addresses, the time bounds of the exchanges), the host and port of a `ws://HOST:PORT`
//! address ([`ws_host_port`]), and whether a port is still free ([`port_free`]).

use std::time::Duration;

use crate::error::TrainError;

/// How one node reaches the others: Burn's global collective settings plus the time bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLink {
    /// This node's index (0 writes checkpoints and metrics).
    pub node: usize,
    /// Nodes in all.
    pub nodes: usize,
    /// The orchestrator, `ws://HOST:PORT`.
    pub orchestrator: String,
    /// This node's data service as the other nodes reach it, `ws://HOST:PORT`; it listens on
    /// that port on every interface.
    pub address: String,
    /// The longest wait for the other nodes in one exchange.
    pub timeout: Duration,
    /// The longest wait for every node to join at the start.
    pub join_timeout: Duration,
}

impl NodeLink {
    /// The port of [`NodeLink::address`].
    ///
    /// # Errors
    /// An address that is not `ws://HOST:PORT`.
    pub fn port(&self) -> Result<u16, TrainError> {
        ws_host_port(&self.address).map(|(_, p)| p).ok_or_else(|| {
            TrainError::config(
                "node_address",
                format!("`{}` is not ws://HOST:PORT", self.address),
            )
        })
    }
}

/// The host and port of a `ws://HOST:PORT` address (`None` for anything else).
pub fn ws_host_port(address: &str) -> Option<(&str, u16)> {
    let rest = address.strip_prefix("ws://")?;
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// Checks that nothing listens on `port` yet (Burn's servers bind inside a task and only log
/// a failure, so a taken port has to be found before they start).
pub(crate) fn port_free(port: u16) -> std::io::Result<()> {
    std::net::TcpListener::bind(("0.0.0.0", port)).map(drop)
}

#[cfg(test)]
mod tests {
    use super::ws_host_port;

    #[test]
    fn ports_of_ws_addresses() {
        assert_eq!(ws_host_port("ws://10.0.0.2:3001"), Some(("10.0.0.2", 3001)));
        assert_eq!(ws_host_port("ws://localhost:80/"), Some(("localhost", 80)));
        assert_eq!(ws_host_port("http://localhost:80"), None);
        assert_eq!(ws_host_port("ws://localhost"), None);
        assert_eq!(ws_host_port("ws://localhost:http"), None);
    }
}
