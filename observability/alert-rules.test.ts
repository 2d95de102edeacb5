// The Prometheus alert rules shipped with docker-compose.yml, tested by Prometheus's own tool:
// `promtool test rules deploy/prometheus/alerts.test.yml` (each alert fires on the series that
// should fire it and stays quiet otherwise). .ci/run installs promtool, so under CI a missing
// one fails here instead of passing unchecked.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

const dir = path.join(__dirname, '..', 'deploy', 'prometheus');

interface RuleTests {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

function promtool(): string | undefined {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.error === undefined && found.status === 0 ? 'promtool' : undefined;
}

test('every alert in alerts.yml has a case where it fires and one where it does not', () => {
  const rules = parseYaml(fs.readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as {
    groups: { rules: { alert: string }[] }[];
  };
  const tests = parseYaml(fs.readFileSync(path.join(dir, 'alerts.test.yml'), 'utf8')) as RuleTests;
  expect(tests.rule_files).toEqual(['alerts.yml']);
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  const untested = rules.groups
    .flatMap((g) => g.rules.map((r) => r.alert))
    .filter(
      (alert) =>
        !cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) ||
        !cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
    );
  expect(untested).toEqual([]);
});

test('promtool test rules passes on alerts.test.yml', () => {
  const tool = promtool();
  if (tool === undefined) {
    // .ci/run installs it (the Debian package prometheus): in CI, its absence is a failure.
    if (process.env.CI === 'true')
      throw new Error('promtool is not on PATH (apt-get install prometheus)');
    process.stderr.write('promtool is not on PATH: the alert rules were not run through it\n');
    return;
  }
  const run = spawnSync(tool, ['test', 'rules', 'alerts.test.yml'], {
    cwd: dir,
    encoding: 'utf8',
  });
  expect(`${run.stdout}${run.stderr}`).toMatch(/SUCCESS/);
  expect(run.status).toBe(0);
});
