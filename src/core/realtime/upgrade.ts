import type { IncomingHttpHeaders } from 'node:http';
import { FRAME_STYLES, type FrameStyle, type RouteMatch, type RouteTable } from '../channels/routes.js';
import type { Session } from './session.js';
import type { Transport } from './transport.js';

export interface UpgradeRequest {
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  /** The client's address (after trusted proxies); TestClient connections have none. */
  address?: string;
}

/** Either refuse the HTTP upgrade, or open a session on the transport the caller creates. */
export type AcceptDecision =
  | { ok: false; status: number; message: string }
  /** `abandon`: the upgrade did not complete after all (the socket went away); frees its count. */
  | { ok: true; open: (transport: Transport) => Session; abandon: () => void };

export const TOKEN_COOKIE = 'switchboard_token';

/** What an upgrade asks for: `/ws`, or a path alias (null when neither: 404), the frames the
 * connection will speak, and the token it brings, if any. */
export type Endpoint = { ok: false; status: number; message: string } | { ok: true; route: RouteMatch | null; frames: FrameStyle; token: string | null };

export function readEndpoint(req: UpgradeRequest, routes: RouteTable): Endpoint {
  const url = new URL(req.url ?? '/', 'http://switchboard.invalid');
  const token = url.searchParams.get('token') || cookieValue(req.headers.cookie, TOKEN_COOKIE);
  // /ws always speaks the native protocol; an alias speaks its route's style unless asked otherwise.
  if (url.pathname === '/ws' || url.pathname === '/ws/') return { ok: true, route: null, frames: 'switchboard', token };
  const route = routes.match(url.pathname);
  if (!route) return { ok: false, status: 404, message: `no WebSocket endpoint at ${url.pathname}` };
  const asked = url.searchParams.get('frames');
  if (asked !== null && !FRAME_STYLES.includes(asked as FrameStyle)) {
    return { ok: false, status: 400, message: `frames must be ${FRAME_STYLES.join(' or ')}` };
  }
  return { ok: true, route, frames: (asked as FrameStyle | null) ?? route.frames, token };
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}
