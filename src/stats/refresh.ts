import type { PrismaClient } from '../db/client.js'
import type { Prisma } from '../generated/prisma/client.js'
import { foldDurationDeltas, foldRollupDeltas } from './fold.js'
import { dayMs, floorTo } from './plan.js'
import { recountDurations, recountHours } from './recount.js'

type Tx = Prisma.TransactionClient

/** Any fixed number: the advisory lock that keeps refreshes one at a time. */
const refreshLockKey = 727_465_001

export interface RefreshOptions {
  /** Dirty hours recounted per transaction (an upgraded database may hold thousands). */
  maxHours?: number
  /** Delta rows taken from each delta log per transaction (keeps each one short after an outage). */
  maxDeltas?: number
  /** Tests: runs inside each transaction after the fold and recounts, just before it commits. */
  beforeCommit?: (tx: Tx) => Promise<void>
}

export interface RefreshResult {
  /** Delta rows folded (rollup and durations). */
  deltas: number
  /** Hours recounted from `tasks` (named in `stats_dirty`). */
  hours: number
  /** Days whose duration histograms were recounted from `tasks`. */
  days: number
}

type BatchSizes = Required<Pick<RefreshOptions, 'maxHours' | 'maxDeltas'>>

/**
 * One transaction: take a batch of dirty hours, fold a batch of each delta log, then recount
 * what deltas cannot say (the dirty hours, and the days that lost a duration). This cannot
 * lose a change: a task change commits with its delta rows (or, before the deltas existed,
 * its dirty rows). A delta this fold took is in the rollup when it commits; one committed
 * later is not seen by the DELETE that takes them, and stays for the next refresh. Recounted
 * buckets drop their deltas in the recount's own statement (src/stats/recount.ts), and a
 * dirty row taken here precedes the recount's snapshot (each statement takes a new one in
 * READ COMMITTED), so its change is in the recount. Until a refresh takes them, the stats
 * query reads pending deltas with the rollup, and counts dirty hours live.
 */
async function refreshBatch(prisma: PrismaClient, options: RefreshOptions & BatchSizes) {
  return prisma.$transaction(
    async (tx): Promise<RefreshResult & { full: boolean }> => {
      // One refresh at a time, even outside the queue: the fold deletes emptied rows by ctid, and
      // two recounts of a bucket would insert the same keys.
      await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${refreshLockKey}::bigint)`
      const taken = await tx.$queryRaw<{ ms: number }[]>`
        WITH chosen AS (SELECT DISTINCT bucket FROM stats_dirty ORDER BY bucket LIMIT ${options.maxHours}),
        taken AS (DELETE FROM stats_dirty d USING chosen c WHERE d.bucket = c.bucket RETURNING d.bucket)
        SELECT DISTINCT (extract(epoch FROM bucket) * 1000)::float8 AS ms FROM taken`
      const hours = taken.map((row) => row.ms)
      const dirtyDays = [...new Set(hours.map((hour) => floorTo(hour, dayMs)))]
      const rollupDeltas = await foldRollupDeltas(tx, options.maxDeltas)
      const durations = await foldDurationDeltas(tx, options.maxDeltas, dirtyDays)
      await recountHours(tx, hours)
      const days = [...new Set([...dirtyDays, ...durations.removals])]
      await recountDurations(tx, days)
      await options.beforeCommit?.(tx)
      return {
        deltas: rollupDeltas + durations.taken,
        hours: hours.length,
        days: days.length,
        // A full batch may have left more; a partial one took all there was when it ran.
        full:
          hours.length === options.maxHours ||
          rollupDeltas === options.maxDeltas ||
          durations.taken === options.maxDeltas,
      }
    },
    { maxWait: 10_000, timeout: 10 * 60_000 },
  )
}

/** Brings the rollup up to date with every change committed before it started. */
export async function refreshStats(
  prisma: PrismaClient,
  options: RefreshOptions = {},
): Promise<RefreshResult> {
  const batch = { maxHours: 7 * 24, maxDeltas: 50_000, ...options }
  const total: RefreshResult = { deltas: 0, hours: 0, days: 0 }
  for (;;) {
    const { full, ...done } = await refreshBatch(prisma, batch)
    total.deltas += done.deltas
    total.hours += done.hours
    total.days += done.days
    if (!full) return total
  }
}
