import { cloudPath, listAll, request } from './client'
import type { Image } from './types'

// Node images: the versions Luna network-boots (docs/provisioning.md). Each names three images
// of the image library; Sparkle copies their sha256 and size into status.files.
export const NODE_IMAGE_ROLES = ['kernel', 'initrd', 'root'] as const
export type NodeImageRole = (typeof NODE_IMAGE_ROLES)[number]

export interface NodeImageFile {
  image_id: string
  sha256: string | null
  size_bytes: number | null
}

export interface NodeImage {
  id: string
  tenant_id: string | null
  name: string
  spec: { kernel_image_id: string; initrd_image_id: string; root_image_id: string; description?: string }
  status: { current: boolean; made_current_at: string | null; files: Record<NodeImageRole, NodeImageFile> }
  generation: number
  observed_generation: number
  created_at: string
  updated_at: string
  deleted_at: string | null
}

export interface NodeImageForm {
  name: string
  description: string
  kernel_image_id: string
  initrd_image_id: string
  root_image_id: string
}

export const ROLE_LABEL: Record<NodeImageRole, string> = { kernel: 'Kernel', initrd: 'Initramfs', root: 'Root file system (squashfs)' }

// The API's field names, for errors shown next to the form control that caused them.
export const NODE_IMAGE_FIELDS = ['name', 'spec.kernel_image_id', 'spec.initrd_image_id', 'spec.root_image_id', 'spec.description'] as const

export function nodeImageBody(form: NodeImageForm): { name: string; spec: Record<string, string> } {
  const spec: Record<string, string> = {
    kernel_image_id: form.kernel_image_id,
    initrd_image_id: form.initrd_image_id,
    root_image_id: form.root_image_id,
  }
  if (form.description.trim()) spec.description = form.description.trim()
  return { name: form.name.trim(), spec }
}

// Only uploaded images can be a node image's files; newest names last, as the library lists them.
export function imageChoices(images: Image[]): Image[] {
  return images.filter((i) => !i.deleted_at && i.upload_state === 'active').sort((a, b) => a.name.localeCompare(b.name))
}

// The current version first, then newest first (the API lists oldest first).
export function sortNodeImages(items: NodeImage[]): NodeImage[] {
  return [...items].sort((a, b) => Number(b.status.current) - Number(a.status.current) || b.created_at.localeCompare(a.created_at))
}

export function listNodeImages(cloud: string): Promise<NodeImage[]> {
  return listAll<NodeImage>(cloud, '/node-images')
}

export function createNodeImage(cloud: string, form: NodeImageForm): Promise<NodeImage> {
  return request<NodeImage>(cloudPath(cloud, '/node-images'), { method: 'POST', body: nodeImageBody(form) })
}

export function makeCurrent(cloud: string, id: string): Promise<NodeImage> {
  return request<NodeImage>(cloudPath(cloud, `/node-images/${id}/make-current`), { method: 'POST' })
}

export function deleteNodeImage(cloud: string, id: string): Promise<NodeImage> {
  return request<NodeImage>(cloudPath(cloud, `/node-images/${id}`), { method: 'DELETE' })
}
