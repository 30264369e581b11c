import { modelCatalog } from '../../src/models/index.js'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { refreshStats } from '../../src/stats/refresh.js'
import type { BenchDb } from './db.js'
import { benchIdSql } from './db.js'

export const clientKeySet = 'c0000001'
export const clientKeys = 20
export const models = [...modelCatalog.keys()]
/** In about one prompt in 40 (a subject), and in about one in 10,000. */
export const commonWord = 'lighthouse'
export const rareWord = 'zeppelin'
/** In about one prompt in 20 older than 30 days, and in none since. */
export const oldWord = 'gramophone'

const words = (list: string) => `ARRAY[${list.split(' ').map((w) => `'${w.replaceAll('_', ' ')}'`)}]`
const subjects = words(
  `${commonWord} fox robot dancer city_skyline whale astronaut knight dragon violinist cat surfer train ` +
    'waterfall chef skateboarder owl sailboat volcano ballerina samurai jellyfish hot_air_balloon ' +
    'tiger glacier drummer firefly lantern desert_caravan hummingbird windmill diver monk ' +
    'racing_car octopus wolf painter forest_spirit tram',
)
const actions = words(
  'running walking dancing flying floating spinning glowing drifting climbing diving jumping ' +
    'racing sleeping singing melting rising falling burning blooming sailing',
)
const places = words(
  'in_a_storm at_sunset under_neon_lights on_the_moon in_a_snowy_forest by_the_sea in_a_desert ' +
    'in_tokyo_at_night on_a_rooftop in_the_clouds under_water in_a_cathedral in_a_wheat_field ' +
    'on_a_frozen_lake in_a_jungle inside_a_snow_globe on_mars in_a_library at_dawn in_the_rain',
)
const styles = words(
  'cinematic slow_motion handheld drone_shot macro timelapse anime watercolor noir 35mm_film ' +
    'hyperreal claymation dolly_zoom tracking_shot wide_angle',
)

const pick = (array: string) => `(${array})[1 + floor(random() * cardinality(${array}))::int]`

/**
 * `count` tasks in one INSERT … SELECT, oldest first over 60 days (as production writes
 * them), mostly finished (90%) or failed; the last hour also has queued, not_started and
 * running ones. None is due for polling (next_poll_at NULL) and none is past its deadline.
 */
function insertSql(count: number): string {
  return `
    INSERT INTO tasks (id, api_key_id, client_scope, model, status, input, provider_task_id, progress, files,
      error_code, error_message, credits, estimated_credits, webhook_events, deadline_at, created_at,
      submitted_at, started_at, finished_at, updated_at)
    SELECT uuidv7(created - now()), key, key::text, model, status,
      jsonb_build_object('prompt', prompt, 'duration', 5, 'aspect_ratio', '16:9'),
      CASE WHEN status <> 'queued' THEN 'load-' || g END,
      CASE status WHEN 'finished' THEN 100 WHEN 'running' THEN 1 + (g % 99) ELSE 0 END,
      CASE WHEN status = 'finished' THEN '[{"url": "https://files.poyo.sim/v.mp4", "type": "video"}]'::jsonb
        ELSE '[]'::jsonb END,
      CASE WHEN status = 'failed' THEN 'provider_failed' END,
      CASE WHEN status = 'failed' THEN 'Video generation failed' END,
      CASE status WHEN 'finished' THEN credits WHEN 'failed' THEN 0 END,
      credits, '{}', created + interval '1 day', created,
      CASE WHEN status <> 'queued' THEN created + interval '2 seconds' END,
      CASE WHEN status IN ('running', 'finished', 'failed') THEN created + run_start END,
      CASE WHEN status IN ('finished', 'failed') THEN least(now(), created + run_start + run) END,
      CASE WHEN status IN ('finished', 'failed') THEN least(now(), created + run_start + run) ELSE created END
    FROM (
      SELECT g, created, key, model, credits, run_start, run,
        (CASE WHEN created > now() - interval '1 hour'
          THEN (ARRAY['queued', 'not_started', 'running', 'running', 'finished', 'finished', 'failed'])
            [1 + floor(r * 7)::int]
          ELSE CASE WHEN r < 0.9 THEN 'finished' ELSE 'failed' END END)::"TaskStatus" AS status,
        ${pick(subjects)} || ' ' || ${pick(actions)} || ' ' || ${pick(places)} || ', ' || ${pick(styles)}
          || CASE WHEN random() < 0.0001 THEN ' with a ${rareWord}' ELSE '' END
          || CASE WHEN created < now() - interval '30 days' AND random() < 0.05 THEN ' and a ${oldWord}' ELSE '' END
          AS prompt
      FROM (
        SELECT g, random() AS r,
          now() - interval '60 days' * (1 - g::float8 / ${count}) AS created,
          ${benchIdSql(clientKeySet, `1 + floor(random() * ${clientKeys})::int`)} AS key,
          (ARRAY[${models.map((m) => `'${m}'`)}])[1 + floor(random() * ${models.length})::int] AS model,
          (25 + floor(random() * 76))::int AS credits,
          interval '1 second' * (5 + floor(random() * 25)) AS run_start,
          interval '1 second' * (30 + floor(random() * 570)) AS run
        FROM generate_series(1, ${count}) g
      ) raw
    ) t`
}

/**
 * Bulk-loads `count` tasks (and the client keys they belong to) with SQL, not the API (a
 * trigger writes their task_search rows). The secondary indexes of both tables are dropped
 * first and built again after (far faster than maintaining them row by row), then VACUUM
 * ANALYZE, then the stats rollup is refreshed (the service's periodic refresh would do it
 * too, but stats measured before it ends would be computed live). Returns the seconds each
 * step took.
 */
export async function bulkLoad(db: BenchDb, count: number): Promise<Record<string, number>> {
  const timings: Record<string, number> = {}
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const started = Date.now()
    await fn()
    timings[name] = (Date.now() - started) / 1000
  }
  const client = await db.pool.connect()
  try {
    await client.query(`SET maintenance_work_mem = '512MB'`)
    await client.query(
      `INSERT INTO api_keys (id, name, prefix, hash, role, webhook_secret)
       SELECT ${benchIdSql(clientKeySet, 'g')}, 'bench client ' || g, 'bc' || lpad(g::text, 8, '0'),
         md5(g::text), 'client', 'whsec_bench'
       FROM generate_series(1, ${clientKeys}) g`,
    )
    const { rows: indexes } = await client.query<{ name: string; def: string }>(
      `SELECT indexname AS name, indexdef AS def FROM pg_indexes
       WHERE schemaname = 'public' AND tablename IN ('tasks', 'task_search') AND indexname NOT LIKE '%\\_pkey'`,
    )
    await timed('drop indexes', () =>
      client.query(indexes.map((index) => `DROP INDEX "${index.name}"`).join('; ')),
    )
    await timed('insert', () => client.query(insertSql(count)))
    await timed('create indexes', async () => {
      for (const index of indexes) await client.query(index.def)
    })
    await timed('vacuum analyze', () => client.query('VACUUM (ANALYZE) tasks, task_search'))
  } finally {
    client.release()
  }
  const prisma = createPrismaClient({ url: db.url, poolSize: 1 })
  try {
    await timed('stats refresh', () => refreshStats(prisma))
    await db.pool.query('VACUUM (ANALYZE) stats_rollup, stats_durations')
  } finally {
    await disconnectPrisma(prisma)
  }
  return timings
}
