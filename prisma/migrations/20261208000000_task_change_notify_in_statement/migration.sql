-- The status-change statement announces its changes itself now (transitionsSql in
-- src/tasks/transitions.ts: one NOTIFY on `task_changes` of up to 200 event ids, in id order).
-- This trigger sent one NOTIFY per change: a batch of callbacks was two dozen to a hundred
-- notifications, each queued, read by every listening session and parsed by every instance,
-- which then read the changes together anyway. A statement-level trigger in its place would
-- have run for every insert of other events too (a callback's, a poll's).
DROP TRIGGER task_events_notify_manual ON task_events;
DROP FUNCTION task_events_notify_manual();
