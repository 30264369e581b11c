/**
 * POST /v1/tasks and GET /v1/tasks/{id} as a client uses them: real HTTP (inject), a real
 * database and the in-process PoYo simulator. One app serves the whole file; each check
 * counts the tasks it is about, so the checks do not depend on each other.
 */
import t, { type Test } from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { sleep, waitFor } from '../helpers/wait.js'

// Callbacks to port 9 go nowhere (fetch refuses that port outright); these tests do not need them,
// and the default (our own PORT, 3000) may belong to something else on the machine.
const { app, runtime } = await buildTestApp(t, { PUBLIC_URL: 'http://127.0.0.1:9' })
const prisma = runtime.deps.prisma
const simulator = runtime.simulator!.simulator

const IMG = 'https://cdn.example.com/start.png'
const END = 'https://cdn.example.com/end.jpg'
const VIDEO = 'https://cdn.example.com/dance.mp4'

type Json = Record<string, unknown>

function post(body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/v1/tasks', payload: body as Json, headers })
}

const taskCount = () => prisma.task.count()

/** Tasks the simulator holds for one of our task ids (the callback URL carries it). */
const simTasksFor = (taskId: string) =>
  simulator.overview().tasks.filter((task) => task.callback_url?.includes(`/v1/callbacks/poyo/${taskId}?`))

/** A 400 problem document whose errors are exactly `pointers` (in any order). */
function problemWith(t: Test, response: Awaited<ReturnType<typeof post>>, pointers: string[]) {
  t.equal(response.statusCode, 400, response.body)
  t.match(response.headers['content-type'], /^application\/problem\+json/)
  const problem = response.json()
  t.match(problem, { status: 400, code: 'INVALID_REQUEST', title: 'Bad Request', instance: '/v1/tasks' })
  const errors = (problem.errors ?? []) as { pointer?: string; detail: string }[]
  t.same(
    errors.map((e) => e.pointer).sort(),
    [...pointers].sort(),
    `errors point at ${pointers.join(', ')}: ${JSON.stringify(errors)}`,
  )
  return errors
}

interface ValidCase {
  model: string
  input: Json
  /** The input as stored and sent to PoYo: defaults filled in, nothing else. */
  normalized: Json
  credits: number
}

const validCases: ValidCase[] = [
  {
    model: 'kling-3.0/standard',
    input: { prompt: 'A chef plating a dish', duration: 5 },
    normalized: { prompt: 'A chef plating a dish', duration: 5, multi_shots: false, sound: true },
    credits: 5 * 39,
  },
  {
    model: 'kling-3.0/pro',
    input: {
      duration: 10,
      multi_shots: true,
      multi_prompt: [
        { prompt: 'A fox wakes up', duration: 4 },
        { prompt: 'The fox runs through snow', duration: 6 },
      ],
      image_urls: [IMG],
      aspect_ratio: '16:9',
    },
    normalized: {
      duration: 10,
      multi_shots: true,
      sound: true,
      multi_prompt: [
        { prompt: 'A fox wakes up', duration: 4 },
        { prompt: 'The fox runs through snow', duration: 6 },
      ],
      image_urls: [IMG],
      aspect_ratio: '16:9',
    },
    credits: 10 * 49,
  },
  {
    model: 'kling-2.1/standard',
    input: { prompt: 'The statue turns its head', start_image_url: IMG },
    normalized: { prompt: 'The statue turns its head', start_image_url: IMG, duration: 5 },
    credits: 30,
  },
  {
    model: 'kling-2.1/pro',
    input: {
      prompt: 'Day turns to night',
      start_image_url: IMG,
      end_image_url: END,
      duration: 10,
      negative_prompt: 'blur',
    },
    normalized: {
      prompt: 'Day turns to night',
      start_image_url: IMG,
      end_image_url: END,
      duration: 10,
      negative_prompt: 'blur',
    },
    credits: 110,
  },
  {
    model: 'kling-3.0-motion-control',
    input: {
      image_urls: [IMG],
      video_urls: [VIDEO],
      character_orientation: 'video',
      prompt: '@Element1 dances on a stage',
      kling_elements: [{ frontal_image_url: END, reference_image_urls: [IMG] }],
    },
    normalized: {
      image_urls: [IMG],
      video_urls: [VIDEO],
      character_orientation: 'video',
      prompt: '@Element1 dances on a stage',
      kling_elements: [{ frontal_image_url: END, reference_image_urls: [IMG] }],
      resolution: '720p',
    },
    // PoYo documents no price for this model: 0 means unknown.
    credits: 0,
  },
  {
    model: 'kling-2.5-turbo-pro',
    input: { prompt: 'A paper boat on a river', duration: 10, aspect_ratio: '9:16' },
    normalized: { prompt: 'A paper boat on a river', duration: 10, aspect_ratio: '9:16' },
    credits: 84,
  },
  {
    model: 'hailuo-2.3',
    input: { prompt: 'A red fox running through snow' },
    normalized: { prompt: 'A red fox running through snow', duration: 6, resolution: '768p' },
    credits: 35,
  },
]

t.test('POST /v1/tasks accepts a valid request for each of the 7 models', async (t) => {
  t.equal(new Set(validCases.map((c) => c.model)).size, 7, 'every model is covered')
  const ids: string[] = []
  for (const c of validCases) {
    await t.test(c.model, async (t) => {
      const before = await taskCount()
      const metadata = { order: `o-${c.model}` }
      const response = await post({ model: c.model, input: c.input, metadata })
      t.equal(response.statusCode, 202, response.body)
      t.match(response.headers['content-type'], /^application\/json/)
      const body = response.json()
      t.equal(response.headers.location, `/v1/tasks/${body.id}`)
      t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      t.equal(body.model, c.model)
      t.equal(body.status, 'queued')
      t.strictSame(body.input, c.normalized, 'the input with defaults applied, nothing else')
      t.equal(body.estimated_credits, c.credits)
      t.strictSame(body.metadata, metadata)
      t.match(body, {
        provider_task_id: null,
        progress: 0,
        files: [],
        error: null,
        credits: null,
        webhook_url: null,
        webhook_events: [],
        submitted_at: null,
        finished_at: null,
      })

      t.equal(await taskCount(), before + 1, 'one task stored')
      const stored = await prisma.task.findUniqueOrThrow({ where: { id: body.id } })
      t.strictSame(stored.input, c.normalized, 'the stored input is what goes to PoYo')
      t.equal(stored.estimatedCredits, c.credits)
      t.equal(stored.model, c.model)
      const events = await prisma.taskEvent.findMany({ where: { taskId: body.id, type: 'created' } })
      t.equal(events.length, 1, 'one created event')
      t.equal(events[0]?.toStatus, 'queued')

      const fetched = await app.inject({ method: 'GET', url: response.headers.location as string })
      t.equal(fetched.statusCode, 200)
      t.match(fetched.json(), {
        id: body.id,
        model: c.model,
        input: c.normalized,
        estimated_credits: c.credits,
        metadata,
        created_at: body.created_at,
      })
      ids.push(body.id)
    })
  }

  // What the worker sends is what was stored: the simulator validates it with PoYo's rules
  // and each task is created there once.
  await waitFor(
    async () => (await prisma.task.count({ where: { id: { in: ids }, status: 'queued' } })) === 0,
    { what: 'all seven tasks to leave queued', timeoutMs: 10_000 },
  )
  const rows = await prisma.task.findMany({ where: { id: { in: ids } } })
  t.equal(rows.length, 7)
  for (const row of rows) {
    // Polling may move a task on later; the acceptance itself is in the timeline.
    const accepted = await prisma.taskEvent.count({
      where: { taskId: row.id, type: 'status_changed', fromStatus: 'queued', toStatus: 'not_started' },
    })
    t.equal(accepted, 1, `${row.model}: PoYo accepted the normalized input`)
    t.not(row.status, 'failed')
    const simTasks = simTasksFor(row.id)
    t.equal(simTasks.length, 1, `${row.model}: one task at PoYo`)
    t.equal(simTasks[0]?.task_id, row.providerTaskId)
    t.equal(simTasks[0]?.model, row.model)
  }
})

interface InvalidCase {
  name: string
  model: string
  input: unknown
  pointer: string
  detail: RegExp
}

const multiShot = (duration: number, ...shots: number[]) => ({
  duration,
  multi_shots: true,
  multi_prompt: shots.map((d, i) => ({ prompt: `shot ${i}`, duration: d })),
})
const k30 = { prompt: 'A chef plating a dish', duration: 5 }
const element = (name: string) => ({ name, element_input_urls: [IMG, END] })
const motion = { image_urls: [IMG], video_urls: [VIDEO], character_orientation: 'image' }
const motionElement = { frontal_image_url: END, reference_image_urls: [IMG] }

const invalidCases: InvalidCase[] = [
  // kling-3.0
  {
    name: 'kling-3.0 duration below 3',
    model: 'kling-3.0/standard',
    input: { ...k30, duration: 2 },
    pointer: '/input/duration',
    detail: /must be an integer between 3 and 15/,
  },
  {
    name: 'kling-3.0 duration above 15',
    model: 'kling-3.0/pro',
    input: { ...k30, duration: 16 },
    pointer: '/input/duration',
    detail: /must be an integer between 3 and 15/,
  },
  {
    name: 'kling-3.0 duration missing',
    model: 'kling-3.0/pro',
    input: { prompt: 'x' },
    pointer: '/input/duration',
    detail: /is required/,
  },
  {
    name: 'kling-3.0 aspect ratio outside the enum',
    model: 'kling-3.0/standard',
    input: { ...k30, aspect_ratio: '4:3' },
    pointer: '/input/aspect_ratio',
    detail: /must be one of "1:1", "16:9", "9:16"/,
  },
  {
    name: 'kling-3.0 sound false with multi_shots',
    model: 'kling-3.0/standard',
    input: { ...multiShot(10, 5, 5), sound: false },
    pointer: '/input/sound',
    detail: /must be true when multi_shots is true/,
  },
  {
    name: 'kling-3.0 single-shot without prompt',
    model: 'kling-3.0/standard',
    input: { duration: 5 },
    pointer: '/input/prompt',
    detail: /is required when multi_shots is false/,
  },
  {
    name: 'kling-3.0 multi-shot without multi_prompt',
    model: 'kling-3.0/standard',
    input: { duration: 5, multi_shots: true },
    pointer: '/input/multi_prompt',
    detail: /is required when multi_shots is true/,
  },
  {
    name: 'kling-3.0 shot longer than 12 s',
    model: 'kling-3.0/standard',
    input: multiShot(13, 13),
    pointer: '/input/multi_prompt/0/duration',
    detail: /must be an integer between 1 and 12/,
  },
  {
    name: 'kling-3.0 shot shorter than 1 s',
    model: 'kling-3.0/pro',
    input: multiShot(5, 5, 0),
    pointer: '/input/multi_prompt/1/duration',
    detail: /must be an integer between 1 and 12/,
  },
  {
    name: 'kling-3.0 shots adding up to more than 15 s',
    model: 'kling-3.0/standard',
    input: multiShot(15, 8, 8),
    pointer: '/input/multi_prompt',
    detail: /add up to at most 15 s \(they add up to 16 s\)/,
  },
  {
    name: 'kling-3.0 kling_elements without image_urls',
    model: 'kling-3.0/standard',
    input: { ...k30, prompt: '@hero walks in', kling_elements: [element('hero')] },
    pointer: '/input/image_urls',
    detail: /is required when kling_elements is given/,
  },
  {
    name: 'kling-3.0 @name with no elements declared',
    model: 'kling-3.0/standard',
    input: { ...k30, prompt: 'Close-up of @hero' },
    pointer: '/input/prompt',
    detail: /mentions @hero.*no kling_elements are given/,
  },
  {
    name: 'kling-3.0 @name that is not a declared element',
    model: 'kling-3.0/pro',
    input: { ...k30, prompt: '@dog chases @cat', image_urls: [IMG], kling_elements: [element('cat')] },
    pointer: '/input/prompt',
    detail: /mentions @dog.*declared: @cat/,
  },
  {
    name: 'kling-3.0 @name in a shot prompt that is not declared',
    model: 'kling-3.0/pro',
    input: {
      ...multiShot(6, 3, 3),
      image_urls: [IMG],
      kling_elements: [element('cat')],
      multi_prompt: [
        { prompt: '@cat sleeps', duration: 3 },
        { prompt: '@owl watches', duration: 3 },
      ],
    },
    pointer: '/input/multi_prompt/1/prompt',
    detail: /mentions @owl/,
  },
  {
    name: 'kling-3.0 prompt longer than 2500 characters',
    model: 'kling-3.0/standard',
    input: { ...k30, prompt: 'a'.repeat(2501) },
    pointer: '/input/prompt',
    detail: /must be at most 2500 characters/,
  },
  {
    name: 'kling-3.0 image URL without a scheme',
    model: 'kling-3.0/standard',
    input: { ...k30, image_urls: ['//cdn.example.com/start.png'] },
    pointer: '/input/image_urls/0',
    detail: /must be an absolute http\(s\) URL/,
  },
  // kling-2.1
  {
    name: 'kling-2.1 without start_image_url',
    model: 'kling-2.1/pro',
    input: { prompt: 'The statue turns its head' },
    pointer: '/input/start_image_url',
    detail: /is required/,
  },
  {
    name: 'kling-2.1/standard with end_image_url',
    model: 'kling-2.1/standard',
    input: { prompt: 'x', start_image_url: IMG, end_image_url: END },
    pointer: '/input/end_image_url',
    detail: /end_image_url is only supported by kling-2\.1\/pro/,
  },
  {
    name: 'kling-2.1 duration other than 5 or 10',
    model: 'kling-2.1/standard',
    input: { prompt: 'x', start_image_url: IMG, duration: 7 },
    pointer: '/input/duration',
    detail: /must be one of 5, 10/,
  },
  {
    name: 'kling-2.1 prompt longer than 5000 characters',
    model: 'kling-2.1/standard',
    input: { prompt: 'a'.repeat(5001), start_image_url: IMG },
    pointer: '/input/prompt',
    detail: /must be at most 5000 characters/,
  },
  {
    name: 'kling-2.1 relative start_image_url',
    model: 'kling-2.1/standard',
    input: { prompt: 'x', start_image_url: '/images/start.png' },
    pointer: '/input/start_image_url',
    detail: /must be an absolute http\(s\) URL/,
  },
  {
    name: 'kling-2.1 ftp start_image_url',
    model: 'kling-2.1/pro',
    input: { prompt: 'x', start_image_url: 'ftp://cdn.example.com/start.png' },
    pointer: '/input/start_image_url',
    detail: /must be an absolute http\(s\) URL/,
  },
  // kling-3.0-motion-control
  {
    name: 'motion control with two images',
    model: 'kling-3.0-motion-control',
    input: { ...motion, image_urls: [IMG, END] },
    pointer: '/input/image_urls',
    detail: /must have exactly 1 item/,
  },
  {
    name: 'motion control with no video',
    model: 'kling-3.0-motion-control',
    input: { ...motion, video_urls: [] },
    pointer: '/input/video_urls',
    detail: /must have exactly 1 item/,
  },
  {
    name: 'motion control with two videos',
    model: 'kling-3.0-motion-control',
    input: { ...motion, video_urls: [VIDEO, VIDEO] },
    pointer: '/input/video_urls',
    detail: /must have exactly 1 item/,
  },
  {
    name: 'motion control image that is not jpg/jpeg/png',
    model: 'kling-3.0-motion-control',
    input: { ...motion, image_urls: ['https://cdn.example.com/character.gif'] },
    pointer: '/input/image_urls/0',
    detail: /must be a \.jpg, \.jpeg or \.png file/,
  },
  {
    name: 'motion control video that is not mp4/mov',
    model: 'kling-3.0-motion-control',
    input: { ...motion, video_urls: ['https://cdn.example.com/dance.avi'] },
    pointer: '/input/video_urls/0',
    detail: /must be a \.mp4 or \.mov file/,
  },
  {
    name: 'motion control orientation outside the enum',
    model: 'kling-3.0-motion-control',
    input: { ...motion, character_orientation: 'side' },
    pointer: '/input/character_orientation',
    detail: /must be one of "image", "video"/,
  },
  {
    name: 'motion control without orientation',
    model: 'kling-3.0-motion-control',
    input: { image_urls: [IMG], video_urls: [VIDEO] },
    pointer: '/input/character_orientation',
    detail: /is required/,
  },
  {
    name: 'motion control kling_elements with orientation image',
    model: 'kling-3.0-motion-control',
    input: { ...motion, character_orientation: 'image', kling_elements: [motionElement] },
    pointer: '/input/kling_elements',
    detail: /only allowed when character_orientation is "video"/,
  },
  {
    name: 'motion control prompt longer than 2500 characters',
    model: 'kling-3.0-motion-control',
    input: { ...motion, prompt: 'a'.repeat(2501) },
    pointer: '/input/prompt',
    detail: /must be at most 2500 characters/,
  },
  // kling-2.5-turbo-pro
  {
    name: 'kling-2.5 without prompt',
    model: 'kling-2.5-turbo-pro',
    input: { duration: 5 },
    pointer: '/input/prompt',
    detail: /is required/,
  },
  {
    name: 'kling-2.5 prompt longer than 2500 characters',
    model: 'kling-2.5-turbo-pro',
    input: { prompt: 'a'.repeat(2501) },
    pointer: '/input/prompt',
    detail: /must be at most 2500 characters/,
  },
  {
    name: 'kling-2.5 end_image_url that is not a URL',
    model: 'kling-2.5-turbo-pro',
    input: { prompt: 'x', end_image_url: 'end.png' },
    pointer: '/input/end_image_url',
    detail: /must be an absolute http\(s\) URL/,
  },
  // hailuo-2.3
  {
    name: 'hailuo 1080p with duration 10',
    model: 'hailuo-2.3',
    input: { prompt: 'x', duration: 10, resolution: '1080p' },
    pointer: '/input/resolution',
    detail: /1080p is only available with duration 6/,
  },
  {
    name: 'hailuo with end_image_url',
    model: 'hailuo-2.3',
    input: { prompt: 'x', end_image_url: END },
    pointer: '/input/end_image_url',
    detail: /end_image_url is not supported by hailuo-2\.3/,
  },
  {
    name: 'hailuo resolution outside the enum',
    model: 'hailuo-2.3',
    input: { prompt: 'x', resolution: '4k' },
    pointer: '/input/resolution',
    detail: /must be one of "768p", "1080p"/,
  },
  {
    name: 'hailuo prompt longer than 5000 characters',
    model: 'hailuo-2.3',
    input: { prompt: 'a'.repeat(5001) },
    pointer: '/input/prompt',
    detail: /must be at most 5000 characters/,
  },
  {
    name: 'hailuo blank prompt',
    model: 'hailuo-2.3',
    input: { prompt: '   ' },
    pointer: '/input/prompt',
    detail: /must not be empty or whitespace only/,
  },
  // every model
  {
    name: 'unknown model',
    model: 'kling-9.0/ultra',
    input: { prompt: 'x' },
    pointer: '/model',
    detail: /unknown model "kling-9\.0\/ultra"; known models: .*hailuo-2\.3/,
  },
  {
    name: 'unknown input field',
    model: 'hailuo-2.3',
    input: { prompt: 'x', fps: 30 },
    pointer: '/input/fps',
    detail: /is not a field of hailuo-2\.3 \(its fields: prompt, duration, resolution/,
  },
  {
    name: 'input that is not an object',
    model: 'hailuo-2.3',
    input: ['a red fox'],
    pointer: '/input',
    detail: /must be an object/,
  },
]

t.test('POST /v1/tasks rejects each broken rule with a pointer to it, storing nothing', async (t) => {
  for (const c of invalidCases) {
    await t.test(c.name, async (t) => {
      const before = await taskCount()
      const response = await post({ model: c.model, input: c.input })
      const errors = problemWith(t, response, [c.pointer])
      t.match(errors[0]?.detail, c.detail)
      t.match(response.json().detail, /\S/, 'the problem has a detail')
      t.equal(await taskCount(), before, 'nothing stored')
    })
  }
})

t.test('prompt limits are inclusive', async (t) => {
  const atLimit = [
    { model: 'kling-2.5-turbo-pro', input: { prompt: 'a'.repeat(2500) } },
    { model: 'hailuo-2.3', input: { prompt: 'a'.repeat(5000) } },
    { model: 'kling-3.0/standard', input: { prompt: 'a'.repeat(2500), duration: 15 } },
  ]
  for (const body of atLimit) {
    const response = await post(body)
    t.equal(response.statusCode, 202, `${body.model} accepts a prompt of exactly its limit`)
  }
})

t.test('POST /v1/tasks rejects unknown top-level fields', async (t) => {
  const before = await taskCount()
  const response = await post({
    model: 'hailuo-2.3',
    input: { prompt: 'x' },
    callback_url: 'https://example.com/hook',
  })
  const errors = problemWith(t, response, ['/callback_url'])
  t.match(errors[0]?.detail, /is not an accepted field/)
  t.equal(await taskCount(), before)
})

t.test('a request breaking several rules lists every one of them', async (t) => {
  const before = await taskCount()

  // Schema rules.
  const schema = await post({
    model: 'kling-3.0/standard',
    input: { prompt: '', duration: 20, aspect_ratio: '4:3', fps: 24 },
  })
  const schemaErrors = problemWith(t, schema, [
    '/input/prompt',
    '/input/duration',
    '/input/aspect_ratio',
    '/input/fps',
  ])
  t.ok(
    schemaErrors.every((e) => e.detail.length > 0),
    'each has a detail',
  )

  // Cross-field rules.
  const rules = await post({
    model: 'kling-3.0/pro',
    input: { ...multiShot(15, 8, 8), sound: false, image_urls: [IMG, END] },
  })
  problemWith(t, rules, ['/input/sound', '/input/image_urls', '/input/multi_prompt'])

  // Input rules and the metadata limit together.
  const withMetadata = await post({
    model: 'hailuo-2.3',
    input: { prompt: 'x', duration: 10, resolution: '1080p' },
    metadata: { blob: 'x'.repeat(17 * 1024) },
  })
  const metadataErrors = problemWith(t, withMetadata, ['/input/resolution', '/metadata'])
  t.match(metadataErrors.find((e) => e.pointer === '/metadata')?.detail, /at most 16384 bytes/)

  // The top-level detail names each field.
  t.match(schema.json().detail, /\S/)
  t.equal(await taskCount(), before, 'nothing stored')
})

t.test('bodies that are not a JSON object get a 4xx problem document, never a 500', async (t) => {
  const before = await taskCount()
  const cases: { name: string; payload: string; contentType?: string; status: number }[] = [
    { name: 'malformed JSON', payload: '{"model": "hailuo-2.3", ', status: 400 },
    { name: 'empty body', payload: '', status: 400 },
    { name: 'a JSON array', payload: '[]', status: 400 },
    { name: 'JSON null', payload: 'null', status: 400 },
    { name: 'a JSON string', payload: '"hailuo-2.3"', status: 400 },
    { name: 'plain text', payload: 'model=hailuo-2.3', contentType: 'text/plain', status: 415 },
    {
      name: 'a form',
      payload: 'model=hailuo-2.3&input=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
    },
    { name: 'XML', payload: '<task/>', contentType: 'application/xml', status: 415 },
  ]
  for (const c of cases) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      payload: c.payload,
      headers: { 'content-type': c.contentType ?? 'application/json' },
    })
    t.equal(response.statusCode, c.status, `${c.name}: ${response.body}`)
    t.match(response.headers['content-type'], /^application\/problem\+json/, c.name)
    const problem = response.json()
    t.equal(problem.status, c.status, c.name)
    t.match(problem, { type: /^https?:\/\//, title: /\S/, detail: /\S/, code: /^[A-Z_]+$/ }, c.name)
    t.notMatch(problem.detail, /failed to handle/, `${c.name}: not an internal error`)
  }
  t.equal(await taskCount(), before, 'nothing stored')
})

t.test('GET /v1/tasks/{id}', async (t) => {
  const created = await post({ model: 'hailuo-2.3', input: { prompt: 'A lighthouse at dusk' } })
  t.equal(created.statusCode, 202)
  const id = created.json().id as string

  const found = await app.inject({ method: 'GET', url: `/v1/tasks/${id}` })
  t.equal(found.statusCode, 200)
  t.match(found.headers['content-type'], /^application\/json/)
  t.match(found.json(), {
    id,
    model: 'hailuo-2.3',
    input: { prompt: 'A lighthouse at dusk', duration: 6, resolution: '768p' },
    estimated_credits: 35,
    created_at: created.json().created_at,
  })
  t.ok(['queued', 'not_started'].includes(found.json().status), 'a status of a task not yet running')

  const unknownId = '0190d5c6-0000-7000-8000-000000000000'
  const missing = await app.inject({ method: 'GET', url: `/v1/tasks/${unknownId}` })
  t.equal(missing.statusCode, 404)
  t.match(missing.headers['content-type'], /^application\/problem\+json/)
  t.match(missing.json(), {
    status: 404,
    code: 'TASK_NOT_FOUND',
    detail: new RegExp(unknownId),
    instance: `/v1/tasks/${unknownId}`,
  })

  for (const bad of ['not-a-uuid', '12345', `${id}x`]) {
    const malformed = await app.inject({ method: 'GET', url: `/v1/tasks/${bad}` })
    t.equal(malformed.statusCode, 400, bad)
    t.match(malformed.headers['content-type'], /^application\/problem\+json/)
    const problem = malformed.json()
    t.equal(problem.code, 'INVALID_REQUEST')
    t.equal(problem.errors?.length, 1)
    t.equal(problem.errors?.[0]?.parameter, 'id', 'names the path parameter')
    t.notOk(problem.errors?.[0]?.pointer, 'a parameter, not a body pointer')
    t.match(problem.errors?.[0]?.detail, /uuid/)
  }
})

t.test('Idempotency-Key', async (t) => {
  const tasksWithKey = (key: string) => prisma.task.count({ where: { idempotencyKey: key } })

  await t.test('same key and body: the original task, submitted once', async (t) => {
    const key = 'idem-same-body'
    const body = { model: 'hailuo-2.3', input: { prompt: 'A kite over a beach' }, metadata: { n: 1 } }
    const first = await post(body, { 'idempotency-key': key })
    t.equal(first.statusCode, 202)
    const id = first.json().id as string

    const again = await post(body, { 'idempotency-key': key })
    t.equal(again.statusCode, 200, 'a replay is 200, not 202')
    t.equal(again.json().id, id)
    t.equal(again.headers.location, `/v1/tasks/${id}`)
    t.equal(await tasksWithKey(key), 1)

    // Once submitted, a replay shows the task as it is now, and PoYo saw it once.
    await waitFor(async () => (await prisma.task.findUnique({ where: { id } }))?.status === 'not_started', {
      what: 'the task to be submitted',
    })
    const later = await post(body, { 'idempotency-key': key })
    t.equal(later.statusCode, 200)
    t.equal(later.json().id, id)
    t.equal(later.json().status, 'not_started')
    t.ok(later.json().provider_task_id)
    await sleep(1200) // a few submit-worker poll cycles: any stray job would have run
    t.equal(simTasksFor(id).length, 1, 'one task at PoYo')
    t.equal(await tasksWithKey(key), 1)
    t.equal(await prisma.taskEvent.count({ where: { taskId: id, type: 'submit_attempt' } }), 1)
  })

  await t.test('same key, different body: 409, nothing stored', async (t) => {
    const key = 'idem-different-body'
    const first = await post({ model: 'hailuo-2.3', input: { prompt: 'A' } }, { 'idempotency-key': key })
    t.equal(first.statusCode, 202)
    const before = await taskCount()
    for (const body of [
      { model: 'hailuo-2.3', input: { prompt: 'B' } },
      { model: 'hailuo-2.3', input: { prompt: 'A', duration: 6 } },
      { model: 'hailuo-2.3', input: { prompt: 'A' }, metadata: { extra: true } },
      { model: 'kling-2.5-turbo-pro', input: { prompt: 'A' } },
    ]) {
      const conflict = await post(body, { 'idempotency-key': key })
      t.equal(conflict.statusCode, 409, JSON.stringify(body))
      t.match(conflict.headers['content-type'], /^application\/problem\+json/)
      t.match(conflict.json(), { status: 409, code: 'IDEMPOTENCY_KEY_REUSED', detail: new RegExp(key) })
    }
    t.equal(await taskCount(), before, 'nothing stored')
    t.equal(await tasksWithKey(key), 1)
  })

  await t.test('same key sent concurrently: one task, one submit', async (t) => {
    const key = 'idem-concurrent'
    const body = { model: 'kling-2.5-turbo-pro', input: { prompt: 'Five at once' } }
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => post(body, { 'idempotency-key': key })),
    )
    const statuses = responses.map((r) => r.statusCode).sort()
    t.same(statuses, [200, 200, 200, 200, 202], 'one created, four replays')
    const ids = new Set(responses.map((r) => r.json().id))
    t.equal(ids.size, 1, 'all answer with the same task')
    t.equal(await tasksWithKey(key), 1)
    const id = [...ids][0] as string
    await waitFor(async () => (await prisma.task.findUnique({ where: { id } }))?.status === 'not_started', {
      what: 'the task to be submitted',
    })
    await sleep(1200)
    t.equal(simTasksFor(id).length, 1, 'submitted once')
  })

  await t.test('key order in the body does not change its identity', async (t) => {
    const key = 'idem-key-order'
    const a =
      '{"model":"hailuo-2.3","input":{"prompt":"Rain on glass","duration":10},"metadata":{"a":1,"b":2}}'
    const b =
      '{"metadata":{"b":2,"a":1},"input":{"duration":10,"prompt":"Rain on glass"},"model":"hailuo-2.3"}'
    const headers = { 'idempotency-key': key, 'content-type': 'application/json' }
    const first = await app.inject({ method: 'POST', url: '/v1/tasks', payload: a, headers })
    const second = await app.inject({ method: 'POST', url: '/v1/tasks', payload: b, headers })
    t.equal(first.statusCode, 202)
    t.equal(second.statusCode, 200)
    t.equal(second.json().id, first.json().id)
    t.equal(await tasksWithKey(key), 1)
  })

  await t.test('different keys with one body are different tasks', async (t) => {
    const body = { model: 'hailuo-2.3', input: { prompt: 'Twins' } }
    const one = await post(body, { 'idempotency-key': 'idem-twin-1' })
    const two = await post(body, { 'idempotency-key': 'idem-twin-2' })
    const none = await post(body)
    t.same([one.statusCode, two.statusCode, none.statusCode], [202, 202, 202])
    t.equal(new Set([one.json().id, two.json().id, none.json().id]).size, 3)
  })

  await t.test('an invalid key is a 400 naming the header', async (t) => {
    const before = await taskCount()
    const response = await post(
      { model: 'hailuo-2.3', input: { prompt: 'x' } },
      { 'idempotency-key': 'k'.repeat(256) },
    )
    t.equal(response.statusCode, 400)
    t.equal(response.json().errors?.[0]?.parameter, 'idempotency-key')
    t.equal(await taskCount(), before)
  })
})
