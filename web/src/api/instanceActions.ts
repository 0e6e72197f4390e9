import { cloudPath, request } from './client'
import type { Instance } from './types'

export type InstanceAction = 'start' | 'stop' | 'reboot' | 'delete'

// Power actions change desired state (202); the host reports the result later, and until then
// the dashboard shows the instance as pending.
export async function runInstanceAction(cloud: string, instance: Instance, action: InstanceAction): Promise<Instance> {
  if (action === 'delete') return request<Instance>(cloudPath(cloud, `/instances/${instance.id}`), { method: 'DELETE' })
  return request<Instance>(cloudPath(cloud, `/instances/${instance.id}/${action}`), { method: 'POST' })
}

export function allowedActions(instance: Instance): InstanceAction[] {
  if (instance.deleted_at) return []
  const desired = instance.spec.power_state ?? 'running'
  return desired === 'running' ? ['stop', 'reboot', 'delete'] : ['start', 'delete']
}
