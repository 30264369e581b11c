/** The submit retry schedule: exponential, capped, jittered, and never sooner than Retry-After. */
import t from 'tap'
import { retryDelayMs } from '../../src/tasks/submit-task.js'

const BASE_MS = 1_000
const CAP_MS = 5 * 60_000
const fixed = (value: number) => () => value

t.test('grows exponentially from 1 s: attempt n waits between half and all of 2^(n-1) s', async (t) => {
  for (let attempt = 1; attempt <= 8; attempt++) {
    const ceiling = BASE_MS * 2 ** (attempt - 1)
    t.equal(retryDelayMs(attempt, undefined, fixed(0)), ceiling / 2, `attempt ${attempt}, least jitter`)
    t.equal(retryDelayMs(attempt, undefined, fixed(1)), ceiling, `attempt ${attempt}, most jitter`)
  }
  // With the same draw each time, every attempt waits twice as long as the one before.
  const delays = [1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, undefined, fixed(0.5)))
  t.same(delays, [750, 1500, 3000, 6000, 12000, 24000])
})

t.test('is capped at 5 minutes, however many attempts', async (t) => {
  for (const attempt of [10, 20, 50, 1000, Number.MAX_SAFE_INTEGER]) {
    t.equal(retryDelayMs(attempt, undefined, fixed(1)), CAP_MS, `attempt ${attempt}: at most the cap`)
    t.equal(retryDelayMs(attempt, undefined, fixed(0)), CAP_MS / 2, `attempt ${attempt}: at least half of it`)
  }
  // The cap is reached at attempt 10 (2^9 s = 512 s > 300 s), not before.
  t.ok(retryDelayMs(9, undefined, fixed(1)) < CAP_MS)
})

t.test('jitter stays within [half, all] of the exponential step and spreads the delays', async (t) => {
  let seed = 12345
  const random = () => {
    // A small deterministic LCG, so a failure can be reproduced.
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** (attempt - 1))
    const samples = Array.from({ length: 200 }, () => retryDelayMs(attempt, undefined, random))
    t.ok(
      samples.every((delay) => delay >= ceiling / 2 && delay <= ceiling && Number.isInteger(delay)),
      `attempt ${attempt}: every delay is a whole number of ms in [${ceiling / 2}, ${ceiling}]`,
    )
    t.ok(new Set(samples).size > 50, `attempt ${attempt}: the delays differ (jitter)`)
  }
})

t.test('never sooner than Retry-After', async (t) => {
  t.equal(retryDelayMs(1, 60_000, fixed(1)), 60_000, 'a long Retry-After beats a short backoff')
  t.equal(retryDelayMs(1, 2_000, fixed(0)), 2_000)
  t.equal(retryDelayMs(1, 1_001, fixed(1)), 1_001)
  t.equal(retryDelayMs(12, 10 * 60_000, fixed(1)), 10 * 60_000, 'Retry-After even beats the cap')
  t.equal(retryDelayMs(6, 1_000, fixed(0)), 16_000, 'a short Retry-After does not shorten the backoff')
  t.equal(retryDelayMs(3, 0, fixed(0)), 2_000, 'Retry-After: 0 changes nothing')
  for (let attempt = 1; attempt <= 12; attempt++) {
    for (const retryAfter of [500, 3_000, 45_000, 400_000]) {
      for (const draw of [0, 0.3, 0.99]) {
        t.ok(retryDelayMs(attempt, retryAfter, fixed(draw)) >= retryAfter)
      }
    }
  }
})

t.test('an attempt number below 1 is treated as the first', async (t) => {
  t.equal(retryDelayMs(0, undefined, fixed(1)), BASE_MS)
  t.equal(retryDelayMs(-3, undefined, fixed(0)), BASE_MS / 2)
})
