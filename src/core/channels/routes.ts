import type { UserInfo } from '@switchboard/client/protocol';

/** Channels a path alias subscribes on connect; returning null refuses the path (close 4501). */
export type RouteResolver = (params: Record<string, string>, user: UserInfo | null) => string[] | null | Promise<string[] | null>;

/**
 * How a connection speaks: `switchboard` is the native protocol (`{"op": ...}` frames, welcome,
 * replies, `{"op":"ping"}` heartbeats); `channels` is what a Django Channels frontend expects
 * (`{"type": ...}` frames, WebSocket-level pings). See docs/protocol.md, "Path aliases".
 */
export type FrameStyle = 'switchboard' | 'channels';

export const FRAME_STYLES: readonly FrameStyle[] = ['switchboard', 'channels'];

export interface RouteOptions {
  /** The frames a connection to this alias gets unless it asks otherwise with `?frames=`
   * (default `switchboard`). The paths Django frontends open say `channels`. */
  frames?: FrameStyle;
}

interface Route {
  pattern: string;
  segments: string[];
  resolve: RouteResolver;
  frames: FrameStyle;
}

export type RouteMatch = { resolve: RouteResolver; params: Record<string, string>; frames: FrameStyle };

/**
 * Path aliases: the endpoints users know from Django apps (`/ws/cart/<room>/`, `/ws/orders/<id>/`)
 * mapped onto channels. A connection to an alias is a normal connection that the server subscribes
 * to the alias's channels right after authenticating it, in the alias's frame style. Modules
 * register their own routes.
 */
export class RouteTable {
  #routes: Route[] = [];

  /** `pattern` uses `:name` segments, e.g. `/ws/orders/:id/`; a trailing slash is optional when matching. */
  add(pattern: string, resolve: RouteResolver, options: RouteOptions = {}): void {
    const segments = split(pattern);
    if (segments[0] !== 'ws') throw new Error(`route '${pattern}' must start with /ws/`);
    if (segments.length < 2) throw new Error(`route '${pattern}' would shadow /ws`);
    const frames = options.frames ?? 'switchboard';
    if (!FRAME_STYLES.includes(frames)) throw new Error(`route '${pattern}': frames must be one of ${FRAME_STYLES.join(', ')}, not '${String(frames)}'`);
    this.#routes.push({ pattern, segments, resolve, frames });
  }

  match(pathname: string): RouteMatch | null {
    const parts = split(pathname);
    for (const route of this.#routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      route.segments.forEach((seg, i) => {
        const part = parts[i] ?? '';
        if (seg.startsWith(':')) params[seg.slice(1)] = safeDecode(part);
        else if (seg !== part) ok = false;
      });
      if (ok) return { resolve: route.resolve, params, frames: route.frames };
    }
    return null;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
