import { exposedMetricNames, promqlMetricNames } from './promql';

test('metric names are found in selectors, aggregations and binary expressions', () => {
  expect(
    promqlMetricNames(
      'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!="x"}[$__rate_interval]))) > 1',
    ),
  ).toEqual(['http_request_duration_seconds_bucket']);
  expect(
    promqlMetricNames(
      'max by (projection) (projection_lag_seconds) > 30 or max by (projection) (projection_lag_events) > 1e4',
    ),
  ).toEqual(['projection_lag_seconds', 'projection_lag_events']);
  expect(promqlMetricNames('sum(rate(a_total[5m])) * 60 / on (job) group_left b')).toEqual([
    'a_total',
    'b',
  ]);
});

test('exposed names come from sample lines, not from comments', () => {
  const text = '# HELP x_total x\n# TYPE x_total counter\nx_total{a="1"} 2\ny_bucket{le="1"} 0\n';
  expect([...exposedMetricNames(text)]).toEqual(['x_total', 'y_bucket']);
});
