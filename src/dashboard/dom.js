// Small DOM and formatting helpers. Everything shown is built with text nodes, never
// innerHTML: prompts and error messages come from users and from PoYo.

const svgNs = 'http://www.w3.org/2000/svg'

/** h('div', { class: 'x', onclick: fn }, child, 'text') → an element. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  return fill(element, attributes, children)
}

/** The same for SVG elements. */
export function s(tag, attributes = {}, ...children) {
  return fill(document.createElementNS(svgNs, tag), attributes, children)
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value)
    else if (name === 'dataset') Object.assign(element.dataset, value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue
    element.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return element
}

export const statuses = ['queued', 'not_started', 'running', 'finished', 'failed']

export function statusLabel(status) {
  return status.replace('_', ' ')
}

export function badge(status) {
  return h('span', { class: `badge badge-${status}`, dataset: { status } }, statusLabel(status))
}

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 })
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 })

export function formatNumber(value) {
  return value === null || value === undefined ? '–' : integer.format(value)
}

export function formatPercent(rate) {
  return rate === null || rate === undefined ? '–' : `${decimal.format(rate * 100)}%`
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return '–'
  if (seconds < 90) return `${decimal.format(seconds)} s`
  if (seconds < 5400) return `${decimal.format(seconds / 60)} min`
  return `${decimal.format(seconds / 3600)} h`
}

export function formatTime(iso) {
  if (!iso) return '–'
  const date = new Date(iso)
  const sameDay = date.toDateString() === new Date().toDateString()
  const time = date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  return sameDay ? time : `${date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} ${time}`
}

/** The prompt a person would recognise the task by. */
export function promptOf(task) {
  const input = task.input ?? {}
  if (typeof input.prompt === 'string') return input.prompt
  if (Array.isArray(input.multi_prompt))
    return input.multi_prompt.map((shot) => shot?.prompt ?? '').join(' · ')
  return ''
}

export function shortId(id) {
  return id.slice(-8)
}
