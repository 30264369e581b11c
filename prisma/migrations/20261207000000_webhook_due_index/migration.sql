-- The webhook sweep (claimDueDeliveriesSql in src/webhooks/deliver.ts) asks each second for
-- pending deliveries that are due. No index had status or next_attempt_at, and deliveries
-- are never removed, so each sweep read the whole table: 52–81 ms at 300,000 deliveries.
-- This index holds pending deliveries only (a delivered or stopped one leaves it), so the
-- sweep reads the due ones and nothing else.
-- A partial index cannot be described in schema.prisma, so its name ends in `_manual`.
CREATE INDEX webhook_deliveries_due_manual ON webhook_deliveries (next_attempt_at)
  WHERE status = 'pending';
