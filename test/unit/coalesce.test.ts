/**
 * The coalescer's schedule: calls that arrive while a batch runs share the next one, a batch
 * starts beside a running one only once `minBatchBehind` calls wait, and never more than
 * `maxInFlight` run. The batches' work is held open by the test, so the order is exact.
 */
import { setImmediate as turn } from 'node:timers/promises'
import t from 'tap'
import { coalesce } from '../../src/db/coalesce.js'

function heldBatches() {
  const batches: number[][] = []
  const releases: (() => void)[] = []
  const execute = (items: number[]) => {
    batches.push(items)
    return new Promise<number[]>((resolve) => {
      releases.push(() => resolve(items.map((n) => n * 10)))
    })
  }
  return { batches, release: (i: number) => releases[i]!(), execute }
}

t.test('a batch starts beside a running one only once minBatchBehind calls wait', async (t) => {
  const held = heldBatches()
  const writer = coalesce({ kind: 'test', execute: held.execute, maxInFlight: 2, minBatchBehind: 3 })
  const results = [1, 2, 3].map((n) => writer.run(n))
  await turn()
  t.same(held.batches, [[1, 2, 3]], 'calls of one turn share the first batch, sent at once')

  const second = [4, 5].map((n) => writer.run(n))
  await turn()
  t.same(held.batches.length, 1, 'two waiting are fewer than three: they wait')
  const third = [6].map((n) => writer.run(n))
  await turn()
  t.same(
    held.batches,
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    'the third makes a batch behind the running one',
  )

  const fourth = [7].map((n) => writer.run(n))
  await turn()
  t.equal(held.batches.length, 2, 'two in flight: no third')
  held.release(0)
  t.same(await Promise.all(results), [10, 20, 30])
  await turn()
  t.equal(held.batches.length, 2, 'one left running, and one call waiting is fewer than three')
  held.release(1)
  t.same(await Promise.all([...second, ...third]), [40, 50, 60])
  await turn()
  t.same(held.batches[2], [7], 'with nothing running, a lone call goes at once')
  held.release(2)
  t.same(await Promise.all(fourth), [70])
})

t.test('by default a second batch starts as soon as a call waits', async (t) => {
  const held = heldBatches()
  const reader = coalesce({ kind: 'test', execute: held.execute, maxInFlight: 2 })
  const first = reader.run(1)
  await turn()
  const second = reader.run(2)
  await turn()
  t.same(held.batches, [[1], [2]])
  held.release(1)
  held.release(0)
  t.same(await Promise.all([first, second]), [10, 20])
})
