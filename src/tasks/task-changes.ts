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

/** The changes as a JSON object keyed by column (undefined ones left out; dates as ISO text). */
export function taskChangesJson(changes: TaskChanges): Record<string, unknown> {
  const json: Record<string, unknown> = {}
  for (const key of Object.keys(changes) as (keyof TaskChanges)[]) {
    const value = changes[key]
    if (value === undefined) continue
    json[columns[key][0]] = value instanceof Date ? value.toISOString() : value
  }
  return json
}

/**
 * `col = CASE WHEN <changes> ? 'col' THEN <its value> ELSE col END, …` for every column: one
 * UPDATE applies a different set of changes to each row, leaving absent columns as they are.
 */
export function taskChangesAssignments(target: string, changes: string): string {
  return Object.values(columns)
    .map(([column, type]) => {
      const text = `(${changes} ->> '${column}')`
      // Integers go through numeric, which rounds: PoYo's progress may come with decimals.
      const value =
        type === 'jsonb'
          ? `nullif(${changes} -> '${column}', 'null'::jsonb)`
          : type === 'int'
            ? `${text}::numeric::int`
            : `${text}::${type}`
      return `${column} = CASE WHEN ${changes} ? '${column}' THEN ${value} ELSE ${target}.${column} END`
    })
    .join(',\n      ')
}
