//! The sync engine: runs, cursor, policies and the transaction log, over the ports only.
