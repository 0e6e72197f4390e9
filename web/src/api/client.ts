import { ApiError } from './errors'

// Talks to Rainbow, the dashboard's only origin: its own /rainbow/v1 routes and each cloud's
// API under /clouds/NAME/api/v1. The session cookie is HttpOnly; state-changing calls carry the
// CSRF token that GET /rainbow/v1/session handed out.
let csrfToken = ''

export function setCsrfToken(token: string): void {
  csrfToken = token
}

export function cloudPath(cloud: string, path: string): string {
  return `/clouds/${encodeURIComponent(cloud)}/api/v1${path}`
}

export interface RequestOptions {
  method?: string
  body?: unknown
  headers?: Record<string, string>
  signal?: AbortSignal
}

export async function request<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken
  let body: BodyInit | undefined
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  let response: Response
  try {
    response = await fetch(url, { method, headers, body, credentials: 'same-origin', signal: options.signal })
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e
    throw new ApiError(0, 'network', 'Rainbow cannot be reached: ' + (e as Error).message)
  }
  if (!response.ok) throw await ApiError.fromResponse(response)
  if (response.status === 204) return undefined as T
  const text = await response.text()
  return (text ? JSON.parse(text) : undefined) as T
}

export interface Page<T> {
  items: T[]
  next_cursor?: string
}

// Reads every page of a list (1000 per request), e.g. 10,000 instances in 10 requests.
export async function listAll<T>(
  cloud: string,
  path: string,
  query: Record<string, string> = {},
  signal?: AbortSignal,
  onPage?: (soFar: T[]) => void,
): Promise<T[]> {
  const items: T[] = []
  let cursor: string | undefined
  for (;;) {
    const params = new URLSearchParams({ ...query, limit: '1000' })
    if (cursor) params.set('cursor', cursor)
    const page = await request<Page<T>>(cloudPath(cloud, path) + '?' + params.toString(), { signal })
    items.push(...page.items)
    onPage?.(items.slice())
    if (!page.next_cursor || page.items.length === 0) return items
    cursor = page.next_cursor
  }
}

export interface UploadProgress {
  loaded: number
  total: number
}

// fetch() cannot report upload progress: XMLHttpRequest can.
export function uploadFile<T>(
  url: string,
  file: Blob,
  headers: Record<string, string>,
  onProgress: (p: UploadProgress) => void,
): { done: Promise<T>; abort: () => void } {
  const xhr = new XMLHttpRequest()
  const done = new Promise<T>((resolve, reject) => {
    xhr.open('PUT', url)
    xhr.setRequestHeader('X-CSRF-Token', csrfToken)
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v)
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload was interrupted'))
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'the upload was cancelled'))
    xhr.onload = () => {
      let body: any
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        body = undefined
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T)
      else {
        const e = body?.error
        reject(new ApiError(xhr.status, e?.code ?? 'http_' + xhr.status, e?.message ?? xhr.statusText, e?.field))
      }
    }
    xhr.send(file)
  })
  return { done, abort: () => xhr.abort() }
}
