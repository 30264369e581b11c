import t from 'tap'
import { isUuid, uuidv7 } from '../../src/ids.js'

t.test('uuidv7: version 7, RFC 9562 variant, the given time in the first 48 bits', async (t) => {
  const at = Date.UTC(2026, 11, 3, 12, 0, 0, 123)
  const id = uuidv7(at)
  t.ok(isUuid(id))
  t.equal(id[14], '7', 'version nibble')
  t.match(id[19], /[89ab]/, 'variant bits 10')
  t.equal(Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16), at, 'milliseconds')
})

t.test('uuidv7: ids stay distinct and random across many draws of the random pool', async (t) => {
  const at = Date.now()
  // 10,000 ids in one millisecond: 39 refills of the 256-id pool, every one unique.
  const ids = Array.from({ length: 10_000 }, () => uuidv7(at))
  t.equal(new Set(ids).size, ids.length, 'no repeats')
  for (const id of ids) if (id[14] !== '7' || !/[89ab]/.test(id[19] as string)) t.fail(`bad bits in ${id}`)
  // The 74 random bits are not a counter: every hex digit of the random part appears.
  const randomDigits = new Set(ids.flatMap((id) => [...id.replaceAll('-', '').slice(13)]))
  t.equal(randomDigits.size, 16)
})

t.test('uuidv7: ids of later milliseconds sort after earlier ones', async (t) => {
  const earlier = uuidv7(1_000_000)
  const later = uuidv7(1_000_001)
  t.ok(earlier < later)
})
