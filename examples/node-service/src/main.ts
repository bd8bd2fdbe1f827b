/**
 * node-service: a TypeScript web service that records audit events with the
 * otelaudit record contract (src/audit.ts) on the official OpenTelemetry JS
 * SDK, and sends them as OTLP/HTTP to an OpenTelemetry Collector (the
 * otelaudit distribution stores them in Postgres and ClickHouse).
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=node-service \
 *     node dist/main.js [--addr HOST:PORT] [--workload N] [--visitors V] [--seed S]
 *
 * With --workload N it serves on a loopback port, drives itself over HTTP
 * until it has recorded exactly N audit events, sends them and exits.
 * --healthcheck asks a running service for /healthz (container health checks).
 */
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Auditor } from './audit.js';
import { Portal, trustedProxies } from './portal.js';
import { newLoggerProvider } from './telemetry.js';
import { runWorkload } from './workload.js';

interface Config {
  addr: string;
  trustedProxies: string[];
  workload: number;
  visitors: number;
  seed: number;
  healthcheck: boolean;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Config {
  const cfg: Config = {
    addr: env.NODE_SERVICE_ADDR || ':8082',
    trustedProxies: (env.OTELAUDIT_TRUSTED_PROXIES ?? '').split(',').filter((s) => s.trim() !== ''),
    workload: Number(env.NODE_SERVICE_WORKLOAD || '0'),
    visitors: 8,
    seed: 1,
    healthcheck: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].replace(/^--?/, '').split('=', 2);
    const value = () => inline ?? argv[++i] ?? '';
    switch (flag) {
      case 'addr':
        cfg.addr = value();
        break;
      case 'trusted-proxies':
        cfg.trustedProxies = value().split(',').filter((s) => s.trim() !== '');
        break;
      case 'workload':
        cfg.workload = Number(value());
        break;
      case 'visitors':
        cfg.visitors = Number(value());
        break;
      case 'seed':
        cfg.seed = Number(value());
        break;
      case 'healthcheck':
        cfg.healthcheck = true;
        break;
      default:
        throw new Error(`unknown flag ${argv[i]}`);
    }
  }
  if (!Number.isInteger(cfg.workload) || cfg.workload < 0) throw new Error('--workload (NODE_SERVICE_WORKLOAD) must be a whole number, 0 or more');
  if (!Number.isInteger(cfg.visitors) || cfg.visitors < 1 || cfg.visitors > 8) throw new Error('--visitors must be 1 to 8');
  return cfg;
}

function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(addr.slice(i + 1)) };
}

function healthcheck(addr: string): Promise<void> {
  let { host, port } = splitAddr(addr);
  if (host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/healthz', timeout: 3000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`healthcheck: status ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('healthcheck: timeout')));
    req.on('error', reject);
  });
}

const log = (msg: string) => process.stdout.write(`node-service: ${msg}\n`);

async function main(): Promise<void> {
  const cfg = parseArgs(process.argv.slice(2), process.env);
  if (cfg.healthcheck) return healthcheck(cfg.addr);

  const provider = newLoggerProvider();
  const auditor = new Auditor(provider.getLogger('github.com/otelaudit/otelaudit/examples/node-service', '0.1.0'), {
    onError: (err) => process.stderr.write(`node-service: audit: ${err.message}\n`),
  });
  let { host, port } = splitAddr(cfg.addr);
  const trusted = [...cfg.trustedProxies];
  if (cfg.workload > 0) {
    // The workload reaches the service on loopback, as its own proxy.
    host = '127.0.0.1';
    port = 0;
    trusted.push('127.0.0.0/8', '::1');
  }
  const portal = new Portal(auditor, trustedProxies(trusted));
  const server = createServer({ noDelay: true }, portal.handle);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const a = server.address() as AddressInfo;
  const base = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  log(`listening on ${base}`);

  const finish = async (): Promise<void> => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const st = auditor.stats();
    log(`${st.emitted} audit events emitted, ${st.rejected.invalid_action + st.rejected.panic} rejected; sending what is left`);
    await provider.shutdown();
  };

  if (cfg.workload > 0) {
    const start = Date.now();
    const step = Math.max(1, Math.floor(cfg.workload / 10));
    const tally = await runWorkload(base, cfg.workload, cfg.visitors, cfg.seed, (done) => {
      if (cfg.workload >= 1000 && done % step === 0) log(`workload ${Math.round((done * 100) / cfg.workload)}% (${done}/${cfg.workload} events)`);
    });
    const events = Object.values(tally).reduce((x, y) => x + y, 0);
    log(`workload done ${JSON.stringify({ events, ms: Date.now() - start, tally })}`);
    server.closeAllConnections();
    await finish();
    return;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  server.closeIdleConnections();
  await finish();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`node-service: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
