// The dashboard: aggregates, a chart, success by model, and a filterable task table kept
// live by /v1/stream. Plain ES modules, no build step, no third-party code.
import { ApiError, api, followChanges, query, savedKey, saveKey } from './api.js'
import { renderModels, renderSeries } from './charts.js'
import {
  badge,
  formatNumber,
  formatPercent,
  formatTime,
  h,
  promptOf,
  shortId,
  statuses,
  statusLabel,
} from './dom.js'
import { closeDrawer, drawerTaskId, openDrawer } from './drawer.js'

const pageSize = 25
const windows = {
  '24h': { hours: 24, bucket: 'hour' },
  '7d': { hours: 168, bucket: 'day' },
  '30d': { hours: 720, bucket: 'day' },
}

const state = {
  filters: { status: [], model: '', q: '' },
  /** Cursor of each page visited; the last is the current page's (null: the first). */
  cursors: [null],
  next: null,
  tasks: [],
  window: '24h',
  stopStream: null,
}

const $ = (id) => document.getElementById(id)

function showError(error) {
  const banner = $('banner')
  if (!error) {
    banner.hidden = true
    return
  }
  banner.hidden = false
  banner.textContent =
    error instanceof ApiError && error.status === 401
      ? 'This key was not accepted. Paste an admin API key above.'
      : `Could not load: ${error.message}`
}

// ---- aggregates -------------------------------------------------------------------

let statsTimer = null
function refreshStatsSoon() {
  clearTimeout(statsTimer)
  statsTimer = setTimeout(loadStats, 800)
}

async function loadStats() {
  const { hours, bucket } = windows[state.window]
  const from = new Date(Date.now() - hours * 3_600_000).toISOString()
  const stats = await api(`/v1/stats${query({ from, bucket })}`)
  const cards = [
    ...statuses.map((status) => ({
      label: statusLabel(status),
      value: formatNumber(stats.by_status[status]),
      status,
    })),
    { label: 'success rate', value: formatPercent(stats.success_rate) },
    { label: 'credits', value: formatNumber(stats.credits) },
  ]
  $('kpis').replaceChildren(
    ...cards.map((card) =>
      h(
        'div',
        {
          class: `kpi${card.status ? ` kpi-${card.status}` : ''}`,
          dataset: { kpi: card.status ?? card.label },
        },
        h('div', { class: 'kpi-value' }, card.value),
        h('div', { class: 'kpi-label' }, card.label),
      ),
    ),
  )
  $('total').textContent = `${formatNumber(stats.total)} tasks created`
  renderSeries($('chart'), stats.series, stats.bucket)
  renderModels($('models'), stats.by_model)
}

// ---- task table ---------------------------------------------------------------------

function row(task) {
  const progress = h('div', { class: 'progress' }, h('div', { class: 'progress-fill' }))
  progress.firstChild.style.width = `${task.status === 'finished' ? 100 : task.progress}%`
  return h(
    'tr',
    { dataset: { taskId: task.id, status: task.status }, tabindex: 0, onclick: () => openDrawer(task.id) },
    h('td', { class: 'nowrap muted' }, formatTime(task.created_at)),
    h('td', {}, h('code', { title: task.id }, shortId(task.id))),
    h('td', { class: 'nowrap' }, task.model),
    h('td', {}, badge(task.status)),
    h('td', {}, progress),
    h('td', { class: 'prompt-cell', title: promptOf(task) }, promptOf(task)),
    h(
      'td',
      { class: 'num' },
      task.credits === null ? h('span', { class: 'muted' }, '–') : formatNumber(task.credits),
    ),
  )
}

function renderTable() {
  const body = $('task-rows')
  body.replaceChildren(...state.tasks.map(row))
  if (state.tasks.length === 0)
    body.append(h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No tasks match these filters.')))
  $('page-info').textContent = `Page ${state.cursors.length}`
  $('newer').disabled = state.cursors.length === 1
  $('older').disabled = !state.next
}

async function loadTasks() {
  const cursor = state.cursors.at(-1)
  const page = await api(`/v1/tasks${query({ ...state.filters, limit: pageSize, cursor })}`)
  state.tasks = page.data
  state.next = page.next_cursor
  renderTable()
}

function matchesFilters(task) {
  const { status, model, q } = state.filters
  if (status.length && !status.includes(task.status)) return false
  if (model && task.model !== model) return false
  return !q || promptOf(task).toLowerCase().includes(q.toLowerCase())
}

/** A change from the stream: update the row, or add the task to the first page. */
function applyChange({ task }) {
  const index = state.tasks.findIndex((candidate) => candidate.id === task.id)
  if (index !== -1) state.tasks[index] = task
  else if (state.cursors.length === 1 && matchesFilters(task)) {
    state.tasks = [task, ...state.tasks]
      .sort((a, b) =>
        a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1,
      )
      .slice(0, pageSize)
  } else return refreshStatsSoon()
  renderTable()
  const updated = document.querySelector(`tr[data-task-id="${CSS.escape(task.id)}"]`)
  updated?.classList.add('flash')
  if (drawerTaskId() === task.id) openDrawer(task.id).catch(showError)
  refreshStatsSoon()
}

function setLive(mode) {
  const indicator = $('live')
  indicator.dataset.state = mode
  indicator.textContent = { live: 'Live', connecting: 'Connecting…', offline: 'Offline' }[mode]
}

// ---- wiring -----------------------------------------------------------------------

function onFiltersChanged() {
  state.cursors = [null]
  loadTasks().catch(showError)
}

function buildFilters() {
  $('status-filter').replaceChildren(
    ...statuses.map((status) =>
      h(
        'label',
        { class: `chip chip-${status}` },
        h('input', {
          type: 'checkbox',
          value: status,
          onchange: (event) => {
            const { checked, value } = event.target
            state.filters.status = checked
              ? [...state.filters.status, value]
              : state.filters.status.filter((item) => item !== value)
            onFiltersChanged()
          },
        }),
        statusLabel(status),
      ),
    ),
  )
  $('model-filter').addEventListener('change', (event) => {
    state.filters.model = event.target.value
    onFiltersChanged()
  })
  let typing = null
  $('q-filter').addEventListener('input', (event) => {
    clearTimeout(typing)
    typing = setTimeout(() => {
      state.filters.q = event.target.value.trim()
      onFiltersChanged()
    }, 300)
  })
  $('older').addEventListener('click', () => {
    state.cursors.push(state.next)
    loadTasks().catch(showError)
  })
  $('newer').addEventListener('click', () => {
    state.cursors.pop()
    loadTasks().catch(showError)
  })
  $('window').addEventListener('change', (event) => {
    state.window = event.target.value
    loadStats().catch(showError)
  })
}

async function loadModels() {
  const models = await api('/v1/models')
  $('model-filter').replaceChildren(
    h('option', { value: '' }, 'All models'),
    ...models.data.map((model) => h('option', { value: model.id }, model.id)),
  )
}

async function start() {
  state.stopStream?.()
  try {
    await Promise.all([loadStats(), loadTasks(), loadModels()])
    showError(null)
  } catch (error) {
    showError(error)
    return
  }
  state.stopStream = followChanges({ onChange: applyChange, onState: setLive })
}

function init() {
  const keyInput = $('api-key')
  keyInput.value = savedKey()
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault()
    saveKey(keyInput.value.trim())
    start()
  })
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeDrawer()
  })
  window.addEventListener('resize', () => refreshStatsSoon())
  buildFilters()
  setLive('offline')
  if (savedKey()) start()
  else showError(new ApiError(401, null))
}

init()
