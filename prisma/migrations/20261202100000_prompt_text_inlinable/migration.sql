-- Prompt search tests candidate rows with task_prompt_text_manual(input), and the trigram
-- index rechecks each of its candidates with it. Postgres could not inline the function, so
-- every call ran as a function of its own (about 7 µs a row). Now it inlines:
-- - its subquery over multi_prompt lives in a helper, called only for inputs with a
--   multi_prompt array (a body with a subquery is never inlined);
-- - it joins with || rather than concat_ws, which is only STABLE (an IMMUTABLE function is
--   inlined only if its body is immutable);
-- - it is no longer STRICT (a STRICT function is inlined only if its body is strict too).
-- For every non-null input (tasks.input is NOT NULL) it returns exactly what it did, so the
-- trigram index built on it stays valid. The SQL-standard body (RETURN …) binds the helper
-- when it is created: index builds and VACUUM run with a search_path of pg_catalog only.
CREATE OR REPLACE FUNCTION task_multi_prompt_text_manual(input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT string_agg(shot ->> 'prompt', E'\n') FROM jsonb_array_elements(input -> 'multi_prompt') AS shot
$$;

CREATE OR REPLACE FUNCTION task_prompt_text_manual(input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN jsonb_typeof(input -> 'multi_prompt') = 'array'
  THEN coalesce((input ->> 'prompt') || E'\n' || task_multi_prompt_text_manual(input),
                input ->> 'prompt', task_multi_prompt_text_manual(input), '')
  ELSE coalesce(input ->> 'prompt', '') END;
