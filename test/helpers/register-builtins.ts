/**
 * The built-in data sources registered before every test file (vitest `setupFiles`): tests that
 * decode configurations with `src/config` directly need the types the agent registers at start.
 */
import '../../src/adapters/builtin.js';
