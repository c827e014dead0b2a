import * as net from 'node:net';

/**
 * Field builders for the config schema. A field knows its default, how to read a value that
 * arrives as text (environment variables, flags) and what it allows, so that one definition
 * gives the TypeScript type, the default, the validation and the documentation.
 */
export interface Field<T> {
  readonly kind: 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'auto-integer';
  readonly default: T;
  readonly doc: string;
  /** A secret (a password): printed as [redacted] by `edgesight config`, never logged. */
  readonly secret?: boolean;
  /** Human description of what is allowed, used in error messages and docs/configuration.md. */
  readonly allowed: string;
  /** Returns the checked value, or a string describing why it is not allowed. */
  check(value: unknown): { ok: true; value: T } | { ok: false };
  /** Converts a textual value (env/flag) to the field's type before `check`. */
  fromText(text: string): unknown;
}

export function stringField(def: string, doc: string): Field<string> {
  return {
    kind: 'string',
    default: def,
    doc,
    allowed: 'a string',
    check: (v) => (typeof v === 'string' ? { ok: true, value: v } : { ok: false }),
    fromText: (t) => t,
  };
}

/** A string that must never be shown: `edgesight config` prints it redacted. */
export function secretField(doc: string): Field<string> {
  return { ...stringField('', doc), secret: true };
}

/**
 * Text is read as plain decimal only. Number() would also take '0x1f95', '1e3', '0b11' and
 * ' 8097 ' (and '' as 0), so a typo or a stray hex value became a port nobody meant.
 * Text that is not decimal stays a string, which `check` then refuses with the rule.
 */
const DECIMAL_INTEGER = /^-?\d+$/;
const DECIMAL_NUMBER = /^-?(\d+(\.\d+)?|\.\d+)$/;

function numberLike(kind: 'number' | 'integer', def: number, min: number, max: number, doc: string): Field<number> {
  const what = kind === 'integer' ? 'an integer' : 'a number';
  const decimal = kind === 'integer' ? DECIMAL_INTEGER : DECIMAL_NUMBER;
  return {
    kind,
    default: def,
    doc,
    allowed: `${what} from ${min} to ${max}`,
    check: (v) =>
      typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && (kind === 'number' || Number.isInteger(v))
        ? { ok: true, value: v }
        : { ok: false },
    fromText: (t) => (decimal.test(t) ? Number(t) : t),
  };
}

export function numberField(def: number, min: number, max: number, doc: string): Field<number> {
  return numberLike('number', def, min, max, doc);
}

export function integerField(def: number, min: number, max: number, doc: string): Field<number> {
  return numberLike('integer', def, min, max, doc);
}

/** `auto`, or an integer from min to max (a count the daemon can also choose itself). */
export function autoOrIntegerField(min: number, max: number, doc: string): Field<'auto' | number> {
  return {
    kind: 'auto-integer',
    default: 'auto',
    doc,
    allowed: `auto or an integer from ${min} to ${max}`,
    check: (v) => (v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) ? { ok: true, value: v } : { ok: false }),
    fromText: (t) => (DECIMAL_INTEGER.test(t.trim()) ? Number(t.trim()) : t.trim()),
  };
}

/**
 * A listening address: an IP literal or a host name (RFC 1123 labels). A dotted name whose
 * last label is all digits is meant as an IPv4 address, so 999.1.1.1 is refused here instead
 * of failing later in a DNS lookup.
 */
export function hostField(def: string, doc: string): Field<string> {
  return {
    ...stringField(def, doc),
    allowed: 'an IP address or a host name',
    check: (v) => (typeof v === 'string' && isHost(v) ? { ok: true, value: v } : { ok: false }),
  };
}

const HOST_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isHost(value: string): boolean {
  if (net.isIP(value)) return true;
  if (value.length === 0 || value.length > 253) return false;
  const labels = value.replace(/\.$/, '').split('.');
  return labels.every((l) => HOST_LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]);
}

export function booleanField(def: boolean, doc: string): Field<boolean> {
  return {
    kind: 'boolean',
    default: def,
    doc,
    allowed: 'true or false',
    check: (v) => (typeof v === 'boolean' ? { ok: true, value: v } : { ok: false }),
    fromText: (t) => {
      const lower = t.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(lower)) return true;
      if (['false', '0', 'no', 'off'].includes(lower)) return false;
      return t;
    },
  };
}

export function enumField<const V extends string>(def: V, values: readonly V[], doc: string): Field<V> {
  return {
    kind: 'enum',
    default: def,
    doc,
    allowed: `one of ${values.join(', ')}`,
    check: (v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? { ok: true, value: v as V } : { ok: false }),
    fromText: (t) => t.trim(),
  };
}

/**
 * Comma-separated IP addresses and CIDR blocks (`127.0.0.1, 10.0.0.0/8, ::1`); empty for none.
 * Each entry is checked here so that a typo is refused with the rule instead of matching nothing.
 */
export function addressListField(def: string, doc: string): Field<string> {
  return {
    ...stringField(def, doc),
    allowed: 'comma-separated IP addresses or CIDR blocks (such as 127.0.0.1, 10.0.0.0/8, ::1)',
    check: (v) => (typeof v === 'string' && splitList(v).every(isAddressOrCidr) ? { ok: true, value: v } : { ok: false }),
  };
}

export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function isAddressOrCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  if (slash < 0) return net.isIP(entry) !== 0;
  const family = net.isIP(entry.slice(0, slash));
  const bitsText = entry.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bitsText)) return false;
  return Number(bitsText) <= (family === 4 ? 32 : 128);
}
