import t from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'
import { checksFor } from './support.js'

const MODEL = 'kling-3.0-motion-control'
const IMG = 'https://storage.example.com/character.png'
const VIDEO = 'https://storage.example.com/dance.mp4'
const base = { image_urls: [IMG], video_urls: [VIDEO], character_orientation: 'image' }
const element = {
  frontal_image_url: 'https://x.com/front.jpg',
  reference_image_urls: ['https://x.com/side.jpeg'],
}
const withElement = { ...base, character_orientation: 'video', kling_elements: [element] }

const { rejects, accepts } = checksFor(MODEL)

t.test('resolution defaults to 720p, nothing else is added', async (t) => {
  const result = accepts(t, base)
  t.same(result.ok && result.input, { ...base, resolution: '720p' })
})

t.test('image_urls, video_urls and character_orientation are required', async (t) => {
  const { image_urls, video_urls, character_orientation, ...rest } = base
  rejects(t, { ...rest, video_urls, character_orientation }, '/input/image_urls', /is required/)
  rejects(t, { ...rest, image_urls, character_orientation }, '/input/video_urls', /is required/)
  rejects(t, { ...rest, image_urls, video_urls }, '/input/character_orientation', /is required/)
})

t.test('image_urls: exactly 1 .jpg/.jpeg/.png URL', async (t) => {
  rejects(t, { ...base, image_urls: [IMG, IMG] }, '/input/image_urls', /exactly 1 item/)
  rejects(t, { ...base, image_urls: [] }, '/input/image_urls', /exactly 1 item/)
  rejects(
    t,
    { ...base, image_urls: ['https://x.com/a.webp'] },
    '/input/image_urls/0',
    /\.jpg, \.jpeg or \.png file/,
  )
  rejects(t, { ...base, image_urls: ['https://x.com/a?name=b.png'] }, '/input/image_urls/0', /\.png file/)
  rejects(t, { ...base, image_urls: ['s3://bucket/a.png'] }, '/input/image_urls/0', /absolute http\(s\) URL/)
  accepts(t, { ...base, image_urls: ['https://x.com/A.JPG?sig=abc'] })
  accepts(t, { ...base, image_urls: ['https://x.com/a.jpeg'] })
})

t.test('video_urls: exactly 1 .mp4/.mov URL', async (t) => {
  rejects(t, { ...base, video_urls: [VIDEO, VIDEO] }, '/input/video_urls', /exactly 1 item/)
  rejects(t, { ...base, video_urls: ['https://x.com/a.webm'] }, '/input/video_urls/0', /\.mp4 or \.mov file/)
  accepts(t, { ...base, video_urls: ['https://x.com/clip.MOV'] })
})

t.test('character_orientation is image or video', async (t) => {
  rejects(
    t,
    { ...base, character_orientation: 'both' },
    '/input/character_orientation',
    /one of "image", "video"/,
  )
  accepts(t, { ...base, character_orientation: 'video' })
})

t.test('prompt is optional, at most 2500 characters, not blank', async (t) => {
  rejects(t, { ...base, prompt: 'a'.repeat(2501) }, '/input/prompt', /at most 2500 characters/)
  rejects(t, { ...base, prompt: '  ' }, '/input/prompt', /empty or whitespace only/)
  accepts(t, { ...base, prompt: 'on a beach at sunset; contact: me@example.com' })
})

t.test('resolution is 720p or 1080p', async (t) => {
  rejects(t, { ...base, resolution: '768p' }, '/input/resolution', /one of "720p", "1080p"/)
  accepts(t, { ...base, resolution: '1080p' })
})

t.test('kling_elements: at most 1, only with orientation video', async (t) => {
  rejects(
    t,
    { ...withElement, kling_elements: [element, element] },
    '/input/kling_elements',
    /exactly 1 item/,
  )
  rejects(
    t,
    { ...withElement, character_orientation: 'image' },
    '/input/kling_elements',
    /only allowed when character_orientation is "video"/,
  )
  accepts(t, withElement)
})

t.test('kling_elements item: frontal_image_url and 1–3 reference_image_urls', async (t) => {
  const one = (e: object) => ({ ...withElement, kling_elements: [e] })
  rejects(
    t,
    one({ reference_image_urls: element.reference_image_urls }),
    '/input/kling_elements/0/frontal_image_url',
    /is required/,
  )
  rejects(
    t,
    one({ frontal_image_url: element.frontal_image_url }),
    '/input/kling_elements/0/reference_image_urls',
    /is required/,
  )
  rejects(
    t,
    one({ ...element, reference_image_urls: [] }),
    '/input/kling_elements/0/reference_image_urls',
    /between 1 and 3 items/,
  )
  rejects(
    t,
    one({ ...element, reference_image_urls: Array(4).fill(IMG) }),
    '/input/kling_elements/0/reference_image_urls',
    /between 1 and 3/,
  )
  rejects(
    t,
    one({ ...element, frontal_image_url: 'https://x.com/f.gif' }),
    '/input/kling_elements/0/frontal_image_url',
    /\.png file/,
  )
  rejects(
    t,
    one({ ...element, reference_image_urls: ['https://x.com/r.bmp'] }),
    '/input/kling_elements/0/reference_image_urls/0',
    /\.png file/,
  )
  rejects(t, one({ ...element, name: 'dog' }), '/input/kling_elements/0/name', /not a known field/)
  accepts(t, one({ ...element, reference_image_urls: Array(3).fill(IMG) }))
})

t.test('the prompt may mention @Element1 only when an element is given', async (t) => {
  rejects(
    t,
    { ...base, prompt: '@Element1 dances' },
    '/input/prompt',
    /mentions @Element1, but no kling_elements are given/,
  )
  rejects(t, { ...withElement, prompt: '@Element2 dances' }, '/input/prompt', /the only element is @Element1/)
  rejects(t, { ...withElement, prompt: '@element1 dances' }, '/input/prompt', /the only element is @Element1/)
  accepts(t, { ...withElement, prompt: 'the character (@Element1) dances' })
})

t.test('all violations come back together', async (t) => {
  const result = normalizeTaskInput(MODEL, { image_urls: [IMG, IMG], video_urls: 'x', resolution: '4k' })
  t.same(result.ok ? [] : result.violations.map((v) => v.pointer).sort(), [
    '/input/character_orientation',
    '/input/image_urls',
    '/input/resolution',
    '/input/video_urls',
  ])
})

t.test('credits: no documented price, estimated as 0', async (t) => {
  for (const resolution of ['720p', '1080p']) {
    const result = normalizeTaskInput(MODEL, { ...base, resolution })
    t.equal(result.ok && result.estimatedCredits, 0, resolution)
  }
})
