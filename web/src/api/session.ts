import { reactive } from 'vue'
import { request, setCsrfToken } from './client'

export interface CloudIdentity {
  user: { id: string; username: string; is_system_admin: boolean }
  tenant_id: string | null
  role: string | null
  expires_at?: string
}

export interface CloudState {
  name: string
  available: boolean
  reason?: string
  login: CloudIdentity | null
}

interface SessionAnswer {
  csrf_token: string
  clouds: CloudState[]
}

// The dashboard's view of its Rainbow session: which clouds exist, which answer, and who is
// logged in to each. Tokens never reach the browser; only identities do.
export const session = reactive({
  loaded: false,
  clouds: [] as CloudState[],
  error: '',
})

export async function refreshSession(): Promise<void> {
  try {
    const answer = await request<SessionAnswer>('/rainbow/v1/session')
    setCsrfToken(answer.csrf_token)
    session.clouds = answer.clouds
    session.error = ''
  } catch (e) {
    session.error = (e as Error).message
  } finally {
    session.loaded = true
  }
}

export function cloudState(name: string): CloudState | undefined {
  return session.clouds.find((c) => c.name === name)
}

export function isLoggedIn(name: string): boolean {
  return !!cloudState(name)?.login
}

export function isSystemAdmin(name: string): boolean {
  return !!cloudState(name)?.login?.user.is_system_admin
}

// Tenant admins and system administrators manage users and roles.
export function isAdmin(name: string): boolean {
  const login = cloudState(name)?.login
  return !!login && (login.user.is_system_admin || login.role === 'admin')
}

export async function login(cloud: string, username: string, password: string, tenant: string): Promise<void> {
  const body: Record<string, string> = { username, password }
  if (tenant) body.tenant = tenant
  const identity = await request<CloudIdentity>(`/rainbow/v1/clouds/${encodeURIComponent(cloud)}/login`, {
    method: 'POST',
    body,
  })
  const state = cloudState(cloud)
  if (state) state.login = identity
}

export async function logout(cloud: string): Promise<void> {
  await request(`/rainbow/v1/clouds/${encodeURIComponent(cloud)}/logout`, { method: 'POST', body: {} })
  const state = cloudState(cloud)
  if (state) state.login = null
}

// Called when a cloud answers 401: Rainbow has dropped the login, the dashboard follows.
export function forgetLogin(cloud: string): void {
  const state = cloudState(cloud)
  if (state) state.login = null
}
