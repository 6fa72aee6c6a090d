import UPlot from './uPlot.esm.js'
import { duration } from './format.js'

const COLORS = ['#1f6fb4', '#c8372d', '#2c9a48', '#8a56c2', '#e07b12', '#14a3b8', '#8c564b', '#d4589f', '#6b6b6b', '#a5a51c']
const HEIGHT = 280

// A log scale cannot place 0 ns: the bucket of zero-length stages is drawn from half a nanosecond.
const edge = (ns) => Math.max(ns, 0.5)

/** The stages with data, each with its color kept by name while the page lives. */
const measuredStages = (histogram) => Object.entries(histogram.stages).filter(([, stage]) => stage.measured && stage.count > 0)

/**
 * uPlot's data: x is every bucket edge in ns (buckets are log2, so edges are consecutive powers of two), and each
 * stage's series holds, at each edge, the count of its bucket that starts there (0 past its last), drawn as steps.
 */
function chartData (stages) {
  const edges = new Set()
  for (const [, stage] of stages) {
    for (const bucket of stage.buckets) {
      edges.add(edge(bucket.fromNs))
      edges.add(bucket.toNs ?? bucket.fromNs * 2)
    }
  }
  const xs = [...edges].sort((a, b) => a - b)
  return [xs, ...stages.map(([, stage]) => {
    const counts = new Map(stage.buckets.map((bucket) => [edge(bucket.fromNs), bucket.count]))
    return xs.map((x) => counts.get(x) ?? 0)
  })]
}

/** Each shown stage's p50 (dashed) and p99 (solid) as vertical lines in its color, labelled at the top. */
function drawPercentiles (u, stages, colors) {
  const { ctx } = u
  const { left, top, width, height } = u.bbox
  ctx.save()
  ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`
  stages.forEach(([name, stage], i) => {
    if (!u.series[i + 1].show) return
    for (const [label, ns, dash] of [['p50', stage.p50Ns, [5, 4]], ['p99', stage.p99Ns, []]]) {
      if (ns === null) continue
      const x = u.valToPos(ns, 'x', true)
      if (x < left || x > left + width) continue
      ctx.strokeStyle = ctx.fillStyle = colors.get(name)
      ctx.lineWidth = 1.5 * devicePixelRatio
      ctx.setLineDash(dash.map((n) => n * devicePixelRatio))
      ctx.beginPath()
      ctx.moveTo(x, top)
      ctx.lineTo(x, top + height)
      ctx.stroke()
      ctx.fillText(`${name} ${label}`, x + 3 * devicePixelRatio, top + (12 + 12 * (2 * i + (label === 'p99'))) * devicePixelRatio)
    }
  })
  ctx.restore()
}

/**
 * Per-stage histograms of a session as one uPlot chart: latency on a log2 axis, datagrams per bucket, p50 and p99
 * marked. `update(histogram)` redraws; stages come from the histogram's own keys.
 */
export function histogramChart (container) {
  const colors = new Map()
  let plot
  let stages = []
  const width = () => Math.max(container.clientWidth, 320)
  new ResizeObserver(() => plot?.setSize({ width: width(), height: HEIGHT })).observe(container)

  function create () {
    plot?.destroy()
    for (const [name] of stages) if (!colors.has(name)) colors.set(name, COLORS[colors.size % COLORS.length])
    plot = new UPlot({
      width: width(),
      height: HEIGHT,
      scales: { x: { time: false, distr: 3, log: 2 }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        { values: (_u, splits) => splits.map(duration), label: 'latency (log scale)' },
        { label: 'datagrams per bucket', size: 60 }
      ],
      series: [
        { label: 'bucket from', value: (_u, ns) => ns === null ? '' : duration(ns) },
        ...stages.map(([name]) => ({
          label: name,
          stroke: colors.get(name),
          // A total is the sum of the stages, not one of them: an outline over them rather than another area.
          ...(/total$/i.test(name) ? { dash: [6, 4] } : { fill: `${colors.get(name)}22` }),
          width: 2,
          points: { show: false },
          paths: UPlot.paths.stepped({ align: 1 })
        }))
      ],
      hooks: { draw: [(u) => drawPercentiles(u, stages, colors)] }
    }, chartData(stages), container)
  }

  return {
    update (histogram) {
      const next = measuredStages(histogram)
      const changed = next.map(([name]) => name).join() !== stages.map(([name]) => name).join()
      stages = next
      container.dataset.stages = stages.map(([name]) => name).join(' ')
      if (stages.length === 0) {
        plot?.destroy()
        plot = undefined
        container.replaceChildren()
        return
      }
      if (changed || plot === undefined) create()
      else plot.setData(chartData(stages))
    }
  }
}
