// A short k6 load test against the service under test (BASE_URL, default http://127.0.0.1:8080).
// No k6 thresholds on purpose: gatepack decides the gate from the results (examples/ci/loadtest-gate.yaml),
// so k6 exits 0 unless the test itself breaks, and a broken test fails the CI step.
import http from 'k6/http';
import { check } from 'k6';

const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: Number(__ENV.RATE || 30), timeUnit: '1s',
      duration: __ENV.DURATION || '15s',
      preAllocatedVUs: 5, maxVUs: 20,
    },
  },
};

export default function () {
  const fast = http.get(`${BASE}/fast`, { tags: { name: 'fast' } });
  check(fast, { 'fast is 200': (r) => r.status === 200 });
  const slow = http.get(`${BASE}/slow`, { tags: { name: 'slow' } });
  check(slow, { 'slow is 200': (r) => r.status === 200 });
}
