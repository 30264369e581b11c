/**
 * The service as PoYo sees it: a listening app (so the simulator's callbacks reach it), plus
 * small readers of tasks and their timelines, a PoYo-like callback sender, and a hand-driven
 * submit for apps built with WORKERS_ENABLED=false. Used by test/callbacks and test/polling.
 */
import type { Test } from 'tap'
import type { Task, TaskEvent } from '../../src/generated/prisma/client.js'
import type { SimTaskView, SimulatorControl } from '../../src/poyo/simulator/index.js'
import { callbackUrl } from '../../src/tasks/callback-token.js'
import { statusRank } from '../../src/tasks/status.js'
import { submitTask } from '../../src/tasks/submit-task.js'
import { buildTestApp, type TestApp } from './app.js'
import { freePort } from '../../scripts/lib/free-port.js'

export { freePort }

export interface LiveApp extends TestApp {
  /** Where the app listens, e.g. http://127.0.0.1:43567 (also its PUBLIC_URL). */
  baseUrl: string
}

/** buildTestApp, listening on a free loopback port that is also its PUBLIC_URL. */
export async function startLiveApp(
  t: Test,
  env: Record<string, string> = {},
  options: { databaseUrl?: string } = {},
): Promise<LiveApp> {
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const test = await buildTestApp(t, { PORT: String(port), PUBLIC_URL: baseUrl, ...env }, options)
  await test.app.listen({ port, host: '127.0.0.1' })
  return { ...test, baseUrl }
}

export const HAILUO = { model: 'hailuo-2.3', input: { prompt: 'A lighthouse in a storm' } }

/**
 * POST /v1/tasks as the app's admin; returns the new task's id. A second instance on the same
 * database has no admin key of its own (the first one created it): pass the first one's as `key`.
 */
export async function createTask(test: TestApp, body: object = HAILUO, key?: string): Promise<string> {
  const response = await test.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    payload: body,
    ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
  })
  if (response.statusCode !== 202) throw new Error(`POST /v1/tasks: ${response.statusCode} ${response.body}`)
  return response.json().id
}

/**
 * Creates `count` tasks, five requests at a time (more at once can outrun the test database
 * pool of 4 and fail with Prisma's P2028 on a loaded machine). `create(i)` creates the i-th.
 */
export async function createTasks(count: number, create: (index: number) => Promise<string>) {
  const ids: string[] = []
  for (let start = 0; start < count; start += 5) {
    const group = Array.from({ length: Math.min(5, count - start) }, (_, i) => create(start + i))
    ids.push(...(await Promise.all(group)))
  }
  return ids
}

export function getTask(test: TestApp, id: string): Promise<Task> {
  return test.runtime.deps.prisma.task.findUniqueOrThrow({ where: { id } })
}

/** A task's timeline, oldest first. */
export function taskEvents(test: TestApp, taskId: string): Promise<TaskEvent[]> {
  return test.runtime.deps.prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: 'asc' } })
}

export const ofType = (events: TaskEvent[], type: TaskEvent['type']) => events.filter((e) => e.type === type)

/** `from→to` for each status change, e.g. ['queued→not_started', 'not_started→finished']. */
export const steps = (events: TaskEvent[]) =>
  ofType(events, 'status_changed').map((e) => `${e.fromStatus}→${e.toStatus}`)

/**
 * Problems with a timeline's status changes: each must start where the previous one ended,
 * the first from `queued`, and each must move forward (the deadline revive excepted when
 * `allowRevive`). An empty list means the timeline is sound.
 */
export function timelineProblems(events: TaskEvent[], { allowRevive = false } = {}): string[] {
  const problems: string[] = []
  let current = 'queued'
  for (const event of ofType(events, 'status_changed')) {
    const from = event.fromStatus
    const to = event.toStatus
    if (!from || !to) {
      problems.push(`status change ${event.id} without from/to`)
      continue
    }
    if (from !== current) problems.push(`change ${from}→${to} does not start at ${current}`)
    const revive = allowRevive && from === 'failed' && to === 'finished'
    if (!revive && statusRank(to) <= statusRank(from)) problems.push(`change ${from}→${to} goes backwards`)
    current = to
  }
  return problems
}

/** The in-process simulator's control (the app must run without POYO_API_KEY). */
export function simulatorOf(test: TestApp): SimulatorControl {
  const simulator = test.runtime.simulator
  if (!simulator) throw new Error('this app talks to a real PoYo, not the in-process simulator')
  return simulator.simulator
}

export function simTask(test: TestApp, providerTaskId: string): SimTaskView {
  const task = simulatorOf(test)
    .overview()
    .tasks.find((candidate) => candidate.task_id === providerTaskId)
  if (!task) throw new Error(`the simulator has no task ${providerTaskId}`)
  return task
}

/**
 * One submit attempt now, as the submit worker would run it (for WORKERS_ENABLED=false apps).
 * Without `withCallback` PoYo gets no callback URL, so only the test's own callbacks arrive.
 * Returns PoYo's task id.
 */
export async function submitNow(test: TestApp, taskId: string, { withCallback = false } = {}) {
  const deps = test.runtime.deps
  await submitTask(
    {
      prisma: deps.prisma,
      poyo: deps.poyo,
      queue: deps.queue,
      clock: deps.clock,
      logger: deps.logger,
      config: deps.config,
      callbackSecret: deps.callbackSecret,
      callbackBaseUrl: withCallback ? (deps.config.PUBLIC_URL ?? null) : null,
    },
    taskId,
  )
  const task = await getTask(test, taskId)
  if (!task.providerTaskId) throw new Error(`task ${taskId} was not accepted: ${task.status}`)
  return task.providerTaskId
}

/** A PoYo status `data` object, as PoYo's callback body carries it (unwrapped). */
export function poyoData(providerTaskId: string, overrides: Record<string, unknown> = {}) {
  return {
    task_id: providerTaskId,
    status: 'finished',
    progress: 100,
    files: [
      { file_url: `https://files.example/${providerTaskId}/thumb.jpg`, file_type: 'image' },
      { file_url: `https://files.example/${providerTaskId}/out.mp4`, file_type: 'video' },
    ],
    created_time: '2026-01-01T00:00:00',
    error_message: null,
    credits_amount: 42,
    ...overrides,
  }
}

export interface CallbackAnswer {
  status: number
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- an answer's JSON, read by the assertions
  body: any
}

/**
 * POSTs a callback over HTTP as PoYo would. `token`: undefined uses the task's real token,
 * null sends none, a string sends that. `raw` sends the text as is instead of JSON.
 */
export async function postCallback(
  live: LiveApp,
  taskId: string,
  body: unknown,
  options: { token?: string | null; headers?: Record<string, string>; raw?: string } = {},
): Promise<CallbackAnswer> {
  const url = new URL(callbackUrl(live.baseUrl, live.runtime.deps.callbackSecret, taskId))
  if (options.token === null) url.searchParams.delete('token')
  else if (options.token !== undefined) url.searchParams.set('token', options.token)
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed }
}
