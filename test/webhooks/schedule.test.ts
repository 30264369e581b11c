/** The webhook retry schedule (src/webhooks/schedule.ts): increasing, about a day, Retry-After honoured. */
import t from 'tap'
import { maxAttempts, nextAttemptDelayMs } from '../../src/webhooks/schedule.js'

const hour = 3_600_000

const delays: number[] = []
for (let attempts = 1; attempts < maxAttempts; attempts++) {
  const delay = nextAttemptDelayMs(attempts)
  if (delay === null) break
  delays.push(delay)
}

t.test('delays increase from seconds to hours, over about a day', async (t) => {
  t.equal(delays.length, maxAttempts - 1, 'a delay after every attempt but the last')
  t.ok(delays.length >= 5, `several retries (${delays.length})`)
  t.equal(delays[0], 5_000, 'the first retry comes 5 s after the first attempt')
  for (let i = 1; i < delays.length; i++) {
    t.ok((delays[i] ?? 0) >= (delays[i - 1] ?? 0), `delay ${i + 1} (${delays[i]} ms) ≥ delay ${i}`)
  }
  t.ok((delays.at(-1) ?? 0) > (delays[0] ?? 0) * 1000, 'the last delay is hours, not seconds')
  const total = delays.reduce((sum, delay) => sum + delay, 0)
  t.ok(total >= 20 * hour && total <= 30 * hour, `about a day in total (${(total / hour).toFixed(1)} h)`)
})

t.test('after the last attempt there is none', async (t) => {
  t.equal(nextAttemptDelayMs(maxAttempts), null)
  t.equal(nextAttemptDelayMs(maxAttempts + 5), null)
  t.equal(nextAttemptDelayMs(maxAttempts, hour), null, 'Retry-After does not add an attempt')
  t.not(nextAttemptDelayMs(maxAttempts - 1), null, 'the one before still has one')
})

t.test('Retry-After is honoured when longer, capped at a day', async (t) => {
  t.equal(nextAttemptDelayMs(1, hour), hour, 'an hour asked, an hour given')
  t.equal(nextAttemptDelayMs(1, 1_000), 5_000, 'a shorter Retry-After does not hurry the schedule')
  t.equal(nextAttemptDelayMs(1, 0), 5_000)
  t.equal(nextAttemptDelayMs(3, 3 * hour), 3 * hour)
  t.equal(nextAttemptDelayMs(1, 30 * 24 * hour), 24 * hour, 'a month asked: capped at a day')
  t.ok((nextAttemptDelayMs(maxAttempts - 1, 7 * 24 * hour) ?? Infinity) <= 24 * hour, 'capped late too')
})
