export * from './scim-server/index.js';
