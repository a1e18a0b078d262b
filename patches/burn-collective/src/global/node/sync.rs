use std::{
    collections::HashMap,
    marker::PhantomData,
    sync::{Arc, Mutex},
};

use burn_communication::{CommunicationChannel, Message, Protocol, ProtocolClient};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, RwLock};

use crate::{NodeId, global::shared::GlobalCollectiveError, node::base::NodeState};

/// Handles the status of sync requests from other nodes
pub(crate) struct SyncService<P: Protocol> {
    /// Current node's state, shared with the thread that does aggregations
    node_state: Arc<RwLock<Option<NodeState>>>,
    /// The number of peers that have requested to sync with us since the last successful sync.
    ///
    /// sru-rs patch: a count per node (it was a list, cleared only in a copy).
    syncing_peers: Mutex<HashMap<NodeId, usize>>,
    /// Notification on each incoming sync request
    sync_notif: Notify,

    _p: PhantomData<P>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SyncRequest(NodeId);

impl<P: Protocol> SyncService<P> {
    pub fn new(node_state: Arc<RwLock<Option<NodeState>>>) -> Self {
        Self {
            node_state,
            // sru-rs patch: counts per node.
            syncing_peers: Mutex::new(HashMap::new()),
            sync_notif: Notify::new(),
            _p: PhantomData,
        }
    }

    fn add_syncing_peer(&self, peer: NodeId) {
        let mut syncing_peers = self.syncing_peers.lock().unwrap();
        // sru-rs patch: counted per node.
        *syncing_peers.entry(peer).or_insert(0) += 1;
    }

    /// Sync with all peers.
    ///
    /// sru-rs patch: the upstream version cleared a copy of the list of synced peers, so the
    /// second sync never completed, and it could miss the last peer's notification (checked,
    /// then waited). Syncs are now counted per node, one taken from each when all have one,
    /// and the notification is armed before the check. A peer that cannot be reached is an
    /// error naming it, not a panic.
    pub async fn sync(&self) -> Result<(), GlobalCollectiveError> {
        // we can't sync while we register
        let node_state = self.node_state.read().await;
        let node_state = node_state
            .as_ref()
            .ok_or(GlobalCollectiveError::AllReduceBeforeRegister)?;

        // this peer is syncing
        self.add_syncing_peer(node_state.node_id);
        for (id, addr) in &node_state.nodes {
            if *id == node_state.node_id {
                continue;
            }

            // sru-rs patch: an unreachable peer is an error naming it (was `expect`).
            let mut connection = P::Client::connect(addr.clone(), "sync")
                .await
                .ok_or(GlobalCollectiveError::PeerLost(*id))?;
            let msg = SyncRequest(node_state.node_id);
            let sync_bytes = rmp_serde::to_vec(&msg).unwrap();
            connection
                .send(Message::new(sync_bytes.into()))
                .await
                .map_err(|_| GlobalCollectiveError::PeerLost(*id))?;
        }
        loop {
            // sru-rs patch: arm the notification before the check (no lost wakeup), and take
            // one sync from each node when all have one.
            let notified = self.sync_notif.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut syncing_peers = self.syncing_peers.lock().unwrap();
                let all = node_state
                    .nodes
                    .keys()
                    .all(|id| syncing_peers.get(id).is_some_and(|&n| n > 0));
                if all {
                    for id in node_state.nodes.keys() {
                        if let Some(n) = syncing_peers.get_mut(id) {
                            *n -= 1;
                        }
                    }
                    return Ok(());
                }
            }
            // Wait for the next sync to come in
            notified.await
        }
    }

    pub async fn handle_sync_connection<C: CommunicationChannel>(&self, mut channel: C) {
        // sru-rs patch: a broken connection or a bad request is dropped, not a panic.
        let Ok(Some(msg)) = channel.recv().await else {
            return;
        };

        let Ok(msg) = rmp_serde::from_slice::<SyncRequest>(&msg.data) else {
            return;
        };

        self.add_syncing_peer(msg.0);

        self.sync_notif.notify_waiters();
    }
}
