/**
 * Upstream failures as a caller sees them: an upstream that cannot be reached is
 * UPSTREAM_UNAVAILABLE and retryable (it may come back); credentials it refuses are
 * UPSTREAM_AUTH_FAILED and not retryable (a person must fix them). Each is skipped when the
 * fixture gives no settings for its case.
 */
import { at, expectCoded, skip, type CheckContext } from './check-context.js';
import { SOURCE_NAMES } from './environment.js';
import type { ContractCheck, SettingsKind } from './fixture.js';

function failureCheck(ctx: CheckContext, kind: Exclude<SettingsKind, 'ok'>, name: string, code: string, retryable: boolean): ContractCheck {
  return {
    name,
    async run() {
      const env = ctx.env();
      if (!env.configured(kind)) skip(`the fixture gives no '${kind}' settings`);
      await expectCoded(env.hub.request({ ...at(env, SOURCE_NAMES[kind]), op: 'test' }), code, retryable, `test on the '${kind}' source`);
    },
  };
}

export function failureChecks(ctx: CheckContext): ContractCheck[] {
  return [
    failureCheck(ctx, 'unreachable', 'an unreachable upstream is UPSTREAM_UNAVAILABLE (retryable)', 'UPSTREAM_UNAVAILABLE', true),
    failureCheck(ctx, 'badCredentials', 'bad credentials are UPSTREAM_AUTH_FAILED (not retryable)', 'UPSTREAM_AUTH_FAILED', false),
  ];
}
