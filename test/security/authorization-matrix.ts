/**
 * Who may do what, as data: the app's authorization matrix (the full app with its demo data), for
 * the WebSocket (connect, every namespace with its targets × subscribe / publish / history /
 * presence, every path alias) and the REST API (every route of the OpenAPI document, plus the
 * publish API). authorization.test.ts probes every cell against a real node; `renderMatrix()` is
 * the section of docs/security.md between its markers (scripts/print-authorization-matrix.mjs
 * prints it).
 *
 * The cells are the specification, not a record of what the code happens to do: a principal not
 * listed in a row's `allow` is refused (deny by default). This module is plain data and imports
 * nothing, so the docs script can load it from dist/ without starting anything.
 */

export const PRINCIPALS = ['anonymous', 'customer', 'customer2', 'worker', 'manager', 'admin', 'otherAdmin', 'deleted', 'forged'] as const;
export type Principal = (typeof PRINCIPALS)[number];

/** Who each column is, for the docs. */
export const PRINCIPAL_INFO: Record<Principal, { column: string; who: string }> = {
  anonymous: { column: 'anon', who: 'no token (the app does not allow anonymous WebSocket sessions)' },
  customer: { column: 'cust', who: 'the demo customer' },
  customer2: { column: 'cust 2', who: 'a newly registered customer of the demo tenant' },
  worker: { column: 'worker', who: 'the demo worker' },
  manager: { column: 'mgr', who: 'the demo manager' },
  admin: { column: 'admin', who: 'the demo admin' },
  otherAdmin: { column: 'other admin', who: 'the admin of a second tenant' },
  deleted: { column: 'deleted', who: 'an admin of the demo tenant whose token was issued, then its account rows deleted (as `switchboard seed` does)' },
  forged: { column: 'forged', who: "a token with the demo admin's claims, signed with another secret" },
};

/** Refused as unauthenticated wherever they are refused: 401 on REST, at connect on the WebSocket. */
export const UNAUTHENTICATED: readonly Principal[] = ['anonymous', 'deleted', 'forged'];

const NOBODY: readonly Principal[] = [];
/** Every account that exists, in either tenant. */
const LIVE: readonly Principal[] = ['customer', 'customer2', 'worker', 'manager', 'admin', 'otherAdmin'];
const DEMO_TENANT: readonly Principal[] = ['customer', 'customer2', 'worker', 'manager', 'admin'];
const CUSTOMERS: readonly Principal[] = ['customer', 'customer2'];
const ADMINS: readonly Principal[] = ['admin', 'otherAdmin'];
const STAFF: readonly Principal[] = ['manager', 'admin', 'otherAdmin'];
const DEMO_STAFF: readonly Principal[] = ['manager', 'admin'];
const EVERYONE: readonly Principal[] = PRINCIPALS;

/**
 * Placeholders in channels, paths and aliases, resolved per principal when probing. "Own" targets
 * of the principals without an account of their own are those they would pass for: the demo
 * customer's for `anonymous`, the demo admin's for `forged`; `deleted` keeps its own (deleted) id.
 */
export const PLACEHOLDERS = {
  self: { shown: 'own id', means: "the principal's own user id" },
  other: { shown: 'other id', means: 'the id of another customer of the demo tenant (not a column)' },
  tenant: { shown: 'own tenant', means: "the principal's tenant id" },
  otherTenant: { shown: 'other tenant', means: "the id of the tenant that is not the principal's" },
  orderA: { shown: 'order A', means: "the demo customer's order in progress, assigned to the demo worker" },
  orderB: { shown: 'order B', means: "the demo customer's paid order, no worker assigned" },
  orderC: { shown: 'order C', means: "the second customer's order (paid through the sandbox)" },
  orderD: { shown: 'order D', means: "an order of the other tenant" },
  paymentC: { shown: 'payment C', means: "the second customer's payment (confirmed) that made order C" },
  product: { shown: 'demo product', means: 'a product of the demo tenant' },
  otherProduct: { shown: 'other product', means: 'a product of the other tenant' },
  line: { shown: 'own line', means: "a line of the principal's own cart" },
  otherLine: { shown: 'other line', means: "a line of the other customer's cart" },
  otherTenantAdmin: { shown: 'other admin id', means: "the user id of the other tenant's admin (its only admin)" },
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

export const WS_OPS = ['subscribe', 'publish', 'history', 'presence'] as const;
export type WsOp = (typeof WS_OPS)[number];

export type WsRow =
  /** `{"op":"connect","token":…}` as the first frame on `/ws`: allowed = welcome and an ok reply. */
  | { kind: 'connect'; allow: readonly Principal[] }
  /** One op on a channel, on a connection opened with `?token=`: allowed = an ok reply. */
  | { kind: 'op'; channel: string; op: WsOp; allow: readonly Principal[] }
  /** A connection to a path alias: allowed = the server subscribes it to `channel` (`subscribed`). */
  | { kind: 'alias'; path: string; channel: string; allow: readonly Principal[] };

/** The four ops on one channel; an op not given is allowed to nobody. */
function channel(name: string, allow: Partial<Record<WsOp, readonly Principal[]>>): WsRow[] {
  return WS_OPS.map((op) => ({ kind: 'op', channel: name, op, allow: allow[op] ?? NOBODY }));
}

function alias(path: string, subscribes: string, allow: readonly Principal[]): WsRow {
  return { kind: 'alias', path, channel: subscribes, allow };
}

/** docs/protocol.md (core namespaces and aliases) and docs/api.md (the modules' channels). */
export const WS_MATRIX: readonly WsRow[] = [
  { kind: 'connect', allow: LIVE },
  ...channel('public:news', { subscribe: LIVE, history: LIVE }),
  ...channel('user:{self}', { subscribe: LIVE, history: LIVE }),
  ...channel('user:{other}', {}),
  ...channel('tenant:{tenant}', { subscribe: LIVE, history: LIVE, presence: LIVE }),
  ...channel('tenant:{otherTenant}', {}),
  // The core `admin` namespace is by role, with no tenant (unlike `alerts`): any tenant's admin.
  ...channel('admin:alerts', { subscribe: ADMINS, history: ADMINS }),
  ...channel('chat:lobby', { subscribe: LIVE, publish: LIVE, history: LIVE, presence: LIVE }),
  ...channel('cart:{self}', { subscribe: LIVE, history: LIVE }),
  ...channel('cart:{other}', {}),
  ...channel('order:{orderA}', { subscribe: ['customer', 'worker', ...DEMO_STAFF], history: ['customer', 'worker', ...DEMO_STAFF] }),
  ...channel('order:{orderB}', { subscribe: ['customer', ...DEMO_STAFF], history: ['customer', ...DEMO_STAFF] }),
  ...channel('order:{orderC}', { subscribe: ['customer2', ...DEMO_STAFF], history: ['customer2', ...DEMO_STAFF] }),
  ...channel('order:{orderD}', { subscribe: ['otherAdmin'], history: ['otherAdmin'] }),
  ...channel('my-orders:{self}', { subscribe: CUSTOMERS, history: CUSTOMERS }),
  ...channel('my-orders:{other}', {}),
  ...channel('worker-orders:{self}', { subscribe: ['worker'], history: ['worker'] }),
  ...channel('worker-orders:{other}', {}),
  ...channel('staff-orders:{tenant}', { subscribe: STAFF, history: STAFF }),
  ...channel('staff-orders:{otherTenant}', {}),
  ...channel('alerts:{tenant}', { subscribe: ADMINS, history: ADMINS }),
  ...channel('alerts:{otherTenant}', {}),
  // The node's figures (no tenant data: counts, rates, memory) for every shop's admins; the console's audit log per shop.
  ...channel('ops:node', { subscribe: ADMINS, history: ADMINS }),
  ...channel('audit:{tenant}', { subscribe: ADMINS, history: ADMINS }),
  ...channel('audit:{otherTenant}', {}),
  // Nodes asking each other for a shop's connections (the console): no client may touch it.
  ...channel('console-rpc:ask', {}),
  alias('/ws/cart/', 'cart:{self}', LIVE),
  alias('/ws/cart/user/', 'cart:{self}', LIVE),
  alias('/ws/cart/{self}/', 'cart:{self}', LIVE),
  alias('/ws/cart/{other}/', 'cart:{other}', NOBODY),
  alias('/ws/orders/{orderA}/', 'order:{orderA}', ['customer', 'worker', ...DEMO_STAFF]),
  alias('/ws/orders/{orderB}/', 'order:{orderB}', ['customer', ...DEMO_STAFF]),
  alias('/ws/orders/{orderC}/', 'order:{orderC}', ['customer2', ...DEMO_STAFF]),
  alias('/ws/orders/{orderD}/', 'order:{orderD}', ['otherAdmin']),
  alias('/ws/chat/lobby/', 'chat:lobby', LIVE),
  alias('/ws/notifications/', 'user:{self}', LIVE),
];

/**
 * One REST request. Allowed = it got past authentication and authorization: any answer but 401,
 * 403 and 404 (a 400, 409 or 422 on a harmless body is "allowed"; the bodies are chosen so that no
 * allowed request changes anything that matters). 404 counts as refused because the API answers it
 * for what the caller may not see, so ids cannot be probed.
 */
export interface RestRow {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Its operation in GET /api/openapi.json (`METHOD /path/{param}`), or null for a route outside it. */
  route: string | null;
  body?: unknown;
  /** What the probe does, when the path does not say it. */
  probe?: string;
  allow: readonly Principal[];
}

/** docs/api.md's "who" column; public routes read no token (a bad one is ignored, and grants nothing). */
export const REST_MATRIX: readonly RestRow[] = [
  { method: 'POST', path: '/api/auth/register', route: 'POST /api/auth/register', body: {}, probe: 'empty body (400)', allow: EVERYONE },
  { method: 'POST', path: '/api/auth/login', route: 'POST /api/auth/login', body: {}, probe: 'empty body (400)', allow: EVERYONE },
  // Development and test only (demo data on): the demo accounts for the sign-in page's one-click buttons.
  { method: 'GET', path: '/api/dev/demo-accounts', route: 'GET /api/dev/demo-accounts', allow: EVERYONE },
  { method: 'GET', path: '/api/me', route: 'GET /api/me', allow: LIVE },
  { method: 'POST', path: '/api/users', route: 'POST /api/users', body: {}, probe: 'empty body (400)', allow: ADMINS },
  { method: 'GET', path: '/api/users', route: 'GET /api/users', allow: ADMINS },
  // An account of the demo tenant, enabled again (it is): a change only its tenant's admin may make.
  { method: 'PATCH', path: '/api/users/{other}', route: 'PATCH /api/users/{id}', body: { disabled: false }, probe: 'enable (already enabled)', allow: ['admin'] },
  // The other tenant's only admin: its own admin is refused (409 last_admin), anyone else sees no such account.
  { method: 'DELETE', path: '/api/users/{otherTenantAdmin}', route: 'DELETE /api/users/{id}', probe: 'the last admin (409)', allow: ['otherAdmin'] },
  { method: 'GET', path: '/api/products', route: 'GET /api/products', allow: LIVE },
  { method: 'GET', path: '/api/products/{product}', route: 'GET /api/products/{id}', allow: DEMO_TENANT },
  { method: 'GET', path: '/api/products/{otherProduct}', route: 'GET /api/products/{id}', allow: ['otherAdmin'] },
  { method: 'GET', path: '/api/cart', route: 'GET /api/cart', allow: LIVE },
  { method: 'POST', path: '/api/cart/items', route: 'POST /api/cart/items', body: {}, probe: 'empty body (400)', allow: LIVE },
  { method: 'PATCH', path: '/api/cart/items/{line}', route: 'PATCH /api/cart/items/{id}', body: { quantity: 1 }, probe: 'quantity 1 (unchanged)', allow: LIVE },
  { method: 'PATCH', path: '/api/cart/items/{otherLine}', route: 'PATCH /api/cart/items/{id}', body: { quantity: 1 }, probe: 'quantity 1', allow: NOBODY },
  { method: 'DELETE', path: '/api/cart/items/{otherLine}', route: 'DELETE /api/cart/items/{id}', allow: NOBODY },
  { method: 'DELETE', path: '/api/cart/items/{line}', route: 'DELETE /api/cart/items/{id}', allow: LIVE },
  { method: 'DELETE', path: '/api/cart?version=999999999', route: 'DELETE /api/cart', probe: 'stale version (409)', allow: LIVE },
  { method: 'POST', path: '/api/payments/create-from-cart', route: 'POST /api/payments/create-from-cart', body: { provider: 'none' }, probe: 'unknown provider (422)', allow: LIVE },
  { method: 'GET', path: '/api/payments/{paymentC}', route: 'GET /api/payments/{id}', allow: ['customer2', ...DEMO_STAFF] },
  // Staff may read a customer's payment, not approve it. Approving a confirmed payment changes nothing.
  { method: 'POST', path: '/api/payments/{paymentC}/sandbox', route: 'POST /api/payments/{id}/sandbox', body: {}, probe: 'approve (already confirmed)', allow: ['customer2'] },
  // Only the provider, by its signature: no bearer token opens it.
  { method: 'POST', path: '/api/payments/callback/sandbox', route: 'POST /api/payments/callback/{provider}', body: {}, probe: 'unsigned', allow: NOBODY },
  { method: 'GET', path: '/api/orders', route: 'GET /api/orders', allow: LIVE },
  // The workers an order can be assigned to, of the caller's own tenant: staff only.
  { method: 'GET', path: '/api/orders/workers', route: 'GET /api/orders/workers', allow: STAFF },
  { method: 'GET', path: '/api/orders/{orderA}', route: 'GET /api/orders/{id}', allow: ['customer', 'worker', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderB}', route: 'GET /api/orders/{id}', allow: ['customer', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderC}', route: 'GET /api/orders/{id}', allow: ['customer2', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderD}', route: 'GET /api/orders/{id}', allow: ['otherAdmin'] },
  { method: 'GET', path: '/api/orders/{orderA}/history', route: 'GET /api/orders/{id}/history', allow: ['customer', 'worker', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderB}/history', route: 'GET /api/orders/{id}/history', allow: ['customer', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderC}/history', route: 'GET /api/orders/{id}/history', allow: ['customer2', ...DEMO_STAFF] },
  { method: 'GET', path: '/api/orders/{orderD}/history', route: 'GET /api/orders/{id}/history', allow: ['otherAdmin'] },
  // Taking the worker off: only staff may change the worker (A: refused as worker_required, 422; B-D have none: 409 no_change).
  { method: 'PATCH', path: '/api/orders/{orderA}', route: 'PATCH /api/orders/{id}', body: { workerId: null }, probe: 'take the worker off', allow: DEMO_STAFF },
  { method: 'PATCH', path: '/api/orders/{orderB}', route: 'PATCH /api/orders/{id}', body: { workerId: null }, probe: 'take the worker off', allow: DEMO_STAFF },
  { method: 'PATCH', path: '/api/orders/{orderC}', route: 'PATCH /api/orders/{id}', body: { workerId: null }, probe: 'take the worker off', allow: DEMO_STAFF },
  { method: 'PATCH', path: '/api/orders/{orderD}', route: 'PATCH /api/orders/{id}', body: { workerId: null }, probe: 'take the worker off', allow: ['otherAdmin'] },
  // The assigned worker may move their order on (here: to in_progress, where it already is: 409 no_change).
  { method: 'PATCH', path: '/api/orders/{orderA}', route: 'PATCH /api/orders/{id}', body: { status: 'in_progress' }, probe: 'status in_progress (unchanged)', allow: ['worker', ...DEMO_STAFF] },
  // The console: admins only, each seeing its own shop's channels, connections and audit log.
  { method: 'GET', path: '/api/console/channels', route: 'GET /api/console/channels', allow: ADMINS },
  { method: 'GET', path: '/api/console/connections', route: 'GET /api/console/connections', allow: ADMINS },
  { method: 'GET', path: '/api/console/audit', route: 'GET /api/console/audit', allow: ADMINS },
  { method: 'GET', path: '/api/console/channels/history?channel=tenant:{tenant}', route: 'GET /api/console/channels/history', allow: ADMINS },
  { method: 'GET', path: '/api/console/channels/history?channel=tenant:{otherTenant}', route: 'GET /api/console/channels/history', allow: NOBODY },
  { method: 'POST', path: '/api/console/publish', route: 'POST /api/console/publish', body: {}, probe: 'empty body (400)', allow: ADMINS },
  // Your own sessions: refused as own_sessions (409), which only an admin gets that far to hear.
  { method: 'POST', path: '/api/console/users/{self}/end-sessions', route: 'POST /api/console/users/{id}/end-sessions', body: {}, probe: 'your own (409)', allow: ADMINS },
  { method: 'POST', path: '/api/console/users/{other}/end-sessions', route: 'POST /api/console/users/{id}/end-sessions', body: {}, probe: 'sign out (no connections)', allow: ['admin'] },
  { method: 'POST', path: '/api/console/users/{otherTenantAdmin}/end-sessions', route: 'POST /api/console/users/{id}/end-sessions', body: {}, probe: "the other shop's admin", allow: ['otherAdmin'] },
  // The publish API takes the API key, never a user's token.
  { method: 'POST', path: '/api/publish', route: null, body: { channel: 'chat:lobby', event: 'probe', data: {} }, probe: 'token as the API key', allow: NOBODY },
];

export function allows(row: { allow: readonly Principal[] }, principal: Principal): boolean {
  return row.allow.includes(principal);
}

/** Fills `{placeholder}`s from `values`; throws on one it does not know. */
export function resolveTemplate(template: string, values: Record<Placeholder, string>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => {
    if (!Object.hasOwn(values, name)) throw new Error(`unknown placeholder ${whole} in ${template}`);
    return values[name as Placeholder];
  });
}

/** A row's target as the docs show it: `order:<order A>`. */
export function shownTarget(template: string): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => (Object.hasOwn(PLACEHOLDERS, name) ? `<${PLACEHOLDERS[name as Placeholder].shown}>` : whole));
}

export function wsRowTitle(row: WsRow): string {
  if (row.kind === 'connect') return 'connect /ws';
  if (row.kind === 'alias') return `alias ${shownTarget(row.path)}`;
  return `${row.op} ${shownTarget(row.channel)}`;
}

export function restRowTitle(row: RestRow): string {
  return `${row.method} ${shownTarget(row.path)}${row.probe ? ` (${row.probe})` : ''}`;
}

const mark = (row: { allow: readonly Principal[] }, p: Principal) => (allows(row, p) ? '✓' : '✗');
const header = (first: string[]) => {
  const columns = [...first, ...PRINCIPALS.map((p) => PRINCIPAL_INFO[p].column)];
  return [`| ${columns.join(' | ')} |`, `|${first.map(() => '---|').join('')}${PRINCIPALS.map(() => ':-:|').join('')}`];
};

/** The markdown between docs/security.md's authorization-matrix markers. */
export function renderMatrix(): string {
  const lines: string[] = [];
  lines.push(
    'Generated from `test/security/authorization-matrix.ts` by `node scripts/print-authorization-matrix.mjs`;',
    '`test/security/authorization.test.ts` checks every cell against a running node of the app (SQLite and',
    'PostgreSQL) and that this section matches the table. ✓ allowed, ✗ refused; anything not granted is refused.',
    '',
    'Principals:',
    '',
  );
  for (const p of PRINCIPALS) lines.push(`- **${PRINCIPAL_INFO[p].column}**: ${PRINCIPAL_INFO[p].who}`);
  lines.push(
    '',
    'The deleted account and the forged token are refused at connect on the WebSocket and with 401 on every',
    'REST route that reads a token; public routes (register, login) read none, so a bad one changes nothing there.',
    '',
    'Targets:',
    '',
  );
  for (const info of Object.values(PLACEHOLDERS)) lines.push(`- \`<${info.shown}>\`: ${info.means}`);
  lines.push(
    '',
    '"Own" targets of the principals without an account of their own are those they would pass for: the demo',
    "customer's for anon, the demo admin's for forged.",
    '',
    '### WebSocket',
    '',
    'connect: `{"op":"connect","token":…}` as the first frame; the ops: a request on a connection opened with',
    '`?token=` (✓ = an ok reply); alias: connecting to the path (✓ = the server subscribes the channel, ✗ = close',
    '4501, or the connection is refused as unauthenticated).',
    '',
  );
  lines.push(...header(['channel or path', 'op']));
  // The ops of one channel that have the same cells share a line.
  const groups: { target: string; ops: string[]; row: WsRow }[] = [];
  for (const row of WS_MATRIX) {
    if (row.kind !== 'op') {
      const [target, op] = row.kind === 'connect' ? ['`/ws`', 'connect'] : [`\`${shownTarget(row.path)}\``, `connect (subscribes \`${shownTarget(row.channel)}\`)`];
      groups.push({ target, ops: [op], row });
      continue;
    }
    const target = `\`${shownTarget(row.channel)}\``;
    const same = groups.find((g) => g.target === target && PRINCIPALS.every((p) => allows(g.row, p) === allows(row, p)));
    if (same) same.ops.push(row.op);
    else groups.push({ target, ops: [row.op], row });
  }
  for (const g of groups) lines.push(`| ${g.target} | ${g.ops.join(', ')} | ${PRINCIPALS.map((p) => mark(g.row, p)).join(' | ')} |`);
  lines.push(
    '',
    '### REST',
    '',
    '✓: the request got past authentication and authorization (2xx, or 400/409/422 on the harmless body shown);',
    '✗: 401, 403, or 404 (the API answers 404 for what the caller may not see, so ids cannot be probed).',
    '',
  );
  lines.push(...header(['request', 'probe']));
  for (const row of REST_MATRIX) lines.push(`| \`${row.method} ${shownTarget(row.path)}\` | ${row.probe ?? ''} | ${PRINCIPALS.map((p) => mark(row, p)).join(' | ')} |`);
  return lines.join('\n');
}

export const MATRIX_START = '<!-- authorization-matrix:start -->';
export const MATRIX_END = '<!-- authorization-matrix:end -->';

/** The text between the markers of a docs page, or null when it has no (well-ordered) markers. */
export function matrixSection(page: string): string | null {
  const start = page.indexOf(MATRIX_START);
  const end = page.indexOf(MATRIX_END);
  if (start < 0 || end < start) return null;
  return page.slice(start + MATRIX_START.length, end).replace(/^\n/, '').replace(/\n$/, '');
}
