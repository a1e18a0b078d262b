//! The layout of a run folder: each node's config file, the checkpoints folder, and the
//! scratch folder where a node other than 0 keeps its copy of node 0's checkpoint while it
//! resumes. (`metrics.jsonl` is [`crate::metrics::METRICS_FILE`]; what a checkpoint folder
//! holds is [`crate::checkpoint`]'s.)

use std::path::{Path, PathBuf};

/// The config file of a run folder (node 0's on several nodes).
pub const CONFIG_FILE: &str = "config.toml";

/// The config file node `node` writes into its run folder: [`CONFIG_FILE`] on node 0,
/// `config-node-{node}.toml` on the others (which keep nothing else there), so that a run
/// folder shared by several nodes holds one of each.
pub fn config_file(node: usize) -> String {
    if node == 0 {
        CONFIG_FILE.to_string()
    } else {
        format!("config-node-{node}.toml")
    }
}
/// The checkpoint folder of a run folder.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Where node `node` writes its copy of node 0's checkpoint when the run resumes (removed
/// once it has been read).
pub(crate) fn resume_scratch(run_dir: &Path, node: usize) -> PathBuf {
    run_dir.join(format!(".resume-node-{node}"))
}
