/**
 * /dashboard serves the static page and its scripts (no build step) with a strict
 * content-security-policy; the page needs no key, the API it calls does.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const { app } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const anonymous = { authorization: undefined }

t.test('the page and its assets', async (t) => {
  for (const url of ['/dashboard', '/dashboard/']) {
    const page = await app.inject({ url, headers: anonymous })
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, /<script type="module" src="\/dashboard\/app\.js"><\/script>/)
    t.match(page.headers['content-security-policy'], /script-src 'self'/)
    t.notMatch(page.headers['content-security-policy'], /unsafe/, 'no unsafe-inline, no unsafe-eval')
  }
  for (const [file, type] of [
    ['app.js', /javascript/],
    ['api.js', /javascript/],
    ['charts.js', /javascript/],
    ['drawer.js', /javascript/],
    ['dom.js', /javascript/],
    ['styles.css', /text\/css/],
    ['table.css', /text\/css/],
  ] as const) {
    const asset = await app.inject({ url: `/dashboard/${file}`, headers: anonymous })
    t.equal(asset.statusCode, 200, file)
    t.match(asset.headers['content-type'], type)
    t.equal(asset.headers['x-content-type-options'], 'nosniff')
  }
})

t.test('nothing else is served from there', async (t) => {
  for (const url of ['/dashboard/nope.js', '/dashboard/../package.json', '/dashboard/%2e%2e/package.json']) {
    const response = await app.inject({ url, headers: anonymous })
    t.equal(response.statusCode, 404, url)
  }
})

t.test('the scripts use no remote resources (no CDN, no internet)', async (t) => {
  for (const file of [
    'index.html',
    'app.js',
    'api.js',
    'charts.js',
    'drawer.js',
    'dom.js',
    'styles.css',
    'table.css',
  ]) {
    const body = (await app.inject({ url: `/dashboard/${file}`, headers: anonymous })).body
    const remote = (body.match(/https?:\/\/[^\s'"`)]+/g) ?? []).filter(
      (url) => !url.includes('www.w3.org/2000/svg'),
    )
    t.same(remote, [], `${file} loads nothing remote`)
  }
})
