/**
 * HubMetrics fed by a real AgentRegistry (links are only identities to it), and the HTTP API
 * hooks, as Prometheus would scrape them.
 */
import { describe, expect, it } from 'vitest';
import type { AgentLink } from '../../../src/hub/agent-link.js';
import { AgentRegistry } from '../../../src/hub/registry.js';
import { HubMetrics } from '../../../src/metrics/hub-metrics.js';
import { sample, sampleOr0 } from '../../helpers/metrics.js';

const link = (name: string) => ({ name }) as unknown as AgentLink;

describe('HubMetrics', () => {
  it('follows registrations, re-registrations and disconnects per tenant', async () => {
    const registry = new AgentRegistry();
    const m = new HubMetrics(registry);
    m.declareTenants(['1', '2', '3']);
    const a1 = link('a1');
    const a1again = link('a1-again');
    const b = link('b');
    registry.register('1', 'a', a1);
    registry.register('1', 'b', b);
    registry.register('2', 'c', link('c'));
    registry.register('1', 'a', a1again); // the same agent id again: replaces a1
    registry.unregister('1', 'a', a1); // the stale socket closing later: already gone
    registry.unregister('1', 'b', b);
    const text = await m.registry.metrics();
    expect(sample(text, 'datasync_hub_agents_connected', { tenant: '1' })).toBe(1);
    expect(sample(text, 'datasync_hub_agents_connected', { tenant: '2' })).toBe(1);
    expect(sample(text, 'datasync_hub_agents_connected', { tenant: '3' })).toBe(0);
    expect(sample(text, 'datasync_hub_agent_registrations_total', { tenant: '1' })).toBe(3);
    expect(sample(text, 'datasync_hub_agent_disconnects_total', { tenant: '1', reason: 'replaced' })).toBe(1);
    expect(sample(text, 'datasync_hub_agent_disconnects_total', { tenant: '1', reason: 'closed' })).toBe(1);
    expect(sampleOr0(text, 'datasync_hub_agent_disconnects_total', { tenant: '2' })).toBe(0);
    expect(m.agentsPerTenant()).toEqual({ '1': 1, '2': 1, '3': 0 });
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('records API requests by route, op and status, and the in-flight gauge', async () => {
    const m = new HubMetrics(new AgentRegistry());
    m.apiInFlight.inc();
    m.apiInFlight.inc();
    let text = await m.registry.metrics();
    expect(sample(text, 'datasync_hub_api_requests_in_flight')).toBe(2);
    const route = '/v1/data-sources/:name/search';
    m.observeApiRequest({ route, op: 'search', status: 200, seconds: 0.3 });
    m.apiInFlight.dec();
    m.observeApiRequest({ route, op: 'search', status: 503, seconds: 0.01 });
    m.apiInFlight.dec();
    text = await m.registry.metrics();
    expect(sample(text, 'datasync_hub_api_requests_in_flight')).toBe(0);
    expect(sample(text, 'datasync_hub_api_requests_total', { route, op: 'search', status: '200' })).toBe(1);
    expect(sample(text, 'datasync_hub_api_requests_total', { route, op: 'search', status: '503' })).toBe(1);
    expect(sample(text, 'datasync_hub_api_request_duration_seconds_count', { route, op: 'search' })).toBe(2);
    expect(sample(text, 'datasync_hub_api_request_duration_seconds_sum', { route, op: 'search' })).toBeCloseTo(0.31);
  });

  it('stops following the registry when it completes or on close()', async () => {
    const registry = new AgentRegistry();
    const m = new HubMetrics(registry);
    m.close();
    registry.register('1', 'a', link('a'));
    expect(sampleOr0(await m.registry.metrics(), 'datasync_hub_agents_connected', { tenant: '1' })).toBe(0);
  });
});
