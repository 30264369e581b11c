/**
 * The stats plan (src/stats/plan.ts): which parts of a window come from rollup rows, which
 * are counted live, and which are subtracted. Correctness does not hang on these choices
 * (test/queries/stats-rollup.test.ts compares answers); speed does.
 */
import t from 'tap'
import { dayMs, hourMs, planDurations, planWindow } from '../../src/stats/plan.js'

const day0 = Date.parse('2026-11-23T00:00:00Z')
const at = (hours: number, minutes = 0) => day0 + hours * hourMs + minutes * 60_000

t.test('a window ending now reads its last hour whole, less the seconds after it', async (t) => {
  const plan = planWindow(at(-14), at(10, 5), new Set(), at(10, 6))
  t.ok(plan.hours.includes(at(10)), 'the last hour comes from its row')
  t.same(plan.minus, [{ from: at(10, 5), to: at(11) }])
  t.same(plan.live, [])
})

t.test('a window that ended long ago counts a small last part live', async (t) => {
  const plan = planWindow(at(-14), at(10, 5), new Set(), at(30))
  t.notOk(plan.hours.includes(at(10)))
  t.same(plan.live, [{ from: at(10), to: at(10, 5) }])
  t.same(plan.minus, [])
})

t.test('a dirty edge hour is counted live, whatever its shape', async (t) => {
  const plan = planWindow(at(-14), at(10, 55), new Set([at(10)]), at(10, 56))
  t.same(plan.live, [{ from: at(10), to: at(10, 55) }])
  t.same(plan.minus, [])
})

t.test('a leading edge hour mostly inside is its row less the minutes before the window', async (t) => {
  const plan = planWindow(at(2, 10), at(20), new Set(), at(30))
  t.ok(plan.hours.includes(at(2)))
  t.same(plan.minus, [{ from: at(2), to: at(2, 10) }])
})

t.test(
  'durations: an edge day is its row less the rest when the rest is the smaller past part',
  async (t) => {
    const now = at(23, 50)
    const from = now - 30 * dayMs
    const plan = planDurations(from, now, new Set(), now)
    t.equal(plan.days.length, 30, '29 whole days and today, read from day rows')
    t.same(plan.minus, [{ from: now, to: day0 + dayMs }], 'less the (future) rest of today')
    t.same(plan.live, [{ from, to: day0 - 29 * dayMs }], 'the ten minutes of the first day, live')
    const dirty = planDurations(from, now, new Set([at(3)]), now)
    t.same(dirty.live.at(-1), { from: day0, to: now }, 'a day with a dirty hour is read live')
  },
)
