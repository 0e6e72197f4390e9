// Every error the dashboard shows comes through here: Sparkle's {"error":{code,message,field}},
// Rainbow's own errors in the same shape, and network failures.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }

  static async fromResponse(response: Response): Promise<ApiError> {
    try {
      const body = await response.json()
      const e = body?.error
      if (e && typeof e.message === 'string') return new ApiError(response.status, e.code ?? 'error', e.message, e.field || undefined)
    } catch {
      /* not JSON: fall through */
    }
    return new ApiError(response.status, 'http_' + response.status, `${response.status} ${response.statusText}`)
  }
}

// Maps API field names (spec.vcpus, name, If-Match) to form fields; the rest shows above the form.
export interface FormErrors {
  fields: Record<string, string>
  general: string
}

export function formErrors(error: unknown, knownFields: readonly string[]): FormErrors {
  if (!(error instanceof ApiError)) return { fields: {}, general: String((error as Error)?.message ?? error) }
  if (error.field) {
    const match = knownFields.find((f) => f === error.field || error.field!.startsWith(f + '.') || error.field!.startsWith(f + '['))
    if (match) return { fields: { [match]: error.message }, general: '' }
  }
  return { fields: {}, general: error.message }
}
