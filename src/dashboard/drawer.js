// The task drawer: details, error, output files and the timeline (/v1/tasks/{id}/events).
import { api } from './api.js'
import { badge, formatNumber, formatSeconds, formatTime, h, promptOf, statusLabel } from './dom.js'

const drawer = () => document.getElementById('drawer')
let openId = null

export function drawerTaskId() {
  return openId
}

export function closeDrawer() {
  openId = null
  drawer().hidden = true
  document.body.classList.remove('drawer-open')
}

function isVideo(file) {
  return file.type === 'video' || /\.(mp4|webm|mov|m4v)(\?|$)/i.test(file.url)
}

function outputSection(task) {
  if (task.files.length === 0)
    return h('p', { class: 'muted' }, task.status === 'finished' ? 'No files.' : 'No output yet.')
  return h(
    'div',
    { class: 'files' },
    task.files.map((file) =>
      isVideo(file)
        ? h('video', { src: file.url, controls: true, preload: 'metadata', class: 'video' })
        : h(
            'a',
            { href: file.url, target: '_blank', rel: 'noopener noreferrer', class: 'file-link' },
            `${file.type}: ${file.url.split('/').pop()}`,
          ),
    ),
  )
}

function seconds(from, to) {
  return from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null
}

function detailsSection(task) {
  const rows = [
    ['Task id', h('code', {}, task.id)],
    ['Provider id', task.provider_task_id ? h('code', {}, task.provider_task_id) : '–'],
    ['Created', formatTime(task.created_at)],
    ['Submitted', formatTime(task.submitted_at)],
    ['Started', formatTime(task.started_at)],
    ['Finished', formatTime(task.finished_at)],
    ['Submit → finish', formatSeconds(seconds(task.submitted_at, task.finished_at))],
    ['Progress', `${task.progress}%`],
    [
      'Credits',
      task.credits === null
        ? `≈ ${formatNumber(task.estimated_credits)} (estimate)`
        : formatNumber(task.credits),
    ],
  ]
  return h(
    'dl',
    { class: 'details' },
    rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  )
}

function describeEvent(event) {
  if (event.type === 'status_changed' || event.type === 'created')
    return h(
      'span',
      { class: 'transition' },
      event.from_status ? [badge(event.from_status), ' → '] : null,
      event.to_status ? badge(event.to_status) : null,
    )
  const payload = event.payload ?? {}
  const hint = payload.status ?? payload.outcome ?? payload.error ?? payload.reason
  return typeof hint === 'string' ? h('span', { class: 'muted' }, statusLabel(hint)) : null
}

function timelineSection(events) {
  return h(
    'ol',
    { class: 'timeline' },
    events.map((event) =>
      h(
        'li',
        { class: `event event-${event.type}`, dataset: { eventId: event.id } },
        h(
          'div',
          { class: 'event-head' },
          h('span', { class: 'event-type' }, event.type.replace('_', ' ')),
          h('span', { class: 'muted' }, `${event.source} · ${formatTime(event.created_at)}`),
        ),
        describeEvent(event),
        Object.keys(event.payload ?? {}).length
          ? h(
              'details',
              {},
              h('summary', {}, 'payload'),
              h('pre', {}, JSON.stringify(event.payload, null, 2)),
            )
          : null,
      ),
    ),
  )
}

/** Opens (or refreshes) the drawer for one task. */
export async function openDrawer(taskId) {
  openId = taskId
  const panel = drawer()
  panel.hidden = false
  document.body.classList.add('drawer-open')
  const [task, events] = await Promise.all([api(`/v1/tasks/${taskId}`), api(`/v1/tasks/${taskId}/events`)])
  if (openId !== taskId) return
  const body = h(
    'div',
    { class: 'drawer-body' },
    h(
      'header',
      { class: 'drawer-head' },
      h('div', {}, h('h2', {}, task.model), badge(task.status)),
      h('button', { class: 'icon', type: 'button', 'aria-label': 'Close', onclick: closeDrawer }, '×'),
    ),
    h('p', { class: 'prompt' }, promptOf(task) || h('span', { class: 'muted' }, 'No prompt')),
    task.error
      ? h(
          'div',
          { class: 'error-box', role: 'alert' },
          h('strong', {}, task.error.code),
          h('p', {}, task.error.message),
        )
      : null,
    h('h3', {}, 'Output'),
    outputSection(task),
    h('h3', {}, 'Details'),
    detailsSection(task),
    h('h3', {}, `Timeline · ${events.data.length} events`),
    timelineSection(events.data),
  )
  panel.replaceChildren(body)
}
