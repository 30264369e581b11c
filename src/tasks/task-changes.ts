import { Prisma } from '../generated/prisma/client.js'

/** The task columns a status change may set beside status and updated_at. */
export interface TaskChanges {
  progress?: number
  submitAmbiguous?: boolean
  providerTaskId?: string
  submitInFlightAt?: null
  nextPollAt?: Date | null
  deadlineAt?: Date
  submittedAt?: Date
  startedAt?: Date
  finishedAt?: Date
  files?: unknown
  credits?: number | null
  errorCode?: string | null
  errorMessage?: string | null
  providerErrorCode?: number | null
  providerErrorType?: string | null
}

type SqlType = 'int' | 'boolean' | 'text' | 'timestamptz' | 'jsonb' | 'float8'

// Every key of TaskChanges must name its column and type: the compiler keeps this table complete.
const columns: { [K in keyof Required<TaskChanges>]: [column: string, type: SqlType] } = {
  progress: ['progress', 'int'],
  submitAmbiguous: ['submit_ambiguous', 'boolean'],
  providerTaskId: ['provider_task_id', 'text'],
  submitInFlightAt: ['submit_in_flight_at', 'timestamptz'],
  nextPollAt: ['next_poll_at', 'timestamptz'],
  deadlineAt: ['deadline_at', 'timestamptz'],
  submittedAt: ['submitted_at', 'timestamptz'],
  startedAt: ['started_at', 'timestamptz'],
  finishedAt: ['finished_at', 'timestamptz'],
  files: ['files', 'jsonb'],
  credits: ['credits', 'float8'],
  errorCode: ['error_code', 'text'],
  errorMessage: ['error_message', 'text'],
  providerErrorCode: ['provider_error_code', 'int'],
  providerErrorType: ['provider_error_type', 'text'],
}

function parameter(value: unknown, type: SqlType): unknown {
  if (value === null) return null
  if (value instanceof Date) return value.toISOString()
  return type === 'jsonb' ? JSON.stringify(value) : value
}

/** `col = $n::type, …` for the changes given (undefined ones are left alone), as bound parameters. */
export function taskChangesSql(changes: TaskChanges): Prisma.Sql[] {
  const sets: Prisma.Sql[] = []
  for (const key of Object.keys(changes) as (keyof TaskChanges)[]) {
    const value = changes[key]
    if (value === undefined) continue
    const [column, type] = columns[key]
    sets.push(Prisma.sql`${Prisma.raw(column)} = ${parameter(value, type)}::${Prisma.raw(type)}`)
  }
  return sets
}
