-- Prompt search for GET /v1/tasks?q=: a case-insensitive substring match over a task's
-- prompts (`prompt` and every `multi_prompt[].prompt`), served by a trigram index.
-- schema.prisma cannot describe expression or trigram indexes, so they live here. Names
-- end in `_manual` so the drift test (test/helpers/catalog.ts) can leave them out.
-- No semicolons inside statements or comments: the migration runner splits scripts on them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- IMMUTABLE so it can be indexed: it reads only its argument.
CREATE OR REPLACE FUNCTION task_prompt_text_manual(input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT concat_ws(E'\n', input ->> 'prompt', (
    SELECT string_agg(shot ->> 'prompt', E'\n')
    FROM jsonb_array_elements(
      CASE jsonb_typeof(input -> 'multi_prompt') WHEN 'array' THEN input -> 'multi_prompt' ELSE '[]'::jsonb END
    ) AS shot
  ))
$$;

CREATE INDEX tasks_prompt_trgm_manual ON tasks USING gin (task_prompt_text_manual(input) gin_trgm_ops);
