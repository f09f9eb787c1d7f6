/**
 * A static scan of Python source for the modules it imports, for `rt:python`'s `imports` selection of
 * the standard library. Python is never run: the source is tokenized here (strings, f-strings, comments,
 * line continuations, brackets, indentation) and the statements are read from the tokens.
 *
 * What counts as an import:
 *
 * - `import a.b.c [as x], d` and `from a.b import c, d` / `from a import (c, d)` / `from a import *`, also
 *   in one-line compound statements (`if x: import y`, `try: import z`) and after `;`;
 * - relative imports: `from . import x`, `from ..pkg import y` (their level is kept; the resolver knows the
 *   importing module's package);
 * - calls with one literal string: `__import__("x")`, `importlib.import_module("x")`,
 *   `import_module("x")` (also `import_module(".x", __package__)`, relative to the module's package).
 *
 * Imports anywhere count: at module level, in functions (run later, but they run), in `try` blocks
 * (marked `conditional`, like those under `if`/`elif`/`else`, so a missing one is not an error). Imports
 * under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`, `if False:`) never run and are marked
 * `typeChecking`; the `else:` branch of such an `if` runs. Imports that only run when the file is the
 * program are marked `mainOnly`: under `if __name__ == "__main__":`, and in a private module-level
 * function (name starting with `_`, such as the standard library's `def _test(): import doctest`) used
 * nowhere but in such blocks. Nothing inside strings or comments counts
 * (docstrings that show `import x` are text), nor imports built from non-literal strings
 * (`import_module(name)`), `exec()`'d text or `__import__` with a computed name.
 *
 * @module
 */

/** One import found in a source file. */
export interface PythonImport {
  /** The module as written, without the leading dots: `os.path`, `` (for `from . import x`). */
  module: string;
  /** Leading dots: 0 for an absolute import, 1 for `from .`, 2 for `from ..`. */
  level: number;
  /** The names of `from module import a, b` (`*` for a star import); empty for `import module`. */
  names: string[];
  /** 1-based line of the statement. */
  line: number;
  /** Inside a `try` block (or its handlers) or an `if`/`elif`/`else`/`match` branch: may never run or may be allowed to fail. */
  conditional: boolean;
  /** Only under `if TYPE_CHECKING:` (never at run time). */
  typeChecking: boolean;
  /**
   * Runs only when the file is the program, not when it is imported: under `if __name__ == "__main__":`,
   * or in a private module-level function (`def _test():`) that only such a block calls.
   */
  mainOnly: boolean;
  /** How it was written. */
  kind: "import" | "from" | "call";
  /** The number of the innermost `try` block whose body holds it, `null` when none. */
  tryBody: number | null;
  /**
   * In an `except ImportError:` (or `ModuleNotFoundError`, or bare `except:`) clause: the number of its
   * `try` block. Such an import is a fallback, needed only when an import of that `try` body fails.
   */
  fallbackOf: number | null;
}

type TokenKind = "name" | "number" | "string" | "op" | "newline";

interface Token {
  kind: TokenKind;
  /** The name, the operator, or the string's value (`null` for f-strings and strings with escapes we do not decode). */
  text: string | null;
  line: number;
  /** Column of the token's first character (used for the indentation of a logical line). */
  column: number;
}

const IDENT_START = /[\p{L}\p{Nl}_]/u;
const IDENT_REST = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}_]/u;
const STRING_PREFIX = /^(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])$/;
const THREE_CHAR_OPS = new Set(["**=", "//=", ">>=", "<<=", "..."]);
const TWO_CHAR_OPS = new Set([
  "**",
  "//",
  ">>",
  "<<",
  "<=",
  ">=",
  "==",
  "!=",
  "->",
  ":=",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "&=",
  "|=",
  "^=",
  "@=",
]);

/** A source the tokenizer cannot follow (an unterminated string): scanning stops there. */
class Unterminated extends Error {}

/**
 * Splits Python source into tokens: names, numbers, strings (with their value when it is a plain
 * literal), operators and logical-line ends. Comments, blank lines and continuation lines disappear.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0, line = 1, lineStart = 0, depth = 0;
  const n = source.length;
  const push = (kind: TokenKind, text: string | null, start: number, startLine: number, startOfLine: number) =>
    tokens.push({ kind, text, line: startLine, column: start - startOfLine });
  const endLogicalLine = () => {
    const last = tokens[tokens.length - 1];
    if (depth === 0 && last !== undefined && last.kind !== "newline") {
      tokens.push({ kind: "newline", text: null, line, column: 0 });
    }
  };
  try {
    while (i < n) {
      const c = source[i]!;
      if (c === "\n") {
        endLogicalLine();
        i++, line++, lineStart = i;
      } else if (c === " " || c === "\t" || c === "\f" || c === "\r") {
        i++;
      } else if (c === "#") {
        while (i < n && source[i] !== "\n") i++;
      } else if (c === "\\" && (source[i + 1] === "\n" || (source[i + 1] === "\r" && source[i + 2] === "\n"))) {
        i += source[i + 1] === "\n" ? 2 : 3;
        line++, lineStart = i;
      } else if (c === "'" || c === '"') {
        const start = i, startLine = line, startOfLine = lineStart;
        const s = readString(source, i, "", line);
        i = s.end, line = s.line, lineStart = s.lineStart ?? lineStart;
        push("string", s.value, start, startLine, startOfLine);
      } else if (IDENT_START.test(String.fromCodePoint(source.codePointAt(i)!))) {
        const start = i;
        i += String.fromCodePoint(source.codePointAt(i)!).length;
        while (i < n) {
          const cp = source.codePointAt(i)!;
          const ch = String.fromCodePoint(cp);
          if (!IDENT_REST.test(ch)) break;
          i += ch.length;
        }
        const word = source.slice(start, i);
        if ((source[i] === "'" || source[i] === '"') && STRING_PREFIX.test(word)) {
          const startLine = line, startOfLine = lineStart;
          const s = readString(source, i, word.toLowerCase(), line);
          i = s.end, line = s.line, lineStart = s.lineStart ?? lineStart;
          push("string", s.value, start, startLine, startOfLine);
        } else {
          push("name", word, start, line, lineStart);
        }
      } else if (c >= "0" && c <= "9" || (c === "." && source[i + 1]! >= "0" && source[i + 1]! <= "9")) {
        const start = i;
        while (i < n && /[0-9a-zA-Z_.]/.test(source[i]!)) {
          // Exponent signs: 1e-5, 1E+3.
          if ((source[i] === "e" || source[i] === "E") && (source[i + 1] === "-" || source[i + 1] === "+")) i++;
          i++;
        }
        push("number", source.slice(start, i), start, line, lineStart);
      } else {
        const three = source.slice(i, i + 3), two = source.slice(i, i + 2);
        const op = THREE_CHAR_OPS.has(three) ? three : TWO_CHAR_OPS.has(two) ? two : c;
        if (op === "(" || op === "[" || op === "{") depth++;
        else if ((op === ")" || op === "]" || op === "}") && depth > 0) depth--;
        push("op", op, i, line, lineStart);
        i += op.length;
      }
    }
  } catch (err) {
    if (!(err instanceof Unterminated)) throw err;
  }
  depth = 0;
  endLogicalLine();
  return tokens;
}

interface StringRead {
  end: number;
  line: number;
  lineStart: number | undefined;
  value: string | null;
}

/**
 * Reads a string literal starting at its quote. f-strings are followed through their replacement
 * fields, where strings may nest (Python 3.12 allows the same quote inside); their value is `null`.
 */
function readString(source: string, at: number, prefix: string, line: number): StringRead {
  const quote = source[at]!;
  const triple = source[at + 1] === quote && source[at + 2] === quote;
  const close = triple ? quote.repeat(3) : quote;
  const raw = prefix.includes("r");
  const formatted = prefix.includes("f");
  let i = at + close.length;
  let lineStart: number | undefined;
  let escapes = false;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === "\\") {
      escapes = true;
      if (source[i + 1] === "\n") line++, lineStart = i + 2;
      i += 2;
      continue;
    }
    if (c === "\n") {
      if (!triple) throw new Unterminated();
      line++, i++, lineStart = i;
      continue;
    }
    if (formatted && c === "{") {
      if (source[i + 1] === "{") {
        i += 2;
        continue;
      }
      const field = skipReplacementField(source, i + 1, line);
      i = field.end, line = field.line, lineStart = field.lineStart ?? lineStart;
      continue;
    }
    if (source.startsWith(close, i)) {
      const body = source.slice(at + close.length, i);
      const value = formatted || (escapes && !raw) ? null : body;
      return { end: i + close.length, line, lineStart, value };
    }
    i++;
  }
  throw new Unterminated();
}

/** Skips an f-string replacement field from just after its `{` to just after its `}`. */
function skipReplacementField(
  source: string,
  at: number,
  line: number,
): { end: number; line: number; lineStart: number | undefined } {
  let depth = 1, i = at;
  let lineStart: number | undefined;
  while (i < source.length) {
    const c = source[i]!;
    if (c === "'" || c === '"') {
      // A nested string; its prefix letters were skipped as plain characters before it.
      let p = i;
      while (p > at && /[a-zA-Z]/.test(source[p - 1]!)) p--;
      const prefix = source.slice(p, i).toLowerCase();
      const s = readString(source, i, STRING_PREFIX.test(prefix) ? prefix : "", line);
      i = s.end, line = s.line, lineStart = s.lineStart ?? lineStart;
      continue;
    }
    if (c === "\n") line++, lineStart = i + 1;
    else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") {
      if (--depth === 0) return { end: i + 1, line, lineStart };
    }
    i++;
  }
  throw new Unterminated();
}

/** Keywords that start a block (`if x:`, `try:`); their body is more indented or after the colon. */
const BLOCK_KEYWORDS = new Set([
  "if",
  "elif",
  "else",
  "try",
  "except",
  "finally",
  "with",
  "for",
  "while",
  "def",
  "class",
  "async",
  "match",
  "case",
]);
const CONDITIONAL = new Set(["if", "elif", "else", "try", "except", "finally", "match", "case"]);

interface Block {
  /** Column of the header: the block holds the lines indented more than this. */
  indent: number;
  keyword: string;
  /** Its body never runs (`if TYPE_CHECKING:`). */
  typeChecking: boolean;
  /** `if __name__ == "__main__":`. */
  mainGuard: boolean;
  /** The function a module-level `def` defines. */
  defines: string | null;
  /** A `try` block's number (its `except` clauses have it too). */
  tryId: number | null;
  /** An `except` clause that catches ImportError (or ModuleNotFoundError, or everything). */
  catchesImportError: boolean;
}

/** The place of names used under a main guard (not a possible function name). */
const MAIN = "if __name__ == '__main__'";

/** What a line's tokens are inside of. */
interface Context {
  /** The innermost `try` body the line is in. */
  tryBody: number | null;
  /** The innermost `except ImportError` clause the line is in: the number of its `try`. */
  fallbackOf: number | null;
  conditional: boolean;
  typeChecking: boolean;
  mainGuard: boolean;
  /** The module-level function the line is in, `null` at module level (or in a class). */
  topFunction: string | null;
}

/** The state of one file's scan. */
interface Scan {
  found: (PythonImport & { topFunction: string | null })[];
  blocks: Block[];
  /**
   * Where each name is used: `main` under a main guard, `""` elsewhere at module level or in classes, or
   * the module-level function it is used in (a function using its own name, in recursion, does not count).
   */
  uses: Map<string, Set<string>>;
  /** Module-level functions. */
  functions: Set<string>;
  /** `try` blocks seen so far. */
  tries: number;
  /** The number of the last `try` header at each column, for its `except` clauses. */
  tryAt: Map<number, number>;
}

/** Whether the tokens of an `if`/`elif` condition are `TYPE_CHECKING`, `typing.TYPE_CHECKING` or `False`. */
function isTypeCheckingCondition(condition: readonly Token[]): boolean {
  const text = condition.map((t) => t.text).join("");
  return text === "TYPE_CHECKING" || text === "typing.TYPE_CHECKING" || text === "t.TYPE_CHECKING" ||
    text === "False";
}

/** Whether an `except` clause's exceptions include ImportError or ModuleNotFoundError (or it has none). */
function catchesImportError(clause: readonly Token[]): boolean {
  if (clause.length === 0) return true;
  const names = clause.filter((t) => t.kind === "name").map((t) => t.text);
  const as = names.indexOf("as");
  return (as >= 0 ? names.slice(0, as) : names).some((n) => n === "ImportError" || n === "ModuleNotFoundError");
}

/** Whether an `if` condition is `__name__ == "__main__"` (either way round). */
function isMainGuard(condition: readonly Token[]): boolean {
  if (condition.length !== 3 || condition[1]!.text !== "==") return false;
  const [a, , b] = condition as [Token, Token, Token];
  const name = (t: Token) => t.kind === "name" && t.text === "__name__";
  const main = (t: Token) => t.kind === "string" && t.text === "__main__";
  return (name(a) && main(b)) || (main(a) && name(b));
}

/**
 * Finds the imports of a Python source file.
 *
 * @param source the file's text
 * @returns the imports in source order (including `typeChecking` ones, which callers normally skip)
 * @example
 * ```ts
 * import { scanImports } from "./_python_imports.ts";
 * const found = scanImports('"""import nothing"""\nimport os.path\nfrom . import sibling\n');
 * if (found.map((i) => i.module).join() !== "os.path,") throw new Error();
 * ```
 */
export function scanImports(source: string): PythonImport[] {
  const tokens = tokenize(source);
  const scan: Scan = {
    found: [],
    blocks: [],
    uses: new Map(),
    functions: new Set(),
    tries: 0,
    tryAt: new Map(),
  };
  let start = 0;
  while (start < tokens.length) {
    let end = start;
    while (end < tokens.length && tokens[end]!.kind !== "newline") end++;
    const logical = tokens.slice(start, end);
    start = end + 1;
    if (logical.length === 0) continue;
    const indent = logical[0]!.column;
    while (scan.blocks.length > 0 && scan.blocks[scan.blocks.length - 1]!.indent >= indent) scan.blocks.pop();
    readLogicalLine(logical, indent, scan);
  }
  // Private functions used only under main guards or by such functions (`_test` calling `_test_generator`).
  const mainOnly = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, places] of scan.uses) {
      if (!name.startsWith("_") || mainOnly.has(name) || !scan.functions.has(name)) continue;
      if ([...places].every((place) => place === MAIN || mainOnly.has(place))) {
        mainOnly.add(name);
        changed = true;
      }
    }
  }
  const mainOnlyFunction = (name: string | null) => name !== null && mainOnly.has(name);
  return scan.found.map(({ topFunction, ...found }) => ({
    ...found,
    mainOnly: found.mainOnly || mainOnlyFunction(topFunction),
  }));
}

/** Reads one logical line: block headers (pushed on `blocks`), then its simple statements. */
function readLogicalLine(tokens: Token[], indent: number, scan: Scan): void {
  const { blocks } = scan;
  let rest = tokens;
  let defined: Token | null = null;
  // `if a: if b: ...` is not Python, but `if a: import x` and `else: import y` are, one header per line.
  const first = rest[0]!;
  if (first.kind === "name" && BLOCK_KEYWORDS.has(first.text!) && !isAssignmentLike(rest)) {
    const colon = headerColon(rest);
    if (colon > 0) {
      let keyword = first.text!;
      let condition = rest.slice(1, colon);
      if (keyword === "async" && rest[1]?.kind === "name") keyword = rest[1].text!, condition = rest.slice(2, colon);
      const isIf = keyword === "if" || keyword === "elif";
      const block: Block = {
        indent,
        keyword,
        typeChecking: isIf && isTypeCheckingCondition(condition),
        mainGuard: isIf && isMainGuard(condition),
        defines: null,
        tryId: null,
        catchesImportError: false,
      };
      if (keyword === "try") {
        block.tryId = scan.tries++;
        scan.tryAt.set(indent, block.tryId);
      } else if (keyword === "except") {
        block.tryId = scan.tryAt.get(indent) ?? null;
        block.catchesImportError = catchesImportError(condition);
      }
      if (keyword === "def" && blocks.length === 0 && condition[0]?.kind === "name") {
        defined = condition[0];
        block.defines = defined.text;
      }
      blocks.push(block);
      rest = rest.slice(colon + 1);
    }
  }
  const innermost = (test: (b: Block) => boolean) => blocks.findLast(test);
  const context: Context = {
    tryBody: innermost((b) => b.keyword === "try")?.tryId ?? null,
    fallbackOf: innermost((b) => b.keyword === "except" && b.catchesImportError)?.tryId ?? null,
    conditional: blocks.some((b) => CONDITIONAL.has(b.keyword)),
    typeChecking: blocks.some((b) => b.typeChecking),
    mainGuard: blocks.some((b) => b.mainGuard),
    topFunction: blocks[0]?.defines ?? null,
  };
  if (defined !== null) scan.functions.add(defined.text!);
  for (const t of tokens) {
    if (t.kind !== "name" || t === defined || context.topFunction === t.text) continue;
    let places = scan.uses.get(t.text!);
    if (places === undefined) scan.uses.set(t.text!, places = new Set());
    places.add(context.mainGuard ? MAIN : context.topFunction ?? "");
  }
  for (const statement of splitStatements(rest)) readStatement(statement, context, scan.found);
}

/** `match = 1`, `case: int = 2`, `print(...)`: a soft keyword used as a name is not a header. */
function isAssignmentLike(tokens: readonly Token[]): boolean {
  const word = tokens[0]!.text;
  if (word !== "match" && word !== "case") return false;
  const next = tokens[1];
  return next === undefined || (next.kind === "op" && next.text !== "(" && next.text !== "[" && next.text !== "{" &&
    next.text !== "-" && next.text !== "*");
}

/** Index of the colon ending a block header (outside brackets and lambdas), or -1. */
function headerColon(tokens: readonly Token[]): number {
  let depth = 0, lambdas = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === "name" && t.text === "lambda" && depth === 0) lambdas++;
    if (t.kind !== "op") continue;
    if (t.text === "(" || t.text === "[" || t.text === "{") depth++;
    else if (t.text === ")" || t.text === "]" || t.text === "}") depth--;
    else if (t.text === ":" && depth === 0) {
      if (lambdas > 0) lambdas--;
      else return i;
    }
  }
  return -1;
}

function splitStatements(tokens: readonly Token[]): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  for (const t of tokens) {
    if (t.kind === "op") {
      if (t.text === "(" || t.text === "[" || t.text === "{") depth++;
      else if (t.text === ")" || t.text === "]" || t.text === "}") depth--;
      else if (t.text === ";" && depth === 0) {
        statements.push(current);
        current = [];
        continue;
      }
    }
    current.push(t);
  }
  statements.push(current);
  return statements.filter((s) => s.length > 0);
}

type Found = Scan["found"];

function readStatement(tokens: Token[], context: Context, found: Found): void {
  const first = tokens[0]!;
  if (first.kind === "name" && first.text === "import") {
    readImport(tokens, context, found);
  } else if (first.kind === "name" && first.text === "from") {
    readFromImport(tokens, context, found);
  }
  readCalls(tokens, context, found);
}

function flags(context: Context) {
  return {
    tryBody: context.tryBody,
    fallbackOf: context.fallbackOf,
    conditional: context.conditional,
    typeChecking: context.typeChecking,
    mainOnly: context.mainGuard,
    topFunction: context.topFunction,
  };
}

/** Reads a dotted name at `at`: the name and the index after it. */
function dottedName(tokens: readonly Token[], at: number): { name: string; next: number } | null {
  const parts: string[] = [];
  let i = at;
  while (tokens[i]?.kind === "name") {
    parts.push(tokens[i]!.text!);
    i++;
    if (tokens[i]?.kind === "op" && tokens[i]!.text === ".") i++;
    else break;
  }
  return parts.length === 0 ? null : { name: parts.join("."), next: i };
}

/** `import a.b [as c], d`. */
function readImport(tokens: Token[], context: Context, found: Found): void {
  let i = 1;
  while (i < tokens.length) {
    const dotted = dottedName(tokens, i);
    if (dotted === null) return;
    found.push({ module: dotted.name, level: 0, names: [], line: tokens[0]!.line, kind: "import", ...flags(context) });
    i = dotted.next;
    if (tokens[i]?.kind === "name" && tokens[i]!.text === "as") i += 2;
    if (tokens[i]?.kind === "op" && tokens[i]!.text === ",") i++;
    else return;
  }
}

/** `from [.]*[a.b] import (x [as y], z) | *`. */
function readFromImport(tokens: Token[], context: Context, found: Found): void {
  let i = 1, level = 0;
  while (tokens[i]?.kind === "op" && (tokens[i]!.text === "." || tokens[i]!.text === "...")) {
    level += tokens[i]!.text!.length;
    i++;
  }
  let module = "";
  const dotted = dottedName(tokens, i);
  if (dotted !== null && dotted.name !== "import") {
    module = dotted.name;
    i = dotted.next;
  }
  if (tokens[i]?.kind !== "name" || tokens[i]!.text !== "import") return;
  if (level === 0 && module === "") return;
  i++;
  const names: string[] = [];
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === "op" && t.text === "*") names.push("*");
    else if (t.kind === "name" && t.text !== "as") {
      if (tokens[i - 1]?.kind === "name" && tokens[i - 1]!.text === "as") continue;
      names.push(t.text!);
    }
  }
  found.push({ module, level, names, line: tokens[0]!.line, kind: "from", ...flags(context) });
}

/** `__import__("x")`, `importlib.import_module("x")`, `import_module(".x", __package__)`. */
function readCalls(tokens: Token[], context: Context, found: Found): void {
  for (let i = 0; i + 2 < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== "name" || (t.text !== "__import__" && t.text !== "import_module")) continue;
    const open = tokens[i + 1]!, arg = tokens[i + 2]!, after = tokens[i + 3];
    if (open.kind !== "op" || open.text !== "(" || arg.kind !== "string" || arg.text === null) continue;
    if (after === undefined || after.kind !== "op" || (after.text !== ")" && after.text !== ",")) continue;
    const name = arg.text;
    const dots = /^\.*/.exec(name)![0].length;
    const module = name.slice(dots);
    if (t.text === "__import__" && dots > 0) continue;
    if (!/^(?:[\p{L}_][\p{L}\p{N}_]*)?(?:\.[\p{L}_][\p{L}\p{N}_]*)*$/u.test(module) || (module === "" && dots === 0)) {
      continue;
    }
    found.push({ module, level: dots, names: [], line: t.line, kind: "call", ...flags(context) });
  }
}
