/**
 * The otelaudit record contract for the OpenTelemetry JS SDK: an audit event
 * becomes a log record exactly as the Go bridge writes it (package
 * github.com/otelaudit/otelaudit, section "The record contract"), so that the
 * exporters' one mapping (exporter/auditrow) stores it like a Go service's:
 *
 *   Event field         Log record field / attribute   Type
 *   ------------------  -----------------------------  ------------------------
 *   action              eventName "audit.<action>"     string
 *   id (UUIDv7)         log.record.uid                 string
 *   time                timestamp                      time
 *   outcome             severityNumber                 INFO, WARN on failure
 *   actor.userId        user.id                        string
 *   actor.workspaceId   audit.workspace.id             string
 *   actor.name          user.full_name                 string
 *   client.ip           client.address                 string
 *   client.userAgent    user_agent.original            string
 *   client.sessionId    session.id                     string
 *   resource.type       audit.resource.type            string
 *   resource.id         audit.resource.id              string
 *   outcome             audit.outcome                  "success" | "failure"
 *   outcome.errorType   error.type                     string (failures only)
 *   details             audit.details                  any (maps kept)
 *   previous            audit.previous                 any (maps kept)
 *   new                 audit.new                      any (maps kept)
 *   (context)           trace and span ids             from the context's span
 *   (resource)          service.name                   OTEL_SERVICE_NAME
 *   attributes          any other key                  any
 *
 * Empty fields are left out. Details, previous and new keep their structure:
 * objects become OTLP maps and arrays OTLP arrays, never JSON strings.
 */
import { createContextKey, context as otelContext, type Context } from '@opentelemetry/api';
import { SeverityNumber, type AnyValue, type AnyValueMap, type LogAttributes, type Logger } from '@opentelemetry/api-logs';
import { randomBytes } from 'node:crypto';

/** Attribute keys of the record contract (keys.go of the Go module). */
export const Keys = {
  eventId: 'log.record.uid',
  userId: 'user.id',
  userName: 'user.full_name',
  workspaceId: 'audit.workspace.id',
  clientAddress: 'client.address',
  userAgent: 'user_agent.original',
  sessionId: 'session.id',
  resourceType: 'audit.resource.type',
  resourceId: 'audit.resource.id',
  outcome: 'audit.outcome',
  errorType: 'error.type',
  details: 'audit.details',
  previous: 'audit.previous',
  new: 'audit.new',
} as const;

/** Starts the eventName of every audit record. */
export const EVENT_NAME_PREFIX = 'audit.';
/** Starts every key of the contract's own namespace. */
export const RESERVED_KEY_PREFIX = 'audit.';
/** The longest action name accepted, in bytes. */
export const MAX_ACTION_LEN = 64;
/** How deep values are followed; deeper levels become DEPTH_LIMIT_MARKER. */
export const MAX_VALUE_DEPTH = 32;
export const DEPTH_LIMIT_MARKER = '[otelaudit: depth limit]';

/** The seed action set. Custom actions follow the same naming rule. */
export const Actions = {
  login: 'login',
  logout: 'logout',
  dataExportRequested: 'data_export_requested',
  dataExportCompleted: 'data_export_completed',
  dataDeleteRequested: 'data_delete_requested',
  dataDeleteCompleted: 'data_delete_completed',
  subscriptionCreated: 'subscription_created',
  subscriptionCancelled: 'subscription_cancelled',
  settingsChanged: 'settings_changed',
  oauthConnected: 'oauth_connected',
  oauthDisconnected: 'oauth_disconnected',
  adminAction: 'admin_action',
} as const;
export type SeedAction = (typeof Actions)[keyof typeof Actions];

/** Resource types the typed calls record (the bridge's Resource constants). */
export const ResourceTypes = {
  oauthProvider: 'oauth_provider',
  subscription: 'subscription',
  dataExport: 'data_export',
  dataDeletion: 'data_deletion',
} as const;

/**
 * validateAction returns why action breaks the naming rule, or undefined when
 * it follows it: dot-separated segments, each starting with a lower-case
 * letter and made of a-z, 0-9 and _, at most MAX_ACTION_LEN bytes, and no
 * segment that looks like a dynamic value (a run of five digits, or of twelve
 * hexadecimal characters with a digit in it).
 */
export function validateAction(action: string): string | undefined {
  if (action === '') return 'empty';
  if (Buffer.byteLength(action) > MAX_ACTION_LEN) return `more than ${MAX_ACTION_LEN} bytes`;
  for (const seg of action.split('.')) {
    if (seg === '') return 'empty segment';
    if (!(seg[0] >= 'a' && seg[0] <= 'z')) return 'a segment must start with a lower-case letter';
    let digitRun = 0;
    let hexRun = 0;
    let hexRunHasDigit = false;
    for (const c of seg) {
      if (c >= '0' && c <= '9') {
        digitRun++;
        hexRun++;
        hexRunHasDigit = true;
      } else if (c >= 'a' && c <= 'f') {
        digitRun = 0;
        hexRun++;
      } else if ((c >= 'g' && c <= 'z') || c === '_') {
        digitRun = 0;
        hexRun = 0;
        hexRunHasDigit = false;
      } else {
        return `character ${JSON.stringify(c)} not allowed (use a-z, 0-9, _ and .)`;
      }
      if (digitRun >= 5 || (hexRun >= 12 && hexRunHasDigit)) {
        return 'segment looks like a dynamic value (an id, hash or number); put it in an attribute';
      }
    }
  }
  return undefined;
}

/** isReservedKey reports whether key belongs to the record contract. */
export function isReservedKey(key: string): boolean {
  if (key.startsWith(RESERVED_KEY_PREFIX)) return true;
  return (
    key === Keys.eventId ||
    key === Keys.userId ||
    key === Keys.userName ||
    key === Keys.clientAddress ||
    key === Keys.userAgent ||
    key === Keys.sessionId ||
    key === Keys.errorType
  );
}

/** Who performed the action. */
export interface Actor {
  userId: string;
  workspaceId?: string;
  name?: string;
}

/** Where the action came from. */
export interface Client {
  ip?: string;
  userAgent?: string;
  sessionId?: string;
}

/** What the action was done to. */
export interface Resource {
  type: string;
  id?: string;
}

/** Whether the action succeeded; errorType is a low-cardinality class. */
export type Outcome = { failed: false } | { failed: true; errorType: string };

export const success: Outcome = { failed: false };
export function failure(errorType: string): Outcome {
  return { failed: true, errorType };
}

/** One audit event. Only action is required. */
export interface AuditEvent {
  action: string;
  actor?: Actor;
  client?: Client;
  resource?: Resource;
  outcome?: Outcome;
  /** Structured values; any JSON-like value (see toAnyValue). */
  details?: unknown;
  previous?: unknown;
  new?: unknown;
  /** Extra attributes outside the contract; reserved keys are left out. */
  attributes?: Record<string, unknown>;
  /** The event id, a UUID; a fresh UUIDv7 when absent or not a UUID. */
  id?: string;
  /** When it happened; now when absent. */
  time?: Date;
}

/**
 * toAnyValue converts a JavaScript value into a log attribute value that
 * keeps its structure, like the Go module's otelaudit.Value: undefined and
 * null are no value; strings, numbers and booleans stay; Uint8Array stays
 * bytes; arrays and plain objects are followed (entries whose value is no
 * value are left out of objects); a Date becomes its ISO 8601 string; a
 * bigint a number when it is a safe integer, else its decimal string; an
 * object with toJSON is converted through it; anything else becomes its
 * String(). Levels deeper than MAX_VALUE_DEPTH, and reference cycles, become
 * DEPTH_LIMIT_MARKER. Never throws.
 */
export function toAnyValue(v: unknown, depth = 0): AnyValue {
  if (depth > MAX_VALUE_DEPTH) return DEPTH_LIMIT_MARKER;
  switch (typeof v) {
    case 'undefined':
      return undefined;
    case 'string':
    case 'number':
    case 'boolean':
      return v;
    case 'bigint':
      return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    case 'object':
      break;
    default:
      return String(v);
  }
  if (v === null) return undefined;
  if (v instanceof Uint8Array) return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (Array.isArray(v)) return v.map((e) => toAnyValue(e, depth + 1) ?? null);
  try {
    const withJSON = v as { toJSON?: () => unknown };
    if (typeof withJSON.toJSON === 'function') return toAnyValue(withJSON.toJSON(), depth + 1);
    const out: AnyValueMap = {};
    for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
      const av = toAnyValue(e, depth + 1);
      if (av !== undefined) out[k] = av;
    }
    return out;
  } catch (err) {
    return String(err);
  }
}

/** uuidv7 returns a new UUIDv7 (RFC 9562) in its canonical text form. */
export function uuidv7(now: number = Date.now()): string {
  const b = randomBytes(16);
  const ms = BigInt(now);
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The log record an event becomes: the contract, and nothing else. */
export interface AuditLogRecord {
  eventName: string;
  timestamp: Date;
  severityNumber: SeverityNumber;
  attributes: LogAttributes;
}

/**
 * buildRecord maps e to a log record following the contract. It sets exactly
 * what e holds (id and time must be set); it returns the extra attribute keys
 * it left out (empty, reserved by the contract).
 */
export function buildRecord(e: AuditEvent & { id: string; time: Date }): { record: AuditLogRecord; dropped: string[] } {
  const failed = e.outcome?.failed === true;
  const attrs: LogAttributes = {};
  const put = (k: string, v: string | undefined) => {
    if (v) attrs[k] = v;
  };
  put(Keys.eventId, e.id);
  put(Keys.userId, e.actor?.userId);
  put(Keys.workspaceId, e.actor?.workspaceId);
  put(Keys.userName, e.actor?.name);
  put(Keys.clientAddress, e.client?.ip);
  put(Keys.userAgent, e.client?.userAgent);
  put(Keys.sessionId, e.client?.sessionId);
  put(Keys.resourceType, e.resource?.type);
  put(Keys.resourceId, e.resource?.id);
  attrs[Keys.outcome] = failed ? 'failure' : 'success';
  if (e.outcome?.failed === true) put(Keys.errorType, e.outcome.errorType);
  for (const [k, v] of [
    [Keys.details, e.details],
    [Keys.previous, e.previous],
    [Keys.new, e.new],
  ] as const) {
    const av = toAnyValue(v);
    if (av !== undefined) attrs[k] = av;
  }
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(e.attributes ?? {})) {
    if (k === '' || isReservedKey(k)) {
      dropped.push(k);
      continue;
    }
    const av = toAnyValue(v);
    if (av !== undefined) attrs[k] = av;
  }
  return {
    record: {
      eventName: EVENT_NAME_PREFIX + e.action,
      timestamp: e.time,
      severityNumber: failed ? SeverityNumber.WARN : SeverityNumber.INFO,
      attributes: attrs,
    },
    dropped,
  };
}

/** Why an event was rejected: the bridge's reasons. */
export type RejectReason = 'invalid_action' | 'id_generation' | 'panic';

/** An event the Auditor did not emit, handed to its error handler. */
export class AuditRejectedError extends Error {
  constructor(
    readonly reason: RejectReason,
    readonly action: string,
    detail: string,
  ) {
    super(`otelaudit: audit event ${JSON.stringify(action.slice(0, 80))} rejected (${reason}): ${detail}`);
    this.name = 'AuditRejectedError';
  }
}

const CLIENT_KEY = createContextKey('otelaudit client');

/** contextWithClient returns ctx carrying where the request came from. */
export function contextWithClient(ctx: Context, client: Client): Context {
  return ctx.setValue(CLIENT_KEY, client);
}

/** clientFromContext returns the client contextWithClient stored. */
export function clientFromContext(ctx: Context): Client | undefined {
  return ctx.getValue(CLIENT_KEY) as Client | undefined;
}

export interface AuditorOptions {
  /** Receives rejected events and dropped attributes; default console.error. */
  onError?: (err: Error) => void;
  /** The clock for events without a time; default () => new Date(). */
  now?: () => Date;
}

/** What an Auditor did since it was created. */
export interface AuditorStats {
  emitted: number;
  rejected: Record<RejectReason, number>;
  droppedAttributes: number;
}

/**
 * Auditor emits audit events as log records through an OpenTelemetry Logger.
 * Its calls are fire-and-forget: they return nothing and never throw. An
 * event with an invalid action is rejected (counted, reported to onError,
 * not emitted); extra attributes with reserved keys are left out and
 * reported. Each call fills in what the event leaves empty: a UUIDv7 id, the
 * time, and the client fields from the context (contextWithClient). Trace
 * and span ids come from the span of the context passed (default: the
 * active context).
 */
export class Auditor {
  private readonly onError: (err: Error) => void;
  private readonly now: () => Date;
  private readonly counts: AuditorStats = {
    emitted: 0,
    rejected: { invalid_action: 0, id_generation: 0, panic: 0 },
    droppedAttributes: 0,
  };

  constructor(
    private readonly logger: Logger,
    opts: AuditorOptions = {},
  ) {
    this.onError = opts.onError ?? ((err) => console.error(err.message));
    this.now = opts.now ?? (() => new Date());
  }

  /** stats returns the Auditor's counters. */
  stats(): AuditorStats {
    return { ...this.counts, rejected: { ...this.counts.rejected } };
  }

  /** record emits e; see the class documentation. */
  record(e: AuditEvent, ctx: Context = otelContext.active()): void {
    try {
      const problem = validateAction(e.action);
      if (problem !== undefined) {
        this.reject('invalid_action', e.action, problem);
        return;
      }
      const time = e.time ?? this.now();
      let id = e.id;
      if (id === undefined || !UUID_RE.test(id)) {
        id = uuidv7(time.getTime());
      }
      const fromCtx = clientFromContext(ctx) ?? {};
      const client: Client = {
        ip: e.client?.ip || fromCtx.ip,
        userAgent: e.client?.userAgent || fromCtx.userAgent,
        sessionId: e.client?.sessionId || fromCtx.sessionId,
      };
      const { record, dropped } = buildRecord({ ...e, id, time, client });
      for (const k of dropped) {
        this.counts.droppedAttributes++;
        this.report(new Error(`otelaudit: extra attribute dropped: ${JSON.stringify(k)} of audit event ${JSON.stringify(e.action)}: empty or reserved key`));
      }
      this.logger.emit({ ...record, context: ctx });
      this.counts.emitted++;
    } catch (err) {
      this.reject('panic', e.action, `emitting threw: ${String(err)}`);
    }
  }

  private reject(reason: RejectReason, action: string, detail: string): void {
    this.counts.rejected[reason]++;
    this.report(new AuditRejectedError(reason, action, detail));
  }

  private report(err: Error): void {
    try {
      this.onError(err);
    } catch {
      // An error handler that throws must not fail the caller.
    }
  }

  // Typed calls, one per seed action, as in the Go bridge.

  login(actor: Actor, ctx?: Context, client?: Client): void {
    this.record({ action: Actions.login, actor, client }, ctx);
  }
  loginFailed(actor: Actor, errorType: string, ctx?: Context): void {
    this.record({ action: Actions.login, actor, outcome: failure(errorType) }, ctx);
  }
  logout(actor: Actor, ctx?: Context): void {
    this.record({ action: Actions.logout, actor }, ctx);
  }
  settingsChanged(actor: Actor, setting: Resource, previous: unknown, next: unknown, ctx?: Context): void {
    this.record({ action: Actions.settingsChanged, actor, resource: setting, previous, new: next }, ctx);
  }
  settingsChangeFailed(actor: Actor, setting: Resource, errorType: string, current: unknown, attempted: unknown, ctx?: Context): void {
    this.record({ action: Actions.settingsChanged, actor, resource: setting, outcome: failure(errorType), previous: current, new: attempted }, ctx);
  }
  dataExportRequested(actor: Actor, exportId: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.dataExportRequested, actor, resource: { type: ResourceTypes.dataExport, id: exportId }, details }, ctx);
  }
  dataExportRequestFailed(actor: Actor, exportId: string, errorType: string, details: unknown, ctx?: Context): void {
    this.record(
      { action: Actions.dataExportRequested, actor, resource: { type: ResourceTypes.dataExport, id: exportId }, outcome: failure(errorType), details },
      ctx,
    );
  }
  adminAction(admin: Actor, target: Resource, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.adminAction, actor: admin, resource: target, details }, ctx);
  }
  adminActionFailed(admin: Actor, target: Resource, errorType: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.adminAction, actor: admin, resource: target, outcome: failure(errorType), details }, ctx);
  }
  oauthConnected(actor: Actor, provider: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.oauthConnected, actor, resource: { type: ResourceTypes.oauthProvider, id: provider }, details }, ctx);
  }
  oauthConnectFailed(actor: Actor, provider: string, errorType: string, details: unknown, ctx?: Context): void {
    this.record(
      { action: Actions.oauthConnected, actor, resource: { type: ResourceTypes.oauthProvider, id: provider }, outcome: failure(errorType), details },
      ctx,
    );
  }
  oauthDisconnected(actor: Actor, provider: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.oauthDisconnected, actor, resource: { type: ResourceTypes.oauthProvider, id: provider }, details }, ctx);
  }
  oauthDisconnectFailed(actor: Actor, provider: string, errorType: string, details: unknown, ctx?: Context): void {
    this.record(
      { action: Actions.oauthDisconnected, actor, resource: { type: ResourceTypes.oauthProvider, id: provider }, outcome: failure(errorType), details },
      ctx,
    );
  }
  subscriptionCreated(actor: Actor, subscriptionId: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.subscriptionCreated, actor, resource: { type: ResourceTypes.subscription, id: subscriptionId }, details }, ctx);
  }
  subscriptionCreateFailed(actor: Actor, subscriptionId: string, errorType: string, details: unknown, ctx?: Context): void {
    this.record(
      { action: Actions.subscriptionCreated, actor, resource: { type: ResourceTypes.subscription, id: subscriptionId }, outcome: failure(errorType), details },
      ctx,
    );
  }
  subscriptionCancelled(actor: Actor, subscriptionId: string, details: unknown, ctx?: Context): void {
    this.record({ action: Actions.subscriptionCancelled, actor, resource: { type: ResourceTypes.subscription, id: subscriptionId }, details }, ctx);
  }
  subscriptionCancelFailed(actor: Actor, subscriptionId: string, errorType: string, details: unknown, ctx?: Context): void {
    this.record(
      { action: Actions.subscriptionCancelled, actor, resource: { type: ResourceTypes.subscription, id: subscriptionId }, outcome: failure(errorType), details },
      ctx,
    );
  }
}
