import { cloudPath, request } from './client'

// Luna services and boot profiles (docs/luna.md). Both lists are small and unpaginated.
export interface LunaService {
  id: string
  name: string
  curve_public_key: string
  key_fingerprint: string
  enrollment: 'enrolled' | 'rejected'
  last_seen_at: string | null
  connected: boolean
  created_at: string
  hosts_served: number
}

export interface BootProfile {
  name: string
  kernel: string
  initrd: string
  cmdline: string
  hosts: number
}

export type BootProfileForm = Pick<BootProfile, 'name' | 'kernel' | 'initrd' | 'cmdline'>

export const BOOT_PROFILE_FIELDS = ['name', 'kernel', 'initrd', 'cmdline'] as const
export const PROFILE_NAME = /^[a-z0-9_-]{1,48}$/

// "12 s ago", "5 min ago", "3 h ago", "2 d ago"; the exact time stays in the title attribute.
export function ago(at: string | null, now: number = Date.now()): string {
  if (!at) return 'never'
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000))
  if (Number.isNaN(s)) return at
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

// Checked in the browser only for the URL path (the name is not in the body); Sparkle checks the rest.
export function profileNameError(name: string): string {
  return PROFILE_NAME.test(name) ? '' : 'lowercase letters, digits, "_" and "-", 1 to 48 characters'
}

// PUT replaces the whole profile; fields left empty take Sparkle's defaults, so they are left out.
export function bootProfileBody(form: BootProfileForm): Record<string, string> {
  const body: Record<string, string> = {}
  if (form.kernel.trim()) body.kernel = form.kernel.trim()
  if (form.initrd.trim()) body.initrd = form.initrd.trim()
  body.cmdline = form.cmdline.trim()
  return body
}

export async function listLunaServices(cloud: string): Promise<LunaService[]> {
  return (await request<{ items: LunaService[] }>(cloudPath(cloud, '/luna-services'))).items
}

export async function listBootProfiles(cloud: string): Promise<BootProfile[]> {
  const items = (await request<{ items: BootProfile[] }>(cloudPath(cloud, '/boot-profiles'))).items
  return [...items].sort((a, b) => a.name.localeCompare(b.name))
}

export function putBootProfile(cloud: string, form: BootProfileForm): Promise<BootProfile> {
  return request<BootProfile>(cloudPath(cloud, `/boot-profiles/${encodeURIComponent(form.name)}`), { method: 'PUT', body: bootProfileBody(form) })
}

export function deleteBootProfile(cloud: string, name: string): Promise<void> {
  return request<void>(cloudPath(cloud, `/boot-profiles/${encodeURIComponent(name)}`), { method: 'DELETE' })
}
