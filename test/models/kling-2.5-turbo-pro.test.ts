import t from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'
import { checksFor } from './support.js'

const MODEL = 'kling-2.5-turbo-pro'
const base = { prompt: 'A man with an umbrella walks through Tokyo at night' }

const { rejects, accepts } = checksFor(MODEL)

t.test('prompt-only input gets duration 5 and nothing else', async (t) => {
  const result = accepts(t, base)
  t.same(result.ok && result.input, { ...base, duration: 5 })
})

t.test('prompt is required, at most 2500 characters, not blank', async (t) => {
  rejects(t, {}, '/input/prompt', /is required/)
  rejects(t, { prompt: 'a'.repeat(2501) }, '/input/prompt', /at most 2500 characters/)
  rejects(t, { prompt: '\n' }, '/input/prompt', /empty or whitespace only/)
  accepts(t, { prompt: 'a'.repeat(2500) })
})

t.test('duration is 5 or 10', async (t) => {
  rejects(t, { ...base, duration: 6 }, '/input/duration', /must be one of 5, 10/)
  accepts(t, { ...base, duration: 10 })
})

t.test('start_image_url and end_image_url are optional absolute http(s) URLs', async (t) => {
  for (const field of ['start_image_url', 'end_image_url']) {
    rejects(t, { ...base, [field]: 'file:///tmp/a.png' }, `/input/${field}`, /absolute http\(s\) URL/)
    rejects(t, { ...base, [field]: 'https://[bad' }, `/input/${field}`, /absolute http\(s\) URL/)
  }
  accepts(t, { ...base, start_image_url: 'https://cdn.example.com/s.jpeg' })
  accepts(t, { ...base, end_image_url: 'https://cdn.example.com/e.jpeg' })
  accepts(t, {
    ...base,
    start_image_url: 'https://cdn.example.com/s.jpeg',
    end_image_url: 'http://cdn.example.com/e',
  })
})

t.test('aspect_ratio is a free, non-empty string', async (t) => {
  rejects(t, { ...base, aspect_ratio: '' }, '/input/aspect_ratio', /must not be empty/)
  rejects(t, { ...base, aspect_ratio: 1.5 }, '/input/aspect_ratio', /must be a string/)
  accepts(t, { ...base, aspect_ratio: '21:9' })
})

t.test('negative_prompt is optional, at most 2500 characters', async (t) => {
  rejects(t, { ...base, negative_prompt: 'a'.repeat(2501) }, '/input/negative_prompt', /at most 2500/)
  accepts(t, { ...base, negative_prompt: 'blurry' })
})

t.test('unknown fields are rejected', async (t) => {
  rejects(t, { ...base, sound: true }, '/input/sound', /is not a field of kling-2\.5-turbo-pro/)
})

t.test('credits: 42 for 5 s, 84 for 10 s', async (t) => {
  const five = normalizeTaskInput(MODEL, base)
  const ten = normalizeTaskInput(MODEL, { ...base, duration: 10 })
  t.equal(five.ok && five.estimatedCredits, 42)
  t.equal(ten.ok && ten.estimatedCredits, 84)
})
