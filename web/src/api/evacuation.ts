import { ApiError } from './errors'
import { cloudPath, request } from './client'

// GET /hosts/{id}/evacuation: the job that maintenance started on a host (docs/placement.md).
export type EvacuationInstanceState = 'pending' | 'moving' | 'moved' | 'unplaced' | 'failed' | 'cancelled'

// A live move's attempt as both agents last reported it (docs/placement.md, "Live or cold").
export interface EvacuationMigration {
  id: string
  state: 'preparing' | 'migrating' | 'succeeded' | 'failed' | 'cancelled'
  source_reported: string | null
  target_reported: string | null
}

export interface EvacuationInstance {
  instance_id: string
  state: EvacuationInstanceState
  // stopping, starting: a cold move; preparing, migrating: a live one.
  phase: 'stopping' | 'starting' | 'preparing' | 'migrating' | null
  method: 'cold' | 'live' | null
  target_host_id: string | null
  reason: string | null
  updated_at: string
  migration?: EvacuationMigration | null
}

export interface HostEvacuation {
  id: string
  host_id: string
  state: 'running' | 'done' | 'cancelled'
  concurrency: number
  // spec.evacuation_cold_moves when maintenance began (absent from older servers: cold moves on).
  cold_moves?: boolean
  created_at: string
  updated_at: string
  finished_at: string | null
  progress: { total: number; pending: number; moving: number; moved: number; unplaced: number; failed: number; cancelled: number; done: boolean }
  instances: EvacuationInstance[]
}

// null: the host never had an evacuation (404 means "no job" here, the host itself was listed).
export async function hostEvacuation(cloud: string, hostId: string, signal?: AbortSignal): Promise<HostEvacuation | null> {
  try {
    return await request<HostEvacuation>(cloudPath(cloud, `/hosts/${hostId}/evacuation`), { signal })
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null
    throw e
  }
}

export interface EvacuationBar {
  // Percent of instances whose move is over (moved, unplaced, failed or cancelled).
  finishedPercent: number
  segments: { state: 'moved' | 'moving' | 'unplaced' | 'failed' | 'cancelled'; percent: number; count: number; cls: string }[]
  summary: string
}

const SEGMENT_CLASS = { moved: 'bg-success', moving: 'bg-info progress-bar-striped progress-bar-animated', unplaced: 'bg-warning', failed: 'bg-danger', cancelled: 'bg-secondary' } as const

export function evacuationBar(e: HostEvacuation): EvacuationBar {
  const p = e.progress
  const total = p.total
  const pct = (n: number) => (total > 0 ? Math.round((n / total) * 1000) / 10 : 0)
  const finished = p.moved + p.unplaced + p.failed + p.cancelled
  const segments = (['moved', 'moving', 'unplaced', 'failed', 'cancelled'] as const)
    .filter((s) => p[s] > 0)
    .map((s) => ({ state: s, count: p[s], percent: pct(p[s]), cls: SEGMENT_CLASS[s] }))
  const parts = [`${p.moved} moved`, `${p.moving} moving`, `${p.pending} pending`]
  if (p.unplaced) parts.push(`${p.unplaced} unplaced`)
  if (p.failed) parts.push(`${p.failed} failed`)
  if (p.cancelled) parts.push(`${p.cancelled} cancelled`)
  return {
    finishedPercent: total > 0 ? pct(finished) : 100,
    segments,
    summary: `${finished} of ${total} instance(s) done: ${parts.join(', ')}`,
  }
}

// What the table shows in the "Step" column: the phase of a move in progress, or the outcome.
const PHASE_STEP = {
  stopping: 'stopping on host',
  starting: 'starting on target',
  preparing: 'target preparing (live)',
  migrating: 'migrating live',
} as const
export function instanceStep(i: EvacuationInstance): string {
  if (i.state === 'moving') return PHASE_STEP[i.phase ?? 'stopping']
  // How it got there: a live move keeps the guest running, a cold one restarts it.
  if (i.state === 'moved' && i.method) return `moved (${i.method})`
  return i.state
}

export function evacuationStateClass(state: EvacuationInstanceState | HostEvacuation['state']): string {
  switch (state) {
    case 'moved':
    case 'done':
      return 'text-bg-success'
    case 'moving':
    case 'running':
      return 'text-bg-info'
    case 'unplaced':
      return 'text-bg-warning'
    case 'failed':
      return 'text-bg-danger'
    default:
      return 'text-bg-secondary'
  }
}

// Instances that need an operator first, then those moving, then the rest.
const ORDER: Record<EvacuationInstanceState, number> = { failed: 0, unplaced: 1, moving: 2, pending: 3, cancelled: 4, moved: 5 }
export function sortedInstances(e: HostEvacuation): EvacuationInstance[] {
  return [...e.instances].sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.instance_id.localeCompare(b.instance_id))
}

// The event kinds that change the job (the controller emits one per step).
export function isEvacuationEvent(kind: string): boolean {
  return kind.startsWith('evacuation_')
}

// What happens to an instance that cannot move live, said plainly: a cold move starts it on the
// target from its image, so its local root disk is not carried.
export function coldMoveNote(e: HostEvacuation): string {
  return e.cold_moves === false
    ? 'Cold moves are off: an instance that cannot move live stays on this host, not stopped.'
    : 'An instance that cannot move live moves cold: stopped, then started on the target from its image. What it wrote to its local root disk is not carried.'
}
