import { ROOT_CONTEXT, defaultTextMapGetter, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BlockList, isIP } from 'node:net';

import { contextWithClient, type Actor, type Auditor, type Resource } from './audit.js';
import { directory, type User } from './directory.js';

export const SESSION_COOKIE = 'session';
export const MAX_SETTING_LEN = 64;
export const EXPORT_FORMATS = ['csv', 'json'];
export const ADMIN_OPS = ['reset_mfa', 'suspend', 'unsuspend', 'revoke_sessions'];
export const PROVIDERS: Record<string, string[]> = {
  slack: ['chat:write', 'commands', 'channels:read', 'users:read'],
  github: ['repo', 'read:org'],
  google_drive: ['drive.file', 'drive.metadata.readonly'],
};
export const PLANS: Record<string, number> = { team: 800, business: 1500, enterprise: 2400 };
const MAX_BODY = 64 << 10;

/**
 * trustedProxies parses a list of addresses and CIDR prefixes
 * ("10.0.0.0/8", "2001:db8::1") into a BlockList; it throws on an entry that
 * is neither.
 */
export function trustedProxies(entries: string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries) {
    const e = raw.trim();
    if (e === '') continue;
    const [addr, bits, extra] = e.split('/');
    const family = isIP(addr);
    if (family === 0 || extra !== undefined) throw new Error(`invalid trusted proxy ${JSON.stringify(e)}: not an IP address or CIDR prefix`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(addr, type);
      continue;
    }
    const prefix = Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new Error(`invalid trusted proxy ${JSON.stringify(e)}: prefix length out of range`);
    }
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** canonicalIP strips a port, brackets and zone, and unmaps ::ffff:a.b.c.d. */
function canonicalIP(s: string | undefined): string | undefined {
  if (!s) return undefined;
  let a = s.trim();
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  else if (a.split(':').length === 2) a = a.split(':')[0]; // a.b.c.d:port
  a = a.split('%')[0];
  if (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  return isIP(a) ? a : undefined;
}

function isTrusted(list: BlockList, ip: string): boolean {
  return list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
}

/**
 * clientIP is the bridge middleware's rule: the socket peer, unless the peer
 * is a trusted proxy; then X-Forwarded-For is walked from right to left,
 * skipping trusted proxies, and the first other address is the client (the
 * leftmost when all are trusted).
 */
export function clientIP(req: IncomingMessage, trusted: BlockList): { ip?: string; viaProxy: boolean } {
  const peer = canonicalIP(req.socket.remoteAddress);
  if (!peer || !isTrusted(trusted, peer)) return { ip: peer, viaProxy: false };
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => canonicalIP(h))
    .filter((h): h is string => h !== undefined);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!isTrusted(trusted, hops[i])) return { ip: hops[i], viaProxy: true };
  }
  return { ip: hops[0] ?? peer, viaProxy: true };
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const propagator = new W3CTraceContextPropagator();

function actorOf(u: User): Actor {
  return { userId: u.id, workspaceId: u.workspace, name: u.name };
}

/**
 * Portal is the web application: accounts, sessions, settings, integrations
 * and subscriptions in memory. Every request to a route other than /healthz
 * records exactly one audit event, except requests without a session to the
 * routes that need one, which are refused unrecorded.
 */
export class Portal {
  private readonly users = directory();
  private readonly sessions = new Map<string, string>(); // session -> user id
  private readonly settings = new Map<string, Map<string, string>>();
  private readonly integrations = new Map<string, Set<string>>(); // user id -> providers
  private readonly subscriptions = new Map<string, string>(); // id -> workspace
  private exports = 0;
  private subs = 0;

  constructor(
    private readonly audit: Auditor,
    private readonly trusted: BlockList,
  ) {}

  /** handle serves one request; it never throws. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 400, String(err instanceof Error ? err.message : err));
    });
  };

  /** requestContext is what the bridge middleware puts in a request's context. */
  private requestContext(req: IncomingMessage): Context {
    const { ip, viaProxy } = clientIP(req, this.trusted);
    let ctx: Context = ROOT_CONTEXT;
    if (viaProxy) ctx = propagator.extract(ctx, req.headers, defaultTextMapGetter);
    return contextWithClient(ctx, {
      ip,
      userAgent: req.headers['user-agent'],
      sessionId: cookie(req, SESSION_COOKIE),
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://portal').pathname;
    const parts = path.split('/').filter((p) => p !== '').map(decodeURIComponent);
    const m = req.method ?? 'GET';
    if (m === 'GET' && path === '/healthz') return reply(res, 200, 'ok');
    const ctx = this.requestContext(req);
    if (m === 'POST' && path === '/login') return this.login(ctx, await readForm(req), res);

    const known = ['logout', 'settings', 'exports', 'admin', 'integrations', 'subscriptions'];
    if (!known.includes(parts[0] ?? '')) return reply(res, 404, 'not found');
    const sid = cookie(req, SESSION_COOKIE);
    const uid = sid === undefined ? undefined : this.sessions.get(sid);
    const u = uid === undefined ? undefined : this.users.get(uid);
    if (u === undefined || sid === undefined) return reply(res, 401, 'not logged in');
    const form = await readForm(req);

    if (m === 'POST' && path === '/logout') {
      this.sessions.delete(sid);
      this.audit.logout(actorOf(u), ctx);
      return reply(res, 204);
    }
    if (m === 'PUT' && parts[0] === 'settings' && parts.length === 2) return this.changeSetting(ctx, u, parts[1], form, res);
    if (m === 'POST' && path === '/exports') return this.requestExport(ctx, u, form, res);
    if (m === 'POST' && parts[0] === 'admin' && parts[1] === 'users' && parts.length === 4) {
      return this.adminAction(ctx, u, parts[2], parts[3], form, res);
    }
    if (parts[0] === 'integrations' && parts.length === 2) {
      if (m === 'POST') return this.connect(ctx, u, parts[1], form, res);
      if (m === 'DELETE') return this.disconnect(ctx, u, parts[1], res);
    }
    if (m === 'POST' && path === '/subscriptions') return this.subscribe(ctx, u, form, res);
    if (m === 'DELETE' && parts[0] === 'subscriptions' && parts.length === 2) return this.cancel(ctx, u, parts[1], form, res);
    return reply(res, 404, 'not found');
  }

  private login(ctx: Context, form: URLSearchParams, res: ServerResponse): void {
    const id = form.get('user') ?? '';
    const u = this.users.get(id);
    if (u === undefined) {
      this.audit.loginFailed({ userId: id }, 'unknown_user', ctx);
      return reply(res, 401, 'invalid credentials');
    }
    if (form.get('password') !== u.password) {
      this.audit.loginFailed(actorOf(u), 'invalid_password', ctx);
      return reply(res, 401, 'invalid credentials');
    }
    const sid = randomBytes(16).toString('base64url');
    this.sessions.set(sid, u.id);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    // The new session is not in the request context yet: record it here.
    this.audit.login(actorOf(u), ctx, { sessionId: sid });
    reply(res, 204);
  }

  private changeSetting(ctx: Context, u: User, name: string, form: URLSearchParams, res: ServerResponse): void {
    const setting: Resource = { type: 'setting', id: name };
    const value = form.get('value') ?? '';
    let mine = this.settings.get(u.id);
    if (mine === undefined) {
      mine = new Map();
      this.settings.set(u.id, mine);
    }
    const previous = mine.get(name); // undefined: the setting had no value yet
    if (Buffer.byteLength(value) > MAX_SETTING_LEN) {
      this.audit.settingsChangeFailed(actorOf(u), setting, 'value_too_long', previous, { bytes: Buffer.byteLength(value), limit: MAX_SETTING_LEN }, ctx);
      return reply(res, 422, 'value too long');
    }
    mine.set(name, value);
    this.audit.settingsChanged(actorOf(u), setting, previous, value, ctx);
    reply(res, 204);
  }

  private requestExport(ctx: Context, u: User, form: URLSearchParams, res: ServerResponse): void {
    const scope = form.getAll('scope');
    const req = { format: form.get('format') ?? '', scope: scope.length > 0 ? scope : ['profile', 'activity'] };
    if (!EXPORT_FORMATS.includes(req.format)) {
      this.audit.dataExportRequestFailed(actorOf(u), '', 'unsupported_format', req, ctx);
      return reply(res, 400, 'unsupported format');
    }
    const id = `exp-${String(++this.exports).padStart(6, '0')}`;
    this.audit.dataExportRequested(actorOf(u), id, req, ctx);
    res.setHeader('Location', `/exports/${id}`);
    reply(res, 202);
  }

  private adminAction(ctx: Context, admin: User, targetId: string, op: string, form: URLSearchParams, res: ServerResponse): void {
    const target: Resource = { type: 'user', id: targetId };
    const details = { op, ticket: form.get('ticket') ?? undefined };
    const t = this.users.get(targetId);
    if (!admin.admin) {
      this.audit.adminActionFailed(actorOf(admin), target, 'permission_denied', details, ctx);
      return reply(res, 403, 'admins only');
    }
    if (t === undefined || t.workspace !== admin.workspace) {
      this.audit.adminActionFailed(actorOf(admin), target, 'target_not_found', details, ctx);
      return reply(res, 404, 'no such user in this workspace');
    }
    if (!ADMIN_OPS.includes(op)) {
      this.audit.adminActionFailed(actorOf(admin), target, 'unknown_operation', details, ctx);
      return reply(res, 400, 'unknown operation');
    }
    this.audit.adminAction(actorOf(admin), target, details, ctx);
    reply(res, 204);
  }

  private connect(ctx: Context, u: User, provider: string, form: URLSearchParams, res: ServerResponse): void {
    const scopes = form.getAll('scope');
    const granted = scopes.length > 0 ? scopes : (PROVIDERS[provider] ?? []);
    if (PROVIDERS[provider] === undefined) {
      this.audit.oauthConnectFailed(actorOf(u), provider, 'unknown_provider', { scopes: granted }, ctx);
      return reply(res, 404, 'unknown provider');
    }
    let set = this.integrations.get(u.id);
    if (set === undefined) {
      set = new Set();
      this.integrations.set(u.id, set);
    }
    set.add(provider);
    this.audit.oauthConnected(actorOf(u), provider, { scopes: granted }, ctx);
    reply(res, 204);
  }

  private disconnect(ctx: Context, u: User, provider: string, res: ServerResponse): void {
    const set = this.integrations.get(u.id);
    if (set === undefined || !set.delete(provider)) {
      this.audit.oauthDisconnectFailed(actorOf(u), provider, 'not_connected', undefined, ctx);
      return reply(res, 404, 'not connected');
    }
    this.audit.oauthDisconnected(actorOf(u), provider, { trigger: 'user' }, ctx);
    reply(res, 204);
  }

  private subscribe(ctx: Context, u: User, form: URLSearchParams, res: ServerResponse): void {
    const plan = form.get('plan') ?? '';
    const seats = Number(form.get('seats') ?? '1');
    const perSeat = PLANS[plan];
    if (perSeat === undefined || !Number.isInteger(seats) || seats < 1) {
      this.audit.subscriptionCreateFailed(actorOf(u), '', 'invalid_plan', { billing: { plan, seats: form.get('seats') ?? '' } }, ctx);
      return reply(res, 400, 'invalid plan or seats');
    }
    const id = `sub-${String(++this.subs).padStart(6, '0')}`;
    this.subscriptions.set(id, u.workspace);
    this.audit.subscriptionCreated(actorOf(u), id, { billing: { plan, seats, amount_cents: seats * perSeat } }, ctx);
    res.setHeader('Location', `/subscriptions/${id}`);
    reply(res, 201);
  }

  private cancel(ctx: Context, u: User, id: string, form: URLSearchParams, res: ServerResponse): void {
    const reason = form.get('reason') ?? undefined;
    if (this.subscriptions.get(id) !== u.workspace) {
      this.audit.subscriptionCancelFailed(actorOf(u), id, 'not_found', { reason }, ctx);
      return reply(res, 404, 'no such subscription');
    }
    this.subscriptions.delete(id);
    this.audit.subscriptionCancelled(actorOf(u), id, { reason }, ctx);
    reply(res, 204);
  }
}

function reply(res: ServerResponse, status: number, body?: string): void {
  res.statusCode = status;
  if (body !== undefined) {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(body + '\n');
    return;
  }
  res.end();
}
