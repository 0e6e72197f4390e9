// A host's load as its agent last reported it (hosts.status.metrics, one interval's averages;
// Sparkle keeps only the newest batch). The dashboard keeps the samples it saw while a page is
// open to draw their trend; history beyond that is collectd's.
export interface HostMetricsSample {
  at: string
  interval_s?: number
  domains?: number
  cpu_pct: number
  mem_used_mib: number
  net_rx_bps: number
  net_tx_bps: number
  disk_read_bps: number
  disk_write_bps: number
}

export function metricsOf(status: unknown): HostMetricsSample | null {
  const m = (status as { metrics?: Partial<HostMetricsSample> } | null)?.metrics
  if (!m || typeof m.at !== 'string') return null
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
  return {
    at: m.at,
    interval_s: m.interval_s,
    domains: m.domains,
    cpu_pct: n(m.cpu_pct),
    mem_used_mib: n(m.mem_used_mib),
    net_rx_bps: n(m.net_rx_bps),
    net_tx_bps: n(m.net_tx_bps),
    disk_read_bps: n(m.disk_read_bps),
    disk_write_bps: n(m.disk_write_bps),
  }
}

// Appends a sample unless it is the one already seen (polling faster than the agent reports).
export function addSample(series: HostMetricsSample[], sample: HostMetricsSample | null, max = 60): HostMetricsSample[] {
  if (!sample || series.at(-1)?.at === sample.at) return series
  const next = [...series, sample]
  return next.length > max ? next.slice(next.length - max) : next
}

// The polyline of a sparkline: x evenly spaced, y from 0 (bottom) to `max` (top; by default the
// largest value, so that a flat line of zeros stays at the bottom).
export function sparklinePoints(values: number[], width: number, height: number, max?: number): string {
  if (values.length === 0) return ''
  const top = max ?? Math.max(...values)
  const scale = top > 0 ? height / top : 0
  const step = values.length > 1 ? width / (values.length - 1) : 0
  return values
    .map((v, i) => {
      const x = values.length > 1 ? i * step : width
      const y = height - Math.min(Math.max(v, 0), top > 0 ? top : 0) * scale
      return `${round(x)},${round(y)}`
    })
    .join(' ')
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}

export function formatRate(bytesPerSecond: number): string {
  return formatBytes(bytesPerSecond) + '/s'
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = bytes
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u += 1
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`
}
