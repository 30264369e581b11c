-- Prompt search moves to a table of its own (see TaskSearch in schema.prisma): one row per
-- task with its lowered prompts and creation time, written once. The time-and-trigram index
-- moves with it. On `tasks` it was maintained at every status change, since a status change
-- writes a new version of the row, and every index gets entries for the new version: with
-- real prompts at 1M tasks, a batch of 24 status changes took 11.5 ms with that index and
-- 7.0 ms without. The prompts' lowered text stays on `tasks` too (prompt_search_manual),
-- for the search's first step, which tests the newest tasks in time order.
-- The whole script runs as one transaction, and writes to tasks wait for it: about 15 s per
-- million tasks (the copy and the index build; AMD EPYC, 2 cores).

-- CreateTable
CREATE TABLE "task_search" (
    "task_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "prompt" TEXT NOT NULL,

    CONSTRAINT "task_search_pkey" PRIMARY KEY ("task_id")
);

-- AddForeignKey
ALTER TABLE "task_search" ADD CONSTRAINT "task_search_task_id_fkey" FOREIGN KEY ("task_id") REFERENCES "tasks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every task inserted from now on gets its row, in the statement that inserts it.
CREATE FUNCTION task_search_inserted_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO task_search (task_id, created_at, prompt)
  SELECT id, created_at, prompt_search_manual FROM inserted;
  RETURN NULL;
END
$$;

CREATE TRIGGER task_search_inserted_manual
AFTER INSERT ON tasks
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT
EXECUTE FUNCTION task_search_inserted_manual();

-- The tasks stored so far.
INSERT INTO task_search (task_id, created_at, prompt)
SELECT id, created_at, prompt_search_manual FROM tasks;

-- The same keys as tasks_prompt_search_by_time_manual had (see prompt_search_by_time),
-- with its small pending list: new tasks still add entries between vacuums, and every scan
-- reads the pending list whole.
CREATE INDEX task_search_by_time_manual ON task_search USING gin (
  (date_trunc('week', created_at AT TIME ZONE 'UTC')),
  (date_trunc('day', created_at AT TIME ZONE 'UTC')),
  prompt gin_trgm_ops
) WITH (gin_pending_list_limit = 256);

DROP INDEX tasks_prompt_search_by_time_manual;
