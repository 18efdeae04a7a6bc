"""A grouped query whose request fails is asked again in smaller groups, not member by member.

A group of a thousand values answers with a thousand series; a backend or proxy may refuse or time out
on that where groups of a hundred pass. Here the failure is real and deterministic: a real Prometheus
answers, and the client's own response-size bound (``max_response_bytes``) refuses the answer of the
large group but not those of small ones. The values must be the ones each service's own query gives
(computed here from the generated counters), and the requests the server counted must be the failed
group plus the smaller groups, far fewer than one per member.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from collector.sources.prometheus.client import PrometheusClient, PrometheusConfig
from collector.sources.prometheus.grouping import GroupingClient
from collector.testing.openmetrics import Family, Series
from collector.testing.promserver import running_prometheus

pytestmark = pytest.mark.integration

END = 1_767_225_600
SERVICES = 24
PER_MINUTE = {f"svc-{i:02d}": 10.0 + i for i in range(SERVICES)}  # requests a minute, constant
RETRY = 6
MAX_BYTES = 800  # an answer of 24 series is ~1.5 KB, one of 6 ~0.4 KB


def families() -> list[Family]:
    stamps = np.arange(END - 3 * 3600, END + 1, 60, dtype=np.float64)
    minutes = (stamps - stamps[0]) / 60
    family = Family("retry_requests", "counter", "requests")
    for name, rate in PER_MINUTE.items():
        family.series.append(Series("retry_requests_total", {"service": name}, stamps, minutes * rate))
    return [family]


def query(name: str) -> str:
    return f'sum(increase(retry_requests_total{{service="{name}"}}[1h]))'


def requests_served(url: str) -> int:
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line
        )
    )


@pytest.fixture(scope="module")
def prometheus():
    with running_prometheus(families()) as server:
        yield server


def answer(url: str, retry_values: int) -> list:
    queries = [query(name) for name in PER_MINUTE]

    async def go() -> list:
        async with PrometheusClient(PrometheusConfig(url=url, max_retries=0, max_response_bytes=MAX_BYTES)) as client:
            grouper = GroupingClient(client, END, max_values=SERVICES, retry_values=retry_values)
            grouper.add(queries)
            return await grouper.answer_all(queries)

    return asyncio.run(go())


def test_a_refused_group_is_split_and_every_value_is_the_member_s_own(prometheus):
    before = requests_served(prometheus.url)
    answers = answer(prometheus.url, RETRY)
    sent = requests_served(prometheus.url) - before
    assert sent == 1 + SERVICES // RETRY  # the refused group, then four groups of six
    for name, response in zip(PER_MINUTE, answers, strict=True):
        assert response.status == "ok" and response.selected == {"service": name}
        [sample] = response.result
        # increase() over an hour of a counter rising PER_MINUTE a minute, sampled each minute: 60 × rate
        assert float(sample["value"][1]) == pytest.approx(60 * PER_MINUTE[name], rel=1e-9)
        assert 'service=~"' in response.query and response.query.count("|") == RETRY - 1


def test_without_a_smaller_size_the_members_go_alone(prometheus):
    """The refusal is real: without the split every member is sent on its own (what the retry avoids)."""
    before = requests_served(prometheus.url)
    answers = answer(prometheus.url, 0)
    assert requests_served(prometheus.url) - before == 1 + SERVICES
    assert [float(r.result[0]["value"][1]) for r in answers] == pytest.approx([60 * r for r in PER_MINUTE.values()])
