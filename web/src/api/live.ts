// Keeps a page's data current. When the cloud's Sparkle offers the event stream
// (GET /api/v1/events, Server-Sent Events, forwarded by Rainbow) every event triggers a refresh
// of what changed; when it does not (404/501, or the stream breaks), the page polls instead.
// Either way, nothing needs a manual reload.
export interface LiveOptions {
  cloud: string
  // Called with the type of resource that changed ('instance', 'volume', 'host'...), or null
  // when everything should be refreshed (polling, reconnect).
  onChange: (kind: string | null) => void
  // Every event as Sparkle sent it (the instance page lists them).
  onEvent?: (event: CloudEvent) => void
  // Extra query parameters of the stream, e.g. last_event_id=0 to replay the past first.
  query?: Record<string, string>
  pollMs?: number
  eventSourceFactory?: (url: string) => EventSourceLike
}

// The data line of one event (docs/openapi.json, schema Event).
export interface CloudEvent {
  id: number
  at: string
  tenant_id: string | null
  resource_type: string
  resource_id: string | null
  host_id: string | null
  kind: string
  detail: Record<string, unknown>
}

export interface EventSourceLike {
  onmessage: ((e: MessageEvent) => void) | null
  onerror: ((e: Event) => void) | null
  onopen: ((e: Event) => void) | null
  addEventListener(type: string, listener: (e: MessageEvent) => void): void
  close(): void
}

// Sparkle names each event (`event: state_changed`), and EventSource delivers named events only
// to listeners of that name: these are the kinds of docs/openapi/events.json and
// proto/event.schema.json.
export const EVENT_KINDS = [
  'created',
  'deleted',
  'purged',
  'state_changed',
  'domain_started',
  'domain_stopped',
  'domain_crashed',
  'domain_paused',
  'domain_resumed',
  'disk_failed',
  'link_down',
  'link_up',
  'fc_port_down',
  'fc_port_up',
  'host_unfenceable',
  'host_fencing_failed',
  'host_recovery_incomplete',
  'restarted_elsewhere',
  'restart_unplaceable',
  'evacuation_started',
  'evacuation_finished',
  'evacuation_cancelled',
  'evacuation_instance_stopping',
  'evacuation_instance_starting',
  'evacuation_instance_migrating',
  'evacuation_instance_migrated',
  'evacuation_instance_moved',
  'evacuation_instance_unplaced',
  'evacuation_instance_failed',
  'evacuation_instance_cancelled',
  'dhcp_lease_added',
  'dhcp_lease_released',
  'boot_file_sent',
]

const SLOW_POLL_MS = 30000

export class LiveUpdates {
  private source: EventSourceLike | null = null
  private timer: ReturnType<typeof setInterval> | null = null
  private slowTimer: ReturnType<typeof setInterval> | null = null
  private streamFailures = 0
  mode: 'stream' | 'polling' | 'stopped' = 'stopped'

  constructor(private options: LiveOptions) {}

  start(): void {
    const factory = this.options.eventSourceFactory ?? ((url: string) => new EventSource(url) as EventSourceLike)
    if (typeof EventSource === 'undefined' && !this.options.eventSourceFactory) return this.poll()
    const query = new URLSearchParams(this.options.query ?? {}).toString()
    const url = `/clouds/${encodeURIComponent(this.options.cloud)}/api/v1/events` + (query ? '?' + query : '')
    try {
      this.source = factory(url)
    } catch {
      return this.poll()
    }
    this.source.onopen = () => {
      this.streamFailures = 0
      this.stopPolling()
      this.mode = 'stream'
      // Only instances, volumes and hosts have events: a slow poll picks up the rest (networks,
      // images...) that other users change.
      this.slowTimer ??= setInterval(() => this.options.onChange(null), SLOW_POLL_MS)
      // Whatever happened while the stream was down is unknown: read everything once.
      this.options.onChange(null)
    }
    const onEvent = (e: MessageEvent) => {
      let event: CloudEvent | null = null
      try {
        event = JSON.parse(e.data) as CloudEvent
      } catch {
        event = null
      }
      if (event && this.options.onEvent) this.options.onEvent(event)
      this.options.onChange(event?.resource_type ?? null)
    }
    this.source.onmessage = onEvent
    for (const kind of EVENT_KINDS) this.source.addEventListener(kind, onEvent)
    this.source.onerror = () => {
      // EventSource retries by itself; after a few failures in a row (no stream on this
      // Sparkle, or Rainbow cannot forward it) fall back to polling for good.
      this.streamFailures += 1
      if (this.mode !== 'polling') this.poll()
      if (this.streamFailures >= 3 && this.source) {
        this.source.close()
        this.source = null
      }
    }
  }

  private poll(): void {
    this.mode = 'polling'
    if (this.slowTimer) clearInterval(this.slowTimer)
    this.slowTimer = null
    if (this.timer) return
    this.timer = setInterval(() => this.options.onChange(null), this.options.pollMs ?? 3000)
  }

  setPollMs(ms: number): void {
    if ((this.options.pollMs ?? 3000) === ms) return
    this.options.pollMs = ms
    if (this.timer) {
      this.stopPolling()
      this.poll()
    }
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  stop(): void {
    this.stopPolling()
    if (this.slowTimer) clearInterval(this.slowTimer)
    this.slowTimer = null
    this.source?.close()
    this.source = null
    this.mode = 'stopped'
  }
}
