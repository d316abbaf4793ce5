/**
 * Entra's error body for the token, device code and authorize endpoints: the AADSTS code leads
 * the description and is repeated (as a number) in error_codes.
 * https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
const TRACE_TAIL = 'Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: 00000000-0000-0000-0000-000000000000';

/** `code` is "AADSTS70008"; `text` is the sentence after it. */
export function entraError(error: string, code: string, text: string): Record<string, unknown> {
  return entraErrorFromDescription(error, `${code}: ${text}`);
}

/** For a description that already starts with its AADSTS code (what tests script). */
export function entraErrorFromDescription(error: string, description: string): Record<string, unknown> {
  const timestamp = new Date().toISOString();
  const code = /\bAADSTS(\d+)\b/.exec(description)?.[1];
  return {
    error,
    error_description: `${description} ${TRACE_TAIL} Timestamp: ${timestamp}`,
    error_codes: code === undefined ? [] : [Number(code)],
    timestamp,
  };
}
