import { cloudPath, request } from './client'
import type { Host } from './types'

// A host's life as Sparkle tracks it (src/sparkle/luna/host_outage.hpp): online; missed
// heartbeats make it suspect, then fencing (Luna powers it off), fenced (its instances may
// restart elsewhere), recovering, down; maintenance is an operator's choice.
export const OUTAGE_STATES = ['suspect', 'fencing', 'fenced', 'recovering', 'down'] as const

export function isOutage(host: Host): boolean {
  return (OUTAGE_STATES as readonly string[]).includes(host.state)
}

export function hostStateClass(host: Host): string {
  switch (host.state) {
    case 'online':
      return 'text-bg-success'
    case 'maintenance':
      return 'text-bg-info'
    case 'suspect':
    case 'recovering':
      return 'text-bg-warning'
    case 'fencing':
    case 'fenced':
    case 'down':
      return 'text-bg-danger'
    default:
      return 'text-bg-secondary'
  }
}

// Sparkle's alert when it cannot act alone: no fence method, or every fence method failed.
// Nothing on the host is restarted until an operator confirms the host is off.
export function fencingAlert(host: Host): string | null {
  const alert = (host.status as { outage_alert?: unknown } | null)?.outage_alert
  return typeof alert === 'string' && alert ? alert : null
}

// POST /hosts/{id}/confirm-off is offered for the states it accepts (a fenced host stays fenced).
export function canConfirmOff(host: Host): boolean {
  return host.state === 'suspect' || host.state === 'fencing'
}

export async function confirmOff(cloud: string, host: Host): Promise<{ host_id: string; state: string }> {
  return request(cloudPath(cloud, `/hosts/${host.id}/confirm-off`), { method: 'POST' })
}

export interface PlacementMove {
  instance_id: string
  from_host_id: string
  to_host_id: string
}

export interface EvacuationPlan {
  host_id: string
  feasible: boolean
  moves: PlacementMove[]
  stuck: { instance_id: string; explanation: string }[]
}

export async function evacuationPlan(cloud: string, host: Host): Promise<EvacuationPlan> {
  return request<EvacuationPlan>(cloudPath(cloud, `/hosts/${host.id}/evacuation-plan`))
}

export interface PlacementHeadroom {
  reserve_hosts: number
  tolerated_failures: number
  reserve_holds: boolean
  schedulable_hosts: number
  classes?: { constraints: string; hosts: number; room_slots: number; needed_slots: number; headroom_slots: number }[]
}

export async function placementHeadroom(cloud: string): Promise<PlacementHeadroom> {
  return request<PlacementHeadroom>(cloudPath(cloud, '/placement/headroom'))
}

// The agent's hardware report (proto/hello.schema.json) in a few readable lines; what the
// dashboard does not know is shown as the agent sent it.
export function hardwareLines(hardware: Record<string, unknown> | null | undefined): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = []
  for (const [key, value] of Object.entries(hardware ?? {})) {
    if (key === 'cpu' && value && typeof value === 'object') {
      const c = value as { model?: string; sockets?: number; cores?: number; threads?: number }
      const parts = [c.model, c.sockets && `${c.sockets} socket(s)`, c.cores && `${c.cores} cores`, c.threads && `${c.threads} threads`]
      out.push({ key: 'CPU', value: parts.filter(Boolean).join(', ') })
    } else if (key === 'memory_mib' && typeof value === 'number') {
      out.push({ key: 'Memory', value: `${(value / 1024).toFixed(1)} GiB` })
    } else if (key === 'disks' && Array.isArray(value)) {
      const disks = value.map((d: { name?: string; size_bytes?: number; rotational?: boolean }) =>
        `${d.name ?? '?'} ${d.size_bytes ? (d.size_bytes / 1e9).toFixed(0) + ' GB' : ''}${d.rotational ? ' (rotational)' : ''}`.trim(),
      )
      out.push({ key: 'Disks', value: disks.join('; ') || 'none' })
    } else if (key === 'nics' && Array.isArray(value)) {
      const nics = value.map((n: { name?: string; speed_mbps?: number; link_up?: boolean }) =>
        `${n.name ?? '?'} ${n.link_up ? `up${n.speed_mbps ? ' ' + n.speed_mbps + ' Mb/s' : ''}` : 'down'}`,
      )
      out.push({ key: 'NICs', value: nics.join('; ') || 'none' })
    } else if (Array.isArray(value)) {
      out.push({ key, value: value.length ? value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ') : 'none' })
    } else {
      out.push({ key, value: typeof value === 'object' ? JSON.stringify(value) : String(value) })
    }
  }
  return out
}
