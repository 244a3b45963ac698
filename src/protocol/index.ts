export * from './version.js';
export * from './error-codes.js';
export * from './frames.js';
export * from './codec.js';
export * from './errors.js';
export * from './export-key.js';
export * from './json-scan.js';
export * from './chunk-bytes.js';
