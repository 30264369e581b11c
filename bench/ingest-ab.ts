/**
 * `npm run bench:ingest-ab -- --variant=NAME[:ENV=VALUE,…] --variant=… [--rounds=8]
 * [--seconds=3] [--direct]`: two or more builds of the service, differing only in their
 * environment, on one bench database, take the callback-ingest load (50 connections, each
 * callback a real status change) in alternating bursts, the order reversed every other round;
 * `--direct` adds a burst of the batched direct loop (2 clients, batches of 24) per round.
 * Prints each burst's callbacks/s, then the medians and, for two variants, each round's ratio.
 * A full `npm run bench` per variant differs by more than most changes do on these shared
 * machines; bursts in turn meet the same machine.
 */
import { parseArgs } from 'node:util'
import { createApiKey } from '../src/auth/api-keys.js'
import { createPrismaClient, disconnectPrisma } from '../src/db/client.js'
import { callbackUrl } from '../src/tasks/callback-token.js'
import { insertNotStartedTasks, startBenchDb } from './lib/db.js'
import { directRunner } from './lib/direct-sql.js'
import { appliedRate, finishedIn, ingestConnections as connections, rotation } from './lib/ingest.js'
import { fire, median, type Step, useLoadGenerator } from './lib/load.js'
import { runMain } from './lib/procs.js'
import { wrkAvailable } from './lib/wrk-load.js'
import { callbackSecret, envPair, imageNodeOptions, type Stack, startStack } from './lib/service.js'

const { values: flags } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '3' },
    direct: { type: 'boolean', default: false },
  },
})

interface Variant {
  name: string
  env: Record<string, string>
}

/** `NAME` or `NAME:ENV=VALUE,ENV=VALUE`. */
function parseVariant(text: string): Variant {
  const at = text.indexOf(':')
  const name = at < 0 ? text : text.slice(0, at)
  const pairs =
    at < 0
      ? []
      : text
          .slice(at + 1)
          .split(',')
          .filter(Boolean)
  if (!name) throw new Error(`--variant: expected NAME[:ENV=VALUE,…], got ${text}`)
  return { name, env: Object.fromEntries(pairs.map((pair) => envPair('--variant', pair))) }
}

const variants = (flags.variant ?? []).map(parseVariant)
if (variants.length < 2) throw new Error('give two --variant flags or more')
const rounds = Number(flags.rounds)
const seconds = Number(flags.seconds)
const warmupSeconds = 6
// At rates no 2-core machine reaches, so no variant runs out of fresh tasks.
const tasksPerVariant = 9_000 * (seconds * rounds + warmupSeconds)

/** One variant: its service, its own tasks, and the rate of each of its bursts. */
interface Run {
  variant: Variant
  stack: Stack
  set: string
  step: () => Step
  unsent: (count: number) => void
  rates: number[]
}

async function main(): Promise<number> {
  // As `npm run bench` does: wrk takes far less of the 2 cores than the socket generator.
  const wrk = await wrkAvailable()
  useLoadGenerator(wrk ? 'wrk' : 'sockets')
  console.log(
    `load generator: ${wrk ? 'wrk' : 'sockets (wrk is not installed: bash scripts/ensure-package.sh wrk wrk)'}`,
  )
  const db = await startBenchDb()
  const prisma = createPrismaClient({ url: db.url, poolSize: 2 })
  const admin = await createApiKey(prisma, { name: 'ingest a/b', role: 'admin' })
  await disconnectPrisma(prisma)
  const nodeOptions = await imageNodeOptions()

  const runs: Run[] = []
  for (const [index, variant] of variants.entries()) {
    const stack = await startStack({
      databaseUrl: db.url,
      logLevel: 'warn',
      built: true,
      nodeOptions,
      extraEnv: variant.env,
    })
    const set = `c0000${index.toString(16).padStart(2, '0')}0`
    await insertNotStartedTasks(db.pool, set, tasksPerVariant, admin.apiKey.id)
    const { step, unsent } = rotation(set, tasksPerVariant, (id) => callbackUrl('', callbackSecret, id))
    runs.push({ variant, stack, set, step, unsent, rates: [] })
  }
  const directSet = 'c00000ff'
  const direct = flags.direct
    ? await insertNotStartedTasks(db.pool, directSet, 20_000 * seconds * rounds, admin.apiKey.id).then(() =>
        directRunner(db.url, directSet, { clients: 2, batch: 24 }),
      )
    : null
  await db.pool.query('VACUUM (ANALYZE) tasks')
  // The first bursts of a process cost about twice the CPU per callback (V8 compiles the route).
  for (const run of runs)
    await fire({
      base: run.stack.base,
      connections,
      seconds: warmupSeconds,
      step: run.step,
      unsent: run.unsent,
    })

  const directRates: number[] = []
  for (let round = 0; round < rounds; round++) {
    for (const run of round % 2 ? [...runs].reverse() : runs) {
      const before = await finishedIn(db, run.set, tasksPerVariant)
      const burst = await fire({
        base: run.stack.base,
        connections,
        seconds,
        step: run.step,
        unsent: run.unsent,
      })
      run.rates.push(appliedRate((await finishedIn(db, run.set, tasksPerVariant)) - before, burst))
    }
    if (direct) directRates.push((await direct.run(seconds)).tps)
    const line = runs.map((run) => `${run.variant.name} ${run.rates[round]!.toFixed(0)}/s`)
    if (direct) line.push(`direct ${directRates[round]!.toFixed(0)}/s`)
    console.log(`round ${round + 1}: ${line.join('  ')}`)
  }
  await direct?.close()

  const medians = runs.map((run) => `${run.variant.name} ${median(run.rates).toFixed(0)}/s`)
  if (direct) medians.push(`direct ${median(directRates).toFixed(0)}/s`)
  console.log(`medians: ${medians.join('  ')}`)
  if (runs.length === 2) {
    const [first, second] = runs as [Run, Run]
    const ratios = second.rates.map((rate, round) => rate / first.rates[round]!)
    console.log(
      `${second.variant.name} / ${first.variant.name} per round: ${ratios.map((r) => r.toFixed(3)).join(' ')}; median ${median(ratios).toFixed(3)}`,
    )
  }
  return 0
}

runMain(main)
