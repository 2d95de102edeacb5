// Metric names referenced by PromQL expressions (Grafana panels, Prometheus rules), so a test
// can check that each one is really exported. Handles what our dashboards use: selectors with
// label matchers, range vectors, aggregations with by/without, functions and binary operators.
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' '); // numbers
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const name = m[0].replace(/\s*\($/, '');
    if (m[1] !== undefined || KEYWORDS.has(name.toLowerCase())) continue; // a function call
    names.add(name);
  }
  return [...names];
}

/** Names of the series in a Prometheus text exposition (with their _bucket/_sum/_count). */
export function exposedMetricNames(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0])
      .filter((name): name is string => name !== undefined),
  );
}
