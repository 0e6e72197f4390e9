import { describe, expect, it } from 'vitest'
import { ApiError, formErrors } from '../src/api/errors'
import { buildBody, initialValues, type FieldDef } from '../src/components/fields'

const fields: FieldDef[] = [
  { name: 'name', label: 'Name', type: 'text', required: true },
  { name: 'spec.size_gib', label: 'Size', type: 'number', required: true },
  { name: 'spec.backend', label: 'Backend', type: 'select' },
  { name: 'spec.shareable', label: 'Shareable', type: 'checkbox' },
]

describe('form bodies', () => {
  it('nest dotted names, convert numbers and leave empty optional fields out', () => {
    const values = { ...initialValues(fields), name: 'data', 'spec.size_gib': '10' }
    expect(buildBody(fields, values)).toEqual({ name: 'data', spec: { size_gib: 10, shareable: false } })
  })
})

describe('API errors next to fields', () => {
  it('go to the field they name, or one of its parents', () => {
    const known = ['name', 'spec.size_gib', 'spec.networks']
    expect(formErrors(new ApiError(400, 'invalid_field', 'too big', 'spec.size_gib'), known)).toEqual({ fields: { 'spec.size_gib': 'too big' }, general: '' })
    expect(formErrors(new ApiError(422, 'unprocessable', 'no such network', 'spec.networks[0].network_id'), known).fields).toEqual({ 'spec.networks': 'no such network' })
  })

  it('go above the form when they name no field of it', () => {
    expect(formErrors(new ApiError(409, 'quota_exceeded', 'quota exceeded', 'instances'), ['name'])).toEqual({ fields: {}, general: 'quota exceeded' })
    expect(formErrors(new Error('offline'), ['name'])).toEqual({ fields: {}, general: 'offline' })
  })

  it('are read from Sparkle\'s error body', async () => {
    const response = new Response(JSON.stringify({ error: { code: 'name_taken', message: 'taken', field: 'name' } }), { status: 409 })
    const e = await ApiError.fromResponse(response)
    expect([e.status, e.code, e.message, e.field]).toEqual([409, 'name_taken', 'taken', 'name'])
  })
})
