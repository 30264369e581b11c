import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

/**
 * Every setting the service reads from the environment, with its default.
 * The `Config` type is derived from this schema; `.env.example` documents it.
 */
export const EnvSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('production'), Type.Literal('test')], {
    default: 'development',
  }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' },
  ),
  /** Postgres connection string; unset means an embedded Postgres under EMBEDDED_PG_DIR. */
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** The pool; status changes and state reads have a connection each beside it (queryRowsInLane). */
  DATABASE_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
  EMBEDDED_PG_DIR: Type.String({ default: '.data/postgres', minLength: 1 }),
  EMBEDDED_PG_PORT: Type.Integer({ default: 54329, minimum: 1, maximum: 65535 }),
  /** Apply pending migrations at start-up. */
  MIGRATE_ON_START: Type.Boolean({ default: true }),
  /** Base URL PoYo can reach us at; without it the service relies on polling alone. */
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** PoYo API key; unset means the bundled simulator runs in-process. */
  POYO_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  POYO_BASE_URL: Type.String({ default: 'https://api.poyo.ai', pattern: '^https?://' }),
  /** Account webhook secret for PoYo's X-Webhook-Signature; unset skips that check. */
  POYO_WEBHOOK_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  POYO_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  /** Key for the per-task callback URL tokens; required in production. */
  CALLBACK_TOKEN_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  /** Confirm a callback with PoYo's status endpoint before applying it. */
  CALLBACK_CONFIRM: Type.Boolean({ default: true }),
  /** Minutes a submitted task may take before it fails as deadline_exceeded. */
  TASK_DEADLINE_MINUTES: Type.Integer({ default: 60, minimum: 1 }),
  /** Per model family, e.g. "kling-3.0=45,hailuo-2.3=30" (minutes). */
  TASK_DEADLINE_OVERRIDES: Type.String({ default: '', pattern: '^([\\w.-]+=\\d+)?(,[\\w.-]+=\\d+)*$' }),
  /** Minutes submission keeps being retried through a PoYo outage before the task fails. */
  SUBMIT_DEADLINE_MINUTES: Type.Integer({ default: 1440, minimum: 1 }),
  /** Submit attempts one instance runs at a time. */
  SUBMIT_CONCURRENCY: Type.Integer({ default: 8, minimum: 1, maximum: 200 }),
  /** How often an idle submit worker looks for new tasks, in milliseconds (a new task wakes it sooner). */
  SUBMIT_FETCH_INTERVAL_MS: Type.Integer({ default: 500, minimum: 50 }),
  /**
   * A new task wakes the submit worker at once, or this many milliseconds after its last
   * look when that was sooner: tasks created back to back are submitted together.
   */
  SUBMIT_WAKE_GAP_MS: Type.Integer({ default: 50, minimum: 0, maximum: 1_000 }),
  /** Cap on status calls to PoYo per second, across all instances. */
  POLL_MAX_PER_SECOND: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  /** How often due tasks are looked for, in milliseconds. */
  POLL_SWEEP_INTERVAL_MS: Type.Integer({ default: 1_000, minimum: 100 }),
  /** How often the stats rollup takes in recent changes, in milliseconds (GET /v1/stats is exact either way). */
  STATS_REFRESH_INTERVAL_MS: Type.Integer({ default: 5_000, minimum: 1_000 }),
  /** Requests per minute each API key may make. */
  RATE_LIMIT_PER_MINUTE: Type.Integer({ default: 1200, minimum: 1 }),
  /** Allow webhook URLs on private, loopback and link-local addresses (local development, tests). */
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  /** Time one webhook attempt may take, in milliseconds. */
  WEBHOOK_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100, maximum: 60_000 }),
  /** Run the submit/poll/webhook workers in this process. */
  WORKERS_ENABLED: Type.Boolean({ default: true }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 0 }),
  /** Simulated run time of a task in the in-process PoYo simulator. */
  SIMULATOR_RUN_MS: Type.Integer({ default: 8_000, minimum: 0 }),
})

export type Config = Static<typeof EnvSchema>

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Reads and validates configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const known = Object.keys(EnvSchema.properties)
  // Empty strings count as unset, so `FOO=` in a .env file means "use the default".
  const raw: Record<string, unknown> = {}
  for (const key of known) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw))
  const seen = new Set<string>()
  const problems: string[] = []
  for (const error of Value.Errors(EnvSchema, converted)) {
    const name = error.path.replace(/^\//, '')
    if (seen.has(name)) continue
    seen.add(name)
    const shown = name in raw ? ` (got ${JSON.stringify(isSecretName(name) ? '***' : raw[name])})` : ''
    problems.push(`${name}: ${describe(error.schema as ChoiceSchema, error.message)}${shown}`)
  }
  const config = converted as Config
  if (problems.length === 0 && config.NODE_ENV === 'production' && !config.CALLBACK_TOKEN_SECRET) {
    problems.push('CALLBACK_TOKEN_SECRET: is required when NODE_ENV is production')
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

/** "must be one of a, b" reads better than TypeBox's "Expected union value". */
type ChoiceSchema = { anyOf?: { const?: unknown }[] }

function describe(schema: ChoiceSchema, fallback: string): string {
  const choices = schema.anyOf?.map((option) => option.const)
  if (choices?.length && choices.every((choice) => choice !== undefined))
    return `must be one of ${choices.join(', ')}`
  return fallback
}

function isSecretName(name: string): boolean {
  return /KEY|SECRET|TOKEN|PASSWORD|DATABASE_URL/.test(name)
}
