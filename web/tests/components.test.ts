import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import CreateForm from '../src/components/CreateForm.vue'
import DataTable from '../src/components/DataTable.vue'
import FormField from '../src/components/FormField.vue'
import { ApiError } from '../src/api/errors'

interface Row {
  id: string
  name: string
}
const rows: Row[] = Array.from({ length: 10000 }, (_, i) => ({ id: `id-${i}`, name: `vm-${i}` }))
// The generic component's props are typed for the base row; the columns know the real one.
const columns = [{ key: 'name', label: 'Name', value: (r: Row) => r.name }] as unknown as { key: string; label: string; value: (r: { id: string | number }) => string }[]

describe('DataTable', () => {
  it('renders one page of 10,000 rows and pages through them', async () => {
    const wrapper = mount(DataTable, { props: { rows, columns, caption: 'Instances' } })
    expect(wrapper.findAll('tbody tr')).toHaveLength(50)
    expect(wrapper.text()).toContain('Page 1 of 200')
    await wrapper.findAll('button').find((b) => b.text() === 'Last')!.trigger('click')
    expect(wrapper.find('tbody tr').text()).toBe('vm-9950')
  })

  it('filters on any column and has a labelled filter box', async () => {
    const wrapper = mount(DataTable, { props: { rows, columns, caption: 'Instances' } })
    const input = wrapper.find('input[type=search]')
    expect(wrapper.find(`label[for="${input.attributes('id')}"]`).exists()).toBe(true)
    await input.setValue('vm-9999')
    expect(wrapper.findAll('tbody tr')).toHaveLength(1)
    expect(wrapper.text()).toContain('1 of 10000')
  })
})

describe('FormField', () => {
  it('labels its control and ties the error to it', () => {
    const wrapper = mount(FormField, {
      props: { id: 'f-name', label: 'Name', error: 'name is taken' },
      slots: { default: `<template #default="{ describedby }"><input id="f-name" :aria-describedby="describedby" /></template>` },
    })
    expect(wrapper.find('label').attributes('for')).toBe('f-name')
    expect(wrapper.find('input').attributes('aria-describedby')).toBe('f-name-error')
    expect(wrapper.find('#f-name-error').text()).toBe('name is taken')
  })
})

describe('CreateForm', () => {
  it('shows the API error next to the field it names', async () => {
    const wrapper = mount(CreateForm, {
      props: {
        fields: [
          { name: 'name', label: 'Name', type: 'text', required: true },
          { name: 'spec.mtu', label: 'MTU', type: 'number' },
        ],
        submitLabel: 'Create',
        idPrefix: 'net',
        submit: async () => {
          throw new ApiError(400, 'invalid_field', 'mtu must be between 576 and 9216', 'spec.mtu')
        },
      },
    })
    await wrapper.find('#net-name').setValue('n1')
    await wrapper.find('#net-spec\\.mtu').setValue('100')
    await wrapper.find('form').trigger('submit')
    await new Promise((r) => setTimeout(r))
    await nextTick()
    expect(wrapper.find('#net-spec\\.mtu-error').text()).toBe('mtu must be between 576 and 9216')
    expect(wrapper.find('#net-spec\\.mtu').attributes('aria-describedby')).toBe('net-spec.mtu-error')
  })

  it('sends the nested body', async () => {
    let sent: unknown
    const wrapper = mount(CreateForm, {
      props: {
        fields: [
          { name: 'name', label: 'Name', type: 'text', required: true },
          { name: 'spec.type', label: 'Type', type: 'select', required: true, initial: 'vxlan', options: [{ value: 'vxlan', label: 'vxlan' }] },
        ],
        submitLabel: 'Create',
        idPrefix: 'net',
        submit: async (body: Record<string, unknown>) => {
          sent = body
        },
      },
    })
    await wrapper.find('#net-name').setValue('n1')
    await wrapper.find('form').trigger('submit')
    await nextTick()
    expect(sent).toEqual({ name: 'n1', spec: { type: 'vxlan' } })
  })
})
