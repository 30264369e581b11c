import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { databaseUrlFor, dropDatabase, withPgClient } from '../../src/db/admin.js'
import { startEmbeddedPostgres } from '../../src/db/embedded.js'
import { freePort } from '../../scripts/lib/free-port.js'
import { buildTestApp } from '../helpers/app.js'
import { testServer } from '../helpers/database.js'

const encodingWarnings = (logs: Record<string, unknown>[]) =>
  logs.filter((line) => line['level'] === 40 && 'encoding' in line)

/** Stores a task whose prompt says "café" and returns what `q=CAFÉ` finds. */
const findsCafe = async (t: Test, app: Awaited<ReturnType<typeof buildTestApp>>['app']) => {
  const created = await app.inject({
    method: 'POST',
    url: '/v1/tasks',
    payload: { model: 'hailuo-2.3', input: { prompt: 'Un café crème au comptoir' } },
  })
  t.equal(created.statusCode, 202, 'the task is stored')
  const found = await app.inject({ method: 'GET', url: '/v1/tasks?q=CAF%C3%89' })
  t.equal(found.statusCode, 200, 'the search answers')
  return (found.json() as { data: { id: string }[] }).data.map((task) => task.id)
}

t.test('an embedded cluster made with no locale in the environment is UTF-8 and folds case', async (t) => {
  // What `npm start` meets in a bare container or under `env -i`: initdb would pick C and SQL_ASCII.
  const saved = { ...process.env }
  for (const name of ['LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_COLLATE']) delete process.env[name]
  t.teardown(() => {
    process.env = saved
  })
  const dataDir = await mkdtemp(join(tmpdir(), 'poyo-locale-pg-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const cluster = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true })
  t.teardown(() => cluster.stop())

  const settings = await withPgClient(cluster.url, async (client) => {
    const { rows } = await client.query<{ encoding: string; lowered: string }>(
      `SELECT current_setting('server_encoding') AS encoding, lower('CAFÉ ẞ Σ') AS lowered`,
    )
    return rows[0]
  })
  t.same(settings, { encoding: 'UTF8', lowered: 'café ß σ' })

  const { app, logs } = await buildTestApp(t, { MIGRATE_ON_START: 'true' }, { databaseUrl: cluster.url })
  t.equal((await findsCafe(t, app)).length, 1, 'q=CAFÉ finds "café"')
  t.same(encodingWarnings(logs), [], 'no warning about the encoding')
})

t.test('a database in another encoding than UTF-8 is named at start, with what it costs', async (t) => {
  const { serverUrl } = testServer()
  const name = `poyo_test_ascii_${process.pid}`
  await dropDatabase(serverUrl, name)
  await withPgClient(serverUrl, (client) =>
    client.query(
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'SQL_ASCII'
       LOCALE_PROVIDER libc LC_COLLATE 'C' LC_CTYPE 'C'`,
    ),
  )
  t.teardown(() => dropDatabase(serverUrl, name))

  const { app, logs } = await buildTestApp(
    t,
    { MIGRATE_ON_START: 'true' },
    { databaseUrl: databaseUrlFor(serverUrl, name) },
  )
  const [warning] = encodingWarnings(logs)
  t.equal(warning?.['encoding'], 'SQL_ASCII')
  t.match(String(warning?.['msg']), /not UTF8: prompt search will not fold the case of non-ASCII letters/)
  t.same(await findsCafe(t, app), [], 'the cost it names: q=CAFÉ misses "café" there')
})
