import { describe, expect, it } from 'vitest'
import { displayState, pendingLabel } from '../src/api/pending'
import type { Instance } from '../src/api/types'

function instance(overrides: Partial<Instance>): Instance {
  return {
    id: 'i1',
    tenant_id: 't1',
    name: 'web-1',
    spec: { vcpus: 1, ram_mib: 512, disk_gib: 5, image_id: 'img', power_state: 'running' },
    status: { state: 'running' },
    generation: 1,
    observed_generation: 1,
    created_at: '',
    updated_at: '',
    deleted_at: null,
    ...overrides,
  }
}

describe('pendingLabel', () => {
  it('uses what Sparkle names as pending', () => {
    expect(pendingLabel(instance({ pending_action: 'stop' }))).toBe('stopping…')
    expect(pendingLabel(instance({ pending_action: 'reboot' }))).toBe('rebooting…')
    expect(pendingLabel(instance({ pending_action: null, status: { state: 'stopped' } }))).toBeNull()
  })

  it('derives it from desired and reported state when Sparkle does not say', () => {
    expect(pendingLabel(instance({ observed_generation: 0, status: {} }))).toBe('creating…')
    expect(pendingLabel(instance({ spec: { ...instance({}).spec, power_state: 'stopped' }, generation: 2 }))).toBe('stopping…')
    expect(pendingLabel(instance({ status: { state: 'stopped' }, generation: 3, observed_generation: 2 }))).toBe('starting…')
    expect(pendingLabel(instance({ deleted_at: '2026-01-01T00:00:00Z' }))).toBe('deleting…')
    expect(pendingLabel(instance({}))).toBeNull()
  })

  it('shows the reported state once converged', () => {
    expect(displayState(instance({ status: { state: 'error', message: 'disk' } }))).toBe('error')
    expect(displayState(instance({ pending_action: 'start' }))).toBe('starting…')
  })
})
