/**
 * The dashboard in headless Chromium against a listening app (PoYo simulator, callbacks to
 * the app's own port): a task submitted through the API appears and finishes in the table
 * live, filters work, the drawer shows the timeline and the video, and a screenshot is
 * saved to test-artifacts/dashboard.png. Needs Debian's Chromium: scripts/ensure-package.sh chromium chromium.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { packageRoot } from '../../src/paths.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import { buildTestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'
import { busyEnv, createKey, freePort, insertTasks, type SeedTask } from '../queries/support.js'

const executablePath = '/usr/bin/chromium'
const screenshot = join(packageRoot, 'test-artifacts', 'dashboard.png')
const drawerShot = join(packageRoot, 'test-artifacts', 'dashboard-drawer.png')

t.test('the dashboard, live, in a browser', async (t) => {
  if (!existsSync(executablePath)) {
    t.fail(
      `${executablePath} is missing: run scripts/ensure-package.sh chromium chromium (installs Debian's chromium)`,
    )
    return
  }
  const port = await freePort()
  const { app, runtime } = await buildTestApp(t, {
    ...busyEnv,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SIMULATOR_RUN_MS: '1500',
    POLL_SWEEP_INTERVAL_MS: '200',
  })
  const base = await app.listen({ host: '127.0.0.1', port })
  const prisma = runtime.deps.prisma
  const admin = await createKey(prisma, 'admin')

  // A day of history, so the page has something to show.
  const models = ['kling-3.0/standard', 'kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/master']
  const prompts = [
    'A red fox in fresh snow',
    'Neon city street at night',
    'Waves on a quiet beach',
    'A robot learns to dance',
  ]
  const history: SeedTask[] = Array.from({ length: 48 }, (_, i) => {
    const createdAt = new Date(Date.now() - (i * 29 + 7) * 60_000)
    const status: TaskStatus = i % 7 === 3 ? 'failed' : i < 2 ? 'running' : 'finished'
    const ended = status !== 'running'
    return {
      model: models[i % 4] as string,
      status,
      createdAt,
      input: { prompt: `${prompts[i % 4]} (take ${i + 1})`, duration: 5 },
      submittedAt: createdAt,
      finishedAt: ended ? new Date(createdAt.getTime() + (40 + (i % 9) * 25) * 1000) : null,
      credits: status === 'finished' ? 195 : null,
    }
  })
  await insertTasks(prisma, history)
  const finishedBefore = history.filter((task) => task.status === 'finished').length

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('console', (message) => {
    // The simulator's output files live on a host that does not exist: the video cannot load.
    if (message.type() === 'error' && !message.location().url.includes('poyo.sim'))
      problems.push(`console: ${message.text()}`)
  })
  let listRequests = 0
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/tasks' && request.method() === 'GET') listRequests++
  })

  await page.goto(`${base}/dashboard`)
  await page.fill('#api-key', admin.headers.authorization.slice('Bearer '.length))
  await page.click('#key-form button')
  await page.waitForSelector('#live[data-state="live"]', { timeout: 10_000 })
  t.equal(
    await page.textContent('[data-kpi="finished"] .kpi-value'),
    String(finishedBefore),
    'finished count',
  )
  t.equal(await page.locator('#task-rows tr').count(), 25, 'a page of tasks')
  t.ok((await page.locator('#chart svg rect.bar-created').count()) >= 24, 'the chart has a bar per hour')
  t.equal(await page.locator('#models .model-row').count(), 4, 'success by model, one row each')

  const listed = listRequests
  const created = await app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: admin.headers,
    payload: { model: 'kling-3.0/pro', input: { prompt: 'A paper boat sails across a puddle', duration: 5 } },
  })
  t.equal(created.statusCode, 202, 'the API accepted the task')
  const taskId = created.json().id as string
  const row = `#task-rows tr[data-task-id="${taskId}"]`
  await page.waitForSelector(row, { timeout: 10_000 })
  t.pass('the new task appeared in the table')
  await page.waitForSelector(`${row}[data-status="finished"]`, { timeout: 15_000 })
  t.equal(await page.textContent(`${row} .badge`), 'finished', 'and turned finished')
  t.equal(listRequests, listed, 'live from the stream, without reloading the list')
  // The page's CSP forbids eval, so no string predicates: read the DOM and poll from here.
  const rowAttributes = (name: string) =>
    page
      .locator('#task-rows tr[data-task-id]')
      .evaluateAll(
        (rows: unknown[], attribute) =>
          rows.map((row) => (row as { getAttribute(name: string): string | null }).getAttribute(attribute)),
        name,
      )
  await waitFor(
    async () => (await page.textContent('[data-kpi="finished"] .kpi-value')) === String(finishedBefore + 1),
    {
      what: 'the finished count to follow',
    },
  )

  await page.check('#status-filter input[value="failed"]')
  await waitFor(
    async () => {
      const statuses = await rowAttributes('data-status')
      return statuses.length > 0 && statuses.every((status) => status === 'failed')
    },
    { what: 'only failed rows' },
  )
  const failed = history.filter((task) => task.status === 'failed').length
  t.equal(
    await page.locator('#task-rows tr[data-task-id]').count(),
    failed,
    'the status filter shows failed tasks only',
  )
  await page.uncheck('#status-filter input[value="failed"]')
  await page.fill('#q-filter', 'PAPER BOAT')
  await waitFor(async () => (await rowAttributes('data-task-id')).join() === taskId, {
    what: 'the search result',
  })
  t.pass('the prompt search finds just the new task')

  await page.click(row)
  await page.waitForSelector('#drawer .timeline li', { timeout: 5_000 })
  const events = await page.locator('#drawer .timeline li').count()
  t.ok(events >= 4, `the timeline lists the task's events (${events})`)
  t.ok(
    await page.locator('#drawer .timeline .event-status_changed .badge-finished').count(),
    'ending in finished',
  )
  t.match(await page.getAttribute('#drawer video', 'src'), /\.mp4$/, 'the output video is a <video>')
  t.match(await page.textContent('#drawer .files'), /thumbnail/, 'other files are links')

  await page.fill('#q-filter', '')
  await waitFor(async () => (await rowAttributes('data-task-id')).length === 25, { what: 'all rows again' })
  await mkdir(join(packageRoot, 'test-artifacts'), { recursive: true })
  await page.screenshot({ path: drawerShot })
  await page.keyboard.press('Escape')
  await page.waitForSelector('#drawer', { state: 'hidden' })
  await page.screenshot({ path: screenshot, fullPage: true })
  t.ok(existsSync(screenshot) && existsSync(drawerShot), `screenshots at ${screenshot} and ${drawerShot}`)
  t.same(problems, [], 'no script errors and no content-security-policy violations')
})
