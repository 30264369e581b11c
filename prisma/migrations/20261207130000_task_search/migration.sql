-- Prompt search moves to a table of its own (see TaskSearch in schema.prisma): one row per
-- task with its lowered prompts and creation time, written once. The time-and-trigram index
-- moves with it, in a new form (below). On `tasks` it was maintained at every status
-- change, since a status change writes a new version of the row, and every index gets
-- entries for the new version: with real prompts at 1M tasks, a batch of 24 status changes
-- took 11.5 ms with that index and 7.0 ms without. The prompts' lowered text stays on
-- `tasks` too (prompt_search_manual), for the search's first step, which tests the newest
-- tasks in time order.
-- The whole script runs as one transaction, and writes to tasks wait for it: about 100 s
-- per million tasks (mostly the index build; AMD EPYC, 2 cores).

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

-- The search keys. tasks_prompt_search_by_time_manual held a task's UTC week, its UTC day
-- and its trigrams as separate keys, so a probe for one week read each of the pattern's
-- trigrams across every week: 1-2 ms a probe whether its week held a match or not. Here each
-- key joins the span and the trigram (`w<days since 1970 of the week's Monday>:<trigram>`,
-- and `d<day>:<trigram>`), so a probe reads only its span's entries, and a week without a
-- match has none to read. Trigrams are the three-character runs inside the words of the
-- lowered text (words split at anything but letters and digits), the same function for a
-- task's prompts and for `q`: every task whose prompts contain `q` has every key `q` asks
-- for. A key per span alone (`w<day>`, `d<day>`) serves a `q` without a trigram.
-- Function bodies call our own functions with their schema: index builds and VACUUM run
-- with a search_path of pg_catalog only.
CREATE FUNCTION task_search_trigrams_manual(words text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT DISTINCT substr(word, i, 3)
  FROM regexp_split_to_table(words, '[^[:alnum:]]+') AS word, generate_series(1, length(word) - 2) AS i
$$;

CREATE FUNCTION task_search_keys_manual(created_at timestamptz, prompt text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT array_agg(span || key)
  FROM (VALUES ('w' || (date_trunc('week', created_at AT TIME ZONE 'UTC')::date - date '1970-01-01')),
               ('d' || ((created_at AT TIME ZONE 'UTC')::date - date '1970-01-01'))) AS spans(span)
  CROSS JOIN (SELECT '' UNION ALL SELECT ':' || t FROM public.task_search_trigrams_manual(prompt) AS t) AS keys(key)
$$;

-- The keys a probe asks for: `span` 'w' (the week starting `day`) or 'd', and the lowered
-- text searched for. Its trigrams' keys, or the span's own key when it has none.
CREATE FUNCTION task_search_probe_manual(span text, day date, lowered text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT coalesce(
    (SELECT array_agg(span || (day - date '1970-01-01') || ':' || t)
     FROM public.task_search_trigrams_manual(lowered) AS t),
    ARRAY[span || (day - date '1970-01-01')])
$$;

-- With a small pending list, as tasks_prompt_search_by_time_manual had (see
-- prompt_search_by_time): new tasks still add entries between vacuums, and every scan
-- reads the pending list whole.
CREATE INDEX task_search_keys_manual ON task_search
USING gin (task_search_keys_manual(created_at, prompt)) WITH (gin_pending_list_limit = 256);

DROP INDEX tasks_prompt_search_by_time_manual;
