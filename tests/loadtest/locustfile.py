"""Locust user for the real-tool tests; a request listener keeps the ground-truth record.

Every request Locust reports is appended to ``$RECORD_FILE`` (name, method, exact response time in
ms, failed or not) so the test can check the ingested numbers against Locust's own per-request events.
"""

import json
import os

from locust import HttpUser, constant, events, task

_record = open(os.environ["RECORD_FILE"], "a", encoding="utf-8")


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception, **_kwargs):
    line = {"method": request_type, "name": name, "ms": response_time, "failed": exception is not None}
    _record.write(json.dumps(line) + "\n")
    _record.flush()


class Visitor(HttpUser):
    wait_time = constant(0)

    @task
    def visit(self):
        self.client.get("/fast", name="fast")
        self.client.get("/slow", name="slow")
        self.client.get("/missing", name="missing")
        self.client.get("/redirect", name="redirect")
