/**
 * AgentMetrics as Prometheus would scrape it: connection states and reconnects from status
 * transitions, request outcomes, streams and latency from the pipeline hooks, bounded labels.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../../../src/connection/status.js';
import type { Session } from '../../../src/connection/session.js';
import { AgentMetrics, UNKNOWN_DATA_SOURCE } from '../../../src/metrics/agent-metrics.js';
import { parseMetrics, sample, sampleOr0 } from '../../helpers/metrics.js';

const URL_A = 'wss://user:secret@hub-a.example/agent';
const URL_B = 'wss://hub-b.example/agent';
const A = 'wss://***:***@hub-a.example/agent';

function metrics(now?: () => number): AgentMetrics {
  return new AgentMetrics({ urls: [URL_A, URL_B], dataSources: ['ldap', 'hr'], ...(now ? { now } : {}) });
}

const connecting = (url: string, attempt: number): ConnectionStatus => ({ state: 'connecting', url, attempt });
const registered = (url: string): ConnectionStatus => ({ state: 'registered', url, sessionId: 's', session: {} as Session });
const disconnected = (url: string, attempt: number): ConnectionStatus => ({
  state: 'disconnected',
  url,
  code: 'CONNECTION_LOST',
  reason: 'gone',
  retryInMs: 100,
  attempt,
});

describe('AgentMetrics', () => {
  it('uses its own registry with the agent metrics and the default process metrics', async () => {
    const text = await metrics().registry.metrics();
    expect(text).toContain('# TYPE datasync_agent_connection_state gauge');
    expect(text).toContain('# TYPE datasync_agent_upstream_latency_seconds histogram');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    // Two instances do not share counts.
    const a = metrics();
    const b = metrics();
    a.requestRefused('get', 'ldap', 'BUSY');
    expect(sample(await a.registry.metrics(), 'datasync_agent_requests_total', { code: 'BUSY' })).toBe(1);
    expect(sampleOr0(await b.registry.metrics(), 'datasync_agent_requests_total', { code: 'BUSY' })).toBe(0);
  });

  it('connection state: 1 for the current state of each URL, credentials redacted; all 0 when stopped', async () => {
    const m = metrics();
    m.connectionStatus(connecting(URL_A, 1));
    m.connectionStatus(registered(URL_A));
    m.connectionStatus(connecting(URL_B, 1));
    let text = await m.registry.metrics();
    expect(text).not.toContain('secret');
    expect(sample(text, 'datasync_agent_connection_state', { url: A, state: 'registered' })).toBe(1);
    expect(sample(text, 'datasync_agent_connection_state', { url: A, state: 'connecting' })).toBe(0);
    expect(sample(text, 'datasync_agent_connection_state', { url: URL_B, state: 'connecting' })).toBe(1);
    m.connectionsStopped();
    text = await m.registry.metrics();
    expect(parseMetrics(text).filter((s) => s.name === 'datasync_agent_connection_state').every((s) => s.value === 0)).toBe(true);
  });

  it('reconnects: every dial of a URL after the first, from 0', async () => {
    const m = metrics();
    expect(sample(await m.registry.metrics(), 'datasync_agent_reconnects_total', { url: A })).toBe(0);
    m.connectionStatus(connecting(URL_A, 1));
    m.connectionStatus(registered(URL_A));
    m.connectionStatus(disconnected(URL_A, 1));
    m.connectionStatus(connecting(URL_A, 2));
    m.connectionStatus(disconnected(URL_A, 2));
    m.connectionStatus(connecting(URL_A, 3));
    const text = await m.registry.metrics();
    expect(sample(text, 'datasync_agent_reconnects_total', { url: A })).toBe(2);
    expect(sample(text, 'datasync_agent_reconnects_total', { url: URL_B })).toBe(0);
  });

  it('requests: in flight while running; counted by op, data source and code when finished, once', async () => {
    let t = 1000;
    const m = metrics(() => t);
    const ok = m.requestStarted('search', 'ldap');
    const failed = m.requestStarted('get', 'hr');
    expect(sample(await m.registry.metrics(), 'datasync_agent_requests_in_flight')).toBe(2);
    t += 250;
    ok.firstResult();
    t += 5000;
    ok.firstResult(); // only the first counts
    ok.chunkSent(3, 120);
    ok.chunkSent(2, 80);
    ok.creditStalled();
    ok.finished('OK');
    ok.finished('OK');
    failed.finished('NOT_FOUND');
    const text = await m.registry.metrics();
    expect(sample(text, 'datasync_agent_requests_in_flight')).toBe(0);
    expect(sample(text, 'datasync_agent_requests_total', { op: 'search', data_source: 'ldap', code: 'OK' })).toBe(1);
    expect(sample(text, 'datasync_agent_requests_total', { op: 'get', data_source: 'hr', code: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'datasync_agent_stream_items_sent_total', { op: 'search', data_source: 'ldap' })).toBe(5);
    expect(sample(text, 'datasync_agent_stream_bytes_sent_total', { op: 'search', data_source: 'ldap' })).toBe(200);
    expect(sample(text, 'datasync_agent_credit_stalls_total', { op: 'search', data_source: 'ldap' })).toBe(1);
    const latency = { op: 'search', data_source: 'ldap' };
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_count', latency)).toBe(1);
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_sum', latency)).toBeCloseTo(0.25);
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_bucket', { ...latency, le: '0.1' })).toBe(0);
    expect(sample(text, 'datasync_agent_upstream_latency_seconds_bucket', { ...latency, le: '0.25' })).toBe(1);
    // get never produced a result: no latency sample.
    expect(sampleOr0(text, 'datasync_agent_upstream_latency_seconds_count', { op: 'get', data_source: 'hr' })).toBe(0);
  });

  it('a data source that is not configured is labelled (unknown): the hub cannot grow the series', async () => {
    const m = metrics();
    m.requestRefused('get', 'no-such-1', 'UNKNOWN_DATA_SOURCE');
    m.requestRefused('get', 'no-such-2', 'UNKNOWN_DATA_SOURCE');
    m.requestStarted('test', 'other').finished('OK');
    const text = await m.registry.metrics();
    expect(sample(text, 'datasync_agent_requests_total', { data_source: UNKNOWN_DATA_SOURCE, code: 'UNKNOWN_DATA_SOURCE' })).toBe(2);
    expect(sample(text, 'datasync_agent_requests_total', { data_source: UNKNOWN_DATA_SOURCE, code: 'OK' })).toBe(1);
    expect(text).not.toContain('no-such');
  });
});
