import t from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'
import { accepts, rejects } from './support.js'

const START = 'https://cdn.example.com/kling-2.1/start.png?v=20260310'
const END = 'https://cdn.example.com/kling-2.1/end.png'
const base = { prompt: 'a woman gestures, it is raining', start_image_url: START }

for (const model of ['kling-2.1/standard', 'kling-2.1/pro']) {
  t.test(`${model}: duration defaults to 5, nothing else is added`, async (t) => {
    const result = accepts(t, model, base)
    t.same(result.ok && result.input, { ...base, duration: 5 })
  })

  t.test(`${model}: prompt is required, at most 5000 characters, not blank`, async (t) => {
    rejects(t, model, { start_image_url: START }, '/input/prompt', /is required/)
    rejects(t, model, { ...base, prompt: 'a'.repeat(5001) }, '/input/prompt', /at most 5000 characters/)
    rejects(t, model, { ...base, prompt: '   ' }, '/input/prompt', /empty or whitespace only/)
    accepts(t, model, { ...base, prompt: 'a'.repeat(5000) })
  })

  t.test(`${model}: start_image_url is required and an absolute http(s) URL`, async (t) => {
    rejects(t, model, { prompt: 'x' }, '/input/start_image_url', /is required/)
    rejects(
      t,
      model,
      { ...base, start_image_url: 'start.png' },
      '/input/start_image_url',
      /absolute http\(s\) URL/,
    )
    rejects(
      t,
      model,
      { ...base, start_image_url: 'http://[::1' },
      '/input/start_image_url',
      /absolute http\(s\) URL/,
    )
    rejects(t, model, { ...base, start_image_url: 42 }, '/input/start_image_url', /must be a string/)
  })

  t.test(`${model}: duration is 5 or 10`, async (t) => {
    for (const duration of [7, '5', 5.5, null]) {
      rejects(t, model, { ...base, duration }, '/input/duration', /must be one of 5, 10/)
    }
    accepts(t, model, { ...base, duration: 10 })
  })

  t.test(`${model}: negative_prompt is optional, at most 2500 characters`, async (t) => {
    rejects(
      t,
      model,
      { ...base, negative_prompt: 'a'.repeat(2501) },
      '/input/negative_prompt',
      /at most 2500/,
    )
    rejects(t, model, { ...base, negative_prompt: '' }, '/input/negative_prompt', /empty/)
    accepts(t, model, { ...base, negative_prompt: 'blur, watermark' })
  })

  t.test(`${model}: unknown fields are rejected`, async (t) => {
    rejects(
      t,
      model,
      { ...base, aspect_ratio: '16:9' },
      '/input/aspect_ratio',
      new RegExp(`is not a field of ${model}`),
    )
  })
}

t.test('end_image_url is only supported by kling-2.1/pro', async (t) => {
  rejects(
    t,
    'kling-2.1/standard',
    { ...base, end_image_url: END },
    '/input/end_image_url',
    /^end_image_url is only supported by kling-2\.1\/pro$/,
  )
  accepts(t, 'kling-2.1/pro', { ...base, end_image_url: END })
  rejects(
    t,
    'kling-2.1/pro',
    { ...base, end_image_url: 'ftp://x/end.png' },
    '/input/end_image_url',
    /http\(s\)/,
  )
})

t.test('all violations come back together', async (t) => {
  const result = normalizeTaskInput('kling-2.1/standard', { duration: 7, end_image_url: END, prompt: '' })
  t.same(result.ok ? [] : result.violations.map((v) => v.pointer).sort(), [
    '/input/duration',
    '/input/end_image_url',
    '/input/prompt',
    '/input/start_image_url',
  ])
})

t.test('credits: standard 30/60, pro 55/110 for 5/10 s', async (t) => {
  const credits = (model: string, duration: number) => {
    const result = normalizeTaskInput(model, { ...base, duration })
    return result.ok ? result.estimatedCredits : undefined
  }
  t.equal(credits('kling-2.1/standard', 5), 30)
  t.equal(credits('kling-2.1/standard', 10), 60)
  t.equal(credits('kling-2.1/pro', 5), 55)
  t.equal(credits('kling-2.1/pro', 10), 110)
  const byDefault = normalizeTaskInput('kling-2.1/pro', base)
  t.equal(byDefault.ok && byDefault.estimatedCredits, 55, 'default duration 5')
})
