/**
 * The layers of src/ and which may import which (`npm run lint:deps`, part of `npm test`).
 *
 * A layer is a folder under src/. The arrows, lowest first:
 *   support/                      imports nothing of ours (the neutral leaf)
 *   protocol/                     support
 *   log/                          support
 *   operators/                    protocol, support
 *   config/                       protocol, support
 *   adapter-kit/                  config, protocol, operators, support
 *   adapters/<type>/              adapter-kit, config, protocol, operators, support, adapters/directory
 *                                 (adapters/sql/: adapter-kit only)
 *   pipeline/                     anything but adapters/ (only through adapter-kit), hub/, agent/, cli/
 *   metrics/                      anything; hub/ and pipeline/ for their types only
 *   hub/                          protocol, operators, config, support, metrics, status, log
 * The agent, connection, status, plugins and CLI sit above these, unconstrained among themselves.
 * Type-only imports count like any other (`tsPreCompilationDeps`), except where a rule says so.
 * No module may sit on an import cycle (`no-circular`), whichever folders the cycle crosses.
 * Each rule's `comment` says why it is there; test/unit/layering.test.ts proves they can fail.
 */

const path = require('node:path');

/** Our layers an adapter may import (besides its own folder). */
const ADAPTER_MAY_IMPORT = ['adapter-kit', 'config', 'protocol', 'operators', 'support', 'adapters/directory'];

/** `^src/(a|b|c)/` */
const layers = (names) => `^src/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle makes its modules one unit: none can be loaded, tested or moved alone, and the ' +
        'order in which ESM evaluates them decides whether a binding is still undefined. A cycle ' +
        'closed by a type-only import (hub/http/api.ts reads the type of the Hub that creates it) ' +
        'is erased at build time and allowed.',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'resolvable',
      severity: 'error',
      comment:
        'An import of ours that does not resolve would pass every rule below unchecked (nothing ' +
        'to match): it is an error here, not only in tsc.',
      from: { path: '^src/' },
      to: { couldNotResolve: true, dependencyTypesNot: ['core'] },
    },
    {
      name: 'protocol-imports-only-support',
      severity: 'error',
      comment:
        'The wire protocol is shared by the agent, the hub, plugins and any client in another ' +
        'language: it depends on io-ts, Node and the neutral leaf support/ (the io-ts problem ' +
        'wording of BAD_FRAME messages) alone, so it can never pull in configuration, sockets or ' +
        'an adapter.',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: layers(['protocol', 'support']) },
    },
    {
      name: 'support-imports-nothing-of-ours',
      severity: 'error',
      comment:
        'support/ holds the neutral helpers (io-ts problem reporting, secret keys, proxy URLs, TLS ' +
        'stores, WebSocket message writing) that several layers share; a leaf cannot create a cycle.',
      from: { path: '^src/support/' },
      to: { path: '^src/', pathNot: '^src/support/' },
    },
    {
      name: 'operators-are-generic',
      severity: 'error',
      comment:
        'The RxJS operators (credit, chunking, deadlines, back-off) are proven with marble tests in ' +
        'virtual time; they know frames at most, never a socket, a configuration or an adapter.',
      from: { path: '^src/operators/' },
      to: { path: '^src/', pathNot: layers(['operators', 'protocol', 'support']) },
    },
    {
      name: 'config-imports-only-protocol-and-support',
      severity: 'error',
      comment:
        'The configuration is decoded before anything runs and by `check`; a data-source type ' +
        'brings its codec through the registry, so config knows no adapter, connection or hub.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: layers(['config', 'protocol', 'support']) },
    },
    {
      name: 'adapter-kit-imports-only-lower-layers',
      severity: 'error',
      comment:
        'The adapter kit is the public surface plugins build on (datasync-agent/adapter-kit): it ' +
        'must not drag in the agent, its sockets or a built-in adapter.',
      from: { path: '^src/adapter-kit/' },
      to: { path: '^src/', pathNot: layers(['adapter-kit', 'config', 'protocol', 'operators', 'support']) },
    },
    {
      name: 'adapters-import-only-the-kit-and-neutral-layers',
      severity: 'error',
      comment:
        'A built-in adapter is made exactly like a plugin: from the kit and the neutral layers. ' +
        'Adapters know no sockets, pipeline, agent, hub, CLI, status, metrics or plugin loading.',
      from: { path: '^src/adapters/[^/]+/' },
      to: { path: '^src/', pathNot: layers(['adapters', ...ADAPTER_MAY_IMPORT]) },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      comment:
        'Each adapter folder stands alone; what LDAP and LDIF share (DNs, entries, params, result ' +
        'codes, export records) lives in adapters/directory/, which imports neither.',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/adapters/', pathNot: '^src/adapters/($1|directory)/' },
    },
    {
      name: 'sql-adapter-imports-only-the-kit',
      severity: 'error',
      comment:
        'A SQL data source is written as a third party would write one: against the public ' +
        'adapter kit alone, so that the kit is proven to be enough.',
      from: { path: '^src/adapters/sql/' },
      to: { path: '^src/', pathNot: '^src/(adapter-kit|adapters/sql)/' },
    },
    {
      name: 'hub-shares-only-neutral-layers-with-the-agent',
      severity: 'error',
      comment:
        'The hub runs in the cloud, the agent in the private network: they share the protocol and ' +
        'the neutral layers, never the agent, its connection, pipeline or adapters.',
      from: { path: '^src/hub/' },
      to: {
        path: '^src/',
        pathNot: [layers(['hub', 'protocol', 'operators', 'config', 'support', 'metrics', 'status', 'log']), '^src/version\\.ts$'],
      },
    },
    {
      name: 'pipeline-knows-adapters-only-through-the-kit',
      severity: 'error',
      comment:
        'The pipeline runs any adapter, built-in or plugin, through the adapter interface of the ' +
        'kit; it is driven by the agent and knows nothing of the hub or the CLI.',
      from: { path: '^src/pipeline/' },
      to: { path: layers(['adapters', 'hub', 'agent', 'cli']) },
    },
    {
      name: 'metrics-do-not-depend-on-hub-or-pipeline-code',
      severity: 'error',
      comment:
        'Metrics are shared by the hub and the agent. They read the shapes of what they count ' +
        '(hub/registry, pipeline/meter) as types only — erased at build time, no code loaded — ' +
        'and never the agent runtime.',
      from: { path: '^src/metrics/' },
      to: { path: layers(['hub', 'pipeline', 'agent']), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'log-is-neutral',
      severity: 'error',
      comment: 'The logger is shared by the hub and the agent: it reads the secret keys to redact and nothing else of ours.',
      from: { path: '^src/log/' },
      to: { path: '^src/', pathNot: layers(['log', 'support']) },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // Absolute, so the rules can also be run on test/fixtures/layering (test/unit/layering.test.ts).
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
