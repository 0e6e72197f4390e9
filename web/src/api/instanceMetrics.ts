import { cloudPath } from './client'
import { formatBytes, formatRate } from './metrics'

// An instance's performance history as Sparkle keeps it (GET /instances/{id}/metrics): raw
// samples for an hour, one-minute averages for a day, ten-minute averages for a week.
export interface InstanceMetricsPoint {
  at: string
  cpu_pct: number
  mem_mib: number
  disk_read_bps: number
  disk_write_bps: number
  net_rx_bps: number
  net_tx_bps: number
}

export interface InstanceMetrics {
  instance_id: string
  since: string
  until: string
  resolution: 'raw' | '1m' | '10m'
  step_seconds: number
  points: InstanceMetricsPoint[]
}

export type MetricsRange = '1h' | '24h' | '7d'

// Each range is drawn as about 120-170 steps (the server averages them) and refreshed about as
// often as a new step can appear: fewer bytes than raw points, and as live as the data.
export const METRIC_RANGES: Record<MetricsRange, { label: string; seconds: number; step: number; pollMs: number }> = {
  '1h': { label: '1 hour', seconds: 3600, step: 30, pollMs: 10_000 },
  '24h': { label: '24 hours', seconds: 86_400, step: 600, pollMs: 60_000 },
  '7d': { label: '7 days', seconds: 604_800, step: 3600, pollMs: 300_000 },
}

export function metricsUrl(cloud: string, instanceId: string, range: MetricsRange, nowMs: number): string {
  const r = METRIC_RANGES[range]
  const since = new Date(nowMs - r.seconds * 1000).toISOString()
  const query = new URLSearchParams({ since, step: String(r.step) })
  return cloudPath(cloud, `/instances/${encodeURIComponent(instanceId)}/metrics`) + '?' + query.toString()
}

export type MetricKey = Exclude<keyof InstanceMetricsPoint, 'at'>

// One value per step from the first sample to the last: a step without a sample (the instance
// was off, its host silent) counts as 0, so that the x axis stays time. Steps before the first
// sample and after the last are left out: a new instance's graph starts at its first sample and
// the step in progress does not look like a drop.
export function stepValues(points: InstanceMetricsPoint[], key: MetricKey, stepSeconds: number): number[] {
  if (points.length === 0) return []
  const times = points.map((p) => Date.parse(p.at))
  if (stepSeconds <= 0) return points.map((p) => p[key])
  const stepMs = stepSeconds * 1000
  const first = times[0]
  const slots = Math.floor((times[times.length - 1] - first) / stepMs) + 1
  // A range can be asked with any step: never draw more steps than a graph has pixels for.
  if (slots > 2000) return points.map((p) => p[key])
  const sums = new Array<number>(slots).fill(0)
  const counts = new Array<number>(slots).fill(0)
  points.forEach((p, i) => {
    const slot = Math.floor((times[i] - first) / stepMs)
    sums[slot] += p[key]
    counts[slot] += 1
  })
  return sums.map((s, i) => (counts[i] ? s / counts[i] : 0))
}

export interface MetricSeries {
  key: MetricKey
  label: string
  values: number[]
  format: (v: number) => string
  max?: number
}

const mib = (v: number): string => formatBytes(v * 1024 * 1024)

// The graphs of the instance detail: CPU against its vCPUs (0-100 %), memory against its RAM,
// disk and network rates against their own peak.
export function instanceSeries(metrics: InstanceMetrics | null, ramMib?: number): MetricSeries[] {
  const points = metrics?.points ?? []
  const step = metrics?.step_seconds ?? 0
  const all: Omit<MetricSeries, 'values'>[] = [
    { key: 'cpu_pct', label: 'CPU (of its vCPUs)', format: (v) => `${v.toFixed(1)} %`, max: 100 },
    { key: 'mem_mib', label: 'Memory', format: mib, max: ramMib && ramMib > 0 ? ramMib : undefined },
    { key: 'disk_read_bps', label: 'Disk read', format: formatRate },
    { key: 'disk_write_bps', label: 'Disk write', format: formatRate },
    { key: 'net_rx_bps', label: 'Network in', format: formatRate },
    { key: 'net_tx_bps', label: 'Network out', format: formatRate },
  ]
  return all.map((s) => ({ ...s, values: stepValues(points, s.key, step) }))
}
