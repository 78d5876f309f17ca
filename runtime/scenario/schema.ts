/**
 * A small schema language for scenario files: one definition checks a parsed YAML document
 * (every problem at once, each with its line and column) and generates the JSON Schema that
 * editors use for completion. Values come out typed.
 */
import { isMap, isScalar, isSeq, type LineCounter, type Node } from 'yaml';

export interface Problem {
  line: number;
  col: number;
  /** The key path, e.g. `topology.nodes[1].driver`. */
  path: string;
  message: string;
}

/** Everything a check needs: where nodes are, where to put problems, and where values were. */
export class CheckContext {
  readonly problems: Problem[] = [];
  /** Position of every value by its path, for the semantic checks that come after. */
  readonly positions = new Map<string, { line: number; col: number }>();

  constructor(private readonly lines: LineCounter) {}

  at(node: Node | null | undefined, fallback: number): { line: number; col: number } {
    const offset = node?.range?.[0] ?? fallback;
    return this.lines.linePos(offset);
  }

  report(path: string, node: Node | null | undefined, fallback: number, message: string): void {
    const { line, col } = this.at(node, fallback);
    this.problems.push({ line, col, path, message });
  }

  /** A problem at a path whose position was recorded while checking. */
  reportAt(path: string, message: string): void {
    const { line, col } = this.positions.get(path) ?? { line: 1, col: 1 };
    this.problems.push({ line, col, path, message });
  }
}

type JsonSchema = Record<string, unknown>;

export abstract class Schema<T> {
  description?: string;
  abstract check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): T | undefined;
  abstract json(): JsonSchema;
  /** How the expectation reads in a message: `a whole number`, `one of ...`. */
  abstract expected(): string;

  /** A copy that says `description`: one schema used in two places keeps a description for each. */
  describe(description: string): this {
    const described = Object.assign(Object.create(Object.getPrototypeOf(this)) as this, this);
    described.description = description;
    return described;
  }

  protected withDescription(schema: JsonSchema): JsonSchema {
    return this.description ? { description: this.description, ...schema } : schema;
  }
}

function shown(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isScalar(node)) return node.value === null ? 'nothing' : typeof node.value === 'string' ? `'${node.value}'` : String(node.value);
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'something else';
}

export class StringSchema extends Schema<string> {
  constructor(
    private readonly options: { enum?: readonly string[]; pattern?: RegExp; patternText?: string; what?: string } = {},
  ) {
    super();
  }
  expected(): string {
    if (this.options.enum) return `one of ${this.options.enum.join(', ')}`;
    return this.options.what ?? 'a string';
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): string | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    const value = isScalar(node) ? node.value : undefined;
    // YAML reads `era: 2015` as a number; names and enum values are text either way.
    const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
    if (text === undefined) {
      cx.report(path, node, fallback, `${path}: expected ${this.expected()}, got ${shown(node)}`);
      return undefined;
    }
    if (this.options.enum && !this.options.enum.includes(text)) {
      cx.report(path, node, fallback, `${path}: '${text}' is not ${this.options.what ?? 'allowed here'}; expected one of ${this.options.enum.join(', ')}`);
      return undefined;
    }
    if (this.options.pattern && !this.options.pattern.test(text)) {
      cx.report(path, node, fallback, `${path}: '${text}' is not ${this.expected()}`);
      return undefined;
    }
    return text;
  }
  json(): JsonSchema {
    return this.withDescription({ type: 'string', ...(this.options.enum ? { enum: [...this.options.enum] } : {}), ...(this.options.patternText ? { pattern: this.options.patternText } : {}) });
  }
}

export class NumberSchema extends Schema<number> {
  constructor(private readonly options: { min?: number; max?: number; integer?: boolean } = {}) {
    super();
  }
  expected(): string {
    const kind = this.options.integer ? 'a whole number' : 'a number';
    if (this.options.min !== undefined && this.options.max !== undefined) return `${kind} from ${this.options.min} to ${this.options.max}`;
    if (this.options.min !== undefined) return `${kind} of at least ${this.options.min}`;
    return kind;
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): number | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    const value = isScalar(node) ? node.value : undefined;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!this.options.integer || Number.isInteger(value)) &&
      (this.options.min === undefined || value >= this.options.min) &&
      (this.options.max === undefined || value <= this.options.max);
    if (!ok) {
      cx.report(path, node, fallback, `${path}: expected ${this.expected()}, got ${shown(node)}`);
      return undefined;
    }
    return value as number;
  }
  json(): JsonSchema {
    return this.withDescription({ type: this.options.integer ? 'integer' : 'number', ...(this.options.min !== undefined ? { minimum: this.options.min } : {}), ...(this.options.max !== undefined ? { maximum: this.options.max } : {}) });
  }
}

/** Any scalar (text, number or boolean), read as text. */
export class ScalarSchema extends Schema<string> {
  expected(): string {
    return 'a value (text, number or true/false)';
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): string | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    cx.report(path, node, fallback, `${path}: expected ${this.expected()}, got ${shown(node)}`);
    return undefined;
  }
  json(): JsonSchema {
    return this.withDescription({ type: ['string', 'number', 'boolean'] });
  }
}

export class BooleanSchema extends Schema<boolean> {
  expected(): string {
    return 'true or false';
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): boolean | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'boolean') {
      cx.report(path, node, fallback, `${path}: expected true or false, got ${shown(node)}`);
      return undefined;
    }
    return value;
  }
  json(): JsonSchema {
    return this.withDescription({ type: 'boolean' });
  }
}

const UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ns|us|ms|s)$/;

/** A duration: `1.5ms`, `5s`, `200us`, `100ns`, or a number of nanoseconds; never negative. Comes out in ns. */
export class DurationSchema extends Schema<number> {
  expected(): string {
    return 'a duration such as 1.5ms, 5s, 200us or a number of nanoseconds, not negative';
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): number | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.round(value);
    if (typeof value === 'string') {
      const match = DURATION.exec(value.trim());
      if (match) return Math.round(Number(match[1]) * UNITS[match[2]]);
    }
    const negative = (typeof value === 'number' && value < 0) || (typeof value === 'string' && value.trim().startsWith('-'));
    cx.report(path, node, fallback, `${path}: ${negative ? `${shown(node)} is negative; expected` : 'expected'} ${this.expected()}${negative ? '' : `, got ${shown(node)}`}`);
    return undefined;
  }
  json(): JsonSchema {
    return this.withDescription({ anyOf: [{ type: 'number', minimum: 0 }, { type: 'string', pattern: DURATION.source }] });
  }
}

export class ArraySchema<T> extends Schema<T[]> {
  constructor(readonly item: Schema<T>) {
    super();
  }
  expected(): string {
    return 'a list';
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): T[] | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    if (!isSeq(node)) {
      cx.report(path, node, fallback, `${path}: expected a list, got ${shown(node)}`);
      return undefined;
    }
    // Items that failed leave a hole at their index (forEach and map skip it), so later checks
    // still see the rest with their own indexes: every problem at once, each at its place.
    const out: T[] = new Array(node.items.length);
    node.items.forEach((item, i) => {
      const value = this.item.check(item as Node, `${path}[${i}]`, cx, node.range?.[0] ?? fallback);
      if (value !== undefined) out[i] = value;
    });
    return out;
  }
  json(): JsonSchema {
    return this.withDescription({ type: 'array', items: this.item.json() });
  }
}

type Field = { schema: Schema<unknown>; required: boolean };
type Shape = Record<string, Field>;
type ValueOf<S extends Shape> = { [K in keyof S as S[K]['required'] extends true ? K : never]: FieldValue<S[K]> } & {
  [K in keyof S as S[K]['required'] extends true ? never : K]?: FieldValue<S[K]>;
};
type FieldValue<F> = F extends { schema: Schema<infer T> } ? T : never;

export const required = <T>(schema: Schema<T>) => ({ schema, required: true as const });
export const optional = <T>(schema: Schema<T>) => ({ schema, required: false as const });

export class ObjectSchema<S extends Shape> extends Schema<ValueOf<S>> {
  constructor(
    readonly shape: S,
    private readonly what = 'a mapping',
  ) {
    super();
  }
  expected(): string {
    return this.what;
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): ValueOf<S> | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    if (!isMap(node)) {
      cx.report(path, node, fallback, `${path || 'the file'}: expected ${this.what}, got ${shown(node)}`);
      return undefined;
    }
    // Fields that failed are left out of a partial value, so later checks still see the rest.
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const childPath = path ? `${path}.${key}` : key;
      const field = this.shape[key];
      if (!field) {
        cx.report(childPath, keyNode, node.range?.[0] ?? fallback, `${childPath}: unknown key '${key}'; expected one of ${Object.keys(this.shape).join(', ')}`);
        continue;
      }
      seen.add(key);
      const value = field.schema.check(pair.value as Node, childPath, cx, keyNode?.range?.[1] ?? fallback);
      if (value !== undefined) out[key] = value;
    }
    for (const [key, field] of Object.entries(this.shape)) {
      if (field.required && !seen.has(key)) {
        const childPath = path ? `${path}.${key}` : key;
        cx.report(childPath, node, fallback, `${path || 'the file'}: missing key '${key}' (${field.schema.expected()})`);
      }
    }
    return out as ValueOf<S>;
  }
  json(): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    for (const [key, field] of Object.entries(this.shape)) properties[key] = field.schema.json();
    const requiredKeys = Object.entries(this.shape).filter(([, f]) => f.required).map(([k]) => k);
    return this.withDescription({ type: 'object', additionalProperties: false, properties, ...(requiredKeys.length ? { required: requiredKeys } : {}) });
  }
}

/** A mapping whose variant is chosen by one key (`do:` for script steps, `type:` for actions). */
export class TaggedSchema<T> extends Schema<T> {
  constructor(
    private readonly tag: string,
    private readonly variants: Record<string, ObjectSchema<Shape>>,
    private readonly what: string,
  ) {
    super();
  }
  expected(): string {
    return `${this.what} (${this.tag}: ${Object.keys(this.variants).join(' | ')})`;
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): T | undefined {
    if (!isMap(node)) {
      cx.report(path, node, fallback, `${path}: expected ${this.what}, got ${shown(node)}`);
      return undefined;
    }
    const tagNode = node.get(this.tag, true) as Node | undefined;
    const tag = isScalar(tagNode) ? String(tagNode.value) : undefined;
    if (tag === undefined) {
      cx.report(`${path}.${this.tag}`, node, fallback, `${path}: missing key '${this.tag}' (one of ${Object.keys(this.variants).join(', ')})`);
      return undefined;
    }
    const variant = this.variants[tag];
    if (!variant) {
      cx.report(`${path}.${this.tag}`, tagNode, fallback, `${path}.${this.tag}: '${tag}' is not ${this.what === 'a script step' ? 'a script step' : `a known ${this.tag}`}; expected one of ${Object.keys(this.variants).join(', ')}`);
      return undefined;
    }
    return variant.check(node, path, cx, fallback) as T | undefined;
  }
  json(): JsonSchema {
    return this.withDescription({ oneOf: Object.values(this.variants).map((v) => v.json()) });
  }
}

/** A mapping with free keys (names) and values of one schema. */
export class RecordSchema<T> extends Schema<Record<string, T>> {
  constructor(
    private readonly value: Schema<T>,
    private readonly what = 'a mapping',
  ) {
    super();
  }
  expected(): string {
    return this.what;
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): Record<string, T> | undefined {
    cx.positions.set(path, cx.at(node, fallback));
    if (!isMap(node)) {
      cx.report(path, node, fallback, `${path}: expected ${this.what}, got ${shown(node)}`);
      return undefined;
    }
    const out: Record<string, T> = {};
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      cx.positions.set(`${path}.${key}#key`, cx.at(keyNode, fallback));
      const value = this.value.check(pair.value as Node, `${path}.${key}`, cx, keyNode?.range?.[1] ?? fallback);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  json(): JsonSchema {
    return this.withDescription({ type: 'object', additionalProperties: this.value.json() });
  }
}

/** One of two schemas: the first whose kind of YAML node matches (a scalar or a mapping, say). */
export class EitherSchema<A, B> extends Schema<A | B> {
  constructor(
    private readonly scalar: Schema<A>,
    private readonly mapping: Schema<B>,
    private readonly what?: string,
  ) {
    super();
  }
  expected(): string {
    return this.what ?? `${this.scalar.expected()} or ${this.mapping.expected()}`;
  }
  check(node: Node | null | undefined, path: string, cx: CheckContext, fallback: number): A | B | undefined {
    if (isMap(node) || isSeq(node)) return this.mapping.check(node, path, cx, fallback);
    if (!this.what) return this.scalar.check(node, path, cx, fallback);
    // Both forms are named in one message: a scalar that fails is not only "not the scalar".
    const before = cx.problems.length;
    const value = this.scalar.check(node, path, cx, fallback);
    if (cx.problems.length > before) {
      cx.problems.length = before;
      cx.report(path, node, fallback, `${path}: expected ${this.what}, got ${shown(node)}`);
    }
    return value;
  }
  json(): JsonSchema {
    return this.withDescription({ anyOf: [this.scalar.json(), this.mapping.json()] });
  }
}

export const t = {
  string: (options?: ConstructorParameters<typeof StringSchema>[0]) => new StringSchema(options),
  enum: (values: readonly string[], what?: string) => new StringSchema({ enum: values, what }),
  number: (options?: ConstructorParameters<typeof NumberSchema>[0]) => new NumberSchema(options),
  boolean: () => new BooleanSchema(),
  scalar: () => new ScalarSchema(),
  duration: () => new DurationSchema(),
  array: <T>(item: Schema<T>) => new ArraySchema(item),
  object: <S extends Shape>(shape: S, what?: string) => new ObjectSchema(shape, what),
  tagged: <T>(tag: string, variants: Record<string, ObjectSchema<Shape>>, what: string) => new TaggedSchema<T>(tag, variants, what),
  record: <T>(value: Schema<T>, what?: string) => new RecordSchema(value, what),
  either: <A, B>(scalar: Schema<A>, mapping: Schema<B>, what?: string) => new EitherSchema(scalar, mapping, what),
};
