//! What makes an order open, as one SQL condition every reader of the ledger shares (the
//! limits, the books' reservations, the listings, reconciliation and erasure).

/// The SQL condition of an open order: its submission is unsettled, or it was accepted and its
/// Alpaca status (from the stream) is not a closed one; and no replacement has been claimed
/// for it (the replacement is the open one). `unknown_before_stream` marks orders
/// accepted before migration V11, never counted.
pub const OPEN_ORDER: &str = "((status IN ('submitting', 'pending') OR (status = 'accepted' \
     AND COALESCE(order_status, 'new') NOT IN ('filled', 'canceled', 'expired', 'rejected', \
     'replaced', 'unknown_before_stream'))) AND replaced_by IS NULL)";
