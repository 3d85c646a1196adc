import { describe, expect, it } from 'vitest';
import { MlflowFilterError, matchesLike, parseExperimentFilter, parseOrderBy, parseRunFilter, parseRunOrderBy } from '../../../core/api/mlflow-filter.ts';

/** The error a bad filter throws (fails the test when it parses). */
function filterError(filter: string, parse: (f: string) => unknown = parseRunFilter): MlflowFilterError {
  try {
    parse(filter);
  } catch (err) {
    if (err instanceof MlflowFilterError) return err;
    throw err;
  }
  throw new Error(`filter ${JSON.stringify(filter)} parsed, expected an error`);
}

describe('parseRunFilter: good filters', () => {
  it('parses the issue example into four AND-ed clauses of each entity type', () => {
    expect(parseRunFilter("metrics.eval_accuracy > 0.97 and params.optimizer.name = 'adam' and tags.team = 'vision' and attributes.status = 'finished'")).toEqual([
      { entity: 'metric', key: 'eval_accuracy', comparator: '>', value: 0.97 },
      { entity: 'param', key: 'optimizer.name', comparator: '=', value: 'adam' },
      { entity: 'tag', key: 'team', comparator: '=', value: 'vision' },
      { entity: 'attribute', key: 'status', comparator: '=', value: 'finished' },
    ]);
  });

  it('is empty for an empty or blank filter', () => {
    expect(parseRunFilter('')).toEqual([]);
    expect(parseRunFilter('   \n ')).toEqual([]);
  });

  it('reads every numeric comparator and number form on metrics', () => {
    const ops = ['=', '!=', '<', '<=', '>', '>='] as const;
    for (const op of ops) expect(parseRunFilter(`metrics.loss ${op} 1`)).toEqual([{ entity: 'metric', key: 'loss', comparator: op, value: 1 }]);
    expect(parseRunFilter('metrics.loss<-1.5e-3')[0]).toMatchObject({ comparator: '<', value: -0.0015 });
    expect(parseRunFilter('metrics.loss >= .5')[0]).toMatchObject({ value: 0.5 });
    expect(parseRunFilter('metrics.loss > +2')[0]).toMatchObject({ value: 2 });
  });

  it('quotes keys with special characters in backquotes or double quotes, keys with dots unquoted', () => {
    expect(parseRunFilter("params.`optimizer.name` = 'adam'")[0]).toMatchObject({ entity: 'param', key: 'optimizer.name' });
    expect(parseRunFilter('metrics."val loss" < 0.3')[0]).toMatchObject({ entity: 'metric', key: 'val loss' });
    expect(parseRunFilter("tags.`user-name` = 'Tomas'")[0]).toMatchObject({ entity: 'tag', key: 'user-name' });
    expect(parseRunFilter("tags.mlflow.parentRunId = 'abc'")[0]).toMatchObject({ entity: 'tag', key: 'mlflow.parentRunId' });
    expect(parseRunFilter('metrics.`a``b` > 1')[0]).toMatchObject({ key: 'a`b' });
  });

  it('takes single- or double-quoted string values, with doubled quotes as escapes', () => {
    expect(parseRunFilter('params.model = "LogisticRegression"')[0]).toMatchObject({ value: 'LogisticRegression' });
    expect(parseRunFilter("tags.note = 'it''s'")[0]).toMatchObject({ value: "it's" });
    expect(parseRunFilter("tags.note = ''")[0]).toMatchObject({ value: '' });
  });

  it('accepts keywords in any case and every entity alias', () => {
    expect(parseRunFilter("metric.a > 1 AND param.b like 'x%' And tag.c ILIKE '%Y' and attr.run_name != 'z'")).toEqual([
      { entity: 'metric', key: 'a', comparator: '>', value: 1 },
      { entity: 'param', key: 'b', comparator: 'LIKE', value: 'x%' },
      { entity: 'tag', key: 'c', comparator: 'ILIKE', value: '%Y' },
      { entity: 'attribute', key: 'run_name', comparator: '!=', value: 'z' },
    ]);
    expect(parseRunFilter("parameters.lr = '0.1' and run.status = 'RUNNING'")).toHaveLength(2);
  });

  it('reads bare attribute names, MLflow aliases, times in ms and run_id lists', () => {
    expect(parseRunFilter("status = 'FAILED'")).toEqual([{ entity: 'attribute', key: 'status', comparator: '=', value: 'FAILED' }]);
    expect(parseRunFilter('attributes.created >= 1700000000000')).toEqual([{ entity: 'attribute', key: 'start_time', comparator: '>=', value: 1700000000000 }]);
    expect(parseRunFilter('attributes.end_time < 5')[0]).toMatchObject({ key: 'end_time', comparator: '<', value: 5 });
    expect(parseRunFilter("attributes.run_id IN ('a', 'b')")).toEqual([{ entity: 'attribute', key: 'run_id', comparator: 'IN', value: ['a', 'b'] }]);
    expect(parseRunFilter("attributes.run_id not in ('a')")[0]).toMatchObject({ comparator: 'NOT IN', value: ['a'] });
    expect(parseRunFilter(`"run name" = 'x'`)[0]).toMatchObject({ entity: 'attribute', key: 'run_name' });
  });
});

describe('parseRunFilter: bad filters name the column and token', () => {
  it('refuses OR, pointing at it', () => {
    const err = filterError("metrics.a > 1 or metrics.b > 2");
    expect(err.position).toBe(15);
    expect(err.token).toBe('or');
    expect(err.message).toMatch(/column 15 \("or"\).*no OR/);
  });

  it('refuses an unknown entity type, naming the valid ones', () => {
    const err = filterError("metricz.a > 1");
    expect(err.position).toBe(1);
    expect(err.message).toMatch(/"metricz" is not an entity type: use metrics, params, tags or attributes/);
    expect(filterError("datasets.name = 'x'").message).toMatch(/dataset filters are not supported/);
  });

  it('refuses a string for a metric and a number for a param or tag', () => {
    expect(filterError("metrics.a > '1'").message).toMatch(/column 13 \("'1'"\): metrics\.a compares with a number/);
    const err = filterError('params.lr = 0.1');
    expect(err.token).toBe('0.1');
    expect(err.message).toMatch(/params\.lr compares with a quoted string \('0\.1'\)/);
  });

  it('refuses comparators that do not fit the entity', () => {
    expect(filterError("params.lr > '0.1'").message).toMatch(/column 11 \(">"\): > cannot compare params\.lr: use =, !=, LIKE, ILIKE/);
    expect(filterError("metrics.a LIKE 1").message).toMatch(/LIKE cannot compare metrics\.a/);
    expect(filterError("tags.a IN ('x')").message).toMatch(/IN cannot compare tags\.a/);
    expect(filterError("metrics.a == 1").message).toMatch(/"==" is not a comparator: use =/);
    expect(filterError("metrics.a <> 1").message).toMatch(/use !=/);
  });

  it('refuses unknown attributes, naming the supported ones', () => {
    expect(filterError("attributes.artifact_uri = 'x'").message).toMatch(/"artifact_uri" is not a run attribute: use run_id, run_name, status, start_time, end_time/);
    expect(filterError("attributes.start_time > 'yesterday'").message).toMatch(/milliseconds since the epoch/);
  });

  it('reports the end of input, a dangling AND, an unclosed quote and stray characters', () => {
    const end = filterError('metrics.a >');
    expect(end.position).toBe(12);
    expect(end.token).toBe('');
    expect(end.message).toMatch(/the end of the filter.*expected a value/);
    expect(filterError('metrics.a > 1 and').message).toMatch(/expected a clause after AND/);
    expect(filterError("tags.a = 'open").message).toMatch(/column 10 \('\): the quote opened here is never closed/);
    expect(filterError('metrics.a > 1 ; drop').message).toMatch(/column 15 \(";"\): unexpected character/);
    expect(filterError('metrics.a > 1 metrics.b > 2').message).toMatch(/column 15 \("metrics"\): expected AND or the end/);
    expect(filterError('metrics. > 1').message).toMatch(/expected a key after "metrics\."/);
    expect(filterError('metrics.`` > 1').message).toMatch(/key is empty/);
    expect(filterError('(metrics.a > 1)').message).toMatch(/column 1 \("\("\): expected an identifier/);
    expect(filterError("attributes.run_id IN ('a' 'b')").message).toMatch(/expected "," or "\)"/);
  });
});

describe('parseExperimentFilter', () => {
  it('parses names, times and tags', () => {
    expect(parseExperimentFilter("name LIKE 'mnist%' and tags.team = 'vision' and attributes.creation_time > 5")).toEqual([
      { entity: 'attribute', key: 'name', comparator: 'LIKE', value: 'mnist%' },
      { entity: 'tag', key: 'team', comparator: '=', value: 'vision' },
      { entity: 'attribute', key: 'creation_time', comparator: '>', value: 5 },
    ]);
  });

  it('refuses metrics and unknown attributes', () => {
    expect(filterError('metrics.a > 1', parseExperimentFilter).message).toMatch(/experiments are filtered by attributes and tags, not metrics/);
    expect(filterError("attributes.status = 'x'", parseExperimentFilter).message).toMatch(/"status" is not an experiment attribute/);
  });
});

describe('order_by terms', () => {
  it('reads entity, key and direction (ASC by default)', () => {
    expect(parseOrderBy('metrics.rmse DESC')).toEqual({ entity: 'metric', key: 'rmse', ascending: false });
    expect(parseOrderBy('params.`optimizer.name`')).toEqual({ entity: 'param', key: 'optimizer.name', ascending: true });
    expect(parseRunOrderBy('attributes.created asc')).toEqual({ entity: 'attribute', key: 'start_time', ascending: true });
    expect(parseRunOrderBy('start_time DESC')).toEqual({ entity: 'attribute', key: 'start_time', ascending: false });
  });

  it('refuses unknown attributes, trailing words and empty terms', () => {
    expect(() => parseRunOrderBy('attributes.colour')).toThrow(/invalid order_by at column 1 .*"colour" is not a sortable run attribute/);
    expect(() => parseOrderBy('metrics.a DESC extra')).toThrow(/invalid order_by at column 16 \("extra"\): expected ASC, DESC/);
    expect(() => parseOrderBy('  ')).toThrow(/order_by term is empty/);
  });
});

describe('matchesLike', () => {
  it('treats % and _ as wildcards and everything else (regex characters too) literally', () => {
    expect(matchesLike('resnet-50', 'res%', false)).toBe(true);
    expect(matchesLike('resnet-50', 'res_et-5_', false)).toBe(true);
    expect(matchesLike('resnet-50', 'RES%', false)).toBe(false);
    expect(matchesLike('resnet-50', 'RES%', true)).toBe(true);
    expect(matchesLike('a.c', 'a.c', false)).toBe(true);
    expect(matchesLike('abc', 'a.c', false)).toBe(false);
    expect(matchesLike('x(1)+[2]', 'x(1)+[2]', false)).toBe(true);
    expect(matchesLike('multi\nline', 'multi%', false)).toBe(true);
    expect(matchesLike('ab', 'a', false)).toBe(false);
  });
});
