// k6 script for the real-tool tests: four endpoints per iteration (one redirects, one 404s, one
// sometimes 500s), named with the `name` tag, and a custom time Trend.
import http from 'k6/http';
import exec from 'k6/execution';
import { Trend } from 'k6/metrics';

const waiting = new Trend('custom_wait', true);

export const options = {
  scenarios: { main: { executor: 'shared-iterations', vus: 4, iterations: Number(__ENV.ITERATIONS || 60) } },
  thresholds: {
    http_req_duration: ['p(95)<1000'],
    'http_req_duration{name:fast}': ['p(99)<500'],
    http_req_failed: ['rate<0.01'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'],
};

export function setup() {
  if (__ENV.ABORT) {
    exec.test.abort('aborted on purpose by the test');
  }
}

export default function () {
  const base = __ENV.BASE;
  const fast = http.get(`${base}/fast`, { tags: { name: 'fast' } });
  waiting.add(fast.timings.waiting);
  http.get(`${base}/slow`, { tags: { name: 'slow' } });
  http.get(`${base}/redirect`, { tags: { name: 'redirect' } });
  http.get(`${base}/missing`, { tags: { name: 'missing' } });
}

export function handleSummary(data) {
  return { [__ENV.HANDLE_SUMMARY]: JSON.stringify(data) };
}
