/**
 * The hub's OpenAPI document as a contract the e2e suites hold every answer to: `ApiContract`
 * compiles the document's schemas with ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses) and checks
 * an answer — its status is documented for the operation, its media type too, the required
 * headers are there, a JSON body matches its schema and every NDJSON line matches exactly one
 * branch of the line schema (`x-ndjson-line`). `withContract(dispatcher)` puts that check in
 * front of an undici dispatcher: the document is fetched once per hub (per origin) and each
 * answer that passes through is checked as it arrives; a violation fails the call that received
 * it (its body errors with the violation). `contractFigures()` counts what was checked.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { DecoratorHandler, request, type Dispatcher } from 'undici';

type Json = Record<string, unknown>;

/** What the checks of this process covered. */
export interface ContractFigures {
  /** Answers checked (status, media type, headers). */
  responses: number;
  /** JSON bodies validated. */
  jsonBodies: number;
  /** NDJSON lines validated (each matched exactly one line kind). */
  ndjsonLines: number;
  /** Answers that broke the contract (each also failed its call). */
  violations: number;
}

const figures: ContractFigures = { responses: 0, jsonBodies: 0, ndjsonLines: 0, violations: 0 };

export function contractFigures(): Readonly<ContractFigures> {
  return { ...figures };
}

export class ContractViolation extends Error {
  constructor(message: string) {
    super(`OpenAPI contract: ${message}`);
    this.name = 'ContractViolation';
  }
}

/** How one answer is checked, once its status and headers are known. */
export interface AnswerCheck {
  /** 'json', 'ndjson' or 'none' (no body schema, e.g. HEAD). */
  readonly body: 'json' | 'ndjson' | 'none';
  /** Checks a whole JSON body. */
  json(value: unknown): void;
  /** Checks one NDJSON line; returns the name of the line kind it matched. */
  line(value: unknown): string;
}

const pointer = (...parts: string[]): string => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
const mediaType = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

export class ApiContract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly paths: Array<{ template: string; pattern: RegExp }>;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(readonly document: Json) {
    addFormats.default(this.ajv);
    this.ajv.addSchema(document, 'openapi');
    this.paths = Object.keys(document['paths'] as Json).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    }));
  }

  private validator(ref: string): ValidateFunction {
    let v = this.compiled.get(ref);
    if (v === undefined) {
      v = this.ajv.compile({ $ref: `openapi${ref}` });
      this.compiled.set(ref, v);
    }
    return v;
  }

  private validate(ref: string, value: unknown, what: string): void {
    const v = this.validator(ref);
    if (!v(value)) throw new ContractViolation(`${what} does not match ${ref}: ${this.ajv.errorsText(v.errors)} — ${JSON.stringify(value).slice(0, 300)}`);
  }

  /** The checks for an answer of `status` to `method path`; throws when the document does not allow it. */
  answer(method: string, pathAndQuery: string, status: number, headers: Record<string, string | string[] | undefined>): AnswerCheck {
    const path = pathAndQuery.split('?')[0]!;
    const what = `${method} ${path} → ${status}`;
    const template = this.paths.find((p) => p.pattern.test(path))?.template;
    if (template === undefined) {
      // An unknown path: the documented 404 NO_SUCH_ROUTE (docs/http-api.md).
      if (status === 404) return this.errorCheck(what);
      throw new ContractViolation(`${what}: no such path in the document, and the answer is not 404`);
    }
    const item = (this.document['paths'] as Record<string, Json>)[template]!;
    const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    const operation = item[m] as Json | undefined;
    if (operation === undefined) {
      // A method the path does not answer: the documented 405 (docs/http-api.md).
      if (status !== 405) throw new ContractViolation(`${what}: the document has no ${method} here and the answer is not 405`);
      if (!headers['allow']) throw new ContractViolation(`${what}: 405 without Allow`);
      return this.errorCheck(what);
    }
    const responses = operation['responses'] as Record<string, Json>;
    const key = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : 'default';
    const response = responses[key];
    if (response === undefined) throw new ContractViolation(`${what}: status not documented (documented: ${Object.keys(responses).join(', ')})`);
    figures.responses += 1;
    for (const [name, header] of Object.entries((response['headers'] ?? {}) as Record<string, Json>)) {
      const resolved = '$ref' in header ? this.resolve(header['$ref'] as string) : header;
      if (resolved['required'] === true && headers[name.toLowerCase()] === undefined) throw new ContractViolation(`${what}: required header ${name} missing`);
    }
    if (method.toUpperCase() === 'HEAD') return { body: 'none', json: () => undefined, line: () => '' };
    const content = (response['content'] ?? {}) as Record<string, Json>;
    const type = mediaType(headers['content-type'] as string | undefined);
    if (!(type in content)) throw new ContractViolation(`${what}: media type ${type || '(none)'} not documented (documented: ${Object.keys(content).join(', ')})`);
    const base = ['paths', template, m, 'responses', key, 'content', type, 'schema'];
    const schema = content[type]!['schema'] as Json;
    if ('x-ndjson-line' in schema) {
      const branches = ((schema['x-ndjson-line'] as Json)['oneOf'] as Json[] | undefined) ?? [schema['x-ndjson-line'] as Json];
      const lineRef = pointer(...base, 'x-ndjson-line');
      return {
        body: 'ndjson',
        json: () => undefined,
        line: (value) => {
          this.validate(lineRef, value, `${what} line`);
          figures.ndjsonLines += 1;
          // `oneOf` passed: exactly one branch matched; name it for the caller.
          const i = branches.findIndex((_b, n) => this.validator(pointer(...base, 'x-ndjson-line', 'oneOf', String(n)))(value));
          return ((branches[i]?.['$ref'] as string | undefined) ?? '').split('/').pop() ?? '';
        },
      };
    }
    const bodyRef = pointer(...base);
    return {
      body: 'json',
      json: (value) => {
        this.validate(bodyRef, value, `${what} body`);
        figures.jsonBodies += 1;
      },
      line: () => {
        throw new ContractViolation(`${what}: not an NDJSON answer`);
      },
    };
  }

  /**
   * Checks an answer seen only as text (curl's output): the body of `status` in the media type
   * the document gives it (the first, if it gives several). Headers are not seen, so not checked.
   */
  text(method: string, pathAndQuery: string, status: number, body: string): void {
    const answer = this.answer(method, pathAndQuery, status, { 'content-type': this.mediaTypeOf(method, pathAndQuery, status), 'x-request-id': '(not seen)' });
    const reader = new AnswerBody(answer);
    reader.data(Buffer.from(body));
    reader.end();
  }

  /** The check of each line of an NDJSON answer whose lines are read elsewhere (a curl stream). */
  lines(method: string, pathAndQuery: string, status = 200): (line: unknown) => string {
    const answer = this.answer(method, pathAndQuery, status, { 'content-type': 'application/x-ndjson', 'x-request-id': '(not seen)' });
    return (line) => answer.line(line);
  }

  private mediaTypeOf(method: string, pathAndQuery: string, status: number): string {
    const path = pathAndQuery.split('?')[0]!;
    const template = this.paths.find((p) => p.pattern.test(path))?.template;
    const op = template === undefined ? undefined : ((this.document['paths'] as Record<string, Json>)[template]![method.toLowerCase()] as Json | undefined);
    const response = (op?.['responses'] as Record<string, Json> | undefined)?.[String(status)];
    return Object.keys(response?.['content'] ?? { 'application/json': {} })[0]!;
  }

  private errorCheck(what: string): AnswerCheck {
    figures.responses += 1;
    return {
      body: 'json',
      json: (value) => {
        this.validate('#/components/schemas/Error', value, `${what} body`);
        figures.jsonBodies += 1;
      },
      line: () => {
        throw new ContractViolation(`${what}: not an NDJSON answer`);
      },
    };
  }

  private resolve(ref: string): Json {
    return ref
      .slice(2)
      .split('/')
      .reduce<Json>((node, part) => node[part.replace(/~1/g, '/').replace(/~0/g, '~')] as Json, this.document);
  }
}

const contracts = new Map<string, Promise<ApiContract>>();

/** The contract of the hub at `origin`, its document fetched once (through `dispatcher`, unchecked). */
export function contractOf(origin: string, dispatcher: Dispatcher): Promise<ApiContract> {
  let c = contracts.get(origin);
  if (c === undefined) {
    c = request(`${origin}/v1/openapi.json`, { dispatcher }).then(async (res) => {
      if (res.statusCode !== 200) throw new Error(`GET ${origin}/v1/openapi.json answered ${res.statusCode}`);
      return new ApiContract((await res.body.json()) as Json);
    });
    // A hub restarted on another port is another origin; a failed fetch is tried again.
    c.catch(() => contracts.delete(origin));
    contracts.set(origin, c);
  }
  return c;
}

/** Checks the body of one answer as it streams: whole JSON at the end, NDJSON line by line. */
class AnswerBody {
  private text = '';
  private readonly decoder = new TextDecoder();

  constructor(private readonly check: AnswerCheck) {}

  data(chunk: Buffer): void {
    if (this.check.body === 'none') return;
    this.text += this.decoder.decode(chunk, { stream: true });
    if (this.check.body !== 'ndjson') return;
    for (let nl = this.text.indexOf('\n'); nl !== -1; nl = this.text.indexOf('\n')) {
      this.lineOf(this.text.slice(0, nl));
      this.text = this.text.slice(nl + 1);
    }
  }

  end(): void {
    if (this.check.body === 'none') return;
    this.text += this.decoder.decode();
    if (this.check.body === 'ndjson') {
      if (this.text.trim() !== '') this.lineOf(this.text);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(this.text);
    } catch {
      throw new ContractViolation(`a JSON answer that is not JSON: ${this.text.slice(0, 200)}`);
    }
    this.check.json(value);
  }

  private lineOf(text: string): void {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ContractViolation(`an NDJSON line that is not JSON: ${text.slice(0, 200)}`);
    }
    this.check.line(value);
  }
}

type Handler = Required<Pick<Dispatcher.DispatchHandler, 'onRequestStart' | 'onResponseStart' | 'onResponseData' | 'onResponseEnd' | 'onResponseError'>> & Dispatcher.DispatchHandler;

/** Wraps a call's handler: checks the answer on its way to the caller. */
class CheckingHandler implements Dispatcher.DispatchHandler {
  private readonly inner: Handler;
  private body: AnswerBody | undefined;
  private failed: Error | undefined;

  constructor(
    private readonly contract: ApiContract,
    private readonly opts: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ) {
    this.inner = new DecoratorHandler(handler) as unknown as Handler;
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.inner.onRequestStart(controller, context);
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>, socket: import('node:stream').Duplex): void {
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (statusCode >= 200) {
      try {
        this.body = new AnswerBody(this.contract.answer(this.opts.method, this.opts.path, statusCode, headers));
      } catch (err) {
        this.failed = err as Error;
        figures.violations += 1;
      }
    }
    this.inner.onResponseStart(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.failed === undefined) {
      try {
        this.body?.data(chunk);
      } catch (err) {
        // The line that broke the contract is not passed on: the call ends with the violation.
        this.failed = err as Error;
        figures.violations += 1;
        return controller.abort(this.failed);
      }
    }
    this.inner.onResponseData(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    if (this.failed === undefined) {
      try {
        this.body?.end();
      } catch (err) {
        this.failed = err as Error;
        figures.violations += 1;
      }
    }
    if (this.failed !== undefined) return this.fail(controller, this.failed);
    this.inner.onResponseEnd(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(controller, this.failed ?? err);
  }

  private fail(controller: Dispatcher.DispatchController, err: Error): void {
    this.inner.onResponseError(controller, err);
  }
}

/**
 * `dispatcher` with every answer checked against the document of the hub it came from (fetched
 * through `dispatcher` itself on the first call to that hub). A violation ends the call with a
 * `ContractViolation`: the body of the answer errors with it (after the data before it).
 */
export function withContract<D extends Dispatcher>(dispatcher: D): D {
  // undici's compose answers a proxy of `dispatcher` itself (close and destroy included).
  return dispatcher.compose((dispatch) => (opts, handler) => {
    const origin = String(opts.origin ?? '');
    const onLoaded = (contract: ApiContract): boolean => dispatch(opts, new CheckingHandler(contract, opts, handler));
    contractOf(origin, dispatcher).then(onLoaded, (err: unknown) => {
      const failure = err instanceof Error ? err : new Error(String(err));
      const h = new DecoratorHandler(handler) as unknown as Handler;
      h.onResponseError({ aborted: true, paused: false, reason: failure, abort: () => undefined, pause: () => undefined, resume: () => undefined }, failure);
    });
    return true;
  }) as unknown as D;
}
