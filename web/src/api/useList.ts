import { onBeforeUnmount, onMounted, reactive, ref, shallowRef, type Ref } from 'vue'
import { useRouter } from 'vue-router'
import { listAll } from './client'
import { ApiError } from './errors'
import { LiveUpdates } from './live'
import { forgetLogin } from './session'

export interface ListState<T> {
  items: Ref<T[]>
  loading: Ref<boolean>
  error: Ref<string>
  reload: () => Promise<void>
  live: LiveUpdates
}

// A whole collection of one cloud, kept current by LiveUpdates. shallowRef: 10,000 instances
// are replaced as one array on each refresh, never made deeply reactive.
export function useList<T>(cloud: () => string, path: string, query: () => Record<string, string> = () => ({})): ListState<T> {
  const items = shallowRef<T[]>([]) as Ref<T[]>
  const loading = ref(true)
  const error = ref('')
  const router = useRouter()
  let inFlight: AbortController | null = null

  async function reload(): Promise<void> {
    inFlight?.abort()
    const controller = new AbortController()
    inFlight = controller
    try {
      // The first load shows each page as it arrives (the first 1000 of 10,000 at once);
      // refreshes swap the whole list in one go so that it never shrinks for a moment.
      const first = loading.value
      items.value = await listAll<T>(cloud(), path, query(), controller.signal, (soFar) => {
        if (!first || inFlight !== controller) return
        items.value = soFar
        loading.value = false
      })
      error.value = ''
      // Polling a big cloud's whole list costs: slower for big lists (the stream does not poll).
      live.setPollMs(items.value.length > 2000 ? 15000 : 3000)
    } catch (e) {
      if ((e as Error).name === 'AbortError') return
      if (e instanceof ApiError && e.status === 401) {
        forgetLogin(cloud())
        router.push({ name: 'login', params: { cloud: cloud() }, query: { next: router.currentRoute.value.fullPath } })
        return
      }
      error.value = (e as Error).message
    } finally {
      if (inFlight === controller) loading.value = false
    }
  }

  // Reactive, so that pages can show whether they are live or polling.
  const live = reactive(new LiveUpdates({ cloud: cloud(), onChange: () => void reload() })) as LiveUpdates
  onMounted(() => {
    void reload()
    live.start()
  })
  onBeforeUnmount(() => {
    live.stop()
    inFlight?.abort()
  })
  return { items, loading, error, reload, live }
}
