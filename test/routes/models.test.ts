/** GET /v1/models: the catalog a client reads to build valid requests and estimate cost. */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const { app } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })

interface ModelEntry {
  id: string
  family: string
  title: string
  input_schema: {
    type?: unknown
    properties?: Record<string, Record<string, unknown>>
    required?: string[]
    additionalProperties?: unknown
  }
  defaults: Record<string, unknown>
  credits: { pricing: string; examples: { input: Record<string, unknown>; credits: number }[] }
}

const response = await app.inject({ method: 'GET', url: '/v1/models' })
const catalog = (response.json().data ?? []) as ModelEntry[]
const byId = new Map(catalog.map((entry) => [entry.id, entry]))
const model = (id: string): ModelEntry => {
  const entry = byId.get(id)
  if (!entry) throw new Error(`model ${id} is missing from GET /v1/models`)
  return entry
}

/** Credits for each example, keyed by its input as JSON (sorted keys). */
const examples = (id: string) =>
  Object.fromEntries(
    model(id).credits.examples.map((example) => [
      JSON.stringify(Object.fromEntries(Object.entries(example.input).sort())),
      example.credits,
    ]),
  )
const key = (input: Record<string, unknown>) =>
  JSON.stringify(Object.fromEntries(Object.entries(input).sort()))

t.test('GET /v1/models lists the 7 models, each once', async (t) => {
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^application\/json/)
  t.same(catalog.map((entry) => entry.id).sort(), [
    'hailuo-2.3',
    'kling-2.1/pro',
    'kling-2.1/standard',
    'kling-2.5-turbo-pro',
    'kling-3.0-motion-control',
    'kling-3.0/pro',
    'kling-3.0/standard',
  ])
  t.same(
    Object.fromEntries(catalog.map((entry) => [entry.id, entry.family])),
    {
      'hailuo-2.3': 'hailuo-2.3',
      'kling-2.1/pro': 'kling-2.1',
      'kling-2.1/standard': 'kling-2.1',
      'kling-2.5-turbo-pro': 'kling-2.5-turbo-pro',
      'kling-3.0-motion-control': 'kling-3.0-motion-control',
      'kling-3.0/pro': 'kling-3.0',
      'kling-3.0/standard': 'kling-3.0',
    },
    'each model names its family',
  )
})

t.test('each model has a JSON Schema of its input', async (t) => {
  for (const entry of catalog) {
    const schema = entry.input_schema
    t.equal(schema.type, 'object', `${entry.id}: type object`)
    t.equal(schema.additionalProperties, false, `${entry.id}: unknown fields are rejected`)
    t.ok(schema.properties && Object.keys(schema.properties).length > 0, `${entry.id}: has properties`)
    t.match(entry.title, /\S/, `${entry.id}: has a title`)
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      t.ok(
        'type' in property || 'anyOf' in property,
        `${entry.id}.${name} is described by a type or a list of choices`,
      )
    }
  }
  // The documented required fields and enums are visible in the schema.
  t.same(model('hailuo-2.3').input_schema.required, ['prompt'])
  t.same([...(model('kling-2.1/standard').input_schema.required ?? [])].sort(), ['prompt', 'start_image_url'])
  t.same(model('kling-3.0/standard').input_schema.required, ['duration'])
  t.same([...(model('kling-3.0-motion-control').input_schema.required ?? [])].sort(), [
    'character_orientation',
    'image_urls',
    'video_urls',
  ])
  t.ok(model('kling-2.1/pro').input_schema.properties?.['end_image_url'], 'kling-2.1/pro has end_image_url')
  t.notOk(
    model('kling-2.1/standard').input_schema.properties?.['end_image_url'],
    'kling-2.1/standard has no end_image_url',
  )
  t.notOk(model('hailuo-2.3').input_schema.properties?.['end_image_url'], 'hailuo-2.3 has no end_image_url')
  t.match(model('kling-3.0/pro').input_schema.properties?.['duration'], { minimum: 3, maximum: 15 })
  t.match(model('hailuo-2.3').input_schema.properties?.['resolution'], {
    anyOf: [{ const: '768p' }, { const: '1080p' }],
    default: '768p',
  })
  t.match(model('kling-3.0/standard').input_schema.properties?.['prompt'], { maxLength: 2500 })
  t.match(model('hailuo-2.3').input_schema.properties?.['prompt'], { maxLength: 5000 })
  t.match(model('kling-2.1/pro').input_schema.properties?.['prompt'], { maxLength: 5000 })
})

t.test('defaults are the documented ones', async (t) => {
  t.same(model('hailuo-2.3').defaults, { duration: 6, resolution: '768p' })
  t.same(model('kling-3.0/standard').defaults, { multi_shots: false, sound: true })
  t.same(model('kling-3.0/pro').defaults, { multi_shots: false, sound: true })
  t.same(model('kling-2.1/standard').defaults, { duration: 5 })
  t.same(model('kling-2.1/pro').defaults, { duration: 5 })
  t.same(model('kling-2.5-turbo-pro').defaults, { duration: 5 })
  t.same(model('kling-3.0-motion-control').defaults, { resolution: '720p' })
})

t.test('credit examples match PoYo’s published prices', async (t) => {
  for (const entry of catalog) t.match(entry.credits.pricing, /\S/, `${entry.id}: pricing in words`)

  const kling30 = (perSecondWithSound: number, perSecondWithout: number) =>
    Object.fromEntries(
      [3, 5, 10, 15].flatMap((duration) => [
        [key({ duration, sound: true }), duration * perSecondWithSound],
        [key({ duration, sound: false }), duration * perSecondWithout],
      ]),
    )
  t.same(examples('kling-3.0/standard'), kling30(39, 27))
  t.same(examples('kling-3.0/pro'), kling30(49, 39))
  t.same(examples('kling-2.1/standard'), { [key({ duration: 5 })]: 30, [key({ duration: 10 })]: 60 })
  t.same(examples('kling-2.1/pro'), { [key({ duration: 5 })]: 55, [key({ duration: 10 })]: 110 })
  t.same(examples('kling-2.5-turbo-pro'), { [key({ duration: 5 })]: 42, [key({ duration: 10 })]: 84 })
  t.same(examples('hailuo-2.3'), {
    [key({ duration: 6, resolution: '768p' })]: 35,
    [key({ duration: 10, resolution: '768p' })]: 70,
    [key({ duration: 6, resolution: '1080p' })]: 60,
  })
  // PoYo publishes no price for motion control: no made-up examples.
  t.same(model('kling-3.0-motion-control').credits.examples, [])
  t.match(model('kling-3.0-motion-control').credits.pricing, /no price/)
})

t.test('the catalog agrees with the estimates POST /v1/tasks gives', async (t) => {
  // WORKERS_ENABLED is off: these tasks are stored but never submitted.
  const cases = [
    { model: 'hailuo-2.3', input: { prompt: 'x', duration: 6, resolution: '1080p' } },
    { model: 'kling-3.0/pro', input: { prompt: 'x', duration: 15, sound: false } },
    {
      model: 'kling-2.1/pro',
      input: { prompt: 'x', start_image_url: 'https://a.example/s.png', duration: 10 },
    },
  ]
  for (const c of cases) {
    const created = await app.inject({ method: 'POST', url: '/v1/tasks', payload: c })
    t.equal(created.statusCode, 202)
    const { prompt: _p, start_image_url: _s, ...priced } = c.input as Record<string, unknown>
    t.equal(created.json().estimated_credits, examples(c.model)[key(priced)], c.model)
  }
})

t.test('the model list is public data: no TypeBox internals leak', async (t) => {
  t.notMatch(response.body, /\[Kind\]|Symbol\(/)
  t.equal(response.json().data.length, 7)
})
