/**
 * A parser and evaluator for the subset of KQL (Kusto Query Language) the auditor sends to Resource
 * Graph. Anything outside the subset is a KqlError with a position, which the simulator answers with
 * HTTP 400 - never an empty result. The grammar is summarised in docs/simulator.md.
 */
import { TABLE_NAMES, type TableName } from "./estate.js";

export const MAX_QUERY_LENGTH = 100_000;

export class KqlError extends Error {
  constructor(
    readonly problem: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${problem} (line ${line}, column ${column})`);
    this.name = "KqlError";
  }
}

// ---------------------------------------------------------------- lexer

type TokenKind = "ident" | "string" | "number" | "op" | "eof";
interface Token {
  kind: TokenKind;
  text: string;
  value?: string | number;
  pos: number;
}

/** KQL operators written with a dash; lexed as one word so that errors can name them. */
const DASHED_WORDS = new Set([
  "project-away",
  "project-keep",
  "project-rename",
  "project-reorder",
  "mv-expand",
  "mv-apply",
  "make-series",
  "top-nested",
  "top-hitters",
  "parse-where",
  "parse-kv",
]);

const NEGATED_WORDS = new Set([
  "contains",
  "startswith",
  "endswith",
  "has",
  "in",
  "in~",
  "contains_cs",
  "startswith_cs",
  "endswith_cs",
  "has_cs",
  "hasprefix",
  "hassuffix",
  "between",
  "has_any",
  "has_all",
]);

const isIdentStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_]/.test(c);

class Lexer {
  readonly tokens: Token[] = [];
  constructor(
    private readonly src: string,
    private readonly error: (problem: string, pos: number) => never,
  ) {
    this.run();
  }

  private run(): void {
    const s = this.src;
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (/\s/.test(c)) {
        i++;
        continue;
      }
      if (c === "/" && s[i + 1] === "/") {
        while (i < s.length && s[i] !== "\n") i++;
        continue;
      }
      const start = i;
      if (isIdentStart(c)) {
        while (i < s.length && isIdentChar(s[i])) i++;
        let word = s.slice(start, i);
        const dash = /^-[A-Za-z]+/.exec(s.slice(i, i + 20));
        if (dash && DASHED_WORDS.has(word + dash[0])) {
          word += dash[0];
          i += dash[0].length;
        } else if (word === "in" && s[i] === "~") {
          word = "in~";
          i++;
        }
        this.tokens.push({ kind: word === "in" || word === "in~" ? "op" : "ident", text: word, pos: start });
        continue;
      }
      if (c === "'" || c === '"') {
        i = this.readString(i, c, false);
        continue;
      }
      if (c === "@" && (s[i + 1] === "'" || s[i + 1] === '"')) {
        i = this.readString(i + 1, s[i + 1], true, start);
        continue;
      }
      if (/[0-9]/.test(c)) {
        const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(s.slice(i));
        const text = m![0];
        i += text.length;
        if (i < s.length && isIdentChar(s[i])) this.error(`unsupported literal '${text}${s[i]}...'`, start);
        this.tokens.push({ kind: "number", text, value: Number(text), pos: start });
        continue;
      }
      if (c === "!") {
        const m = /^!([A-Za-z_]+~?)/.exec(s.slice(i));
        if (m && NEGATED_WORDS.has(m[1])) {
          i += m[0].length;
          this.tokens.push({ kind: "op", text: m[0], pos: start });
          continue;
        }
      }
      const two = s.slice(i, i + 2);
      if (["==", "!=", "=~", "!~", "<=", ">=", "<>"].includes(two)) {
        i += 2;
        this.tokens.push({ kind: "op", text: two, pos: start });
        continue;
      }
      if ("|(),.[]=<>+-*/%:;{}".includes(c)) {
        i++;
        this.tokens.push({ kind: "op", text: c, pos: start });
        continue;
      }
      this.error(`unexpected character '${c}'`, i);
    }
    this.tokens.push({ kind: "eof", text: "end of query", pos: s.length });
  }

  private readString(i: number, quote: string, verbatim: boolean, start = i): number {
    const s = this.src;
    let out = "";
    i++;
    for (;;) {
      if (i >= s.length || s[i] === "\n") this.error("unterminated string literal", start);
      const c = s[i];
      if (c === quote) {
        i++;
        break;
      }
      if (c === "\\" && !verbatim) {
        const e = s[i + 1];
        const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
          continue;
        }
        if (e === "u" && /^[0-9A-Fa-f]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
          continue;
        }
        this.error(`unsupported escape sequence '\\${e ?? ""}' in string literal`, i);
      }
      out += c;
      i++;
    }
    this.tokens.push({ kind: "string", text: s.slice(start, i), value: out, pos: start });
    return i;
  }
}

// ---------------------------------------------------------------- syntax tree

type Literal = string | number | boolean;
type CmpOp =
  "==" | "!=" | "=~" | "!~" | "contains" | "!contains" | "startswith" | "!startswith" | "endswith" | "!endswith" | "has" | "!has";
type InOp = "in" | "!in" | "in~" | "!in~";
type FnName = "tostring" | "tolower" | "toupper" | "isnotempty" | "isempty" | "isnull" | "isnotnull";
type ValueType = "bool" | "string" | "number" | "dynamic";

type Expr =
  | { k: "lit"; v: Literal; pos: number }
  | { k: "path"; root: string; steps: (string | number)[]; pos: number }
  | { k: "call"; fn: FnName; arg: Expr; pos: number }
  | { k: "cmp"; op: CmpOp; l: Expr; r: Expr; pos: number }
  | { k: "in"; op: InOp; l: Expr; set: Set<string>; pos: number }
  | { k: "and" | "or"; l: Expr; r: Expr; pos: number }
  | { k: "not"; e: Expr; pos: number };

interface NamedExpr {
  name: string;
  e: Expr;
}

type Stage =
  | { k: "where"; e: Expr }
  | { k: "project"; items: NamedExpr[] }
  | { k: "project-away"; names: { name: string; pos: number }[] }
  | { k: "extend"; items: NamedExpr[] }
  | { k: "order"; keys: { e: Expr; desc: boolean }[] }
  | { k: "take"; n: number };

/** A query that parsed and type-checked against its table's columns. */
export interface CompiledQuery {
  table: TableName;
  stages: Stage[];
  /** Output columns, in order. */
  columns: string[];
  /** True when the output has no `project`: rows are the table's rows (plus extended columns). */
  wholeRows: boolean;
}

const CMP_OPS = new Set<string>([
  "==",
  "!=",
  "=~",
  "!~",
  "contains",
  "!contains",
  "startswith",
  "!startswith",
  "endswith",
  "!endswith",
  "has",
  "!has",
]);
const IN_OPS = new Set<string>(["in", "!in", "in~", "!in~"]);
const FUNCTIONS: Record<FnName, ValueType> = {
  tostring: "string",
  tolower: "string",
  toupper: "string",
  isnotempty: "bool",
  isempty: "bool",
  isnull: "bool",
  isnotnull: "bool",
};
/** Known KQL words outside the subset, so that errors can say "not supported" rather than "unexpected". */
const OTHER_OPERATORS = new Set([
  "summarize",
  "count",
  "join",
  "union",
  "distinct",
  "top",
  "sort",
  "mv-expand",
  "mv-apply",
  "parse",
  "project-keep",
  "project-rename",
  "project-reorder",
  "make-series",
  "top-nested",
  "top-hitters",
  "parse-where",
  "parse-kv",
  "lookup",
  "sample",
  "serialize",
  "evaluate",
  "render",
  "as",
  "getschema",
  "search",
  "find",
  "invoke",
  "facet",
  "fork",
  "range",
  "print",
  "let",
]);
const SUPPORTED_STAGES = "where, project, project-away, extend, order by, sort by, take, limit";

// ---------------------------------------------------------------- parser

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly error: (problem: string, pos: number) => never,
  ) {}

  private get tok(): Token {
    return this.tokens[this.i];
  }
  private peek(n = 1): Token {
    return this.tokens[Math.min(this.i + n, this.tokens.length - 1)];
  }
  private next(): Token {
    const t = this.tokens[this.i];
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }
  private isOp(text: string, t = this.tok): boolean {
    return t.kind === "op" && t.text === text;
  }
  private isWord(text: string, t = this.tok): boolean {
    return t.kind === "ident" && t.text === text;
  }
  private expectOp(text: string, what?: string): Token {
    if (!this.isOp(text)) this.error(`expected '${text}'${what ? ` ${what}` : ""} but found ${show(this.tok)}`, this.tok.pos);
    return this.next();
  }

  parseQuery(): { table: TableName; stages: Stage[] } {
    const first = this.tok;
    if (first.kind !== "ident") this.error(`expected a table name but found ${show(first)}`, first.pos);
    const table = first.text.toLowerCase();
    if (!(TABLE_NAMES as readonly string[]).includes(table)) {
      if (OTHER_OPERATORS.has(first.text))
        this.error(
          `'${first.text}' statements are not supported; start the query with a table name (${TABLE_NAMES.join(", ")})`,
          first.pos,
        );
      this.error(`table '${first.text}' is not served by the simulator (tables: ${TABLE_NAMES.join(", ")})`, first.pos);
    }
    this.next();
    const stages: Stage[] = [];
    while (this.tok.kind !== "eof") {
      if (!this.isOp("|")) this.error(`expected '|' or end of query but found ${show(this.tok)}`, this.tok.pos);
      this.next();
      stages.push(this.parseStage());
    }
    return { table: table as TableName, stages };
  }

  private parseStage(): Stage {
    const t = this.tok;
    if (t.kind !== "ident") this.error(`expected an operator after '|' but found ${show(t)}`, t.pos);
    switch (t.text) {
      case "where": {
        this.next();
        return { k: "where", e: this.parseExpr() };
      }
      case "project": {
        this.next();
        return { k: "project", items: this.parseList(() => this.parseProjectItem()) };
      }
      case "extend": {
        this.next();
        return { k: "extend", items: this.parseList(() => this.parseAssignment("extend")) };
      }
      case "project-away": {
        this.next();
        return { k: "project-away", names: this.parseList(() => this.parseColumnName()) };
      }
      case "order":
      case "sort": {
        this.next();
        if (!this.isWord("by")) this.error(`expected 'by' after '${t.text}' but found ${show(this.tok)}`, this.tok.pos);
        this.next();
        const keys = this.parseList(() => {
          const e = this.parseExpr();
          let desc = true; // KQL sorts descending unless told otherwise
          if (this.isWord("asc") || this.isWord("desc")) desc = this.next().text === "desc";
          if (this.isWord("nulls")) this.error("'nulls first/last' is not supported", this.tok.pos);
          return { e, desc };
        });
        return { k: "order", keys };
      }
      case "take":
      case "limit": {
        this.next();
        const n = this.tok;
        if (n.kind !== "number" || !Number.isInteger(n.value) || (n.value as number) < 0)
          this.error(`expected a whole number after '${t.text}' but found ${show(n)}`, n.pos);
        this.next();
        return { k: "take", n: n.value as number };
      }
      default:
        if (OTHER_OPERATORS.has(t.text) || t.text.includes("-"))
          this.error(`operator '${t.text}' is not supported (supported: ${SUPPORTED_STAGES})`, t.pos);
        return this.error(`unknown operator '${t.text}' (supported: ${SUPPORTED_STAGES})`, t.pos);
    }
  }

  private parseList<T>(item: () => T): T[] {
    const out = [item()];
    while (this.isOp(",")) {
      this.next();
      out.push(item());
    }
    return out;
  }

  private parseColumnName(): { name: string; pos: number } {
    const t = this.tok;
    if (t.kind !== "ident") this.error(`expected a column name but found ${show(t)}`, t.pos);
    this.next();
    return { name: t.text, pos: t.pos };
  }

  private parseAssignment(op: string): NamedExpr {
    const t = this.tok;
    if (t.kind !== "ident" || !this.isOp("=", this.peek())) this.error(`expected 'name = expression' in ${op} but found ${show(t)}`, t.pos);
    this.next();
    this.next();
    return { name: t.text, e: this.parseExpr() };
  }

  private parseProjectItem(): NamedExpr {
    const t = this.tok;
    if (t.kind === "ident" && this.isOp("=", this.peek())) return this.parseAssignment("project");
    const e = this.parseExpr();
    if (e.k !== "path") this.error("a projected expression needs a name: write 'name = expression'", t.pos);
    const name = [e.root, ...e.steps.map(String)].join("_");
    return { name, e };
  }

  parseExpr(): Expr {
    let l = this.parseAnd();
    while (this.isWord("or")) {
      const pos = this.next().pos;
      l = { k: "or", l, r: this.parseAnd(), pos };
    }
    return l;
  }

  private parseAnd(): Expr {
    let l = this.parseComparison();
    while (this.isWord("and")) {
      const pos = this.next().pos;
      l = { k: "and", l, r: this.parseComparison(), pos };
    }
    return l;
  }

  private parseComparison(): Expr {
    const l = this.parsePrimary();
    const t = this.tok;
    const opText = t.kind === "op" || t.kind === "ident" ? t.text : "";
    if (CMP_OPS.has(opText)) {
      this.next();
      return { k: "cmp", op: opText as CmpOp, l, r: this.parsePrimary(), pos: t.pos };
    }
    if (IN_OPS.has(opText)) {
      this.next();
      return { k: "in", op: opText as InOp, l, set: this.parseLiteralList(opText), pos: t.pos };
    }
    if (
      (t.kind === "op" && ["<", ">", "<=", ">=", "<>", "+", "-", "*", "/", "%", "=", ":"].includes(t.text)) ||
      (t.kind === "op" && t.text.startsWith("!") && t.text.length > 2) ||
      (t.kind === "ident" &&
        /^(contains_cs|startswith_cs|endswith_cs|has_cs|hasprefix|hassuffix|has_any|has_all|matches|like|between)$/.test(t.text))
    ) {
      this.error(`operator '${t.text}' is not supported`, t.pos);
    }
    return l;
  }

  private parseLiteralList(op: string): Set<string> {
    const open = this.tok;
    if (!this.isOp("(")) this.error(`expected '(' and a list of literals after '${op}' but found ${show(open)}`, open.pos);
    this.next();
    const values: string[] = [];
    for (;;) {
      const lit = this.parseLiteral();
      if (lit === undefined) this.error(`'${op}' takes a list of literals; found ${show(this.tok)}`, this.tok.pos);
      values.push(toStr(lit));
      if (this.isOp(",")) {
        this.next();
        continue;
      }
      if (this.isOp(")")) {
        this.next();
        break;
      }
      this.error(`expected ',' or ')' in the '${op}' list but found ${show(this.tok)}`, this.tok.pos);
    }
    return new Set(op.endsWith("~") ? values.map((v) => v.toLowerCase()) : values);
  }

  private parseLiteral(): Literal | undefined {
    const t = this.tok;
    if (t.kind === "string" || t.kind === "number") {
      this.next();
      return t.value;
    }
    if (this.isOp("-") && this.peek().kind === "number") {
      this.next();
      return -(this.next().value as number);
    }
    if ((this.isWord("true") || this.isWord("false")) && !this.isOp("(", this.peek()) && !this.isOp(".", this.peek())) {
      this.next();
      return t.text === "true";
    }
    return undefined;
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    const lit = this.parseLiteral();
    if (lit !== undefined) return { k: "lit", v: lit, pos: t.pos };
    if (this.isOp("(")) {
      this.next();
      const e = this.parseExpr();
      this.expectOp(")", "to close '('");
      return e;
    }
    if (t.kind !== "ident") this.error(`expected an expression but found ${show(t)}`, t.pos);
    if (this.isOp("(", this.peek())) return this.parseCall();
    if (["and", "or"].includes(t.text)) this.error(`expected an expression but found '${t.text}'`, t.pos);
    this.next();
    const steps: (string | number)[] = [];
    for (;;) {
      if (this.isOp(".")) {
        this.next();
        const n = this.tok;
        if (n.kind !== "ident") this.error(`expected a property name after '.' but found ${show(n)}`, n.pos);
        steps.push(this.next().text);
        continue;
      }
      if (this.isOp("[")) {
        this.next();
        const k = this.tok;
        if (k.kind === "string") steps.push(k.value as string);
        else if (k.kind === "number" && Number.isInteger(k.value)) steps.push(k.value as number);
        else this.error(`expected a quoted property name or an index inside '[ ]' but found ${show(k)}`, k.pos);
        this.next();
        this.expectOp("]", "to close '['");
        continue;
      }
      break;
    }
    return { k: "path", root: t.text, steps, pos: t.pos };
  }

  private parseCall(): Expr {
    const t = this.next();
    this.expectOp("(");
    const args: Expr[] = [];
    if (!this.isOp(")")) args.push(...this.parseList(() => this.parseExpr()));
    this.expectOp(")", `to close the call of ${t.text}()`);
    if (t.text === "not") {
      if (args.length !== 1) this.error(`not() takes 1 argument, found ${args.length}`, t.pos);
      return { k: "not", e: args[0], pos: t.pos };
    }
    if (!(t.text in FUNCTIONS))
      this.error(`function '${t.text}' is not supported (supported: not, ${Object.keys(FUNCTIONS).join(", ")})`, t.pos);
    if (args.length !== 1) this.error(`${t.text}() takes 1 argument, found ${args.length}`, t.pos);
    return { k: "call", fn: t.text as FnName, arg: args[0], pos: t.pos };
  }
}

function show(t: Token): string {
  if (t.kind === "eof") return "end of query";
  return `'${t.text.length > 40 ? t.text.slice(0, 40) + "..." : t.text}'`;
}

// ---------------------------------------------------------------- checks

function typeCheck(
  parsed: { table: TableName; stages: Stage[] },
  tableColumns: readonly string[],
  error: (problem: string, pos: number) => never,
): { columns: string[]; wholeRows: boolean } {
  const cols = new Map<string, ValueType>(tableColumns.map((c) => [c, "dynamic"]));
  let wholeRows = true;

  const typeOf = (e: Expr): ValueType => {
    switch (e.k) {
      case "lit":
        return typeof e.v === "boolean" ? "bool" : typeof e.v === "number" ? "number" : "string";
      case "path": {
        const t = cols.get(e.root);
        if (t === undefined) error(`failed to resolve column or scalar expression named '${e.root}'`, e.pos);
        return e.steps.length ? "dynamic" : t;
      }
      case "call":
        typeOf(e.arg);
        return FUNCTIONS[e.fn];
      case "cmp":
        typeOf(e.l);
        typeOf(e.r);
        return "bool";
      case "in":
        typeOf(e.l);
        return "bool";
      case "and":
      case "or":
        for (const side of [e.l, e.r]) if (typeOf(side) !== "bool") error(`the operands of '${e.k}' must be boolean expressions`, side.pos);
        return "bool";
      case "not":
        if (typeOf(e.e) !== "bool") error("not() expects a boolean expression", e.e.pos);
        return "bool";
    }
  };

  for (const s of parsed.stages) {
    switch (s.k) {
      case "where":
        if (typeOf(s.e) !== "bool") error("where expects a boolean expression (a comparison or a function such as isnotempty())", s.e.pos);
        break;
      case "extend":
        for (const it of s.items) cols.set(it.name, typeOf(it.e));
        break;
      case "project": {
        const next = new Map<string, ValueType>();
        for (const it of s.items) {
          if (next.has(it.name)) error(`column '${it.name}' is projected twice`, it.e.pos);
          next.set(it.name, typeOf(it.e));
        }
        cols.clear();
        for (const [k, v] of next) cols.set(k, v);
        wholeRows = false;
        break;
      }
      case "project-away":
        for (const n of s.names) {
          if (!cols.has(n.name)) error(`project-away: no column named '${n.name}'`, n.pos);
          cols.delete(n.name);
        }
        wholeRows = false;
        break;
      case "order":
        for (const key of s.keys) typeOf(key.e);
        break;
      case "take":
        break;
    }
  }
  return { columns: [...cols.keys()], wholeRows };
}

// ---------------------------------------------------------------- public API

function positionOf(src: string, offset: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src[i] === "\n") {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

/**
 * Parses and checks a query against the columns of its table (`columnsOf(table)`). Throws KqlError for
 * anything outside the supported subset or referring to a column that does not exist.
 */
export function compileQuery(text: string, columnsOf: (table: TableName) => readonly string[]): CompiledQuery {
  const error = (problem: string, pos: number): never => {
    const { line, column } = positionOf(text, pos);
    throw new KqlError(problem, pos, line, column);
  };
  if (text.length > MAX_QUERY_LENGTH)
    error(`the query is ${text.length} characters long; the limit is ${MAX_QUERY_LENGTH}`, MAX_QUERY_LENGTH);
  const lexer = new Lexer(text, error);
  const parsed = new Parser(lexer.tokens, error).parseQuery();
  const { columns, wholeRows } = typeCheck(parsed, columnsOf(parsed.table), error);
  return { table: parsed.table, stages: parsed.stages, columns, wholeRows };
}

/** The table a query reads, or undefined when it does not start with one (used to match faults). */
export function queryTable(text: string): TableName | undefined {
  const m = /^\s*(?:\/\/[^\n]*\n\s*)*([A-Za-z_][A-Za-z0-9_]*)/.exec(text);
  const t = m?.[1].toLowerCase();
  return t && (TABLE_NAMES as readonly string[]).includes(t) ? (t as TableName) : undefined;
}

type Env = Record<string, unknown>;

/** String form of a value, as KQL's tostring(): null is "", objects are compact JSON. */
export function toStr(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function hasTerm(haystack: string, needle: string): boolean {
  const h = haystack.toLowerCase();
  const n = needle.toLowerCase();
  if (n === "") return true;
  const alnum = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);
  for (let i = h.indexOf(n); i >= 0; i = h.indexOf(n, i + 1)) {
    const before = h[i - 1];
    const after = h[i + n.length];
    if ((!alnum(n[0]) || !alnum(before)) && (!alnum(n[n.length - 1]) || !alnum(after))) return true;
  }
  return false;
}

function evaluate(e: Expr, env: Env): unknown {
  switch (e.k) {
    case "lit":
      return e.v;
    case "path": {
      let v: unknown = env[e.root];
      for (const step of e.steps) {
        if (typeof step === "number") v = Array.isArray(v) ? v[step] : undefined;
        else v = v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>)[step] : undefined;
        if (v === undefined) return null;
      }
      return v === undefined ? null : v;
    }
    case "call": {
      const a = evaluate(e.arg, env);
      switch (e.fn) {
        case "tostring":
          return toStr(a);
        case "tolower":
          return toStr(a).toLowerCase();
        case "toupper":
          return toStr(a).toUpperCase();
        case "isempty":
          return a === null || a === undefined || a === "";
        case "isnotempty":
          return !(a === null || a === undefined || a === "");
        case "isnull":
          return a === null || a === undefined;
        case "isnotnull":
          return !(a === null || a === undefined);
      }
      break;
    }
    case "cmp": {
      const l = toStr(evaluate(e.l, env));
      const r = toStr(evaluate(e.r, env));
      switch (e.op) {
        case "==":
          return l === r;
        case "!=":
          return l !== r;
        case "=~":
          return l.toLowerCase() === r.toLowerCase();
        case "!~":
          return l.toLowerCase() !== r.toLowerCase();
        case "contains":
          return l.toLowerCase().includes(r.toLowerCase());
        case "!contains":
          return !l.toLowerCase().includes(r.toLowerCase());
        case "startswith":
          return l.toLowerCase().startsWith(r.toLowerCase());
        case "!startswith":
          return !l.toLowerCase().startsWith(r.toLowerCase());
        case "endswith":
          return l.toLowerCase().endsWith(r.toLowerCase());
        case "!endswith":
          return !l.toLowerCase().endsWith(r.toLowerCase());
        case "has":
          return hasTerm(l, r);
        case "!has":
          return !hasTerm(l, r);
      }
      break;
    }
    case "in": {
      const l = toStr(evaluate(e.l, env));
      switch (e.op) {
        case "in":
          return e.set.has(l);
        case "!in":
          return !e.set.has(l);
        case "in~":
          return e.set.has(l.toLowerCase());
        case "!in~":
          return !e.set.has(l.toLowerCase());
      }
      break;
    }
    case "and":
      return evaluate(e.l, env) === true && evaluate(e.r, env) === true;
    case "or":
      return evaluate(e.l, env) === true || evaluate(e.r, env) === true;
    case "not":
      return evaluate(e.e, env) !== true;
  }
  return null;
}

function compareForSort(a: unknown, b: unknown, desc: boolean): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  // KQL puts nulls first when ascending and last when descending.
  if (an || bn) {
    if (an && bn) return 0;
    const nullFirst = an ? -1 : 1;
    return desc ? -nullFirst : nullFirst;
  }
  let c: number;
  if (typeof a === "number" && typeof b === "number") c = a < b ? -1 : a > b ? 1 : 0;
  else {
    const sa = toStr(a);
    const sb = toStr(b);
    c = sa < sb ? -1 : sa > sb ? 1 : 0;
  }
  return desc ? -c : c;
}

/** Runs a compiled query over rows (already limited to the request's scope), in their given order. */
export function runQuery(q: CompiledQuery, rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  let current: Env[] = rows.map((r) => ({ ...r }));
  for (const s of q.stages) {
    switch (s.k) {
      case "where":
        current = current.filter((r) => evaluate(s.e, r) === true);
        break;
      case "extend":
        current = current.map((r) => {
          const out = { ...r };
          for (const it of s.items) out[it.name] = evaluate(it.e, r);
          return out;
        });
        break;
      case "project":
        current = current.map((r) => {
          const out: Env = {};
          for (const it of s.items) out[it.name] = evaluate(it.e, r);
          return out;
        });
        break;
      case "project-away":
        current = current.map((r) => {
          const out = { ...r };
          for (const n of s.names) delete out[n.name];
          return out;
        });
        break;
      case "order": {
        const keyed = current.map((r) => ({ r, keys: s.keys.map((k) => evaluate(k.e, r)) }));
        keyed.sort((x, y) => {
          for (let i = 0; i < s.keys.length; i++) {
            const c = compareForSort(x.keys[i], y.keys[i], s.keys[i].desc);
            if (c !== 0) return c;
          }
          return 0;
        });
        current = keyed.map((k) => k.r);
        break;
      }
      case "take":
        current = current.slice(0, s.n);
        break;
    }
  }
  return current;
}
