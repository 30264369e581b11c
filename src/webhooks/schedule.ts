/**
 * When to try a webhook again after attempt `n` failed: increasing delays over about a
 * day (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then give up. A receiver's Retry-After
 * (429/503) is honoured when it asks for longer.
 */
const delaysMs = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
]

export const maxAttempts = delaysMs.length + 1

/** Delay before the next attempt after `attempts` attempts, or null when there is none. */
export function nextAttemptDelayMs(attempts: number, retryAfterMs?: number): number | null {
  const base = delaysMs[attempts - 1]
  if (base === undefined) return null
  return Math.min(Math.max(base, retryAfterMs ?? 0), 24 * 3_600_000)
}
