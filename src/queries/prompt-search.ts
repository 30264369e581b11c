import { inReadOnlyTransaction, type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import { Prisma, type Task } from '../generated/prisma/client.js'
import { listLimitMax } from '../schemas/queries.js'
import type { TaskStatus } from '../tasks/status.js'
import { dayMs } from '../stats/plan.js'
import { taskFieldList, taskSelectList } from '../tasks/task-row.js'

/**
 * How many of the newest candidates a prompt search tests in time order before it walks
 * back through the time-and-trigram index instead. Reading in time order finds a common
 * word's page at once; for a word only older tasks have, it would read every newer task.
 */
export const promptSearchWindow = 2000

/** What a search may return besides matching `q`. */
export interface SearchScope {
  /** Every condition but status: who may see the task, model, dates, client, cursor. */
  conditions: Prisma.Sql[]
  /** Any of these (none: any status). */
  statuses: TaskStatus[]
  /** The walk starts at the week of the latest task, or of this instant if earlier. */
  before?: Date
  /** …and ends at the week of the oldest task, or of this instant if later. */
  after?: Date
}

const taskColumns = Prisma.raw(taskSelectList)
/** The same fields, selected again from a subquery over taskColumns. */
const taskFields = Prisma.raw(taskFieldList)

/** `q` as a LIKE pattern (lowered in SQL): the user's text matches literally, wildcards included. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`
}

/**
 * `q` as a lowered LIKE pattern, lowered once per statement (a subquery): in a generic plan,
 * which the walk's and the unfiltered first step's are, `lower($1)` would run for every row.
 */
const loweredPattern = (q: string) => Prisma.sql`(SELECT lower(${containsPattern(q)}))`

/**
 * ILIKE as Postgres does it for UTF-8 (both sides lowered, then LIKE), on the prompts'
 * lowered text stored with the task (migration `prompt_search_column`).
 */
const promptMatches = (q: string) => Prisma.sql`prompt_search_manual LIKE ${loweredPattern(q)}`

/** The walk's test, on one week's or one day's rows of task_search (see searchedPromptMatches). */
type SearchMatch = (span: 'week' | 'day', at: Prisma.Sql) => Prisma.Sql

/**
 * task_search's rows of the week starting `at` or of the day `at` whose prompts contain `q`.
 * The index task_search_keys_manual narrows them: each of its keys joins a span (a week or
 * a day) with a trigram, and a probe asks for those of `q` in one span (migration
 * task_search). LIKE then checks the text, as the first step does on `tasks`.
 */
const searchedPromptMatches =
  (q: string): SearchMatch =>
  (span, at) =>
    Prisma.sql`task_search_keys_manual(created_at, prompt)
      @> task_search_probe_manual(${Prisma.raw(span === 'week' ? `'w'` : `'d'`)}, (${at})::date, lower(${q}))
      AND prompt LIKE ${loweredPattern(q)}`

const statusIs = (status: TaskStatus) => Prisma.sql`status = ${status}::"TaskStatus"`

/**
 * The newest `take` tasks in `scope` whose prompts contain `q` (case-insensitively), newest
 * first. Usually one statement; a second step only when the newest candidates hold less
 * than a page.
 */
export async function searchTasks(
  db: PrismaClient,
  scope: SearchScope,
  q: string,
  take: number,
  window = promptSearchWindow,
  planOnce = false,
): Promise<Task[]> {
  const match = promptMatches(q)
  const first = newestCandidatesStep(scope, match, take, window)
  // Its plan reads the created_at order whatever `q` is; with no condition on a value it is
  // the same for every search (see planFree in list-tasks).
  if (planOnce) prepareStatement(first.text)
  const rows = await queryRows<Task & { searchAnswered: boolean }>(db, first.text, first.values)
  if (rows[0]?.searchAnswered)
    return rows
      .filter((row) => row.id !== null)
      .slice(0, take)
      .map(({ searchAnswered: _, ...task }) => task)
  if (!hasTrigram(q)) {
    const every = everyMatchStep(scope, match, take)
    return queryRows<Task>(db, every.text, every.values)
  }
  return walkBack(db, scope, searchedPromptMatches(q), take)
}

/**
 * Whether the walk's index can narrow a search for `q`: its trigrams come from runs of
 * letters and digits (task_search_trigrams_manual), so `q` needs three in a row. Without
 * one, every probe of the index would return its whole week to be checked row by row, and
 * a walk would read the table a week at a time: the search reads every match once instead.
 */
export function hasTrigram(q: string): boolean {
  return /[\p{L}\p{N}]{3}/u.test(q)
}

/** Every match, sorted: for a pattern no index narrows, the planner reads the table once. */
function everyMatchStep(scope: SearchScope, match: Prisma.Sql, take: number) {
  return Prisma.sql`
    SELECT * FROM (
      SELECT ${taskColumns} FROM tasks WHERE ${walkConditions(scope)} AND ${match} OFFSET 0
    ) AS every_match
    ORDER BY "createdAt" DESC, id DESC
    LIMIT ${take}`
}

/**
 * How many of the newest candidates are read first for one match: none among them (a word
 * that is rare, or only old tasks have) sends the search to the walk at once, without
 * testing the rest of the window.
 */
export const promptSearchProbe = 500

/** How many hits the first step reads for a page of `take`: the next of a few sizes. */
const hitsRead = (take: number) => [21, 51, listLimitMax + 1].find((size) => size >= take) ?? take

/**
 * Tests the newest `window` candidates in time order (an ordered index scan, one per status
 * merged). Its matches are the page when they fill it or when there are no older candidates:
 * then the rows come back flagged `searchAnswered`. Otherwise one row flags that they did not.
 * Reading in time order finds a common word's page at once; for a word only old tasks have,
 * the planner (which assumes matches are spread evenly) would read every newer task first:
 * the window bounds that, and the walk takes over. When the newest `promptSearchProbe` candidates
 * hold no match, the window is not read further: a page from the rest is unlikely, and the
 * walk finds whatever it holds.
 */
function newestCandidatesStep(scope: SearchScope, match: Prisma.Sql, take: number, window: number) {
  // The limits are numbers in the text, not parameters: a generic plan must see them (with a
  // parameter the planner assumes a tenth of the rows). The page's hits are read in a few
  // sizes, so that the texts stay few; the caller keeps the first `take`.
  const newest = (limit: number, extra: Prisma.Sql[]) => Prisma.sql`
    SELECT id, created_at, ${match} AS hit FROM tasks
    WHERE ${Prisma.join([...scope.conditions, ...extra], ' AND ')}
    ORDER BY created_at DESC, id DESC
    LIMIT ${Prisma.raw(String(limit))}`
  const candidates = (limit: number) =>
    scope.statuses.length <= 1
      ? newest(limit, scope.statuses.map(statusIs))
      : Prisma.sql`
    SELECT id, created_at, hit FROM (${Prisma.join(
      scope.statuses.map((status) => Prisma.sql`(${newest(limit, [statusIs(status)])})`),
      ' UNION ALL ',
    )}) AS candidates
    ORDER BY created_at DESC, id DESC
    LIMIT ${Prisma.raw(String(limit))}`
  const probe = Math.min(promptSearchProbe, window)
  // CTEs are read only as far as they are asked for, and CASE asks in order: a common word
  // reads the probe to its first match and the window to its page; a rare one the probe.
  return Prisma.sql`
    WITH probe AS MATERIALIZED (${candidates(probe)}),
    recent AS MATERIALIZED (${candidates(window)}),
    hits AS MATERIALIZED (
      SELECT id FROM recent WHERE hit ORDER BY created_at DESC, id DESC LIMIT ${Prisma.raw(String(hitsRead(take)))}
    ), answered AS MATERIALIZED (
      SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM probe WHERE hit) THEN (SELECT count(*) FROM probe) < ${Prisma.raw(String(probe))}
                  WHEN (SELECT count(*) FROM hits) >= ${take} THEN true
                  ELSE (SELECT count(*) FROM recent) < ${Prisma.raw(String(window))} END AS yes
    )
    SELECT answered.yes AS "searchAnswered", page.* FROM answered
    LEFT JOIN LATERAL (
      -- answered.yes alone is a gate (evaluated once, first): no page, no hits read.
      SELECT ${taskColumns} FROM tasks WHERE answered.yes AND id IN (SELECT id FROM hits)
    ) AS page ON true
    ORDER BY page."createdAt" DESC, page.id DESC`
}

/**
 * The newest `take` matches, found by walking back in time through task_search's index of
 * week and day trigrams: week by week to the week where the count is reached, then that
 * week again, whole or a day at a time. Each probe reads one week's or one day's keys, so
 * it costs what that span's matches cost, not all of them (a word common among old tasks
 * has tens of thousands, on as many heap pages). Index and sequential scans are off for the
 * walk: with a LIMIT in sight the planner would read in time order, or the whole table,
 * hoping to meet matches early.
 */
async function walkBack(
  db: PrismaClient,
  scope: SearchScope,
  match: SearchMatch,
  take: number,
): Promise<Task[]> {
  const where = walkConditions(scope)
  // The walk runs from the week of the latest task (or of `before`) to that of the oldest
  // (or of `after`). Read before the settings change, so they come from the created_at index.
  const opening = 'SELECT min(created_at) AS oldest, max(created_at) AS newest FROM tasks'
  type Span = { oldest: Date | null; newest: Date | null }
  return inReadOnlyTransaction<Span, Task[]>(
    db,
    { opening, settings: walkSettings },
    async (query, [span]) => {
      if (!span?.oldest || !span.newest) return []
      const latest = scope.before && scope.before < span.newest ? scope.before : span.newest
      const earliest = scope.after && scope.after > span.oldest ? scope.after : span.oldest
      // Twice the page: when the rows read run past the page's last week, that week is whole.
      const limit = 2 * take
      const weeks = weeksStep(where, match, latest, earliest, limit)
      const rows = await query<Task & { searchWeek: string }>(prepared(weeks.text), weeks.values)
      const tasks = rows.slice(0, take).map(({ searchWeek: _, ...task }) => task)
      const pageWeek = rows[take - 1]?.searchWeek
      // The statement stopped at its limit inside the page's last week: that week may have
      // newer matches it did not reach, so the page's tail is read again from that week.
      if (pageWeek !== undefined && rows.length === limit && rows.at(-1)?.searchWeek === pageWeek) {
        const before = rows.findIndex((row) => row.searchWeek === pageWeek)
        const cut = rows.slice(before)
        const need = take - before
        const again = looksBusy(cut)
          ? daysStep(where, match, latest, pageWeek, need)
          : wholeWeekStep(where, match, pageWeek, need)
        tasks.splice(
          before,
          tasks.length - before,
          ...(await query<Task>(prepared(again.text), again.values)),
        )
      }
      return tasks
    },
  )
}

/**
 * Only bitmap scans (see walkBack), and each statement planned once per connection: its plan
 * does not depend on the values, only on the filters present, which its text spells out.
 * Planning a walk's statement took about 0.4 ms, a tenth of what it then reads.
 */
const walkSettings = { enable_seqscan: 'off', enable_indexscan: 'off', plan_cache_mode: 'force_generic_plan' }

/** The walk's statements run prepared: one text per combination of filters. */
const prepared = (text: string) => {
  prepareStatement(text)
  return text
}

/** The scope's conditions, statuses included, for the walk's probes. */
function walkConditions(scope: SearchScope): Prisma.Sql {
  const statuses = scope.statuses.length ? [Prisma.sql`status = ANY(${scope.statuses}::"TaskStatus"[])`] : []
  return Prisma.join([...scope.conditions, ...statuses], ' AND ')
}

/**
 * The tasks of one `span` (the week starting `at`, or the day `at`) whose prompts match, as
 * a subquery named `tasks` for the list's conditions to filter. The matches come from
 * task_search (written once per task, so its index is not rewritten at every status change)
 * and each is looked up in `tasks` by id. In table order, or newest first: then the
 * statement's ORDER BY created_at, id follows that order (the join equates both columns), and
 * its LIMIT stops the lookups once enough tasks passed the list's conditions, rather than
 * looking up every match of a busy day to sort them. OFFSET 0 keeps the list's conditions
 * out of the read of matches: the planner would otherwise read a whole status's or client's
 * tasks from their btree indexes (100,000 of them) to meet the matches.
 */
const matchesAt = (span: 'week' | 'day', at: Prisma.Sql, match: SearchMatch, order: 'table' | 'newest') =>
  Prisma.sql`(
    SELECT tasks.* FROM (
      SELECT task_id, created_at FROM task_search WHERE ${match(span, at)}
      ${order === 'newest' ? Prisma.sql`ORDER BY created_at DESC, task_id DESC` : Prisma.empty} OFFSET 0
    ) AS found JOIN tasks ON tasks.id = found.task_id AND tasks.created_at = found.created_at
  ) AS tasks`

/**
 * The first `limit` matches met walking back a week at a time from the latest week: the weeks
 * are probed in turn (a nested loop over the series) and each is read in table order, so the
 * statement stops inside the week where the count is reached. Every earlier week it read is
 * whole. Rows come newest week first, sorted within their week, each with its week.
 */
function weeksStep(where: Prisma.Sql, match: SearchMatch, latest: Date, earliest: Date, limit: number) {
  return Prisma.sql`
    SELECT "searchWeek", ${taskFields} FROM (
      SELECT w.week::text AS "searchWeek", w.n AS "searchStep", f.*
      FROM generate_series(
        date_trunc('week', ${latest}::timestamptz AT TIME ZONE 'UTC'),
        date_trunc('week', ${earliest}::timestamptz AT TIME ZONE 'UTC'),
        interval '-1 week'
      ) WITH ORDINALITY AS w(week, n)
      CROSS JOIN LATERAL (
        SELECT ${taskColumns} FROM ${matchesAt('week', Prisma.sql`w.week`, match, 'table')} WHERE ${where} LIMIT ${limit}
      ) AS f
      LIMIT ${limit}
    ) AS walked
    ORDER BY "searchStep", "createdAt" DESC, id DESC`
}

/** A week with more matches than this is read a day at a time rather than whole. */
const busyWeekMatches = 200

/**
 * Whether a week cut short holds more than `busyWeekMatches`. Its rows were read in table
 * order, which is about time order (tasks are stored as they come), so the time they span
 * tells the week's density. Only the cost depends on the guess: either way the page is the
 * same.
 */
function looksBusy(cut: { createdAt: Date }[]): boolean {
  const times = cut.map((task) => task.createdAt.getTime())
  const span = Math.max(...times) - Math.min(...times)
  return cut.length * 7 * dayMs > busyWeekMatches * span
}

/** A week's newest `need` matches, all of them read and sorted. */
function wholeWeekStep(where: Prisma.Sql, match: SearchMatch, week: string, need: number) {
  return Prisma.sql`
    SELECT ${taskColumns} FROM ${matchesAt('week', Prisma.sql`${week}::timestamp`, match, 'newest')}
    WHERE ${where}
    ORDER BY created_at DESC, id DESC
    LIMIT ${need}`
}

/** A week's newest `need` matches, a day at a time from its latest day until enough. */
function daysStep(where: Prisma.Sql, match: SearchMatch, latest: Date, week: string, need: number) {
  return Prisma.sql`
    SELECT ${taskFields} FROM (
      SELECT d.n AS "searchStep", f.*
      FROM generate_series(
        least(${week}::timestamp + interval '6 days', date_trunc('day', ${latest}::timestamptz AT TIME ZONE 'UTC')),
        ${week}::timestamp,
        interval '-1 day'
      ) WITH ORDINALITY AS d(day, n)
      CROSS JOIN LATERAL (
        SELECT ${taskColumns} FROM ${matchesAt('day', Prisma.sql`d.day`, match, 'newest')}
        WHERE ${where}
        ORDER BY created_at DESC, id DESC
        LIMIT ${need}
      ) AS f
      LIMIT ${need}
    ) AS walked
    ORDER BY "searchStep", "createdAt" DESC, id DESC`
}

/** A search's statements, for the plan tests (test/queries/prompt-search.test.ts). */
export const searchStatements = {
  promptMatches,
  searchedPromptMatches,
  everyMatchStep,
  newestCandidatesStep,
  walkSettings,
  walkConditions,
  weeksStep,
  wholeWeekStep,
  daysStep,
}
