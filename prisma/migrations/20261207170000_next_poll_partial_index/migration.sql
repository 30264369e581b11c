-- The poll sweep (claimDueTasks in src/tasks/poll.ts) asks for tasks whose next poll is due;
-- only tasks still polled have one; a final status clears it. The full index held an entry
-- for every task, NULL for nearly all of them, and every status change (an UPDATE of an
-- indexed column, so never a HOT one) and every new task added another. This one holds the
-- polled tasks only: a task that ends or is created without a poll writes nothing to it.
-- `next_poll_at <= $now` implies `next_poll_at IS NOT NULL`, so the sweep reads it as before.
-- A partial index cannot be described in schema.prisma, so its name ends in `_manual`.
DROP INDEX "tasks_next_poll_at_idx";
CREATE INDEX tasks_next_poll_at_manual ON tasks (next_poll_at) WHERE next_poll_at IS NOT NULL;
