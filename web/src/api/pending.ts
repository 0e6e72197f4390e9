import type { Instance } from './types'

// What the dashboard shows while desired and current state differ: the request was accepted,
// the host has not reported it done yet.
const actionLabels: Record<string, string> = {
  create: 'creating…',
  start: 'starting…',
  stop: 'stopping…',
  reboot: 'rebooting…',
  update: 'updating…',
  delete: 'deleting…',
}

export function pendingLabel(instance: Instance): string | null {
  // Sparkle names the pending change itself (pending_action); older Sparkles do not, and then
  // the dashboard derives it from desired vs reported state.
  if (instance.pending_action !== undefined) {
    return instance.pending_action ? (actionLabels[instance.pending_action] ?? instance.pending_action + '…') : null
  }
  const state = instance.status?.state
  if (instance.deleted_at) return state === 'absent' ? null : 'deleting…'
  if (instance.observed_generation === 0 || !state) return 'creating…'
  const desired = instance.spec.power_state ?? 'running'
  if (desired === 'stopped' && state !== 'stopped') return 'stopping…'
  if (desired === 'running' && state === 'stopped') return 'starting…'
  if (instance.observed_generation < instance.generation) return 'updating…'
  if (state === 'converging') return 'converging…'
  return null
}

// One word for the list and the detail page: the pending label, else what the host reported.
export function displayState(instance: Instance): string {
  return pendingLabel(instance) ?? instance.status?.state ?? 'unknown'
}

export function stateClass(instance: Instance): string {
  if (pendingLabel(instance)) return 'text-bg-warning'
  switch (instance.status?.state) {
    case 'running':
      return 'text-bg-success'
    case 'error':
      return 'text-bg-danger'
    case 'stopped':
      return 'text-bg-secondary'
    default:
      return 'text-bg-light'
  }
}
