import { formatCreatedTime, type PoyoTaskState, type StatusData, type WireFile } from '../wire.js'
import type { Random } from './random.js'

/** One simulated task. Its status is not stored: it follows from the clock (see snapshot). */
export interface SimTask {
  id: string
  model: string
  input: Record<string, unknown>
  callbackUrl: string | null
  createdAtMs: number
  startDelayMs: number
  runMs: number
  outcome: 'finished' | 'failed'
  errorMessage: string | null
  credits: number
}

export interface CallbackAttempt {
  taskId: string
  /** 1-based attempt number within one delivery. */
  attempt: number
  /** 1 normally, 2 for the copy sent by `duplicateCallbacks`. */
  copy: number
  atMs: number
  wrapped: boolean
  httpStatus: number | null
  error: string | null
  ok: boolean
}

export interface SimStore {
  tasks: Map<string, SimTask>
  /** Submit requests seen per model, including those answered with a fault. */
  submitsSeen: Map<string, number>
  /** Tasks created per model. */
  tasksCreated: Map<string, number>
  callbacks: CallbackAttempt[]
  /** Callbacks skipped by `dropCallbacks`. */
  droppedCallbacks: string[]
}

export function createStore(): SimStore {
  return {
    tasks: new Map(),
    submitsSeen: new Map(),
    tasksCreated: new Map(),
    callbacks: [],
    droppedCallbacks: [],
  }
}

export function clearStore(store: SimStore): void {
  store.tasks.clear()
  store.submitsSeen.clear()
  store.tasksCreated.clear()
  store.callbacks.length = 0
  store.droppedCallbacks.length = 0
}

export function countIn(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

/** `task-unified-<unix seconds>-<8 random [a-z0-9]>`, as PoYo's unified API names them. */
export function newTaskId(store: SimStore, nowMs: number, random: Random): string {
  for (;;) {
    const id = `task-unified-${Math.floor(nowMs / 1000)}-${random.string(8)}`
    if (!store.tasks.has(id)) return id
  }
}

export function terminalAtMs(task: SimTask): number {
  return task.createdAtMs + task.runMs
}

function stateAt(task: SimTask, nowMs: number): { status: PoyoTaskState; progress: number } {
  const elapsed = nowMs - task.createdAtMs
  if (elapsed >= task.runMs) {
    // A failed task stays at the progress it had reached; PoYo documents nothing better.
    return task.outcome === 'finished'
      ? { status: 'finished', progress: 100 }
      : { status: 'failed', progress: 99 }
  }
  if (elapsed < task.startDelayMs) return { status: 'not_started', progress: 0 }
  const running = Math.max(1, task.runMs - task.startDelayMs)
  const progress = 1 + Math.floor((99 * (elapsed - task.startDelayMs)) / running)
  return { status: 'running', progress: Math.min(99, progress) }
}

function outputFiles(task: SimTask, fileBaseUrl: string): WireFile[] {
  const base = `${fileBaseUrl.replace(/\/+$/, '')}/${encodeURIComponent(task.id)}`
  // The thumbnail comes first on purpose: clients must pick outputs by type, not files[0].
  return [
    {
      file_url: `${base}/thumbnail.jpg`,
      file_type: 'image',
      file_name: 'thumbnail.jpg',
      format: 'jpg',
      content_type: 'image/jpeg',
    },
    {
      file_url: `${base}/output.mp4`,
      file_type: 'video',
      file_name: 'output.mp4',
      format: 'mp4',
      content_type: 'video/mp4',
      label: 'video',
    },
  ]
}

/** The status endpoint's `data` object for this task at `nowMs`. */
export function snapshot(task: SimTask, nowMs: number, fileBaseUrl: string): StatusData {
  const { status, progress } = stateAt(task, nowMs)
  return {
    task_id: task.id,
    status,
    progress,
    files: status === 'finished' ? outputFiles(task, fileBaseUrl) : [],
    created_time: formatCreatedTime(task.createdAtMs),
    error_message: status === 'failed' ? task.errorMessage : null,
    // Credits are charged only when a task finishes.
    credits_amount: status === 'finished' ? task.credits : 0,
  }
}
