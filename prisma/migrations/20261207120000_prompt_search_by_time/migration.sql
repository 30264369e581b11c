-- Prompt search by time. A word that only older tasks have took the trigram index's every
-- match (25,000 at 1M tasks, on 17,000 heap pages: about 150 ms) to sort them and keep a
-- page. This index keys each task by its UTC week and UTC day beside its trigrams
-- (btree_gin lets a GIN index hold plain values), so the search walks back in time and
-- reads one week's or one day's matches per probe (src/queries/prompt-search.ts). With no
-- time key in the query it serves a plain trigram search as the index it replaces did.
-- The keys are read in UTC: created_at AT TIME ZONE 'UTC' is immutable, as an index needs.
-- Every scan of a GIN index also reads its whole pending list (entries not yet merged in,
-- up to 4 MB by default), and a walk scans the index once a week: 256 kB keeps that under
-- about 0.6 ms a probe (4 MB cost up to 10 ms), for about 10 us more per status change.
-- Building it reads the table once: about 10-30 s per million tasks, with writes to tasks
-- blocked meanwhile.
-- No semicolons inside statements or comments: the migration runner splits scripts on them.
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE INDEX tasks_prompt_search_by_time_manual ON tasks USING gin (
  (date_trunc('week', created_at AT TIME ZONE 'UTC')),
  (date_trunc('day', created_at AT TIME ZONE 'UTC')),
  prompt_search_manual gin_trgm_ops
) WITH (gin_pending_list_limit = 256);

DROP INDEX tasks_prompt_search_trgm_manual;
