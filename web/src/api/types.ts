// The shapes of Sparkle's API that the dashboard reads (docs/openapi.json is the reference).
export interface Resource<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  id: string
  tenant_id: string | null
  name: string
  spec: Spec
  status: Status
  generation: number
  observed_generation: number
  created_at: string
  updated_at: string
  deleted_at: string | null
}

export interface InstanceSpec {
  vcpus: number
  ram_mib: number
  disk_gib: number
  image_id: string
  networks?: { network_id: string; ip?: string }[]
  volumes?: string[]
  affinity_group_id?: string
  user_data?: string
  power_state?: 'running' | 'stopped'
  reboot_count?: number
}

export interface InstanceStatus {
  state?: 'running' | 'stopped' | 'paused' | 'converging' | 'absent' | 'error'
  message?: string
  host_id?: string
  reported_at?: string
}

export interface Instance extends Resource<InstanceSpec, InstanceStatus> {
  host_id?: string | null
  pending_action?: 'create' | 'start' | 'stop' | 'reboot' | 'update' | 'delete' | null
  nics?: { id: string; network_id: string; mac_address: string; ip: string }[]
}

export interface Network extends Resource<{ type: 'flat' | 'vxlan'; bridge?: string; vni?: number; mtu?: number }> {}
export interface Subnet extends Resource<{ gateway?: string | null; allocation_start?: string; allocation_end?: string; dns?: string[] }> {
  network_id: string
  cidr: string
}
export interface Volume extends Resource<{ size_gib: number; backend?: string; shareable?: boolean }> {}
export interface Image extends Resource<{ os?: string; min_disk_gib?: number; min_ram_mib?: number }> {
  upload_state: 'pending' | 'uploading' | 'active' | 'error'
  disk_format: string | null
  size_bytes: number | null
  sha256: string | null
  visibility: 'private' | 'public'
}
export interface AffinityGroup extends Resource<{ policy: string; strength: string; max_per_host?: number }> {}
export interface Host extends Resource<{ maintenance?: boolean; reserved_vcpus?: number; reserved_ram_mib?: number }> {
  state: string
  traits: string[]
  hardware: Record<string, unknown>
  enrollment: 'pending' | 'enrolled' | 'rejected'
  last_heartbeat_at: string | null
}

export interface Tenant {
  id: string
  name: string
  description: string
  enabled: boolean
  generation: number
}
export interface User {
  id: string
  username: string
  display_name: string
  email: string
  is_system_admin: boolean
  enabled: boolean
  home_tenant_id: string | null
  locked_until: string | null
}
export interface QuotaLimits {
  instances: number
  vcpus: number
  ram_mib: number
  volume_gib: number
  networks: number
}
export interface Quota {
  tenant_id: string
  tenant_name: string
  limits: QuotaLimits
  usage: QuotaLimits
  generation: number
}
export interface AuditEvent {
  id: number
  at: string
  request_id: string
  username: string
  tenant_id: string | null
  action: string
  target_type: string
  target_id: string
  outcome: 'success' | 'denied' | 'failed'
  status_code: number
  client_address: string
}
export interface TenantUsage {
  tenant_id: string
  tenant_name: string
  instance_hours: number
  vcpu_hours: number
  ram_gib_hours: number
  volume_gib_hours: number
}
export interface UsageReport {
  from: string
  until: string
  tenants: TenantUsage[]
}
