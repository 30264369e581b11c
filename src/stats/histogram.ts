import { Prisma } from '../generated/prisma/client.js'

/**
 * Submit-to-finish durations as mergeable histograms. Exact percentiles cannot be added up
 * from per-day parts, so each day keeps, per model, the count of durations in log-spaced
 * bins (32 per doubling) with the smallest and largest value of each bin.
 *
 * Error bound: the order statistics a percentile needs are found in the right bin (counts
 * are exact), and each is estimated by spreading the bin's values evenly between its min
 * and max; true and estimated value lie in the same bin, whose width is at most
 * 2^(1/32) − 1 ≈ 2.2% of its lower edge. So p50/p95 are within 2.2% of percentile_cont's
 * value (durations under 1 ms share one bin, bounded by its min and max), and exact when
 * no bin involved holds more than two durations.
 */
export const binsPerDoubling = 32
export const relativeErrorBound = 2 ** (1 / binsPerDoubling) - 1

/** The duration the stats report, in seconds (as the pre-rollup query computed it). */
export const durationSecondsSql = Prisma.sql`extract(epoch FROM finished_at - submitted_at)::float8`

/** The bin of a duration; the refresh and the live edges must use this same expression. */
// A literal, not a parameter: queries group by this expression, and two parameters would differ.
export const durationBinSql = Prisma.sql`floor(ln(greatest(${durationSecondsSql}, 0.001)) * ${Prisma.raw(String(binsPerDoubling / Math.LN2))})::int`

/** Which tasks have a duration: finished, with both timestamps. */
export const hasDurationSql = Prisma.sql`status = 'finished' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL`

export interface Bin {
  bin: number
  tasks: number
  min: number
  max: number
}

/** The i-th smallest duration (0-based), estimated: a bin's values evenly spaced over [min, max]. */
function orderStatistic(bins: Bin[], index: number): number {
  let before = 0
  for (const bin of bins) {
    if (index < before + bin.tasks) {
      const within = index - before
      return bin.tasks === 1 ? bin.min : bin.min + ((bin.max - bin.min) * within) / (bin.tasks - 1)
    }
    before += bin.tasks
  }
  throw new RangeError(`order statistic ${index} of ${before}`)
}

/** percentile_cont(q) over the histogram: interpolates between the two order statistics it needs. */
export function percentile(bins: Bin[], q: number): number | null {
  const sorted = [...bins].sort((a, b) => a.bin - b.bin)
  const count = sorted.reduce((sum, bin) => sum + bin.tasks, 0)
  if (count === 0) return null
  const position = q * (count - 1)
  const lower = Math.floor(position)
  const low = orderStatistic(sorted, lower)
  if (position === lower) return low
  return low + (orderStatistic(sorted, lower + 1) - low) * (position - lower)
}
