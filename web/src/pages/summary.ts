import { listAll } from '../api/client'
import { placementHeadroom, type PlacementHeadroom } from '../api/hosts'
import { isSystemAdmin } from '../api/session'
import type { Host, Instance } from '../api/types'
import { pendingLabel } from '../api/pending'

export interface CloudSummary {
  cloud: string
  instances: number
  running: number
  pending: number
  errors: number
  hosts: number | null
  hostsOnline: number | null
  vcpusUsed: number
  vcpusTotal: number | null
  ramUsedMib: number
  ramTotalMib: number | null
  // Sparkle's own answer (GET /placement/headroom): how many failed hosts the placed instances
  // survive, against the reserve the cloud is configured to keep. Null: not an operator, or the
  // Sparkle could not say.
  failoverHeadroom: PlacementHeadroom | null
  alerts: string[]
}

// As the agent reports it (proto/hello.schema.json): cpu.threads, memory_mib.
export function hostCpus(host: Host): number {
  const cpu = (host.hardware as { cpu?: { threads?: number } })?.cpu
  return typeof cpu?.threads === 'number' ? cpu.threads : 0
}
export function hostRamMib(host: Host): number {
  const ram = (host.hardware as { memory_mib?: number })?.memory_mib
  return typeof ram === 'number' ? ram : 0
}

export function summarize(cloud: string, instances: Instance[], hosts: Host[] | null, headroom: PlacementHeadroom | null = null): CloudSummary {
  const live = instances.filter((i) => !i.deleted_at)
  const s: CloudSummary = {
    cloud,
    instances: live.length,
    running: live.filter((i) => i.status?.state === 'running').length,
    pending: live.filter((i) => pendingLabel(i)).length,
    errors: live.filter((i) => i.status?.state === 'error').length,
    hosts: null,
    hostsOnline: null,
    vcpusUsed: live.reduce((n, i) => n + (i.spec.vcpus ?? 0), 0),
    vcpusTotal: null,
    ramUsedMib: live.reduce((n, i) => n + (i.spec.ram_mib ?? 0), 0),
    ramTotalMib: null,
    failoverHeadroom: headroom,
    alerts: [],
  }
  for (const i of live.filter((i) => i.status?.state === 'error')) s.alerts.push(`instance ${i.name}: ${i.status.message ?? 'error'}`)
  if (hosts) {
    const enrolled = hosts.filter((h) => h.enrollment === 'enrolled' && !h.deleted_at)
    s.hosts = enrolled.length
    s.hostsOnline = enrolled.filter((h) => h.state === 'online').length
    const cpus = enrolled.map(hostCpus)
    const ram = enrolled.map(hostRamMib)
    s.vcpusTotal = cpus.reduce((a, b) => a + b, 0)
    s.ramTotalMib = ram.reduce((a, b) => a + b, 0)
    for (const h of enrolled.filter((h) => h.state !== 'online' && h.state !== 'maintenance')) {
      const alert = (h.status as { outage_alert?: string } | null)?.outage_alert
      s.alerts.push(`host ${h.name} is ${h.state}` + (alert ? `: ${alert}` : ''))
    }
    const waiting = hosts.filter((h) => h.enrollment === 'pending').length
    if (waiting) s.alerts.push(`${waiting} host(s) wait for acceptance`)
  }
  if (headroom && !headroom.reserve_holds) {
    s.alerts.push(`failover reserve of ${headroom.reserve_hosts} host(s) not met: survives ${headroom.tolerated_failures} host failure(s)`)
  }
  return s
}

// Headroom is an operator's figure; a Sparkle that cannot compute it leaves it unknown rather
// than failing the whole summary.
export async function loadHeadroom(cloud: string): Promise<PlacementHeadroom | null> {
  if (!isSystemAdmin(cloud)) return null
  try {
    return await placementHeadroom(cloud)
  } catch {
    return null
  }
}

export async function loadSummary(cloud: string): Promise<CloudSummary> {
  const [instances, hosts, headroom] = await Promise.all([
    listAll<Instance>(cloud, '/instances'),
    isSystemAdmin(cloud) ? listAll<Host>(cloud, '/hosts') : Promise.resolve(null),
    loadHeadroom(cloud),
  ])
  return summarize(cloud, instances, hosts, headroom)
}
