-- The deadline watch (failOverdueTasks in src/tasks/poll.ts) asks every poll sweep, once a
-- second, for active tasks past their deadline. No index had deadline_at, so each sweep read
-- every active task: a parallel seq scan of 290 ms with 400,000 of them. This index holds
-- only active tasks (terminal ones keep their deadline but are never asked for), so the
-- sweep reads the overdue ones and nothing else. Its statuses must stay the literals the
-- query uses (activeStatuses in src/tasks/status.ts).
-- A partial index cannot be described in schema.prisma, so its name ends in `_manual`.
CREATE INDEX tasks_active_deadline_manual ON tasks (deadline_at)
  WHERE status IN ('queued', 'not_started', 'running');
