import t from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'
import { checksFor } from './support.js'

const MODEL = 'hailuo-2.3'
const base = { prompt: 'a dancer on a small drone, doing flips' }

const { rejects, accepts } = checksFor(MODEL)

t.test('duration defaults to 6 and resolution to 768p, nothing else is added', async (t) => {
  const result = accepts(t, base)
  t.same(result.ok && result.input, { ...base, duration: 6, resolution: '768p' })
})

t.test('prompt is required, at most 5000 characters, not blank', async (t) => {
  rejects(t, {}, '/input/prompt', /is required/)
  rejects(t, { prompt: 'a'.repeat(5001) }, '/input/prompt', /at most 5000 characters/)
  rejects(t, { prompt: ' ' }, '/input/prompt', /empty or whitespace only/)
  accepts(t, { prompt: 'a'.repeat(5000) })
})

t.test('duration is 6 or 10', async (t) => {
  rejects(t, { ...base, duration: 5 }, '/input/duration', /must be one of 6, 10/)
  accepts(t, { ...base, duration: 10 })
})

t.test('resolution is 768p or 1080p', async (t) => {
  rejects(t, { ...base, resolution: '720p' }, '/input/resolution', /must be one of "768p", "1080p"/)
  accepts(t, { ...base, resolution: '1080p' })
})

t.test('1080p only with duration 6', async (t) => {
  rejects(
    t,
    { ...base, resolution: '1080p', duration: 10 },
    '/input/resolution',
    /^1080p is only available with duration 6$/,
  )
  accepts(t, { ...base, resolution: '1080p', duration: 6 })
  accepts(t, { ...base, resolution: '768p', duration: 10 })
})

t.test('start_image_url is an optional absolute http(s) URL', async (t) => {
  rejects(
    t,
    { ...base, start_image_url: 'data:image/png;base64,AAAA' },
    '/input/start_image_url',
    /http\(s\)/,
  )
  accepts(t, { ...base, start_image_url: 'https://cdn.example.com/first.webp' })
})

t.test('prompt_optimizer is a boolean', async (t) => {
  rejects(t, { ...base, prompt_optimizer: 'yes' }, '/input/prompt_optimizer', /must be true or false/)
  const result = accepts(t, { ...base, prompt_optimizer: true })
  t.equal(result.ok && result.input['prompt_optimizer'], true)
})

t.test('end_image_url is not supported, and says so', async (t) => {
  rejects(
    t,
    { ...base, end_image_url: 'https://cdn.example.com/e.png' },
    '/input/end_image_url',
    /end_image_url is not supported by hailuo-2\.3/,
  )
})

t.test('other unknown fields are rejected', async (t) => {
  rejects(t, { ...base, negative_prompt: 'x' }, '/input/negative_prompt', /is not a field of hailuo-2\.3/)
})

t.test('credits: 768p 35/70, 1080p 60', async (t) => {
  const credits = (input: object) => {
    const result = normalizeTaskInput(MODEL, { ...base, ...input })
    return result.ok ? result.estimatedCredits : undefined
  }
  t.equal(credits({}), 35)
  t.equal(credits({ duration: 6, resolution: '768p' }), 35)
  t.equal(credits({ duration: 10 }), 70)
  t.equal(credits({ duration: 6, resolution: '1080p' }), 60)
})
