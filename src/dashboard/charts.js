// Hand-drawn SVG charts (no library, no CDN): tasks over time and success by model.
import { formatPercent, formatSeconds, h, s } from './dom.js'

/** A round upper bound for the y axis and its tick step. */
function niceScale(max) {
  if (max <= 4) return { top: Math.max(1, max), step: 1 }
  const magnitude = 10 ** Math.floor(Math.log10(max))
  const step =
    [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((candidate) => max / candidate <= 5) ?? magnitude
  return { top: Math.ceil(max / step) * step, step }
}

function bucketLabel(iso, bucket) {
  const date = new Date(iso)
  return bucket === 'hour'
    ? date.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })
}

/** Created per bucket as bars; finished and failed per bucket as lines. */
export function renderSeries(container, series, bucket) {
  const width = Math.max(320, container.clientWidth)
  const height = 240
  const pad = { top: 12, right: 12, bottom: 28, left: 36 }
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const max = Math.max(0, ...series.flatMap((b) => [b.created, b.finished, b.failed]))
  const { top, step } = niceScale(max)
  const x = (i) => pad.left + (plotW * (i + 0.5)) / Math.max(1, series.length)
  const y = (value) => pad.top + plotH - (plotH * value) / top
  const barW = Math.max(2, (plotW / Math.max(1, series.length)) * 0.62)

  const svg = s('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    class: 'chart',
    role: 'img',
    'aria-label': 'Tasks over time',
  })
  for (let value = 0; value <= top; value += step) {
    svg.append(
      s('line', { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: 'grid' }),
      s('text', { x: pad.left - 8, y: y(value) + 4, class: 'axis', 'text-anchor': 'end' }, String(value)),
    )
  }
  const labelEvery = Math.ceil(series.length / Math.max(1, Math.floor(plotW / 64)))
  series.forEach((b, i) => {
    const bar = s('rect', {
      x: x(i) - barW / 2,
      y: y(b.created),
      width: barW,
      height: Math.max(0, y(0) - y(b.created)),
      rx: 2,
      class: 'bar-created',
    })
    bar.append(
      s(
        'title',
        {},
        `${bucketLabel(b.start, bucket)}: ${b.created} created, ${b.finished} finished, ${b.failed} failed`,
      ),
    )
    svg.append(bar)
    if (i % labelEvery === 0)
      svg.append(
        s(
          'text',
          { x: x(i), y: height - 8, class: 'axis', 'text-anchor': 'middle' },
          bucketLabel(b.start, bucket),
        ),
      )
  })
  for (const key of ['finished', 'failed']) {
    const points = series.map((b, i) => `${x(i).toFixed(1)},${y(b[key]).toFixed(1)}`).join(' ')
    svg.append(s('polyline', { points, class: `line line-${key}` }))
    series.forEach((b, i) => {
      if (b[key] > 0) svg.append(s('circle', { cx: x(i), cy: y(b[key]), r: 2.5, class: `dot dot-${key}` }))
    })
  }
  const legend = h(
    'div',
    { class: 'legend' },
    h('span', { class: 'key key-created' }, 'created'),
    h('span', { class: 'key key-finished' }, 'finished'),
    h('span', { class: 'key key-failed' }, 'failed'),
  )
  container.replaceChildren(svg, legend)
}

/** One row per model: a finished/failed bar, the success rate and submit→finish percentiles. */
export function renderModels(container, byModel) {
  if (byModel.length === 0) {
    container.replaceChildren(h('p', { class: 'empty' }, 'No tasks in this window.'))
    return
  }
  const rows = byModel.map((model) => {
    const ended = model.by_status.finished + model.by_status.failed
    const finishedShare = ended ? (model.by_status.finished / ended) * 100 : 0
    const track = h('div', {
      class: 'track',
      title: `${model.by_status.finished} finished, ${model.by_status.failed} failed`,
    })
    if (ended) {
      const ok = h('div', { class: 'fill-finished' })
      ok.style.width = `${finishedShare}%`
      const bad = h('div', { class: 'fill-failed' })
      bad.style.width = `${100 - finishedShare}%`
      track.append(ok, bad)
    }
    return h(
      'div',
      { class: 'model-row', dataset: { model: model.model } },
      h(
        'div',
        { class: 'model-name' },
        model.model,
        h('span', { class: 'muted' }, ` · ${model.total} tasks`),
      ),
      track,
      h('div', { class: 'model-rate' }, formatPercent(model.success_rate)),
      h(
        'div',
        { class: 'model-times muted' },
        `p50 ${formatSeconds(model.p50_seconds)} · p95 ${formatSeconds(model.p95_seconds)}`,
      ),
    )
  })
  container.replaceChildren(...rows)
}
