import { flushPromises, mount, RouterLinkStub } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { coldMoveNote, evacuationBar, instanceStep, sortedInstances, type HostEvacuation } from '../src/api/evacuation'
import EvacuationProgress from '../src/components/EvacuationProgress.vue'

const job = (over: Partial<HostEvacuation['progress']> = {}, state: HostEvacuation['state'] = 'running'): HostEvacuation => ({
  id: 'j',
  host_id: 'h1',
  state,
  concurrency: 2,
  created_at: '2026-11-26T01:00:00Z',
  updated_at: '2026-11-26T01:00:05Z',
  finished_at: null,
  progress: { total: 4, pending: 1, moving: 1, moved: 1, unplaced: 1, failed: 0, cancelled: 0, done: false, ...over },
  instances: [
    { instance_id: 'a', state: 'moved', phase: null, method: 'cold', target_host_id: 'h2', reason: null, updated_at: 't' },
    { instance_id: 'b', state: 'moving', phase: 'starting', method: 'cold', target_host_id: 'h2', reason: null, updated_at: 't' },
    { instance_id: 'c', state: 'pending', phase: null, method: null, target_host_id: null, reason: null, updated_at: 't' },
    { instance_id: 'd', state: 'unplaced', phase: null, method: null, target_host_id: null, reason: 'no host has 64 GiB free', updated_at: 't' },
  ],
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('evacuation shaping', () => {
  it('counts finished moves (moved, unplaced, failed, cancelled) towards the bar', () => {
    const bar = evacuationBar(job())
    expect(bar.finishedPercent).toBe(50)
    expect(bar.segments.map((s) => [s.state, s.count, s.percent])).toEqual([
      ['moved', 1, 25],
      ['moving', 1, 25],
      ['unplaced', 1, 25],
    ])
    expect(bar.summary).toBe('2 of 4 instance(s) done: 1 moved, 1 moving, 1 pending, 1 unplaced')
  })

  it('treats an evacuation of an empty host as complete', () => {
    expect(evacuationBar(job({ total: 0, pending: 0, moving: 0, moved: 0, unplaced: 0 }, 'done')).finishedPercent).toBe(100)
  })

  it('lists what needs an operator first and names the phase of a move', () => {
    const rows = sortedInstances(job())
    expect(rows.map((r) => r.instance_id)).toEqual(['d', 'b', 'c', 'a'])
    expect(instanceStep(rows[1])).toBe('starting on target')
    expect(instanceStep({ ...rows[1], phase: 'stopping' })).toBe('stopping on host')
    expect(instanceStep({ ...rows[1], phase: 'preparing', method: 'live' })).toBe('target preparing (live)')
    expect(instanceStep({ ...rows[1], phase: 'migrating', method: 'live' })).toBe('migrating live')
    expect(instanceStep({ ...rows[1], state: 'moved', phase: null, method: 'live' })).toBe('moved (live)')
    expect(instanceStep({ ...rows[1], state: 'moved', phase: null, method: 'cold' })).toBe('moved (cold)')
  })
})

describe('EvacuationProgress', () => {
  it('shows the bar and table and polls while the job runs, stopping once it is done', async () => {
    vi.useFakeTimers()
    const answers = [job(), job({ pending: 0, moving: 0, moved: 3 }, 'done')]
    const fetchMock = vi.fn(async (url: string) => {
      expect(url).toBe('/clouds/c1/api/v1/hosts/h1/evacuation')
      return new Response(JSON.stringify(answers.shift()), { status: 200 })
    })
    vi.stubGlobal('fetch', fetchMock)
    const wrapper = mount(EvacuationProgress, {
      props: { cloud: 'c1', hostId: 'h1', hostName: (id: string) => (id === 'h2' ? 'node-2' : id), intervalMs: 1000 },
      global: { stubs: { RouterLink: RouterLinkStub } },
    })
    await flushPromises()
    const bar = wrapper.get('[role=progressbar]')
    expect(bar.attributes('aria-valuenow')).toBe('50')
    expect(wrapper.get('[data-instance="d"]').text()).toContain('no host has 64 GiB free')
    expect(wrapper.get('[data-instance="b"]').text()).toContain('node-2')
    expect(wrapper.get('[data-testid=evacuation-state]').text()).toBe('running')

    await vi.advanceTimersByTimeAsync(1000)
    await flushPromises()
    expect(wrapper.get('[data-testid=evacuation-state]').text()).toBe('done')
    await vi.advanceTimersByTimeAsync(5000)
    expect(fetchMock).toHaveBeenCalledTimes(2)
    wrapper.unmount()
  })

  it('says what a cold move does, or that cold moves are off', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ ...job({}, 'done'), cold_moves: false }), { status: 200 })))
    const wrapper = mount(EvacuationProgress, {
      props: { cloud: 'c1', hostId: 'h1', hostName: (id: string) => id, intervalMs: 60000 },
      global: { stubs: { RouterLink: RouterLinkStub } },
    })
    await flushPromises()
    expect(wrapper.get('[data-testid=evacuation-cold-moves]').text()).toContain('Cold moves are off')
    expect(coldMoveNote(job())).toContain('started on the target from its image')
    expect(coldMoveNote({ ...job(), cold_moves: true })).toContain('local root disk is not carried')
    wrapper.unmount()
  })

  it('says so when the host has no evacuation (404)', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'no evacuation' } }), { status: 404 })))
    const wrapper = mount(EvacuationProgress, {
      props: { cloud: 'c1', hostId: 'h1', hostName: (id: string) => id, intervalMs: 60000 },
      global: { stubs: { RouterLink: RouterLinkStub } },
    })
    await flushPromises()
    expect(wrapper.text()).toContain('No evacuation has started')
    wrapper.unmount()
  })
})
