import t from 'tap'
import { modelCatalog, modelCatalogJson, normalizeTaskInput } from '../../src/models/index.js'

const IDS = [
  'kling-3.0/standard',
  'kling-3.0/pro',
  'kling-2.1/standard',
  'kling-2.1/pro',
  'kling-3.0-motion-control',
  'kling-2.5-turbo-pro',
  'hailuo-2.3',
]

const GARBAGE: unknown[] = [
  null,
  undefined,
  0,
  -1,
  Number.NaN,
  '',
  'prompt',
  true,
  [],
  [{ prompt: 'x' }],
  {},
  { prompt: null, duration: {}, image_urls: [[[]]], kling_elements: [null, 1, 'x', [], { name: {} }] },
  { multi_shots: 'yes', multi_prompt: { 0: { prompt: 'x' } }, sound: 0, resolution: ['1080p'] },
  { image_urls: 'https://x.com/a.png', video_urls: [{}], character_orientation: 1, kling_elements: {} },
  { prompt: 'x'.repeat(100_000), duration: Number.POSITIVE_INFINITY, start_image_url: 'https://' },
  { a: { b: { c: { d: { e: [1, [2, [3, [4]]]] } } } } },
  Object.create(null),
  JSON.parse('{"__proto__": {"prompt": "x"}, "constructor": 1}'),
  new Date(0),
  { duration: 10n },
]

t.test('the catalog holds the 7 documented models, each under its own id', async (t) => {
  t.same([...modelCatalog.keys()], IDS)
  for (const [id, model] of modelCatalog) t.equal(model.id, id)
})

t.test('unknown model → one violation at /model naming the known models', async (t) => {
  for (const model of ['kling-9', '', 'KLING-3.0/PRO', 42, null, undefined, { id: 'hailuo-2.3' }]) {
    const result = normalizeTaskInput(model, { prompt: 'x' })
    t.same(result.ok ? [] : result.violations.map((v) => v.pointer), ['/model'], String(model))
    t.match(
      result.ok ? '' : result.violations[0]?.message,
      /known models: kling-3\.0\/standard, .*hailuo-2\.3/,
    )
  }
  const named = normalizeTaskInput('kling-9', {})
  t.match(named.ok ? '' : named.violations[0]?.message, /^unknown model "kling-9"/)
})

t.test('input that is not an object → one violation at /input', async (t) => {
  for (const input of [null, undefined, 'x', 5, true, [], [{ prompt: 'x' }]]) {
    t.same(normalizeTaskInput('hailuo-2.3', input), {
      ok: false,
      violations: [{ pointer: '/input', message: 'must be an object' }],
    })
  }
})

t.test('garbage never throws and always yields violations with /input pointers', async (t) => {
  for (const id of IDS) {
    for (const [i, input] of GARBAGE.entries()) {
      const result = normalizeTaskInput(id, input)
      t.notOk(result.ok, `${id} rejects garbage #${i}`)
      const violations = result.ok ? [] : result.violations
      t.ok(violations.length > 0)
      t.ok(
        violations.every(
          (v) => v.pointer.startsWith('/input') && typeof v.message === 'string' && v.message !== '',
        ),
        JSON.stringify(violations),
      )
    }
  }
  const cyclic: Record<string, unknown> = { prompt: 'x' }
  cyclic['self'] = cyclic
  const throwing = Object.defineProperty({ prompt: 'x' }, 'boom', {
    enumerable: true,
    get() {
      throw new Error('boom')
    },
  })
  for (const input of [cyclic, throwing]) {
    t.same(normalizeTaskInput('hailuo-2.3', input), {
      ok: false,
      violations: [{ pointer: '/input', message: 'could not be read as JSON data' }],
    })
  }
})

t.test('unknown input fields are named in the pointer', async (t) => {
  const result = normalizeTaskInput('kling-2.5-turbo-pro', { prompt: 'x', colour: 'red', 'a/b': 1 })
  t.same(result.ok ? [] : result.violations.map((v) => v.pointer), ['/input/colour', '/input/a~1b'])
  t.match(
    result.ok ? '' : result.violations[0]?.message,
    /^is not a field of kling-2\.5-turbo-pro \(its fields: prompt,/,
  )
  const proto = normalizeTaskInput('hailuo-2.3', JSON.parse('{"prompt":"x","__proto__":{},"toString":1}'))
  t.same(proto.ok ? [] : proto.violations.map((v) => v.pointer), ['/input/__proto__', '/input/toString'])
})

t.test('schema violations are reported all at once, one per pointer', async (t) => {
  const result = normalizeTaskInput('kling-3.0/pro', {
    prompt: 7,
    duration: 99,
    aspect_ratio: 'wide',
    extra: true,
  })
  t.same(result.ok ? [] : result.violations, [
    {
      pointer: '/input/extra',
      message:
        'is not a field of kling-3.0/pro (its fields: prompt, duration, multi_shots, sound, ' +
        'multi_prompt, image_urls, kling_elements, aspect_ratio)',
    },
    { pointer: '/input/prompt', message: 'must be a string' },
    { pointer: '/input/duration', message: 'must be an integer between 3 and 15' },
    { pointer: '/input/aspect_ratio', message: 'must be one of "1:1", "16:9", "9:16"' },
  ])
  // A missing required field is reported once, as "is required".
  const missing = normalizeTaskInput('kling-2.1/pro', {})
  t.same(missing.ok ? [] : missing.violations, [
    { pointer: '/input/prompt', message: 'is required' },
    { pointer: '/input/start_image_url', message: 'is required' },
  ])
})

t.test('the normalized input is a copy, with defaults and nothing more', async (t) => {
  const input = { prompt: 'x', start_image_url: 'https://x.com/a.png', negative_prompt: undefined }
  const result = normalizeTaskInput('kling-2.1/pro', input)
  t.same(result.ok && result.input, { prompt: 'x', start_image_url: 'https://x.com/a.png', duration: 5 })
  t.not(result.ok && result.input, input)
  t.same(Object.keys(input), ['prompt', 'start_image_url', 'negative_prompt'], 'caller input untouched')
  t.equal(result.ok && result.model.id, 'kling-2.1/pro')
  const explicit = normalizeTaskInput('hailuo-2.3', { prompt: 'x', duration: 10, resolution: '768p' })
  t.same(explicit.ok && explicit.input, { prompt: 'x', duration: 10, resolution: '768p' }, 'given values win')
})

t.test('modelCatalogJson: plain JSON for GET /v1/models', async (t) => {
  const catalog = modelCatalogJson()
  t.same(
    catalog.map((m) => m.id),
    IDS,
  )
  t.same(JSON.parse(JSON.stringify(catalog)), catalog, 'survives a JSON round trip unchanged')
  for (const entry of catalog) {
    t.equal(Object.getOwnPropertySymbols(entry.input_schema).length, 0, `${entry.id}: no TypeBox symbols`)
    t.equal(entry.input_schema['type'], 'object')
    t.equal(entry.input_schema['additionalProperties'], false)
    const properties = entry.input_schema['properties'] as Record<string, { description?: string }>
    for (const [name, property] of Object.entries(properties)) {
      t.type(property.description, 'string', `${entry.id}.${name} has a description`)
    }
    t.type(entry.credits.pricing, 'string')
  }
  const byId = new Map(catalog.map((m) => [m.id, m]))
  t.same(byId.get('kling-3.0/pro')?.defaults, { multi_shots: false, sound: true })
  t.same(byId.get('kling-2.1/standard')?.defaults, { duration: 5 })
  t.same(byId.get('kling-2.5-turbo-pro')?.defaults, { duration: 5 })
  t.same(byId.get('hailuo-2.3')?.defaults, { duration: 6, resolution: '768p' })
  t.same(byId.get('kling-3.0-motion-control')?.defaults, { resolution: '720p' })
  t.same(byId.get('hailuo-2.3')?.credits.examples, [
    { input: { duration: 6, resolution: '768p' }, credits: 35 },
    { input: { duration: 10, resolution: '768p' }, credits: 70 },
    { input: { duration: 6, resolution: '1080p' }, credits: 60 },
  ])
  t.same(byId.get('kling-2.1/pro')?.credits.examples, [
    { input: { duration: 5 }, credits: 55 },
    { input: { duration: 10 }, credits: 110 },
  ])
  t.match(byId.get('kling-3.0/standard')?.credits.examples, [
    { input: { duration: 3, sound: true }, credits: 117 },
    { input: { duration: 3, sound: false }, credits: 81 },
  ])
  t.match(byId.get('kling-3.0-motion-control')?.credits, { pricing: /documents no price/, examples: [] })
  t.same(
    (byId.get('kling-3.0/pro')?.input_schema['required'] as string[] | undefined) ?? [],
    ['duration'],
    'kling-3.0 duration is required, with no default',
  )
})
