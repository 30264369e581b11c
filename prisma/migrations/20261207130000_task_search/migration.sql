-- Prompt search moves to a table of its own (see TaskSearch in schema.prisma): one row per
-- task with its lowered prompts and creation time, written once. The time-and-trigram index
-- moves with it, in a new form (below). On `tasks` it was maintained at every status
-- change, since a status change writes a new version of the row, and every index gets
-- entries for the new version: with real prompts at 1M tasks, a batch of 24 status changes
-- took 11.5 ms with that index and 7.0 ms without. The prompts' lowered text stays on
-- `tasks` too (prompt_search_manual), for the search's first step, which tests the newest
-- tasks in time order.
-- The whole script runs as one transaction, and writes to tasks wait for it: about a minute
-- per million tasks (the index build took 53 s of it; AMD EPYC, 2 cores).

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
-- The functions are PL/pgSQL, whose plans are kept for the session: as SQL functions (not
-- inlinable) each call planned its query again, 190 us a task where this takes about 40.
-- Their bodies call our own functions with their schema: index builds and VACUUM run with
-- a search_path of pg_catalog only.
CREATE FUNCTION task_search_trigrams_manual(words text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  trigrams text[];
BEGIN
  SELECT array_agg(DISTINCT substr(word, i, 3)) INTO trigrams
  FROM regexp_split_to_table(words, '[^[:alnum:]]+') AS word, generate_series(1, length(word) - 2) AS i;
  RETURN coalesce(trigrams, '{}');
END
$$;

CREATE FUNCTION task_search_keys_manual(created_at timestamptz, prompt text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  week_key text := 'w' || (date_trunc('week', created_at AT TIME ZONE 'UTC')::date - date '1970-01-01');
  day_key text := 'd' || ((created_at AT TIME ZONE 'UTC')::date - date '1970-01-01');
  trigrams text[] := public.task_search_trigrams_manual(prompt);
BEGIN
  RETURN ARRAY[week_key, day_key]
    || ARRAY(SELECT week_key || ':' || t FROM unnest(trigrams) AS t)
    || ARRAY(SELECT day_key || ':' || t FROM unnest(trigrams) AS t);
END
$$;

-- The keys a probe asks for: `span` 'w' (the week starting on `first_day`) or 'd' (that
-- day), and the lowered text searched for. Its trigrams' keys, or the span's own key when
-- it has none.
CREATE FUNCTION task_search_probe_manual(span text, first_day date, lowered text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
  span_key text := span || (first_day - date '1970-01-01');
  trigrams text[] := public.task_search_trigrams_manual(lowered);
BEGIN
  IF cardinality(trigrams) = 0 THEN
    RETURN ARRAY[span_key];
  END IF;
  RETURN ARRAY(SELECT span_key || ':' || t FROM unnest(trigrams) AS t);
END
$$;

-- With a small pending list, as tasks_prompt_search_by_time_manual had (see
-- prompt_search_by_time): new tasks still add entries between vacuums, and every scan
-- reads the pending list whole.
CREATE INDEX task_search_keys_manual ON task_search
USING gin (task_search_keys_manual(created_at, prompt)) WITH (gin_pending_list_limit = 256);

DROP INDEX tasks_prompt_search_by_time_manual;
