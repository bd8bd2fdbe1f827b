import { Agent, request } from 'node:http';

import { directory, type User } from './directory.js';
import { ADMIN_OPS, EXPORT_FORMATS, MAX_SETTING_LEN, PLANS, PROVIDERS, SESSION_COOKIE } from './portal.js';

/** Counts of the events a workload caused, by "action/outcome". */
export type Tally = Record<string, number>;

/** mulberry32: a small seeded PRNG, so that a seed gives the same workload. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const ATTACKER_IPS = ['203.0.113.66', '198.51.100.23', '192.0.2.200'];
const GUESSED = ['admin', 'root', 'test', 'support', 'u-administrator'];
const USER_AGENTS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
];
const SETTINGS: Record<string, string[]> = {
  theme: ['light', 'dark', 'system'],
  language: ['en', 'fr', 'de', 'ja'],
  notifications: ['all', 'mentions', 'none'],
};
const REASONS = ['too_expensive', 'switched_tool', 'not_used'];

class BudgetSpent extends Error {}

/**
 * runWorkload drives the portal at base over HTTP as a crowd of users would,
 * until it has caused exactly n audit events (one per request), with the
 * given number of concurrent visitors. It reaches the portal as a trusted
 * proxy and gives each user an address of their own in X-Forwarded-For.
 */
export async function runWorkload(base: string, n: number, visitors: number, seed: number, progress: (done: number) => void): Promise<Tally> {
  const users = [...directory().values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const home = new Map(users.map((u, i) => [u.id, `192.0.2.${10 + i}`])); // as the Go workloads
  const peers = (u: User) => users.filter((p) => p.workspace === u.workspace);
  const subsOf = new Map<string, string[]>(); // workspace -> live subscriptions
  const connected = new Map<string, Set<string>>(); // user id -> providers
  const busy = new Set<string>(); // users in a visit: one visit per user at a time
  const agent = new Agent({ keepAlive: true, maxSockets: visitors, noDelay: true });
  const tally: Tally = {};
  let budget = n;
  let done = 0;

  const step = async (
    v: { ip: string; ua: string; session?: string },
    key: string,
    want: number,
    method: string,
    path: string,
    form: Record<string, string | string[]> = {},
  ): Promise<Record<string, string | string[] | undefined>> => {
    if (budget <= 0) throw new BudgetSpent();
    budget--;
    const body = new URLSearchParams();
    for (const [k, val] of Object.entries(form)) for (const x of Array.isArray(val) ? val : [val]) body.append(k, x);
    const data = body.toString();
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': String(Buffer.byteLength(data)),
      'User-Agent': v.ua,
      'X-Forwarded-For': v.ip,
    };
    if (v.session) headers.Cookie = `${SESSION_COOKIE}=${v.session}`;
    const { status, resHeaders } = await new Promise<{ status: number; resHeaders: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      const req = request(base + path, { method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, resHeaders: res.headers }));
      });
      req.on('error', reject);
      req.end(data);
    });
    if (status !== want) throw new Error(`${method} ${path}: status ${status}, want ${want}`);
    const setCookie = resHeaders['set-cookie'];
    for (const c of Array.isArray(setCookie) ? setCookie : []) {
      const m = new RegExp(`^${SESSION_COOKIE}=([^;]+)`).exec(c);
      if (m) v.session = m[1];
    }
    tally[key] = (tally[key] ?? 0) + 1;
    progress(++done);
    return resHeaders;
  };

  const visit = async (r: (n: number) => number): Promise<void> => {
    if (r(10) === 0) {
      const v = { ip: ATTACKER_IPS[r(ATTACKER_IPS.length)], ua: 'curl/8.5.0' };
      for (let i = 1 + r(3); i > 0; i--) {
        const name = r(2) === 0 ? GUESSED[r(GUESSED.length)] : users[r(users.length)].id;
        await step(v, 'login/failure', 401, 'POST', '/login', { user: name, password: 'hunter2' });
      }
      return;
    }
    const free = users.filter((x) => !busy.has(x.id));
    const u = free[r(free.length)];
    busy.add(u.id);
    try {
      await userVisit(r, u);
    } finally {
      busy.delete(u.id);
    }
  };

  const userVisit = async (r: (n: number) => number, u: User): Promise<void> => {
    const v: { ip: string; ua: string; session?: string } = { ip: home.get(u.id)!, ua: USER_AGENTS[r(USER_AGENTS.length)] };
    if (r(14) === 0) await step(v, 'login/failure', 401, 'POST', '/login', { user: u.id, password: u.password + '!' });
    await step(v, 'login/success', 204, 'POST', '/login', { user: u.id, password: u.password });
    for (let i = 1 + r(5); i > 0; i--) {
      const x = r(100);
      if (x < 30) {
        const names = Object.keys(SETTINGS);
        const name = names[r(names.length)];
        const value = SETTINGS[name][r(SETTINGS[name].length)];
        if (r(20) === 0) {
          await step(v, 'settings_changed/failure', 422, 'PUT', `/settings/${name}`, { value: value.repeat(1 + Math.floor(MAX_SETTING_LEN / value.length)) });
        } else {
          await step(v, 'settings_changed/success', 204, 'PUT', `/settings/${name}`, { value });
        }
      } else if (x < 45) {
        if (r(20) === 0) await step(v, 'data_export_requested/failure', 400, 'POST', '/exports', { format: 'xlsx' });
        else await step(v, 'data_export_requested/success', 202, 'POST', '/exports', { format: EXPORT_FORMATS[r(EXPORT_FORMATS.length)] });
      } else if (x < 60 && (u.admin || r(8) === 0)) { // now and then a user tries an admin page
        const ps = peers(u);
        const target = ps[r(ps.length)];
        const op = ADMIN_OPS[r(ADMIN_OPS.length)];
        if (!u.admin) await step(v, 'admin_action/failure', 403, 'POST', `/admin/users/${target.id}/${op}`, { ticket: `SUP-${1000 + r(9000)}` });
        else await step(v, 'admin_action/success', 204, 'POST', `/admin/users/${target.id}/${op}`, { ticket: `SUP-${1000 + r(9000)}` });
      } else if (x < 60) {
        await step(v, 'settings_changed/success', 204, 'PUT', '/settings/theme', { value: SETTINGS.theme[r(SETTINGS.theme.length)] });
      } else if (x < 80) {
        const mine = connected.get(u.id) ?? new Set<string>();
        connected.set(u.id, mine);
        if (mine.size > 0 && r(3) === 0) {
          const p = [...mine][r(mine.size)];
          mine.delete(p);
          await step(v, 'oauth_disconnected/success', 204, 'DELETE', `/integrations/${p}`);
        } else {
          const names = Object.keys(PROVIDERS);
          const p = names[r(names.length)];
          await step(v, 'oauth_connected/success', 204, 'POST', `/integrations/${p}`);
          mine.add(p);
        }
      } else {
        const live = subsOf.get(u.workspace) ?? [];
        if (live.length > 0 && r(2) === 0) {
          const id = live.splice(r(live.length), 1)[0];
          await step(v, 'subscription_cancelled/success', 204, 'DELETE', `/subscriptions/${id}`, { reason: REASONS[r(REASONS.length)] });
        } else {
          const plans = Object.keys(PLANS);
          const h = await step(v, 'subscription_created/success', 201, 'POST', '/subscriptions', { plan: plans[r(plans.length)], seats: String(1 + r(50)) });
          const loc = String(h.location ?? '');
          live.push(loc.slice(loc.lastIndexOf('/') + 1));
          subsOf.set(u.workspace, live);
        }
      }
    }
    if (r(100) < 85) await step(v, 'logout/success', 204, 'POST', '/logout');
  };

  try {
    await Promise.all(
      Array.from({ length: visitors }, async (_, i) => {
        const r = rng(seed * 7919 + i);
        try {
          while (budget > 0) await visit(r);
        } catch (err) {
          if (!(err instanceof BudgetSpent)) throw err;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return tally;
}
