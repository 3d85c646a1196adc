/**
 * MLflow's search filter language (`mlflow.search_runs(filter_string=...)`, `runs/search`'s
 * `filter`, `experiments/search`'s `filter`) and its `order_by` terms, parsed into clauses. Pure:
 * no I/O, no zod; the tracking store compiles the clauses into a query
 * (prisma/queries/run-filter-queries.ts).
 *
 * Grammar (as MLflow's "Search Runs" reference gives it):
 *
 * ```
 * filter     := clause ( AND clause )*            -- no OR, no parentheses
 * clause     := identifier comparator constant
 * identifier := [entity "."] key                   -- no entity: an attribute (`status = 'FAILED'`)
 * entity     := metrics | metric | params | param | parameters | parameter | tags | tag
 *             | attributes | attribute | attr | run
 * key        := name ( "." name )* | "quoted name" | `quoted name`
 * comparator := = | != | < | <= | > | >= | LIKE | ILIKE | IN | NOT IN   (keywords in any case)
 * constant   := number | 'string' | "string" | ( 'string', ... )
 * ```
 *
 * Metrics compare numbers (`metrics.acc >= 0.9`); params and tags compare quoted strings with
 * `=`, `!=`, `LIKE` (case-sensitive, `%` any run of characters, `_` one character) or `ILIKE`
 * (case-insensitive). Run attributes: `run_id` (also `IN`/`NOT IN` a list), `run_name`, `status`
 * (strings) and `start_time`/`created`, `end_time` (milliseconds since the epoch).
 * @example parseRunFilter("metrics.acc > 0.9 and params.`optimizer.name` = 'adam'")
 */

/** The kinds of entity a clause compares. */
export type FilterEntity = 'metric' | 'param' | 'tag' | 'attribute';

/** Comparators on numbers. */
export type NumericComparator = '=' | '!=' | '<' | '<=' | '>' | '>=';
/** Comparators on strings. */
export type StringComparator = '=' | '!=' | 'LIKE' | 'ILIKE';
/** Comparators on a list of strings (run ids only). */
export type ListComparator = 'IN' | 'NOT IN';
/** Every comparator of the language. */
export type FilterComparator = NumericComparator | StringComparator | ListComparator;

/** `metrics.<key> <op> <number>`: compared against the metric's latest value. */
export interface MetricClause {
  entity: 'metric';
  key: string;
  comparator: NumericComparator;
  value: number;
}

/** `params.<key>` / `tags.<key> <op> '<string>'`. */
export interface KeyValueClause {
  entity: 'param' | 'tag';
  key: string;
  comparator: StringComparator;
  value: string;
}

/** The run attributes a filter may name. */
export type RunAttribute = 'run_id' | 'run_name' | 'status' | 'start_time' | 'end_time';

/** `attributes.<run attribute> <op> <constant>`. */
export type RunAttributeClause =
  | { entity: 'attribute'; key: 'run_name' | 'status'; comparator: StringComparator; value: string }
  | { entity: 'attribute'; key: 'run_id'; comparator: StringComparator; value: string }
  | { entity: 'attribute'; key: 'run_id'; comparator: ListComparator; value: string[] }
  | { entity: 'attribute'; key: 'start_time' | 'end_time'; comparator: NumericComparator; value: number };

/** One clause of a runs filter. */
export type RunFilterClause = MetricClause | KeyValueClause | RunAttributeClause;

/** The experiment attributes a filter may name. */
export type ExperimentAttribute = 'name' | 'creation_time' | 'last_update_time';

/** One clause of an experiments filter. */
export type ExperimentFilterClause =
  | { entity: 'tag'; key: string; comparator: StringComparator; value: string }
  | { entity: 'attribute'; key: 'name'; comparator: StringComparator; value: string }
  | { entity: 'attribute'; key: 'creation_time' | 'last_update_time'; comparator: NumericComparator; value: number };

/** One `order_by` term: `metrics.rmse DESC`, `attributes.start_time`, `params.lr ASC`. */
export interface OrderByTerm {
  entity: FilterEntity;
  key: string;
  ascending: boolean;
}

/**
 * A filter or order-by text that does not parse: `position` is the 1-based column of the
 * offending token and `token` its text (empty at the end of the input).
 */
export class MlflowFilterError extends Error {
  constructor(
    message: string,
    readonly position: number,
    readonly token: string,
  ) {
    super(message);
    this.name = 'MlflowFilterError';
  }
}

type TokenKind = 'word' | 'quoted-name' | 'string' | 'number' | 'op' | 'dot' | 'comma' | 'lparen' | 'rparen' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** The token's value: the unquoted text of names and strings. */
  value: string;
  /** 0-based offset in the input. */
  offset: number;
}

const ENTITY_ALIASES: Record<string, FilterEntity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
};

const ENTITY_PLURAL: Record<FilterEntity, string> = { metric: 'metrics', param: 'params', tag: 'tags', attribute: 'attributes' };

const NUMERIC_COMPARATORS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];
const STRING_COMPARATORS: readonly string[] = ['=', '!=', 'LIKE', 'ILIKE'];
const LIST_COMPARATORS: readonly string[] = ['IN', 'NOT IN'];

const RUN_STRING_ATTRIBUTES: readonly string[] = ['run_id', 'run_name', 'status'];
const RUN_NUMERIC_ATTRIBUTES: readonly string[] = ['start_time', 'end_time'];
/** Alternative spellings MLflow accepts for run attributes. */
const RUN_ATTRIBUTE_ALIASES: Record<string, RunAttribute> = { created: 'start_time', Created: 'start_time', 'run name': 'run_name', 'Run name': 'run_name', 'Run Name': 'run_name' };
const EXPERIMENT_STRING_ATTRIBUTES: readonly string[] = ['name'];
const EXPERIMENT_NUMERIC_ATTRIBUTES: readonly string[] = ['creation_time', 'last_update_time'];

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const WORD = /^[A-Za-z_][A-Za-z0-9_]*/;
const NAME_PART = /^[A-Za-z0-9_]+/;

function fail(message: string, token: Token): never {
  const shown = token.kind === 'end' ? 'the end of the filter' : `"${token.text}"`;
  throw new MlflowFilterError(`invalid filter at column ${token.offset + 1} (${shown}): ${message}`, token.offset + 1, token.kind === 'end' ? '' : token.text);
}

/** Splits a filter into tokens; a quoted string or name that never closes is an error naming where it opened. */
function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const ch = input[i] ?? '';
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const rest = input.slice(i);
    if (ch === "'" || ch === '"' || ch === '`') {
      // Doubled quotes inside stand for one quote, as in SQL.
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= input.length) {
          throw new MlflowFilterError(`invalid filter at column ${i + 1} (${ch}): the quote opened here is never closed`, i + 1, ch);
        }
        const c = input[j] ?? '';
        if (c === ch) {
          if (input[j + 1] === ch) {
            value += ch;
            j += 2;
            continue;
          }
          break;
        }
        value += c;
        j++;
      }
      // Double quotes and backquotes name an entity after a dot; single quotes are always strings.
      const afterDot = tokens.at(-1)?.kind === 'dot';
      const kind: TokenKind = ch === '`' || (ch === '"' && afterDot) ? 'quoted-name' : 'string';
      tokens.push({ kind, text: input.slice(i, j + 1), value, offset: i });
      i = j + 1;
      continue;
    }
    const op = /^(?:!=|<=|>=|==|<>|=|<|>)/.exec(rest)?.[0];
    if (op !== undefined) {
      tokens.push({ kind: 'op', text: op, value: op, offset: i });
      i += op.length;
      continue;
    }
    if (ch === '.' && !/^\.\d/.test(rest)) {
      tokens.push({ kind: 'dot', text: '.', value: '.', offset: i });
      i++;
      continue;
    }
    if (ch === ',' || ch === '(' || ch === ')') {
      tokens.push({ kind: ch === ',' ? 'comma' : ch === '(' ? 'lparen' : 'rparen', text: ch, value: ch, offset: i });
      i++;
      continue;
    }
    // A number, unless it is the start of a dotted key part (`metrics.1b`, handled as a name after a dot).
    const num = tokens.at(-1)?.kind === 'dot' ? undefined : NUMBER.exec(rest)?.[0];
    if (num !== undefined && !/^[A-Za-z_]/.test(rest.slice(num.length))) {
      tokens.push({ kind: 'number', text: num, value: num, offset: i });
      i += num.length;
      continue;
    }
    const word = (tokens.at(-1)?.kind === 'dot' ? NAME_PART : WORD).exec(rest)?.[0];
    if (word !== undefined) {
      tokens.push({ kind: 'word', text: word, value: word, offset: i });
      i += word.length;
      continue;
    }
    throw new MlflowFilterError(`invalid filter at column ${i + 1} ("${ch}"): unexpected character`, i + 1, ch);
  }
  tokens.push({ kind: 'end', text: '', value: '', offset: input.length });
  return tokens;
}

/** A cursor over the tokens of one input. */
class TokenStream {
  private index = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.index++;
    return t;
  }

  isKeyword(word: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'word' && t.value.toUpperCase() === word;
  }
}

interface Identifier {
  entity: FilterEntity;
  key: string;
  token: Token;
}

/** `entity.key` (dotted, or quoted after the dot) or a bare attribute name. */
function parseIdentifier(s: TokenStream): Identifier {
  const first = s.next();
  if (first.kind === 'quoted-name' || (first.kind === 'string' && first.text.startsWith('"'))) {
    // A bare quoted name is an attribute with a special character (`"run name"`).
    return { entity: 'attribute', key: first.value, token: first };
  }
  if (first.kind !== 'word') fail('expected an identifier such as metrics.<key>, params.<key>, tags.<key> or attributes.<name>', first);
  if (first.value.toUpperCase() === 'OR') fail('the filter language has no OR (only AND): run one search per alternative', first);
  if (s.peek().kind !== 'dot') return { entity: 'attribute', key: first.value, token: first };
  const entity = ENTITY_ALIASES[first.value.toLowerCase()];
  if (entity === undefined) {
    const hint = /^datasets?$/i.test(first.value) ? 'dataset filters are not supported here; ' : '';
    fail(`${hint}"${first.value}" is not an entity type: use metrics, params, tags or attributes`, first);
  }
  s.next(); // the dot
  const keyStart = s.next();
  if (keyStart.kind === 'quoted-name' || (keyStart.kind === 'string' && keyStart.text.startsWith('"'))) {
    if (keyStart.value === '') fail(`the ${ENTITY_PLURAL[entity]} key is empty`, keyStart);
    return { entity, key: keyStart.value, token: first };
  }
  if (keyStart.kind !== 'word' && keyStart.kind !== 'number') fail(`expected a key after "${first.value}." (quote keys with special characters: ${first.value}.\`my-key\`)`, keyStart);
  let key = keyStart.value;
  // Unquoted dotted keys (`params.optimizer.name`) keep their dots, as in MLflow.
  while (s.peek().kind === 'dot' && (s.peek(1).kind === 'word' || s.peek(1).kind === 'number')) {
    s.next();
    key += `.${s.next().value}`;
  }
  return { entity, key, token: first };
}

function parseComparator(s: TokenStream): { comparator: FilterComparator; token: Token } {
  const t = s.peek();
  if (t.kind === 'op') {
    s.next();
    if (t.value === '==' || t.value === '<>') fail(`"${t.value}" is not a comparator: use ${t.value === '==' ? '=' : '!='}`, t);
    return { comparator: t.value as FilterComparator, token: t };
  }
  if (s.isKeyword('LIKE') || s.isKeyword('ILIKE') || s.isKeyword('IN')) {
    s.next();
    return { comparator: t.value.toUpperCase() as FilterComparator, token: t };
  }
  if (s.isKeyword('NOT') && s.isKeyword('IN', 1)) {
    s.next();
    s.next();
    return { comparator: 'NOT IN', token: t };
  }
  return fail('expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN)', t);
}

type Constant = { kind: 'number'; value: number; token: Token } | { kind: 'string'; value: string; token: Token } | { kind: 'list'; value: string[]; token: Token };

function parseConstant(s: TokenStream): Constant {
  const t = s.next();
  if (t.kind === 'number') {
    const value = Number(t.value);
    if (!Number.isFinite(value)) fail('the number is not finite', t);
    return { kind: 'number', value, token: t };
  }
  if (t.kind === 'string' || t.kind === 'quoted-name') return { kind: 'string', value: t.value, token: t };
  if (t.kind === 'lparen') {
    const values: string[] = [];
    for (;;) {
      const item = s.next();
      if (item.kind !== 'string') fail('expected a quoted string in the list', item);
      values.push(item.value);
      const sep = s.next();
      if (sep.kind === 'rparen') break;
      if (sep.kind !== 'comma') fail('expected "," or ")" in the list', sep);
    }
    return { kind: 'list', value: values, token: t };
  }
  return fail('expected a value: a number, a quoted string or a parenthesised list of strings', t);
}

/** Which identifiers and comparators a filter context accepts, and how it builds clauses. */
interface ClauseRules<C> {
  what: string;
  build(id: Identifier, comparator: FilterComparator, opToken: Token, value: Constant): C;
}

function parseClauses<C>(input: string, rules: ClauseRules<C>): C[] {
  if (input.trim() === '') return [];
  const s = new TokenStream(tokenize(input));
  const out: C[] = [];
  for (;;) {
    const id = parseIdentifier(s);
    const { comparator, token } = parseComparator(s);
    const value = parseConstant(s);
    out.push(rules.build(id, comparator, token, value));
    const t = s.next();
    if (t.kind === 'end') return out;
    if (t.kind === 'word' && t.value.toUpperCase() === 'AND') {
      if (s.peek().kind === 'end') fail('expected a clause after AND', s.peek());
      continue;
    }
    if (t.kind === 'word' && t.value.toUpperCase() === 'OR') fail('the filter language has no OR (only AND): run one search per alternative', t);
    fail(`expected AND or the end of the ${rules.what}`, t);
  }
}

function requireComparator(allowed: readonly string[], comparator: FilterComparator, token: Token, subject: string): void {
  if (!allowed.includes(comparator)) fail(`${comparator} cannot compare ${subject}: use ${allowed.join(', ')}`, token);
}

function requireNumber(value: Constant, subject: string): number {
  if (value.kind !== 'number') fail(`${subject} compares with a number, not a ${value.kind === 'list' ? 'list' : 'string'}`, value.token);
  return value.value;
}

function requireString(value: Constant, subject: string): string {
  if (value.kind !== 'string') fail(`${subject} compares with a quoted string${value.kind === 'number' ? ` ('${value.token.text}')` : ', not a list'}`, value.token);
  return value.value;
}

function describe(id: Identifier): string {
  return `${ENTITY_PLURAL[id.entity]}.${id.key}`;
}

const runRules: ClauseRules<RunFilterClause> = {
  what: 'filter',
  build(id, comparator, opToken, value) {
    const subject = describe(id);
    if (id.entity === 'metric') {
      requireComparator(NUMERIC_COMPARATORS, comparator, opToken, subject);
      return { entity: 'metric', key: id.key, comparator: comparator as NumericComparator, value: requireNumber(value, subject) };
    }
    if (id.entity === 'param' || id.entity === 'tag') {
      requireComparator(STRING_COMPARATORS, comparator, opToken, subject);
      return { entity: id.entity, key: id.key, comparator: comparator as StringComparator, value: requireString(value, subject) };
    }
    const key = RUN_ATTRIBUTE_ALIASES[id.key] ?? id.key;
    if (RUN_NUMERIC_ATTRIBUTES.includes(key)) {
      requireComparator(NUMERIC_COMPARATORS, comparator, opToken, subject);
      return { entity: 'attribute', key: key as 'start_time' | 'end_time', comparator: comparator as NumericComparator, value: requireNumber(value, `${subject} (milliseconds since the epoch)`) };
    }
    if (key === 'run_id' && (comparator === 'IN' || comparator === 'NOT IN')) {
      if (value.kind !== 'list') fail(`${comparator} needs a parenthesised list of quoted run ids`, value.token);
      return { entity: 'attribute', key: 'run_id', comparator, value: value.value };
    }
    if (RUN_STRING_ATTRIBUTES.includes(key)) {
      requireComparator(key === 'run_id' ? [...STRING_COMPARATORS, ...LIST_COMPARATORS] : STRING_COMPARATORS, comparator, opToken, subject);
      return { entity: 'attribute', key: key as 'run_id' | 'run_name' | 'status', comparator: comparator as StringComparator, value: requireString(value, subject) };
    }
    return fail(`"${id.key}" is not a run attribute: use ${[...RUN_STRING_ATTRIBUTES, ...RUN_NUMERIC_ATTRIBUTES].join(', ')}`, id.token);
  },
};

const experimentRules: ClauseRules<ExperimentFilterClause> = {
  what: 'filter',
  build(id, comparator, opToken, value) {
    const subject = describe(id);
    if (id.entity === 'tag') {
      requireComparator(STRING_COMPARATORS, comparator, opToken, subject);
      return { entity: 'tag', key: id.key, comparator: comparator as StringComparator, value: requireString(value, subject) };
    }
    if (id.entity !== 'attribute') fail(`experiments are filtered by attributes and tags, not ${ENTITY_PLURAL[id.entity]}`, id.token);
    if (EXPERIMENT_NUMERIC_ATTRIBUTES.includes(id.key)) {
      requireComparator(NUMERIC_COMPARATORS, comparator, opToken, subject);
      return { entity: 'attribute', key: id.key as 'creation_time' | 'last_update_time', comparator: comparator as NumericComparator, value: requireNumber(value, subject) };
    }
    if (EXPERIMENT_STRING_ATTRIBUTES.includes(id.key)) {
      requireComparator(STRING_COMPARATORS, comparator, opToken, subject);
      return { entity: 'attribute', key: 'name', comparator: comparator as StringComparator, value: requireString(value, subject) };
    }
    return fail(`"${id.key}" is not an experiment attribute: use ${[...EXPERIMENT_STRING_ATTRIBUTES, ...EXPERIMENT_NUMERIC_ATTRIBUTES].join(', ')}`, id.token);
  },
};

/**
 * Parses a runs filter into its AND-ed clauses (an empty or blank filter: no clauses).
 * Throws {@link MlflowFilterError} naming the column and token of the first problem.
 * @example parseRunFilter("metrics.eval_accuracy > 0.97 and tags.team = 'vision'")
 * // [{ entity: 'metric', key: 'eval_accuracy', comparator: '>', value: 0.97 }, { entity: 'tag', key: 'team', comparator: '=', value: 'vision' }]
 */
export function parseRunFilter(filter: string): RunFilterClause[] {
  return parseClauses(filter, runRules);
}

/**
 * Parses an experiments filter (`name LIKE 'mnist%' and tags.team = 'vision'`).
 * Throws {@link MlflowFilterError} naming the column and token of the first problem.
 */
export function parseExperimentFilter(filter: string): ExperimentFilterClause[] {
  return parseClauses(filter, experimentRules);
}

/**
 * Parses one `order_by` term: an identifier and an optional ASC or DESC (ASC by default).
 * `allowed` lists the entity types the context sorts by; attribute names are checked by the caller.
 * @example parseOrderBy('metrics.rmse DESC') // { entity: 'metric', key: 'rmse', ascending: false }
 */
export function parseOrderBy(term: string, allowed: readonly FilterEntity[] = ['metric', 'param', 'tag', 'attribute']): OrderByTerm {
  try {
    return parseOrderByTerm(term, allowed);
  } catch (err) {
    if (err instanceof MlflowFilterError) throw new MlflowFilterError(err.message.replace(/^invalid filter/, 'invalid order_by'), err.position, err.token);
    throw err;
  }
}

function parseOrderByTerm(term: string, allowed: readonly FilterEntity[]): OrderByTerm {
  const s = new TokenStream(tokenize(term));
  if (s.peek().kind === 'end') fail('the order_by term is empty', s.peek());
  const id = parseIdentifier(s);
  if (!allowed.includes(id.entity)) fail(`cannot order by ${ENTITY_PLURAL[id.entity]} here: use ${allowed.map((e) => ENTITY_PLURAL[e]).join(', ')}`, id.token);
  let ascending = true;
  if (s.isKeyword('ASC') || s.isKeyword('DESC')) ascending = s.next().value.toUpperCase() === 'ASC';
  const end = s.peek();
  if (end.kind !== 'end') fail('expected ASC, DESC or the end of the order_by term', end);
  const key = id.entity === 'attribute' ? (RUN_ATTRIBUTE_ALIASES[id.key] ?? id.key) : id.key;
  return { entity: id.entity, key, ascending };
}

/** The run attributes `order_by` may name (and `created`, MLflow's other name for `start_time`). */
export const RUN_ORDER_ATTRIBUTES: readonly RunAttribute[] = ['start_time', 'end_time', 'run_name', 'status', 'run_id'];

/**
 * Parses one `order_by` term of a runs search; an attribute must be one of {@link RUN_ORDER_ATTRIBUTES}.
 * @example parseRunOrderBy('attributes.start_time DESC') // { entity: 'attribute', key: 'start_time', ascending: false }
 */
export function parseRunOrderBy(term: string): OrderByTerm & { key: string } {
  const parsed = parseOrderBy(term);
  if (parsed.entity === 'attribute' && !(RUN_ORDER_ATTRIBUTES as readonly string[]).includes(parsed.key)) {
    const start = term.search(/\S/) + 1;
    throw new MlflowFilterError(`invalid order_by at column ${start} ("${term.trim()}"): "${parsed.key}" is not a sortable run attribute: use ${RUN_ORDER_ATTRIBUTES.join(', ')}`, start, term.trim());
  }
  return parsed;
}

/**
 * Whether `value` matches a SQL LIKE `pattern` (`%`: any run of characters, `_`: one character,
 * everything else literal); `ignoreCase` for ILIKE.
 * @example matchesLike('resnet-50', 'res%', false) // true
 */
export function matchesLike(value: string, pattern: string, ignoreCase: boolean): boolean {
  let source = '';
  for (const ch of pattern) {
    if (ch === '%') source += '[\\s\\S]*';
    else if (ch === '_') source += '[\\s\\S]';
    else source += ch.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, ignoreCase ? 'iu' : 'u').test(value);
}

/** Compares two strings with a string comparator (`=`, `!=`, `LIKE`, `ILIKE`). */
export function compareString(value: string, comparator: StringComparator, operand: string): boolean {
  switch (comparator) {
    case '=':
      return value === operand;
    case '!=':
      return value !== operand;
    case 'LIKE':
      return matchesLike(value, operand, false);
    case 'ILIKE':
      return matchesLike(value, operand, true);
    default: {
      const never: never = comparator;
      throw new Error(`unknown comparator ${String(never)}`);
    }
  }
}

/** Compares two numbers with a numeric comparator. */
export function compareNumber(value: number, comparator: NumericComparator, operand: number): boolean {
  switch (comparator) {
    case '=':
      return value === operand;
    case '!=':
      return value !== operand;
    case '<':
      return value < operand;
    case '<=':
      return value <= operand;
    case '>':
      return value > operand;
    case '>=':
      return value >= operand;
    default: {
      const never: never = comparator;
      throw new Error(`unknown comparator ${String(never)}`);
    }
  }
}
