// Declarative form fields: `name` is the API's field path (spec.size_gib), so an API error
// naming that field lands next to it.
export interface FieldOption {
  value: string
  label: string
}

export interface FieldDef {
  name: string
  label: string
  type: 'text' | 'password' | 'number' | 'select' | 'checkbox' | 'textarea'
  required?: boolean
  options?: FieldOption[]
  help?: string
  initial?: string | number | boolean
}

export type FormValues = Record<string, string | boolean>

export function initialValues(fields: FieldDef[]): FormValues {
  const values: FormValues = {}
  for (const f of fields) {
    values[f.name] = f.initial !== undefined ? (typeof f.initial === 'boolean' ? f.initial : String(f.initial)) : f.type === 'checkbox' ? false : ''
  }
  return values
}

// Builds the request body: dotted names nest, empty optional values are left out so that the
// API applies its defaults, numbers become numbers.
export function buildBody(fields: FieldDef[], values: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {}
  for (const f of fields) {
    const raw = values[f.name]
    if (raw === '' || raw === undefined) continue
    let value: unknown = raw
    if (f.type === 'number') value = Number(raw)
    const parts = f.name.split('.')
    let target = body
    for (const part of parts.slice(0, -1)) {
      target[part] = (target[part] as Record<string, unknown>) ?? {}
      target = target[part] as Record<string, unknown>
    }
    target[parts[parts.length - 1]] = value
  }
  return body
}
