/**
 * `npm run bench [-- --quick] [-- --only=ingest,submission,queries,e2e]`: measures the
 * service on its own embedded Postgres (temp dir, durability off) with the PoYo simulator
 * and the service each in their own process; prints a table and writes bench/results/.
 * Other flags: --log-level=warn (the service's), --pool=10 (DATABASE_POOL_SIZE),
 * --cpu-prof=<dir> (node --cpu-prof on the service; written when it stops), --tsx (run the
 * service through tsx, as `npm start` does, instead of compiled by tsc as the Docker image
 * runs it), --node-options="…" (the service's NODE_OPTIONS; default: the Dockerfile's),
 * --explain (EXPLAIN ANALYZE of the SQL each query route sends, into the results),
 * --service-env=NAME=VALUE (repeatable: one more variable of the service's environment),
 * --load-generator=wrk|sockets|autocannon (what drives the 50-connection runs; default wrk,
 * or sockets when wrk is not installed: `bash scripts/ensure-package.sh wrk wrk`),
 * --node-args="…" (node flags for the service that NODE_OPTIONS refuses, e.g. --trace-gc),
 * --pg-stats (pg_stat_statements per section: the statements Postgres ran, into the results).
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createApiKey } from '../src/auth/api-keys.js'
import { createPrismaClient, disconnectPrisma } from '../src/db/client.js'
import { packageRoot } from '../src/paths.js'
import { e2eChecks, ingestChecks, memoryCheck, queryChecks, submissionChecks, targets } from './lib/checks.js'
import { startBenchDb } from './lib/db.js'
import { benchE2e } from './lib/e2e.js'
import { explainEndpoints } from './lib/explain.js'
import { benchIngest } from './lib/ingest.js'
import { type LoadGenerator, loadGenerators, useLoadGenerator } from './lib/load.js'
import { wrkAvailable } from './lib/wrk-load.js'
import { memoryOf, runMain, sampleMemory } from './lib/procs.js'
import { enablePgStats, pgStatsLines, pgStatsSettings, readPgStats, resetPgStats } from './lib/pg-stats.js'
import { benchQueries } from './lib/queries.js'
import { type Check, machineInfo, table, writeResults } from './lib/report.js'
import { bulkLoad } from './lib/scale.js'
import { envPair, imageNodeOptions, startStack } from './lib/service.js'
import { benchSubmission, waitSettled } from './lib/submission.js'

const sections = ['ingest', 'submission', 'queries', 'e2e'] as const
type Section = (typeof sections)[number]

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    pool: { type: 'string', default: '10' },
    'cpu-prof': { type: 'string' },
    tsx: { type: 'boolean', default: false },
    'node-options': { type: 'string' },
    explain: { type: 'boolean', default: false },
    'service-env': { type: 'string', multiple: true },
    'load-generator': { type: 'string' },
    'node-args': { type: 'string' },
    'pg-stats': { type: 'boolean', default: false },
  },
})

const generator = await chooseLoadGenerator(flags['load-generator'])
useLoadGenerator(generator)

/** The one asked for, or wrk when it is installed (far less CPU taken from the service), else sockets. */
async function chooseLoadGenerator(asked: string | undefined): Promise<LoadGenerator> {
  if (asked !== undefined && !loadGenerators.includes(asked as LoadGenerator))
    throw new Error(`--load-generator: one of ${loadGenerators.join(', ')}`)
  const wrk = await wrkAvailable()
  if (asked === 'wrk' && !wrk)
    throw new Error('--load-generator=wrk: wrk is not installed (bash scripts/ensure-package.sh wrk wrk)')
  if (asked !== undefined) return asked as LoadGenerator
  if (wrk) return 'wrk'
  console.warn(
    '[bench] wrk is not installed (bash scripts/ensure-package.sh wrk wrk): the socket generator drives the load',
  )
  return 'sockets'
}

const quick = flags.quick ?? false
const only = flags.only ? (flags.only.split(',') as Section[]) : [...sections]
for (const name of only) if (!sections.includes(name)) throw new Error(`--only: unknown section ${name}`)

const sizes = quick
  ? {
      ingestTasks: 20_000,
      ingestPairs: 3,
      ingestWarmup: 2,
      loadSeconds: 3,
      warmup: 1,
      latencySeconds: 2,
      scaleTasks: 50_000,
      querySeconds: 2,
      deepPage: 100,
      e2eTasks: 1_000,
      e2eMaxSeconds: 180,
    }
  : {
      ingestTasks: 60_000,
      ingestPairs: 8,
      ingestWarmup: 8,
      loadSeconds: 10,
      warmup: 2,
      latencySeconds: 5,
      scaleTasks: 1_000_000,
      querySeconds: 5,
      deepPage: 1000,
      e2eTasks: 10_000,
      e2eMaxSeconds: 400,
    }

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`)

async function main(): Promise<number> {
  const nodeOptions = flags['node-options'] ?? (await imageNodeOptions())
  const started = Date.now()
  const machine = machineInfo()
  log(
    `${machine.nproc} cores (${machine.cpuModel}), load ${machine.loadAverageAtStart.join(' ')}; sections: ${only.join(', ')}${quick ? ' (quick)' : ''}`,
  )
  const pgStats = flags['pg-stats'] ?? false
  const db = await startBenchDb(pgStats ? { settings: pgStatsSettings } : {})
  if (pgStats) await enablePgStats(db.pool)
  const prisma = createPrismaClient({ url: db.url, poolSize: 2 })
  const admin = await createApiKey(prisma, { name: 'bench admin', role: 'admin' })
  const submitKey = await createApiKey(prisma, { name: 'bench submit', role: 'client' })
  const e2eKey = await createApiKey(prisma, { name: 'bench e2e', role: 'client' })
  await disconnectPrisma(prisma)
  const { rows } = await db.pool.query<{ version: string }>(
    "SELECT current_setting('server_version') AS version",
  )
  const stack = await startStack({
    databaseUrl: db.url,
    logLevel: flags['log-level'] ?? 'warn',
    poolSize: Number(flags.pool),
    cpuProfDir: flags['cpu-prof'],
    built: !flags.tsx,
    nodeOptions,
    extraEnv: Object.fromEntries((flags['service-env'] ?? []).map((pair) => envPair('--service-env', pair))),
    nodeArgs: flags['node-args']?.split(' ').filter(Boolean) ?? [],
  })
  const memory = sampleMemory(stack.service.pid)
  log(
    `service pid ${stack.service.pid} at ${stack.base}, simulator at ${stack.simBase}, postgres ${rows[0]?.version}`,
  )

  const checks: Check[] = []
  const results: Record<string, unknown> = {}
  const errors: Record<string, string> = {}
  const peakAfter: Record<string, number> = {}
  const statements: Record<string, unknown> = {}
  const run = async (name: Section, fn: () => Promise<unknown>, toChecks: (r: never) => Check[]) => {
    if (!only.includes(name)) return
    log(`${name}…`)
    const t0 = Date.now()
    try {
      if (pgStats) await resetPgStats(db.pool)
      const result = await fn()
      results[name] = result
      checks.push(...toChecks(result as never))
      if (pgStats) {
        const stats = await readPgStats(db.pool)
        statements[name] = stats
        for (const line of pgStatsLines(name, stats)) log(line)
      }
    } catch (error) {
      errors[name] = error instanceof Error ? error.message : String(error)
      checks.push({
        section: name,
        name: 'error',
        value: errors[name]!.split('\n')[0]!,
        target: '',
        pass: false,
      })
      log(`${name} failed: ${errors[name]}`)
    }
    peakAfter[name] = Math.round(memory.peakMb())
    log(
      `${name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s; service peak RSS so far ${peakAfter[name]} MB`,
    )
  }

  await run(
    'ingest',
    () =>
      benchIngest(
        db,
        stack,
        { id: admin.apiKey.id, secret: admin.secret },
        {
          tasks: sizes.ingestTasks,
          seconds: sizes.loadSeconds,
          warmupSeconds: sizes.ingestWarmup,
          pairs: sizes.ingestPairs,
        },
      ),
    ingestChecks,
  )
  await run(
    'submission',
    () =>
      benchSubmission(
        db,
        stack,
        { id: submitKey.apiKey.id, secret: submitKey.secret },
        {
          seconds: sizes.loadSeconds,
          latencySeconds: sizes.latencySeconds,
          warmupSeconds: sizes.warmup,
        },
      ),
    submissionChecks,
  )
  await run(
    'queries',
    async () => {
      log(`bulk-loading ${sizes.scaleTasks} tasks…`)
      const load = await bulkLoad(db, sizes.scaleTasks)
      log(`loaded: ${JSON.stringify(load)}`)
      // The submission section's tasks finish in the background; measure once they have.
      await waitSettled(db, submitKey.apiKey.id, 120)
      const queries = await benchQueries(stack, admin.secret, {
        seconds: sizes.querySeconds,
        deepPage: sizes.deepPage,
      })
      if (!flags.explain) return { tasks: sizes.scaleTasks, loadSeconds: load, queries }
      const measured = queries.flatMap((q) => ('path' in q ? [{ name: q.name, path: q.path }] : []))
      const explain = await explainEndpoints(db, stack.base, admin.secret, measured)
      for (const e of explain) log(`${e.endpoint}: ${e.executionMs} ms; ${e.plan.split('\n')[0]}`)
      return { tasks: sizes.scaleTasks, loadSeconds: load, queries, explain }
    },
    (r: { queries: Parameters<typeof queryChecks>[0] }) => queryChecks(r.queries),
  )
  await run(
    'e2e',
    () =>
      benchE2e(
        db,
        stack,
        { id: e2eKey.apiKey.id, secret: e2eKey.secret },
        { tasks: sizes.e2eTasks, maxSeconds: sizes.e2eMaxSeconds },
      ),
    e2eChecks,
  )

  const peakMb = Math.max(memory.peakMb(), memoryOf(stack.service.pid)?.peakMb ?? 0)
  memory.stop()
  checks.push(memoryCheck(peakMb))
  await stack.service.stop()

  const complete = !quick && only.length === sections.length && Object.keys(errors).length === 0
  const label = [
    flags.tsx ? 'tsx' : '',
    generator === 'wrk' ? '' : generator,
    quick ? 'quick' : '',
    // Its extension's bookkeeping costs a little on every statement: kept apart from plain runs.
    pgStats ? 'pgstats' : '',
    only.length < sections.length ? `only-${only.join('-')}` : '',
  ].filter(Boolean)
  const file = await writeResults(join(packageRoot, 'bench', 'results'), complete, label.join('-'), {
    date: new Date().toISOString(),
    quick,
    sections: only,
    machine: { ...machine, loadAverageAtEnd: loadavg().map((n) => Math.round(n * 100) / 100) },
    postgres: rows[0]?.version,
    settings: {
      sizes,
      service: {
        run: flags.tsx
          ? 'node --import tsx src/server.ts'
          : 'tsc build: node bench/results/build.tmp/src/server.js',
        nodeOptions,
        env: { ...stack.env, DATABASE_URL: '(bench database)' },
      },
      postgres: `embedded, fsync=off, synchronous_commit=off, full_page_writes=off (ephemeral)${pgStats ? ', pg_stat_statements loaded' : ''}`,
      loadGenerator: generator,
      targets,
    },
    checks,
    results: {
      ...results,
      memory: { peakRssMb: Math.round(peakMb), peakAfterSection: peakAfter },
      ...(pgStats ? { statements } : {}),
    },
    errors,
    notes: [
      'The machine is shared with other sessions running test suites: see the load averages; tail latencies are noisy.',
    ],
    seconds: Math.round((Date.now() - started) / 1000),
  })
  console.log(`\n${table(checks)}\n`)
  console.log(
    `results: ${file}; ${Math.round((Date.now() - started) / 1000)} s in all. The machine is shared: numbers are noisy.`,
  )
  return Object.keys(errors).length === 0 ? 0 : 1
}

runMain(main)
