// A host's load as Sparkle knows it: hosts.status.metrics (one interval's averages, from an
// agent that sends metrics batches) when present, else hosts.status.load (what every heartbeat
// carries: CPU, memory, vCPUs allocated, instances running). Sparkle keeps only the newest of
// each; the dashboard keeps the samples it saw while a page is open to draw their trend, history
// beyond that is collectd's.
export interface HostMetricsSample {
  at: string
  source: 'metrics' | 'heartbeat'
  interval_s?: number
  cpu_pct: number
  mem_used_mib: number
  net_rx_bps?: number
  net_tx_bps?: number
  disk_read_bps?: number
  disk_write_bps?: number
  vcpus_allocated?: number
  instances?: number
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

export function metricsOf(status: unknown, heartbeatAt: string | null = null): HostMetricsSample | null {
  const st = status as { metrics?: Record<string, unknown>; load?: Record<string, unknown> } | null
  const m = st?.metrics
  if (m && typeof m.at === 'string') {
    return {
      at: m.at,
      source: 'metrics',
      interval_s: num(m.interval_s),
      cpu_pct: num(m.cpu_pct) ?? 0,
      mem_used_mib: num(m.mem_used_mib) ?? 0,
      net_rx_bps: num(m.net_rx_bps) ?? 0,
      net_tx_bps: num(m.net_tx_bps) ?? 0,
      disk_read_bps: num(m.disk_read_bps) ?? 0,
      disk_write_bps: num(m.disk_write_bps) ?? 0,
      instances: num(m.domains),
      vcpus_allocated: num((st?.load ?? {}).vcpus_allocated),
    }
  }
  const l = st?.load
  if (l && heartbeatAt) {
    return {
      at: heartbeatAt,
      source: 'heartbeat',
      cpu_pct: num(l.cpu_used_pct) ?? 0,
      mem_used_mib: num(l.memory_used_mib) ?? 0,
      vcpus_allocated: num(l.vcpus_allocated),
      instances: num(l.instances_running),
    }
  }
  return null
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
