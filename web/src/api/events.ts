import type { CloudEvent } from './live'

// The events of one resource as the instance page lists them: newest first, each once (a
// reconnecting stream may send an event again), at most `max` of them.
export function addEvent(list: CloudEvent[], event: CloudEvent, max = 200): CloudEvent[] {
  if (list.some((e) => e.id === event.id)) return list
  const next = [event, ...list].sort((a, b) => b.id - a.id)
  return next.length > max ? next.slice(0, max) : next
}

// One line for a person: what happened, in the words of the detail Sparkle sent.
export function describeEvent(event: CloudEvent): string {
  const d = event.detail ?? {}
  const state = typeof d.state === 'string' ? d.state : undefined
  const previous = typeof d.previous_state === 'string' ? d.previous_state : undefined
  switch (event.kind) {
    case 'created':
      return 'created'
    case 'deleted':
      return 'deletion asked'
    case 'purged':
      return 'deleted on its host and removed'
    case 'state_changed': {
      const parts: string[] = []
      if (state && previous && state !== previous) parts.push(`${previous} → ${state}`)
      else if (state) parts.push(`now ${state}`)
      if (typeof d.pending_action === 'string') parts.push(`waiting for the host: ${d.pending_action}`)
      if (typeof d.enrollment === 'string' && event.resource_type === 'host') parts.push(`enrollment ${d.enrollment}`)
      return parts.length ? parts.join('; ') : 'state reported'
    }
    case 'host_unfenceable':
      return 'stopped sending heartbeats and has no fence method'
    case 'host_fencing_failed':
      return 'every fence method failed'
    default: {
      // What an agent reported (domain_started, disk_failed...): its words, underscores as spaces.
      const extra = typeof d.reason === 'string' ? `: ${d.reason}` : typeof d.message === 'string' ? `: ${d.message}` : ''
      return event.kind.replace(/_/g, ' ') + extra
    }
  }
}

// Calls `fn` at most once at a time; calls that arrive meanwhile are folded into one more run
// after it, so that a burst of events (a replay of the past) costs two requests, not hundreds.
export function coalesce(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null
  let again = false
  const run = async (): Promise<void> => {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      try {
        do {
          again = false
          await fn()
        } while (again)
      } finally {
        running = null
      }
    })()
    return running
  }
  return run
}
