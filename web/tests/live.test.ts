import { afterEach, describe, expect, it, vi } from 'vitest'
import { LiveUpdates, type EventSourceLike } from '../src/api/live'

class FakeEventSource implements EventSourceLike {
  onmessage: ((e: MessageEvent) => void) | null = null
  onerror: ((e: Event) => void) | null = null
  onopen: ((e: Event) => void) | null = null
  closed = false
  listeners = new Map<string, (e: MessageEvent) => void>()
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (e: MessageEvent) => void): void {
    this.listeners.set(type, listener)
  }
  close(): void {
    this.closed = true
  }
}

afterEach(() => vi.useRealTimers())

describe('LiveUpdates', () => {
  it('listens to the cloud event stream through Rainbow and refreshes on each event', () => {
    const changes: (string | null)[] = []
    let source: FakeEventSource | undefined
    const live = new LiveUpdates({
      cloud: 'east',
      onChange: (kind) => changes.push(kind),
      eventSourceFactory: (url) => (source = new FakeEventSource(url)),
    })
    live.start()
    expect(source!.url).toBe('/clouds/east/api/v1/events')
    source!.onopen!(new Event('open'))
    expect(live.mode).toBe('stream')
    // Sparkle's events are named by kind: `event: state_changed`.
    source!.listeners.get('state_changed')!(new MessageEvent('state_changed', { data: JSON.stringify({ kind: 'state_changed', resource_type: 'instance' }) }))
    source!.listeners.get('created')!(new MessageEvent('created', { data: JSON.stringify({ kind: 'created', resource_type: 'volume' }) }))
    expect(changes).toEqual([null, 'instance', 'volume'])
    live.stop()
    expect(source!.closed).toBe(true)
  })

  it('falls back to polling when the stream is not there', () => {
    vi.useFakeTimers()
    const changes: (string | null)[] = []
    let source: FakeEventSource | undefined
    const live = new LiveUpdates({
      cloud: 'east',
      pollMs: 1000,
      onChange: (kind) => changes.push(kind),
      eventSourceFactory: (url) => (source = new FakeEventSource(url)),
    })
    live.start()
    for (let i = 0; i < 3; i++) source!.onerror!(new Event('error'))
    expect(live.mode).toBe('polling')
    expect(source!.closed).toBe(true)
    vi.advanceTimersByTime(3500)
    expect(changes).toEqual([null, null, null])
    live.stop()
    vi.advanceTimersByTime(5000)
    expect(changes.length).toBe(3)
  })
})
