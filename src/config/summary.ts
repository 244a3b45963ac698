/**
 * What a configuration will do, in a few lines for the start-up log and `check`: addresses,
 * auth methods and timings — never a secret (passwords, tokens and proxy passwords are left
 * out or masked).
 */
import type { AgentConfig } from './agent-config.js';
import { describeDataSourceTarget } from './data-source-registry.js';
import { isRecord } from './codecs.js';
import { agentPaths, type HubConfig } from './hub-config.js';
import { maskUrlPassword } from '../support/show-value.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function loggingLine(logging: { level: string; file?: string }): string {
  return `logging: ${logging.level} to ${logging.file ?? 'stdout'}`;
}

function statusLine(status: { listen: { host: string; port: number } } | undefined): string {
  if (status === undefined) return 'status listener: off';
  const { host, port } = status.listen;
  return `status listener: http://${host.includes(':') ? `[${host}]` : host}:${port} (/healthz, /readyz, /metrics)`;
}

function agentAuth(agent: AgentConfig['agent']): string[] {
  if (agent.keyStore !== undefined) {
    const key = agent.privateKey === undefined ? '' : `, privateKey ${agent.privateKey}`;
    const lines = [`auth: client certificate (keyStore ${agent.keyStore}${key})`];
    // As in the classic agent: with both configured, the certificate wins.
    if (agent.userName !== undefined) lines.push(`  userName ${agent.userName} is ignored: the client certificate wins`);
    return lines;
  }
  if (agent.userName !== undefined) return [`auth: basic (userName ${agent.userName})`];
  return ['auth: none'];
}

export function summarizeAgentConfig(cfg: AgentConfig): string {
  const { agent } = cfg;
  const lines = [`agent ${agent.id}, tenant ${agent.tenantId}`, `hub ${agent.urls.length === 1 ? 'URL' : 'URLs'}:`];
  for (const url of agent.urls) lines.push(`  ${url}`);
  lines.push(...agentAuth(agent));
  lines.push(`trust: system CAs${agent.trustStore === undefined ? '' : ` + trustStore ${agent.trustStore}`}`);
  const noProxy = agent.noProxy === undefined ? '' : ` (noProxy ${agent.noProxy})`;
  lines.push(
    agent.proxy === undefined
      ? 'proxy: from HTTPS_PROXY / NO_PROXY if set'
      : `proxy: ${maskUrlPassword(agent.proxy)}${noProxy}`,
  );
  lines.push(
    `reconnect: backoff from ${cfg.reconnectDelay} ms up to ${cfg.maxReconnectDelay} ms, reset after ${cfg.reconnectResetAfter} ms registered`,
    `keep-alive: ping every ${cfg.keepAliveInterval} ms, drop after ${cfg.keepAliveTimeout} ms without pong`,
    `max frame: ${cfg.maxFrameBytes} bytes`,
    `requests: ${cfg.maxConcurrentRequests} at once + ${cfg.maxQueuedRequests} queued, ${cfg.maxConcurrentStreams} streams at once, ${cfg.maxChunkItems} items per chunk`,
    statusLine(cfg.status),
    loggingLine(cfg.logging),
    cfg.stateDir === undefined
      ? 'export journals: off (no stateDir: exports cannot carry an idempotency key)'
      : `export journals: ${cfg.stateDir}/exports, kept ${cfg.exportJournal?.maxAge ?? 604_800_000} ms, at most ${cfg.exportJournal?.maxBytes ?? 268_435_456} bytes${cfg.exportJournal?.fsync === true ? ', fsync per line' : ''}`,
  );
  if (cfg.plugins !== undefined && cfg.plugins.length > 0) lines.push(`plugins: ${cfg.plugins.join(', ')}`);
  const sources = Object.entries(cfg.dataSources);
  const tested = sources.length === 0 ? '' : cfg.testOnStart ? ', each tested once at start-up' : ', not tested at start-up (testOnStart: false)';
  lines.push(`data sources: ${sources.length === 0 ? 'none' : sources.length}${tested}`);
  for (const [name, ds] of sources) {
    const isolated = ds.isolation === 'worker' ? '; isolated in a worker thread' : '';
    lines.push(`  ${name}: ${ds.type} ${describeDataSourceTarget(ds)}; operations ${ds.operations.join(', ') || 'none'}${isolated}`);
    const tls = ds['tls'];
    if (isRecord(tls) && tls['insecureSkipVerify'] === true) lines.push(`  WARNING: ${name}: TLS certificate verification is disabled`);
  }
  return lines.join('\n');
}

export function summarizeHubConfig(cfg: HubConfig): string {
  const { listen, tls } = cfg;
  const tlsOn = tls?.cert !== undefined && tls.key !== undefined;
  const scheme = tlsOn ? 'wss' : 'ws';
  const lines = [`hub listening on ${scheme}://${listen.host}:${listen.port}${agentPaths(listen).join(', ')}`];
  if (!tlsOn) {
    lines.push('TLS: off — WARNING: plain ws://, agent credentials travel unencrypted unless a TLS proxy terminates in front');
  } else {
    lines.push(`TLS: on (cert ${tls.cert}, key ${tls.key})`);
  }
  const forwarded = cfg.forwardedClientCertificate;
  lines.push(
    tls?.clientCa === undefined ? 'client-certificate auth: off' : `client-certificate auth: on (CAs ${tls.clientCa}${tlsOn ? '' : '; forwarded only'})`,
    cfg.trustedProxies.length === 0
      ? 'trusted proxies: none (Forwarded / X-Forwarded-For ignored)'
      : `trusted proxies: ${cfg.trustedProxies.join(', ')}${forwarded ? `; client certificates forwarded in ${forwarded.header}` : ''}`,
    `keep-alive: ping every ${cfg.keepAliveInterval} ms, drop after ${cfg.keepAliveTimeout} ms without pong`,
    `registration timeout: ${cfg.registrationTimeout} ms, max frame: ${cfg.maxFrameBytes} bytes`,
    `timeouts: ${Object.entries(cfg.timeouts).map(([op, ms]) => `${op} ${ms} ms`).join(', ')}`,
    `HTTP API: on the same listener, /v1 (JSON body ≤ ${cfg.api.maxBodyBytes} bytes, export line ≤ ${cfg.api.maxLineBytes} bytes, ${cfg.api.maxInFlightPerTenant} requests in flight per tenant)`,
    statusLine(cfg.status),
    loggingLine(cfg.logging),
  );
  const tenants = Object.entries(cfg.tenants);
  lines.push(`tenants: ${tenants.length}`);
  for (const [id, tenant] of tenants) {
    const passwords = tenant.agents.filter((a) => 'userName' in a).length;
    const certificates = tenant.agents.length - passwords;
    lines.push(
      `  ${id}: ${plural(tenant.agents.length, 'agent credential')} (${passwords} password, ${certificates} certificate), ${plural(tenant.apiTokens.length, 'API token')}`,
    );
  }
  return lines.join('\n');
}
