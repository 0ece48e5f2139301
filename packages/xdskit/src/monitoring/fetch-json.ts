// Reading a running control plane's monitoring endpoints from the CLI: one message per way it can fail.

/**
 * GETs `url` and parses its JSON. Failures throw `fail(message)`: the address cannot be reached (with `flag`, the
 * option that names it), a non-2xx answer (status and body), or a body that is not JSON.
 */
export async function fetchMonitoringJson(
  url: string,
  options: { readonly timeoutMs: number; readonly flag: string; readonly fail: (message: string) => Error },
): Promise<unknown> {
  const { timeoutMs, flag, fail } = options;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw fail(
      `cannot reach ${url} (${(error as Error).cause ?? (error as Error).message}): is the control plane running? (${flag})`,
    );
  }
  const text = await response.text();
  if (!response.ok) throw fail(`${url} answered ${response.status}: ${text.trim()}`);
  try {
    return JSON.parse(text);
  } catch {
    throw fail(`${url} did not answer JSON`);
  }
}
