import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { instanceSeries, metricsUrl, stepValues, type InstanceMetrics, type InstanceMetricsPoint } from '../src/api/instanceMetrics'
import InstanceMetricsPanel from '../src/components/InstanceMetricsPanel.vue'

const point = (at: string, cpu: number, extra: Partial<InstanceMetricsPoint> = {}): InstanceMetricsPoint => ({
  at,
  cpu_pct: cpu,
  mem_mib: 100,
  disk_read_bps: 0,
  disk_write_bps: 0,
  net_rx_bps: 0,
  net_tx_bps: 0,
  ...extra,
})

const answer = (points: InstanceMetricsPoint[], step = 30): InstanceMetrics => ({
  instance_id: 'i-1',
  since: '2026-05-01T11:00:00.000Z',
  until: '2026-05-01T12:00:00.000Z',
  resolution: 'raw',
  step_seconds: step,
  points,
})

afterEach(() => vi.unstubAllGlobals())

describe('instance metrics shaping', () => {
  it('asks for the range with a step the server averages to', () => {
    const now = Date.parse('2026-05-01T12:00:00Z')
    expect(metricsUrl('east', 'i-1', '1h', now)).toBe(
      '/clouds/east/api/v1/instances/i-1/metrics?since=2026-05-01T11%3A00%3A00.000Z&step=30',
    )
    expect(metricsUrl('east', 'i-1', '24h', now)).toContain('since=2026-04-30T12%3A00%3A00.000Z&step=600')
    expect(metricsUrl('east', 'i-1', '7d', now)).toContain('since=2026-04-24T12%3A00%3A00.000Z&step=3600')
  })

  it('keeps time on the x axis: a step without samples is 0, none before the first or after the last', () => {
    const points = [point('2026-05-01T11:00:00Z', 10), point('2026-05-01T11:00:30Z', 20), point('2026-05-01T11:02:00Z', 40)]
    expect(stepValues(points, 'cpu_pct', 30)).toEqual([10, 20, 0, 0, 40])
    expect(stepValues([], 'cpu_pct', 30)).toEqual([])
    // Raw samples as taken (step 0): one value each.
    expect(stepValues(points, 'cpu_pct', 0)).toEqual([10, 20, 40])
    // Two points in one step (a step finer than the data): averaged.
    expect(stepValues([point('2026-05-01T11:00:00Z', 10), point('2026-05-01T11:00:10Z', 30)], 'cpu_pct', 60)).toEqual([20])
  })

  it('scales CPU to 100 % and memory to the instance RAM', () => {
    const series = instanceSeries(answer([point('2026-05-01T11:00:00Z', 12.5, { net_tx_bps: 2048 })]), 512)
    expect(series.map((s) => s.key)).toEqual(['cpu_pct', 'mem_mib', 'disk_read_bps', 'disk_write_bps', 'net_rx_bps', 'net_tx_bps'])
    expect(series[0]).toMatchObject({ max: 100, values: [12.5] })
    expect(series[1]).toMatchObject({ max: 512, values: [100] })
    expect(series[1].format(100)).toBe('100 MB')
    expect(series[5].format(2048)).toBe('2.0 KB/s')
    expect(instanceSeries(null).every((s) => s.values.length === 0)).toBe(true)
  })
})

describe('instance metrics panel', () => {
  it('draws a graph per resource and reloads the chosen range', async () => {
    const asked: string[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (url: string) => {
        asked.push(url)
        const body = answer([point('2026-05-01T11:00:00Z', 10), point('2026-05-01T11:00:30Z', 30, { disk_write_bps: 4096 })])
        return new Response(JSON.stringify(body), { status: 200 })
      }),
    )
    const wrapper = mount(InstanceMetricsPanel, { props: { cloud: 'east', instanceId: 'i-1', ramMib: 128, pollMs: 60_000 } })
    await flushPromises()
    const labels = wrapper.findAll('svg').map((s) => s.attributes('aria-label'))
    expect(labels).toHaveLength(6)
    expect(labels[0]).toBe('CPU (of its vCPUs): now 30.0 %, peak 30.0 % over 2 samples')
    expect(labels[3]).toBe('Disk write: now 4.0 KB/s, peak 4.0 KB/s over 2 samples')
    expect(asked[0]).toContain('step=30')
    await wrapper.findAll('button').find((b) => b.text() === '7 days')!.trigger('click')
    await flushPromises()
    expect(asked.at(-1)).toContain('step=3600')
    expect(wrapper.find('button[aria-pressed=true]').text()).toBe('7 days')
    wrapper.unmount()
  })

  it('says when there are no samples yet', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(answer([])), { status: 200 })))
    const wrapper = mount(InstanceMetricsPanel, { props: { cloud: 'east', instanceId: 'i-1', pollMs: 60_000 } })
    await flushPromises()
    expect(wrapper.find('[data-testid=instance-metrics-empty]').exists()).toBe(true)
    expect(wrapper.find('svg').exists()).toBe(false)
    wrapper.unmount()
  })

  it('asks again within seconds while there is nothing, then at the range pace', async () => {
    vi.useFakeTimers()
    let calls = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => {
        calls += 1
        const body = calls < 3 ? answer([]) : answer([point('2026-05-01T11:00:00Z', 5)])
        return new Response(JSON.stringify(body), { status: 200 })
      }),
    )
    const wrapper = mount(InstanceMetricsPanel, { props: { cloud: 'east', instanceId: 'i-1' } })
    await flushPromises()
    expect(calls).toBe(1)
    await vi.advanceTimersByTimeAsync(3000)
    expect(calls).toBe(2)
    await vi.advanceTimersByTimeAsync(3000)
    expect(calls).toBe(3)
    expect(wrapper.find('svg').exists()).toBe(true)
    // Samples now: the hour's pace (10 s), not every 3 s.
    await vi.advanceTimersByTimeAsync(9000)
    expect(calls).toBe(3)
    await vi.advanceTimersByTimeAsync(1000)
    expect(calls).toBe(4)
    wrapper.unmount()
    await vi.advanceTimersByTimeAsync(60_000)
    expect(calls).toBe(4)
    vi.useRealTimers()
  })
})
