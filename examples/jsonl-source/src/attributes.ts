/**
 * The `attributes` answer of a `jsonl` source, derived from the data: the union of the keys the
 * records have, each with the JSON type of its values, whether it ever holds a list, and whether
 * every record has it.
 */
import { attributeList, type AttributeInfo } from 'datasync-agent/adapter-kit';
import type { FileRecord } from './file-records.js';

interface Seen {
  records: number;
  list: boolean;
  types: Set<string>;
}

const jsonType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** Collects what the records say about their attributes. */
export class AttributeSurvey {
  private readonly seen = new Map<string, Seen>();
  private records = 0;

  add(record: FileRecord): void {
    this.records += 1;
    for (const [name, value] of Object.entries(record.attributes)) {
      let s = this.seen.get(name);
      if (s === undefined) {
        s = { records: 0, list: false, types: new Set() };
        this.seen.set(name, s);
      }
      s.records += 1;
      if (Array.isArray(value)) s.list = true;
      s.types.add(jsonType(value));
    }
  }

  /** The attribute list, sorted by name. */
  result(): AttributeInfo[] {
    return attributeList(
      [...this.seen].map(([name, s]) => ({
        name,
        syntax: [...s.types].sort().join(' | '),
        singleValue: !s.list,
        required: s.records === this.records,
      })),
    );
  }
}
