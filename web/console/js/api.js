// The keyward HTTP API as the console uses it: cookie session + X-CSRF-Token on every unsafe request.

// The signed-in person. csrfToken stays in memory; GET /api/v1/session hands it back after a reload.
export const session = { user: null, csrf: null };

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem?.detail || fallbackMessage(status));
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || null;
    this.field = this.problem.field || null;
    const ra = Number(headers?.get('Retry-After'));
    this.retryAfter = Number.isFinite(ra) && ra > 0 ? ra : null;
  }
}

function fallbackMessage(status) {
  if (status === 0) return 'keyward cannot be reached. Check your connection and that the server is running.';
  if (status === 403) return 'You are not allowed to do this.';
  if (status === 404) return 'This no longer exists.';
  if (status >= 500) return 'keyward had a problem handling this. Try again; if it persists, check the server log.';
  return `The request failed (HTTP ${status}).`;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const listeners = new Set();
// Called with no argument when a request comes back 401: the session is gone.
export const onSessionLost = (fn) => listeners.add(fn);

export async function api(method, path, body, { retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (UNSAFE.has(method) && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let r;
  try {
    r = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null, null);
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (r.ok) return json;
  const err = new ApiError(r.status, json, r.headers);
  // A stale CSRF token (e.g. the session was renewed in another tab): fetch the current one, try once more.
  if (err.code === 'CSRF_FAILED' && !retried && (await refreshSession())) {
    return api(method, path, body, { retried: true });
  }
  if (r.status === 401 && !path.startsWith('/api/v1/session')) {
    clearSession();
    listeners.forEach((fn) => fn());
  }
  throw err;
}

export function setSession(s) {
  session.user = s.user;
  session.csrf = s.csrfToken;
}

export function clearSession() {
  session.user = null;
  session.csrf = null;
}

// Reloads who-am-I (role and memberships can change while signed in). false when there is no session.
export async function refreshSession() {
  try {
    setSession(await api('GET', '/api/v1/session'));
    return true;
  } catch {
    clearSession();
    return false;
  }
}

export const login = async (username, password) => setSession(await api('POST', '/api/v1/session', { username, password }));

export async function logout() {
  try { await api('DELETE', '/api/v1/session'); } catch { /* already gone */ }
  clearSession();
}

// ---------- roles ----------
export const isSysadmin = () => session.user?.role === 'sysadmin';

// The signed-in person's role on a service: 'sysadmin', 'admin', 'operator', 'viewer' or null.
export function roleOn(serviceId) {
  if (isSysadmin()) return 'sysadmin';
  return (session.user?.memberships || []).find((m) => m.serviceId === serviceId)?.role || null;
}
export const canWriteKeys = () => isSysadmin();
export const canManageMembers = (serviceId) => ['sysadmin', 'admin'].includes(roleOn(serviceId));

// Every page of a list, up to max items.
export async function listAll(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export const enc = encodeURIComponent;
