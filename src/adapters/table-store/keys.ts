/**
 * PartitionKey / RowKey construction. Every key of the store is built here, from parts encoded by
 * `encodeKeyPart`, so that case-insensitive resource IDs map to one key and no key carries a character
 * Table Storage refuses (`/ \ # ?`, control characters; Azurite answers 500 for `/`).
 */
import { createHash } from "node:crypto";

/** Characters encoded: everything outside `[a-z0-9._-:@!$&()*+,;=]` (and `A-Z` when case is kept). */
const UNSAFE_LOWER = /[^a-z0-9._\-:@!$&()*+,;=]/gu;
const UNSAFE_CASED = /[^A-Za-z0-9._\-:@!$&()*+,;=]/gu;

/** Longest encoded part before its tail is replaced by a hash. */
export const MAX_PART_LENGTH = 200;
/** Longest key this module builds (Azure: 1 KiB, i.e. 512 UTF-16 code units; keys here are ASCII). */
export const MAX_KEY_LENGTH = 500;

const HASH_MARK = "~";
const HASH_HEX = 40;

function sha256Hex(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

function percent(ch: string): string {
  let out = "";
  for (const b of Buffer.from(ch, "utf8")) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  return out;
}

// Commits encode the same few thousand IDs many times; remember them (bounded), one map per option set
// so that a look-up is one hash of the value itself.
const memos = new Map<string, Map<string, string>>();

/**
 * The one key encoder: lower-cases (resource IDs are case-insensitive; pass `preserveCase` for rule IDs,
 * which `findingKey` compares case-sensitively), percent-encodes everything outside `[a-z0-9._-:@!$&()*+,;=]`
 * (so `/ \ # ? | ~ %`, quotes, spaces, control and non-ASCII characters never reach a key), and replaces
 * the tail of an over-long result by `~` + a SHA-256 of the whole value. The output is ASCII, contains no
 * `|` (the key separator) and contains `~` only as the hash mark.
 */
export function encodeKeyPart(value: string, opts: { preserveCase?: boolean; maxLength?: number } = {}): string {
  const max = opts.maxLength ?? MAX_PART_LENGTH;
  const memoName = `${opts.preserveCase ? "C" : "l"}${max}`;
  let memo = memos.get(memoName);
  if (!memo) memos.set(memoName, (memo = new Map<string, string>()));
  const known = memo.get(value);
  if (known !== undefined) return known;
  const s = opts.preserveCase ? value : value.toLowerCase();
  let out = s.replace(opts.preserveCase ? UNSAFE_CASED : UNSAFE_LOWER, percent);
  if (out.length > max) {
    out = out.slice(0, max - HASH_HEX - HASH_MARK.length) + HASH_MARK + sha256Hex(s).slice(0, HASH_HEX);
  }
  if (memo.size > 100_000) memo.clear();
  memo.set(value, out);
  return out;
}

/** Joins encoded parts with `|`; guards the total length (parts are capped, so this is a safety net). */
export function joinKey(...parts: string[]): string {
  const key = parts.join("|");
  if (key.length > MAX_KEY_LENGTH) {
    return key.slice(0, MAX_KEY_LENGTH - HASH_HEX - 1) + HASH_MARK + sha256Hex(key).slice(0, HASH_HEX);
  }
  return key;
}

/** First key after every key that starts with `prefix` (for `ge prefix and lt prefixEnd(prefix)` ranges). */
export function prefixEnd(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

const scopePart = (scopeKey: string) => encodeKeyPart(scopeKey, { maxLength: 60 });
// A missing ID is an empty part, as in `findingKey` (an encoded ID is never empty).
const idPart = (id: string | null | undefined) => (id ? encodeKeyPart(id) : "");
const rulePart = (ruleId: string) => encodeKeyPart(ruleId, { preserveCase: true, maxLength: 60 });

/** Buckets of cluster copies and of registry copies (fixed: changing them changes every key). */
export const CLUSTER_BUCKETS = 64;
export const REGISTRY_BUCKETS = 16;

/** Remembers `fn(part)` per count (bounded): every finding of a commit asks for the buckets of its subjects. */
function memoized(fn: (part: string, n: number) => string): (part: string, n: number) => string {
  const byCount = new Map<number, Map<string, string>>();
  return (part, n) => {
    let memo = byCount.get(n);
    if (!memo) byCount.set(n, (memo = new Map<string, string>()));
    let v = memo.get(part);
    if (v === undefined) {
      v = fn(part, n);
      if (memo.size > 100_000) memo.clear();
      memo.set(part, v);
    }
    return v;
  };
}

const bucketOf = memoized((part, buckets) => {
  const h = createHash("sha256").update(part).digest();
  return (h.readUInt16BE(0) % buckets).toString(16).padStart(2, "0");
});

const tagMemo = new Map<string, string>();

/**
 * A subject's tag in the item keys of cluster and registry copies: 80 bits of the SHA-256 of its encoded
 * ID (empty for a missing ID). Items only need an order and a per-subject prefix, and the full encoded IDs
 * (hundreds of characters, three times per finding) cost a large estate's commit ~100 MB of keys.
 */
function subjectTag(part: string): string {
  if (part === "") return "";
  const known = tagMemo.get(part);
  if (known !== undefined) return known;
  const tag = createHash("sha256").update(part).digest("hex").slice(0, 20);
  if (tagMemo.size > 100_000) tagMemo.clear();
  tagMemo.set(part, tag);
  return tag;
}

/** Groups per partition (a second hash of the subject, independent of its bucket); fixed like the buckets. */
export const STATUS_GROUPS = 64;
export const SUBJECT_GROUPS = 16;

/** The group of a subject inside its partition: two hex digits from bytes 2-3 of its SHA-256. */
const groupOf = memoized((part, groups) => {
  const h = createHash("sha256").update(part).digest();
  return (h.readUInt16BE(2) % groups).toString(16).padStart(2, "0");
});

export interface FindingIdentity {
  ruleId: string;
  clusterId: string | null;
  registryId: string | null;
}

/** Where a copy of a finding (or an attachment) lives: its partition, its group there, its item key. */
export interface CopyAddress {
  partitionKey: string;
  /** The group whose rows (`<group>|00`...) pack the item (groups.ts). */
  group: string;
  /** The item's key: its order inside the group and the access path's listing. */
  rowKey: string;
}

/**
 * Partition and row keys.
 * - Findings table (versioned, packed): each finding has a copy per access path: by status+severity
 *   (`<scope>|s|<status>|<severity>`, item key `rule|cluster|registry`), by cluster (`<scope>|c|<bucket>`,
 *   item `cluster|rule|registry`), by registry (`<scope>|r|<bucket>`, item `registry|rule|cluster`);
 *   attachments in `<scope>|a|<bucket>`. Items are packed by group (a hash of the subject) into rows
 *   `<group>|NN`: a subject's copies share one group, read by one row range.
 * - Runs table: run records (`<scope>|run`, inverted time), run ID aliases, change feeds (`<scope>|chg|<run>`).
 * - State table: pointer and lease (`<scope>`), forget requests, API exemptions, committed-state snapshots
 *   (`<scope>|snap|<generation>`).
 */
export const keys = {
  /** Row key of the status copy of a finding: rule | cluster | registry (empty for a missing ID). */
  findingRow(f: FindingIdentity): string {
    return joinKey(rulePart(f.ruleId), idPart(f.clusterId), idPart(f.registryId));
  },
  /** All versioned partitions of a scope start with this. */
  scopePrefix(scopeKey: string): string {
    return `${scopePart(scopeKey)}|`;
  },
  statusPrefix(scopeKey: string): string {
    return `${scopePart(scopeKey)}|s|`;
  },
  statusPartition(scopeKey: string, status: string, severity: string): string {
    return joinKey(scopePart(scopeKey), "s", encodeKeyPart(status, { maxLength: 20 }), encodeKeyPart(severity, { maxLength: 20 }));
  },
  clusterPartition(scopeKey: string, clusterId: string): string {
    return joinKey(scopePart(scopeKey), "c", bucketOf(idPart(clusterId), CLUSTER_BUCKETS));
  },
  registryPartition(scopeKey: string, registryId: string): string {
    return joinKey(scopePart(scopeKey), "r", bucketOf(idPart(registryId), REGISTRY_BUCKETS));
  },
  /** Item-key range `[from, to)` of one cluster's (or registry's) copies inside its group. */
  subjectRange(id: string): { from: string; to: string } {
    const prefix = `${subjectTag(idPart(id))}|`;
    return { from: prefix, to: prefixEnd(prefix) };
  },
  /** Every copy of a finding (status, cluster, registry), by its subject IDs, status and severity. */
  copies(scopeKey: string, f: FindingIdentity & { status: string; severity: string }): CopyAddress[] {
    const c = idPart(f.clusterId);
    const r = idPart(f.registryId);
    const out: CopyAddress[] = [
      {
        partitionKey: keys.statusPartition(scopeKey, f.status, f.severity),
        group: groupOf(c || r, STATUS_GROUPS),
        rowKey: keys.findingRow(f),
      },
    ];
    if (f.clusterId) {
      out.push({
        partitionKey: keys.clusterPartition(scopeKey, f.clusterId),
        group: groupOf(c, SUBJECT_GROUPS),
        rowKey: joinKey(subjectTag(c), rulePart(f.ruleId), subjectTag(r)),
      });
    }
    if (f.registryId) {
      out.push({
        partitionKey: keys.registryPartition(scopeKey, f.registryId),
        group: groupOf(r, SUBJECT_GROUPS),
        rowKey: joinKey(subjectTag(r), rulePart(f.ruleId), subjectTag(c)),
      });
    }
    return out;
  },
  /** The group of a cluster's (or a registry's) copies inside its partition. */
  subjectGroup(id: string): string {
    return groupOf(idPart(id), SUBJECT_GROUPS);
  },
  /** Where an attachment lives (its row is `keys.attachmentRow`). */
  attachmentCopy(scopeKey: string, attachmentRow: string): CopyAddress {
    return {
      partitionKey: keys.attachmentPartition(scopeKey, attachmentRow),
      group: groupOf(attachmentRow, SUBJECT_GROUPS),
      rowKey: attachmentRow,
    };
  },
  attachmentPrefix(scopeKey: string): string {
    return `${scopePart(scopeKey)}|a|`;
  },
  attachmentRow(clusterId: string, registryId: string): string {
    return joinKey(encodeKeyPart(clusterId), encodeKeyPart(registryId));
  },
  attachmentPartition(scopeKey: string, attachmentRow: string): string {
    // Attachments are only ever read all at once: 16 buckets spread the writes, 16 partitions to read.
    return joinKey(scopePart(scopeKey), "a", bucketOf(attachmentRow, 16));
  },
  /** State table: pointer and lease share the scope's partition. */
  controlPartition(scopeKey: string): string {
    return scopePart(scopeKey);
  },
  forgottenPartition(scopeKey: string): string {
    return joinKey(scopePart(scopeKey), "forgotten");
  },
  exemptionPartition(scopeKey: string): string {
    return joinKey(scopePart(scopeKey), "exemptions");
  },
  /** State table: the committed-state snapshot of one generation (its chunk entities). */
  snapshotPartition(scopeKey: string, generation: number): string {
    return joinKey(scopePart(scopeKey), "snap", String(generation).padStart(10, "0"));
  },
  /** Every snapshot partition of a scope starts with this. */
  snapshotPrefix(scopeKey: string): string {
    return `${scopePart(scopeKey)}|snap|`;
  },
  /** Generation of a snapshot partition key (undefined when it is not one). */
  snapshotGeneration(partitionKey: string): number | undefined {
    const m = /\|snap\|(\d{10})$/.exec(partitionKey);
    return m ? Number(m[1]) : undefined;
  },
  /** Row key of an opaque identifier (exemption ID, run ID alias): case kept. */
  idRow(id: string): string {
    return encodeKeyPart(id, { preserveCase: true });
  },
  /** Runs table. */
  runPartition(scopeKey: string): string {
    return joinKey(scopePart(scopeKey), "run");
  },
  runAliasPartition(scopeKey: string): string {
    return joinKey(scopePart(scopeKey), "runid");
  },
  changePartition(scopeKey: string, runId: string): string {
    return joinKey(scopePart(scopeKey), "chg", encodeKeyPart(runId, { preserveCase: true, maxLength: 120 }));
  },
};

/** `YYYYMMDDTHHMMSSZ-<8 hex>`, as the core generates run IDs. */
const RUN_ID = /^(\d{8})T(\d{6})Z-([0-9a-f]{8})$/;

const INVERT_FROM = 99_999_999_999_999; // 14 nines: YYYYMMDDHHMMSS inverted keeps 14 digits

function invertedStamp(yyyymmddhhmmss: string): string {
  return String(INVERT_FROM - Number(yyyymmddhhmmss)).padStart(14, "0");
}

/** `YYYYMMDDHHMMSS` (UTC) of a time. */
function compactUtc(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** Inverted-time prefix of a time: newer sorts first. */
export function invertedTimeKey(d: Date): string {
  return invertedStamp(compactUtc(d));
}

/** True when the run ID has the core's shape, so its row key derives from the ID alone. */
export function isCanonicalRunId(runId: string): boolean {
  return RUN_ID.test(runId);
}

/**
 * Row key of a run record: inverted start time (newest first) + a disambiguator. Derived from the run ID
 * when it has the core's shape (so `getRun` is one point read), else from `startedAt` (and an alias entity
 * maps the ID to it).
 */
export function runRowKey(runId: string, startedAt?: string): string {
  const m = RUN_ID.exec(runId);
  if (m) return `${invertedStamp(m[1] + m[2])}-${m[3]}`;
  const t = startedAt ? new Date(startedAt) : new Date(NaN);
  const stamp = Number.isNaN(t.getTime()) ? "00000000000000" : invertedTimeKey(t);
  return `${stamp}-x-${encodeKeyPart(runId, { preserveCase: true, maxLength: 120 })}`;
}
