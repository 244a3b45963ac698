/**
 * A small ZIP writer for the release archive (`npm run dist`), so the `.zip` that Windows users
 * unpack is made the same way on every build machine, with no `zip` program and no dependency.
 *
 * It writes classic ZIP (no ZIP64): each file deflated with node:zlib (or stored when deflating
 * does not make it smaller), CRC-32, names in UTF-8 (flag bit 11), and Unix modes in the external
 * attributes ("made by" Unix), so `unzip` restores `startup.sh` as executable. Directories get
 * their own entries. Symbolic links are refused: a ZIP cannot carry them portably (Windows
 * extractors would write a file holding the target's name).
 */
import { closeSync, lstatSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, the one ZIP uses) of `data`. */
export function crc32(data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS date and time of `date` (local time, 2-second resolution, 1980 at the earliest). */
function dosDateTime(date) {
  const d = date.getFullYear() < 1980 ? new Date(1980, 0, 1) : date;
  const time = (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2);
  const day = ((d.getFullYear() - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate();
  return { time, day };
}

/** Every file and directory under `dir` (depth first, sorted by name), as [path, stats]. */
function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      const stats = lstatSync(path);
      if (stats.isSymbolicLink()) throw new Error(`zip: ${path} is a symbolic link; the archive cannot carry it`);
      if (stats.isDirectory()) return [[path, stats], ...walk(path)];
      if (stats.isFile()) return [[path, stats]];
      throw new Error(`zip: ${path} is neither a file nor a directory`);
    });
}

const VERSION_NEEDED = 20; // 2.0: deflate and directories
const MADE_BY_UNIX = (3 << 8) | VERSION_NEEDED;
const UTF8_NAMES = 0x0800;
const MAX_CLASSIC = 0xffffffff;

/**
 * Writes `file`: a ZIP of `root` and everything under it, with entry names relative to
 * `base` (so `zipDirectory('/tmp/x/app-1.0', '/tmp/x', 'app-1.0.zip')` puts everything under
 * `app-1.0/`). Returns the number of entries.
 */
export function zipDirectory(root, base, file) {
  const entries = [[root, lstatSync(root)], ...walk(root)];
  if (entries.length > 0xffff) throw new Error(`zip: ${entries.length} entries; this writer has no ZIP64 (at most 65535)`);
  const fd = openSync(file, 'w');
  let offset = 0;
  const write = (buffer) => {
    writeSync(fd, buffer);
    offset += buffer.length;
  };
  const central = [];
  try {
    for (const [path, stats] of entries) {
      const isDir = stats.isDirectory();
      const name = Buffer.from(relative(base, path).split(sep).join('/') + (isDir ? '/' : ''), 'utf8');
      const data = isDir ? Buffer.alloc(0) : readFileSync(path);
      const deflated = isDir ? data : deflateRawSync(data, { level: 9 });
      const stored = isDir || deflated.length >= data.length;
      const body = stored ? data : deflated;
      const crc = isDir ? 0 : crc32(data);
      if (offset > MAX_CLASSIC || data.length > MAX_CLASSIC) throw new Error(`zip: ${path} is past 4 GiB; this writer has no ZIP64`);
      const { time, day } = dosDateTime(stats.mtime);
      const method = stored ? 0 : 8;

      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(VERSION_NEEDED, 4);
      local.writeUInt16LE(UTF8_NAMES, 6);
      local.writeUInt16LE(method, 8);
      local.writeUInt16LE(time, 10);
      local.writeUInt16LE(day, 12);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(body.length, 18);
      local.writeUInt32LE(data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);

      const header = Buffer.alloc(46);
      header.writeUInt32LE(0x02014b50, 0);
      header.writeUInt16LE(MADE_BY_UNIX, 4);
      header.writeUInt16LE(VERSION_NEEDED, 6);
      header.writeUInt16LE(UTF8_NAMES, 8);
      header.writeUInt16LE(method, 10);
      header.writeUInt16LE(time, 12);
      header.writeUInt16LE(day, 14);
      header.writeUInt32LE(crc, 16);
      header.writeUInt32LE(body.length, 20);
      header.writeUInt32LE(data.length, 24);
      header.writeUInt16LE(name.length, 28);
      // extra field length, comment length, disk number, internal attributes: 0
      // External attributes: the Unix mode (type and permissions) in the high 16 bits, the
      // MS-DOS directory bit in the low ones.
      header.writeUInt32LE((((stats.mode & 0xffff) << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
      header.writeUInt32LE(offset, 42);
      central.push(Buffer.concat([header, name]));

      write(local);
      write(name);
      write(body);
    }
    const centralStart = offset;
    for (const record of central) write(record);
    if (offset > MAX_CLASSIC) throw new Error('zip: the archive is past 4 GiB; this writer has no ZIP64');
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(central.length, 8);
    end.writeUInt16LE(central.length, 10);
    end.writeUInt32LE(offset - centralStart, 12);
    end.writeUInt32LE(centralStart, 16);
    write(end);
  } finally {
    closeSync(fd);
  }
  return entries.length;
}
