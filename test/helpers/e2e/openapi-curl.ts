/**
 * The OpenAPI contract for answers the e2e suites receive through curl rather than undici (the
 * demo's printed commands, the operator-style curl tests): the hub's document fetched once, and
 * curl's output checked as the body of the documented answer — the whole JSON body, or each
 * NDJSON line.
 */
import { Agent } from 'undici';
import { contractOf, type ApiContract } from './openapi-contract.js';

/** The contract of the hub at `apiUrl` (`https://127.0.0.1:PORT`), trusting `caPem` if given. */
export async function contractAt(apiUrl: string, caPem?: string): Promise<ApiContract> {
  const agent = new Agent(caPem === undefined ? {} : { connect: { ca: caPem } });
  try {
    return await contractOf(new URL(apiUrl).origin, agent);
  } finally {
    await agent.close();
  }
}

/** Method and path of a curl command line as a shell would run it (`-X`, `-d`/`--data-binary` mean POST). */
export function curlTarget(command: string): { method: string; url: URL } {
  const explicit = /(?:^|\s)-X\s+([A-Z]+)/.exec(command)?.[1];
  const posts = /(?:^|\s)(-d|--data-binary|--data)\s/.test(command);
  const url = /(https?:\/\/[^\s'"]+)/.exec(command)?.[1];
  if (url === undefined) throw new Error(`no URL in the curl command: ${command}`);
  return { method: explicit ?? (posts ? 'POST' : 'GET'), url: new URL(url) };
}

/** Checks what a printed curl command wrote (`status` as the caller knows it). */
export function checkCurlOutput(contract: ApiContract, command: string, stdout: string, status = 200): void {
  const { method, url } = curlTarget(command);
  contract.text(method, `${url.pathname}${url.search}`, status, stdout);
}
