import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { Client } from 'ldapts';
import { startSlapd } from '../../helpers/slapd.js';

it('scratch', async () => {
  const t0 = Date.now();
  const s = await startSlapd();
  console.log('start ms', Date.now() - t0, s.url, s.ldapsUrl);
  const c = new Client({ url: s.url });
  await c.bind(s.readerDN, s.readerPassword);
  const t1 = Date.now();
  const it = c.searchPaginated('ou=people,dc=example,dc=com', { filter: '(objectClass=inetOrgPerson)', paged: { pageSize: 500 }, attributes: ['uid'] });
  let n = 0;
  for (;;) { const r = await it.next(); console.log('page', r.done, r.value?.searchEntries.length); if (r.done) break; n++; }
  console.log('pages', n, Date.now() - t1);
  console.log((s.log().match(/SRCH base/g) ?? []).length);
  // sizeLimit behaviour
  const it2 = c.searchPaginated('ou=people,dc=example,dc=com', { sizeLimit: 600, paged: { pageSize: 500 }, attributes: ['uid'] });
  for (;;) { try { const r = await it2.next(); console.log('sl page', r.done, r.value?.searchEntries.length); if (r.done) break; } catch (e) { console.log('sl err', e); break; } }
  const lim = new Client({ url: s.url });
  await lim.bind(s.limitedDN, s.readerPassword);
  const it3 = lim.searchPaginated('ou=people,dc=example,dc=com', { paged: { pageSize: 300 }, attributes: ['uid'] });
  for (;;) { try { const r = await it3.next(); console.log('lim page', r.done, r.value?.searchEntries.length); if (r.done) break; } catch (e) { console.log('lim err', (e as Error).constructor.name, (e as any).code, (e as Error).message); break; } }
  const it4 = lim.searchPaginated('ou=people,dc=example,dc=com', { paged: { pageSize: 300 }, attributes: ['uid'], sizeLimit: 2000 });
  for (;;) { try { const r = await it4.next(); console.log('lim2 page', r.done, r.value?.searchEntries.length); if (r.done) break; } catch (e) { console.log('lim2 err', (e as Error).constructor.name, (e as any).code, (e as Error).message); break; } }
  const r = await c.search('uid=user00010,ou=people,dc=example,dc=com', { scope: 'base', explicitBufferAttributes: ['jpegPhoto'] });
  console.log(r.searchEntries[0]);
  const tl = new Client({ url: s.ldapsUrl, tlsOptions: { ca: [readFileSync(s.caFile)] } });
  await tl.bind(s.readerDN, s.readerPassword); console.log('tls ok');
  await tl.unbind();
  const rs = await c.search('', { scope: 'base', attributes: ['*', '+'] });
  console.log(rs.searchEntries[0]);
  await c.unbind(); await lim.unbind();
  const t2 = Date.now(); await s.stop(); console.log('stop ms', Date.now() - t2);
  const t3 = Date.now(); await s.start(); console.log('restart ms', Date.now() - t3);
  await s.kill(); await s.start(); await s.dispose();
}, 60000);
