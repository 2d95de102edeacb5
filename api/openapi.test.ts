// The OpenAPI document is valid 3.1 (swagger-parser) and clean under Redocly's recommended lint.
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import { redoclyLint } from '../test/redocly-lint';
import { openApiDocument } from './openapi';

const copy = () => structuredClone(openApiDocument()) as OpenAPIV3_1.Document;

test('the document is valid OpenAPI 3.1 for swagger-parser', async () => {
  const api = (await SwaggerParser.validate(copy())) as OpenAPIV3_1.Document;
  expect(api.openapi).toBe('3.1.0');
});

test('Redocly recommended lint reports no error and no warning', async () => {
  const report = await redoclyLint(openApiDocument());
  expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
  expect(report).toMatchObject({ errors: 0, warnings: 0 });
}, 60_000);

test('every operation has an operationId, a security requirement and a 4xx response', () => {
  const paths = copy().paths ?? {};
  const operations = Object.entries(paths).flatMap(([path, item]) =>
    (['get', 'post', 'put', 'patch', 'delete'] as const)
      .filter((m) => item?.[m])
      .map((m) => ({ path, method: m, op: item![m]! })),
  );
  expect(operations.length).toBeGreaterThan(15);
  for (const { path, method, op } of operations) {
    expect({ path, method, operationId: op.operationId }).toEqual({
      path,
      method,
      operationId: expect.any(String),
    });
    expect(op.security ?? copy().security).toBeDefined();
    expect(Object.keys(op.responses ?? {}).some((s) => s.startsWith('4'))).toBe(true);
    if (method === 'post') expect(op.security).toEqual([{ bearer: [] }]);
  }
  expect(JSON.stringify(copy())).not.toContain('"nullable"');
});
