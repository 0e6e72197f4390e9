import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import { addEvent, coalesce, describeEvent } from '../src/api/events'
import { canConfirmOff, fencingAlert, hardwareLines, hostStateClass, isOutage } from '../src/api/hosts'
import { LiveUpdates, type CloudEvent, type EventSourceLike } from '../src/api/live'
import { addSample, formatRate, metricsOf, sparklinePoints } from '../src/api/metrics'
import type { Host } from '../src/api/types'
import ConfirmDialog from '../src/components/ConfirmDialog.vue'
import InstanceEvents from '../src/components/InstanceEvents.vue'
import Sparkline from '../src/components/Sparkline.vue'
import { summarize } from '../src/pages/summary'

const event = (id: number, kind: string, detail: Record<string, unknown> = {}, resource_id = 'i-1'): CloudEvent => ({
  id,
  at: `2026-05-01T12:00:0${id % 10}Z`,
  tenant_id: 't',
  resource_type: 'instance',
  resource_id,
  host_id: null,
  kind,
  detail,
})

class FakeEventSource implements EventSourceLike {
  static last: FakeEventSource | null = null
  onmessage: ((e: MessageEvent) => void) | null = null
  onerror: ((e: Event) => void) | null = null
  onopen: ((e: Event) => void) | null = null
  listeners = new Map<string, (e: MessageEvent) => void>()
  closed = false
  constructor(readonly url: string) {
    FakeEventSource.last = this
  }
  addEventListener(type: string, listener: (e: MessageEvent) => void): void {
    this.listeners.set(type, listener)
  }
  close(): void {
    this.closed = true
  }
  send(e: CloudEvent): void {
    this.listeners.get(e.kind)!(new MessageEvent(e.kind, { data: JSON.stringify(e) }))
  }
}

afterEach(() => vi.unstubAllGlobals())

describe('instance events', () => {
  it('keeps each event once, newest first, bounded', () => {
    let list: CloudEvent[] = []
    for (const id of [3, 1, 2, 3, 5]) list = addEvent(list, event(id, 'state_changed'), 3)
    expect(list.map((e) => e.id)).toEqual([5, 3, 2])
  })

  it('describes state changes, pending work and agent reports', () => {
    expect(describeEvent(event(1, 'state_changed', { state: 'running', previous_state: 'converging' }))).toBe('converging → running')
    expect(describeEvent(event(2, 'state_changed', { state: 'running', pending_action: 'stop' }))).toBe('now running; waiting for the host: stop')
    expect(describeEvent(event(3, 'domain_crashed', { reason: 'panicked' }))).toBe('domain crashed: panicked')
    expect(describeEvent(event(4, 'purged'))).toBe('deleted on its host and removed')
  })

  it('folds a burst of refreshes into one more run', async () => {
    let runs = 0
    let release!: () => void
    const run = coalesce(async () => {
      runs += 1
      if (runs === 1) await new Promise<void>((r) => (release = r))
    })
    const first = run()
    for (let i = 0; i < 50; i++) void run()
    release()
    await first
    expect(runs).toBe(2)
  })

  it('passes each event and the stream query to its listener', () => {
    const seen: CloudEvent[] = []
    let source: FakeEventSource | undefined
    const live = new LiveUpdates({
      cloud: 'east',
      query: { resource_id: 'i-1', last_event_id: '0' },
      onChange: () => {},
      onEvent: (e) => seen.push(e),
      eventSourceFactory: (url) => (source = new FakeEventSource(url)),
    })
    live.start()
    expect(source!.url).toBe('/clouds/east/api/v1/events?resource_id=i-1&last_event_id=0')
    source!.send(event(7, 'domain_started'))
    expect(seen.map((e) => e.id)).toEqual([7])
    live.stop()
  })

  it('lists the events of its instance only, live, and asks the page to refresh', async () => {
    vi.stubGlobal('EventSource', FakeEventSource)
    const wrapper = mount(InstanceEvents, { props: { cloud: 'east', resourceId: 'i-1' } })
    const source = FakeEventSource.last!
    expect(source.url).toContain('resource_id=i-1')
    source.onopen!(new Event('open'))
    source.send(event(1, 'created'))
    source.send(event(2, 'state_changed', { state: 'running', previous_state: 'converging' }))
    source.send(event(3, 'state_changed', { state: 'running' }, 'i-2'))
    await nextTick()
    const items = wrapper.findAll('[data-testid=events] li')
    expect(items.map((li) => li.attributes('data-kind'))).toEqual(['state_changed', 'created'])
    expect(items[0].text()).toContain('converging → running')
    expect(wrapper.emitted('changed')!.length).toBeGreaterThanOrEqual(3)
    wrapper.unmount()
    expect(source.closed).toBe(true)
  })
})

describe('performance sparklines', () => {
  it('reads host metrics and keeps new samples only', () => {
    const status = { metrics: { at: 't1', cpu_pct: 12.5, mem_used_mib: 512, net_rx_bps: 10, net_tx_bps: 20, disk_read_bps: 0, disk_write_bps: 1, interval_s: 10, domains: 2 } }
    expect(metricsOf({})).toBeNull()
    expect(metricsOf(status)).toMatchObject({ source: 'metrics', cpu_pct: 12.5, net_tx_bps: 20, instances: 2 })
    // Without metrics batches, the figures every heartbeat carries.
    const heartbeat = metricsOf({ load: { cpu_used_pct: 3, memory_used_mib: 100, vcpus_allocated: 2, instances_running: 1 } }, 'hb1')
    expect(heartbeat).toEqual({ at: 'hb1', source: 'heartbeat', cpu_pct: 3, mem_used_mib: 100, vcpus_allocated: 2, instances: 1 })
    expect(metricsOf({ load: { cpu_used_pct: 3 } }, null)).toBeNull()
    let series = addSample([], metricsOf(status))
    series = addSample(series, metricsOf(status))
    expect(series).toHaveLength(1)
    for (let i = 0; i < 70; i++) series = addSample(series, metricsOf({ metrics: { ...status.metrics, at: `t${i + 2}` } }))
    expect(series).toHaveLength(60)
    expect(series[0].cpu_pct).toBe(12.5)
  })

  it('scales points between the bottom and the top', () => {
    expect(sparklinePoints([0, 50, 100], 100, 10, 100)).toBe('0,10 50,5 100,0')
    expect(sparklinePoints([0, 0], 100, 10)).toBe('0,10 100,10')
    expect(sparklinePoints([200], 100, 10, 100)).toBe('100,0')
    expect(formatRate(1536)).toBe('1.5 KB/s')
  })

  it('draws an SVG that says its latest value', () => {
    const wrapper = mount(Sparkline, { props: { label: 'CPU', values: [1, 5, 3], format: (v: number) => `${v} %`, max: 100 } })
    expect(wrapper.find('polyline').attributes('points')).toBe(sparklinePoints([1, 5, 3], 160, 32, 100))
    expect(wrapper.find('svg').attributes('aria-label')).toBe('CPU: now 3 %, peak 5 % over 3 samples')
    expect(wrapper.find('[data-testid=sparkline-latest]').text()).toBe('3 %')
  })
})

const host = (state: string, status: Record<string, unknown> = {}): Host =>
  ({ id: 'h', name: 'node-a', state, status, spec: {}, traits: [], hardware: { memory_mib: 4096, cpu: { threads: 4 } }, enrollment: 'enrolled' }) as unknown as Host

describe('hosts', () => {
  it('marks outage states and offers confirm-off only where Sparkle takes it', () => {
    expect(['suspect', 'fencing', 'fenced', 'recovering', 'down'].every((s) => isOutage(host(s)))).toBe(true)
    expect(isOutage(host('online'))).toBe(false)
    expect(hostStateClass(host('fenced'))).toBe('text-bg-danger')
    expect(canConfirmOff(host('suspect'))).toBe(true)
    expect(canConfirmOff(host('fencing'))).toBe(true)
    expect(canConfirmOff(host('fenced'))).toBe(false)
    expect(fencingAlert(host('fencing', { outage_alert: 'every fence method failed' }))).toBe('every fence method failed')
    expect(fencingAlert(host('online'))).toBeNull()
  })

  it('takes the failover headroom from Sparkle and alerts when the reserve does not hold', () => {
    const headroom = { reserve_hosts: 1, tolerated_failures: 0, reserve_holds: false, schedulable_hosts: 1 }
    const s = summarize('east', [], [host('fencing', { outage_alert: 'no fence method' })], headroom)
    expect(s.failoverHeadroom).toEqual(headroom)
    expect(s.alerts).toContain('host node-a is fencing: no fence method')
    expect(s.alerts).toContain('failover reserve of 1 host(s) not met: survives 0 host failure(s)')
    expect(summarize('east', [], null).failoverHeadroom).toBeNull()
  })

  it('confirm dialog: confirms only once checked, cancels with Escape', async () => {
    const wrapper = mount(ConfirmDialog, {
      props: { open: true, title: 'Confirm that node-a is off', confirmLabel: 'Confirm it is off', danger: true, canConfirm: false },
      slots: { default: '<p>text</p>' },
      attachTo: document.body,
    })
    const dialog = wrapper.find('[role=dialog]')
    expect(dialog.attributes('aria-modal')).toBe('true')
    expect(wrapper.find(`#${dialog.attributes('aria-labelledby')}`).text()).toBe('Confirm that node-a is off')
    const confirm = wrapper.findAll('button').find((b) => b.text() === 'Confirm it is off')!
    expect(confirm.attributes('disabled')).toBeDefined()
    await wrapper.setProps({ canConfirm: true })
    await confirm.trigger('click')
    expect(wrapper.emitted('confirm')).toHaveLength(1)
    await dialog.trigger('keydown', { key: 'Escape' })
    expect(wrapper.emitted('cancel')).toHaveLength(1)
    wrapper.unmount()
  })
})

describe('host hardware', () => {
  it('reads the agent report as a few lines', () => {
    const lines = hardwareLines({
      cpu: { model: 'Xeon', sockets: 1, cores: 4, threads: 8, flags: ['sse2'] },
      memory_mib: 15935,
      disks: [{ name: 'sda', size_bytes: 2000398934016, rotational: true }],
      nics: [{ name: 'eno1', link_up: true, speed_mbps: 1000 }, { name: 'eno2', link_up: false }],
      domain_types: ['qemu'],
      fc_hosts: [],
    })
    expect(lines).toEqual([
      { key: 'CPU', value: 'Xeon, 1 socket(s), 4 cores, 8 threads' },
      { key: 'Memory', value: '15.6 GiB' },
      { key: 'Disks', value: 'sda 2000 GB (rotational)' },
      { key: 'NICs', value: 'eno1 up 1000 Mb/s; eno2 down' },
      { key: 'domain_types', value: 'qemu' },
      { key: 'fc_hosts', value: 'none' },
    ])
  })
})
