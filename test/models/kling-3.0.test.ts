import t, { type Test } from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'

const IMG = 'https://cdn.example.com/start.png'
const base = { prompt: 'A chef plating a dish', duration: 5 }
const shots = (...durations: number[]) => durations.map((duration, i) => ({ prompt: `shot ${i}`, duration }))
const element = (name: string) => ({ name, element_input_urls: [IMG, 'https://cdn.example.com/b.jpg'] })

const violations = (input: unknown, model = 'kling-3.0/standard') => {
  const result = normalizeTaskInput(model, input)
  return result.ok ? [] : result.violations
}

/** Exactly one violation, at `pointer`, whose message matches `message`. */
function rejects(t: Test, input: unknown, pointer: string, message: RegExp) {
  const found = violations(input)
  t.equal(found.length, 1, `one violation: ${JSON.stringify(found)}`)
  t.equal(found[0]?.pointer, pointer)
  t.match(found[0]?.message, message)
}

function accepts(t: Test, input: unknown, model = 'kling-3.0/standard') {
  const result = normalizeTaskInput(model, input)
  t.ok(result.ok, JSON.stringify(result.ok ? null : result.violations))
  return result
}

t.test('defaults multi_shots false and sound true, adds nothing else', async (t) => {
  const input = { ...base }
  const result = accepts(t, input)
  t.same(result.ok && result.input, {
    prompt: 'A chef plating a dish',
    duration: 5,
    multi_shots: false,
    sound: true,
  })
  t.same(input, base, 'the caller object is left alone')
})

t.test('duration is required, an integer between 3 and 15', async (t) => {
  rejects(t, { prompt: 'x' }, '/input/duration', /is required/)
  for (const duration of [2, 16, 5.5, '5']) {
    rejects(t, { prompt: 'x', duration }, '/input/duration', /must be an integer between 3 and 15/)
  }
  accepts(t, { prompt: 'x', duration: 3 })
  accepts(t, { prompt: 'x', duration: 15 })
})

t.test('aspect_ratio is 1:1, 16:9 or 9:16', async (t) => {
  rejects(t, { ...base, aspect_ratio: '4:3' }, '/input/aspect_ratio', /must be one of "1:1", "16:9", "9:16"/)
  accepts(t, { ...base, aspect_ratio: '9:16' })
})

t.test('prompt is required in single-shot, at most 2500 characters, not blank', async (t) => {
  rejects(t, { duration: 5 }, '/input/prompt', /is required when multi_shots is false/)
  rejects(t, { duration: 5, prompt: 'a'.repeat(2501) }, '/input/prompt', /at most 2500 characters/)
  rejects(t, { duration: 5, prompt: ' \n\t' }, '/input/prompt', /must not be empty or whitespace only/)
  rejects(t, { duration: 5, prompt: '' }, '/input/prompt', /must not be empty/)
  accepts(t, { duration: 5, prompt: 'a'.repeat(2500) })
})

t.test('multi-shot: sound must be true', async (t) => {
  const multi = { duration: 5, multi_shots: true, multi_prompt: shots(2, 3) }
  rejects(t, { ...multi, sound: false }, '/input/sound', /must be true when multi_shots is true/)
  const result = accepts(t, multi)
  t.equal(result.ok && result.input['sound'], true, 'sound defaults to true')
  accepts(t, { ...multi, sound: true })
})

t.test('multi_prompt is required with multi_shots and rejected without', async (t) => {
  rejects(
    t,
    { duration: 5, multi_shots: true },
    '/input/multi_prompt',
    /is required when multi_shots is true/,
  )
  rejects(
    t,
    { ...base, multi_prompt: shots(5) },
    '/input/multi_prompt',
    /only allowed when multi_shots is true/,
  )
  rejects(t, { ...base, multi_shots: false, multi_prompt: shots(5) }, '/input/multi_prompt', /only allowed/)
  rejects(t, { duration: 5, multi_shots: true, multi_prompt: [] }, '/input/multi_prompt', /at least 1 item/)
  accepts(t, { duration: 5, multi_shots: true, multi_prompt: shots(5) })
})

t.test('multi_prompt shots: prompt ≤ 2500, duration integer 1–12, no extra fields', async (t) => {
  const multi = (shot: unknown) => ({ duration: 5, multi_shots: true, multi_prompt: [shot] })
  rejects(t, multi({ prompt: 'a'.repeat(2501), duration: 5 }), '/input/multi_prompt/0/prompt', /at most 2500/)
  rejects(t, multi({ prompt: '  ', duration: 5 }), '/input/multi_prompt/0/prompt', /whitespace/)
  rejects(t, multi({ duration: 5 }), '/input/multi_prompt/0/prompt', /is required/)
  for (const duration of [0, 13, 1.5]) {
    rejects(t, multi({ prompt: 'x', duration }), '/input/multi_prompt/0/duration', /integer between 1 and 12/)
  }
  rejects(
    t,
    multi({ prompt: 'x', duration: 5, sound: true }),
    '/input/multi_prompt/0/sound',
    /not a known field/,
  )
  accepts(t, { duration: 13, multi_shots: true, multi_prompt: shots(12, 1) })
})

t.test('shot durations add up to at most 15 s and to exactly `duration`', async (t) => {
  const multi = (duration: number, ...d: number[]) => ({
    duration,
    multi_shots: true,
    multi_prompt: shots(...d),
  })
  rejects(t, multi(15, 8, 8), '/input/multi_prompt', /add up to at most 15 s \(they add up to 16 s\)/)
  rejects(
    t,
    multi(10, 3, 3),
    '/input/duration',
    /must equal the sum of the multi_prompt shot durations \(6 s\)/,
  )
  accepts(t, multi(15, 5, 5, 5))
  accepts(t, multi(6, 3, 3))
})

t.test('image_urls: 1 or 2 frames in single-shot, exactly 1 in multi-shot', async (t) => {
  rejects(t, { ...base, image_urls: [] }, '/input/image_urls', /between 1 and 2 items/)
  rejects(t, { ...base, image_urls: [IMG, IMG, IMG] }, '/input/image_urls', /between 1 and 2 items/)
  accepts(t, { ...base, image_urls: [IMG] })
  accepts(t, { ...base, image_urls: [IMG, IMG] })
  const multi = { duration: 5, multi_shots: true, multi_prompt: shots(5) }
  rejects(t, { ...multi, image_urls: [IMG, IMG] }, '/input/image_urls', /exactly 1 item \(the start frame\)/)
  accepts(t, { ...multi, image_urls: [IMG] })
})

t.test('image_urls must be absolute http(s) URLs', async (t) => {
  for (const url of [
    'ftp://cdn.example.com/a.png',
    '/a.png',
    'cdn.example.com/a.png',
    'http://[::1',
    'https://a b',
  ]) {
    rejects(t, { ...base, image_urls: [url] }, '/input/image_urls/0', /must be an absolute http\(s\) URL/)
  }
  accepts(t, { ...base, image_urls: ['HTTP://cdn.example.com/any-extension.webp?x=1'] })
})

t.test('kling_elements need image_urls', async (t) => {
  rejects(
    t,
    { ...base, kling_elements: [element('dog')] },
    '/input/image_urls',
    /required when kling_elements/,
  )
  accepts(t, { ...base, image_urls: [IMG], kling_elements: [element('dog')] })
})

t.test('kling_elements items', async (t) => {
  const withElements = (...kling_elements: unknown[]) => ({ ...base, image_urls: [IMG], kling_elements })
  rejects(t, withElements({ element_input_urls: [IMG, IMG] }), '/input/kling_elements/0/name', /is required/)
  rejects(t, withElements({ ...element('my dog') }), '/input/kling_elements/0/name', /one word/)
  rejects(t, withElements(element('dog'), element('dog')), '/input/kling_elements/1/name', /must be unique/)
  rejects(
    t,
    withElements({ name: 'dog' }),
    '/input/kling_elements/0',
    /needs element_input_urls .* or element_input_video_urls/,
  )
  rejects(
    t,
    withElements({ ...element('dog'), extra: 1 }),
    '/input/kling_elements/0/extra',
    /not a known field/,
  )
  rejects(
    t,
    withElements({ name: 'dog', element_input_urls: [IMG] }),
    '/input/kling_elements/0/element_input_urls',
    /between 2 and 4 items/,
  )
  rejects(
    t,
    withElements({ name: 'dog', element_input_urls: Array(5).fill(IMG) }),
    '/input/kling_elements/0/element_input_urls',
    /between 2 and 4/,
  )
  rejects(
    t,
    withElements({ name: 'dog', element_input_urls: [IMG, 'https://x.com/a.gif?f=.png'] }),
    '/input/kling_elements/0/element_input_urls/1',
    /\.jpg, \.jpeg or \.png file/,
  )
  const video = 'https://cdn.example.com/dog.mp4'
  rejects(
    t,
    withElements({ name: 'dog', element_input_video_urls: [video, video] }),
    '/input/kling_elements/0/element_input_video_urls',
    /exactly 1 item/,
  )
  rejects(
    t,
    withElements({ name: 'dog', element_input_video_urls: ['https://x.com/dog.avi'] }),
    '/input/kling_elements/0/element_input_video_urls/0',
    /\.mp4 or \.mov file/,
  )
  accepts(
    t,
    withElements({
      name: 'dog',
      description: 'a corgi',
      element_input_urls: [IMG, 'https://x.com/A.JPEG?v=2', IMG, IMG],
    }),
  )
  accepts(
    t,
    withElements({ name: 'cat', element_input_video_urls: ['https://x.com/cat.MOV#t=1'] }),
    'kling-3.0/pro',
  )
  accepts(t, withElements(element('dog'), { name: 'cat', element_input_video_urls: [video] }))
})

t.test('@mentions must name a declared element', async (t) => {
  rejects(
    t,
    { ...base, prompt: 'the @dog runs' },
    '/input/prompt',
    /mentions @dog.*no kling_elements are given/,
  )
  const declared = { ...base, image_urls: [IMG], kling_elements: [element('dog')] }
  rejects(t, { ...declared, prompt: '(@cat) chases @dog' }, '/input/prompt', /mentions @cat.*declared: @dog/)
  accepts(t, { ...declared, prompt: '@dog runs; mail me@example.com, (@dog).' })
  accepts(t, { ...base, prompt: 'write to chef@example.com at 3 @ noon' })
  const multi = {
    ...declared,
    prompt: undefined,
    multi_shots: true,
    multi_prompt: [
      { prompt: 'x @dog', duration: 2 },
      { prompt: 'y @bird', duration: 3 },
    ],
  }
  rejects(t, multi, '/input/multi_prompt/1/prompt', /mentions @bird/)
  accepts(t, { ...multi, multi_prompt: shots(2, 3) })
})

t.test('all rule violations come back together', async (t) => {
  const found = violations({
    duration: 6,
    multi_shots: true,
    sound: false,
    multi_prompt: shots(2, 2),
    kling_elements: [element('dog')],
  })
  t.same(found.map((v) => v.pointer).sort(), ['/input/duration', '/input/image_urls', '/input/sound'])
})

t.test('credits: duration × (standard 39/27, pro 49/39 with/without sound)', async (t) => {
  for (const duration of [3, 5, 10, 15]) {
    for (const [model, withSound, without] of [
      ['kling-3.0/standard', 39, 27],
      ['kling-3.0/pro', 49, 39],
    ] as const) {
      const on = normalizeTaskInput(model, { prompt: 'x', duration })
      const off = normalizeTaskInput(model, { prompt: 'x', duration, sound: false })
      t.equal(on.ok && on.estimatedCredits, duration * withSound, `${model} ${duration}s with sound`)
      t.equal(off.ok && off.estimatedCredits, duration * without, `${model} ${duration}s without sound`)
    }
  }
  const multi = normalizeTaskInput('kling-3.0/pro', {
    duration: 15,
    multi_shots: true,
    multi_prompt: shots(5, 10),
  })
  t.equal(multi.ok && multi.estimatedCredits, 15 * 49)
})
