/** When to ask PoYo again about a task: soon at first, sparser as it runs on. */

/** First poll after PoYo accepts a task (PoYo suggests polling every 2–5 s). */
export const firstPollDelayMs = 2_000

const pollCapMs = 30_000

/** Delay before poll number `attempt + 1`: 2 s, 3 s, 4.5 s, … up to 30 s. */
export function nextPollDelayMs(attempt: number): number {
  return Math.min(pollCapMs, Math.round(firstPollDelayMs * 1.5 ** Math.max(0, attempt)))
}
