"""gatepack's documented Python API: thin re-exports, so library users need not know the layout.

>>> import gatepack
>>> gates = gatepack.load_spec_files([Path("gates/checkout.yaml")])      # doctest: +SKIP
>>> source = gatepack.PrometheusSource(gatepack.PrometheusClient(gatepack.HttpConfig(url=URL)))  # doctest: +SKIP
>>> outcome = gatepack.collect(gates, gatepack.CollectOptions(at=time.time(), sources=[source]))  # doctest: +SKIP
>>> gatepack.verify_bytes(outcome.written[0].read_bytes()).ok          # doctest: +SKIP
>>> document = json.loads(outcome.written[0].read_bytes())             # doctest: +SKIP
>>> [q["query"] for c in gatepack.checks_of(document) for q in c["queries"]]  # 1.0.0 or 2.0.0  # doctest: +SKIP

Everything here keeps its name across minor versions; anything imported from ``slo.*`` or
``collector.*`` directly may move.
"""

from collector.catalog import catalog_gates, load_catalog
from collector.run import CollectOptions, CollectOutcome, GateRun, build_packet, collect, evaluate_gate
from collector.sources.base import RunContext, Source
from collector.sources.http import HttpConfig, HttpTransport
from collector.sources.prometheus.client import PrometheusClient
from collector.sources.prometheus.source import PrometheusSource
from collector.specs import LoadedGate, load_spec_files
from slo import __version__
from slo.errors import GatepackError, InputError
from slo.evidence import SCHEMA_VERSION, EvidencePacket, packet_document, seal, to_canonical_json, verify_bytes
from slo.loader import SpecError, load_gates
from slo.results import CheckResult, Verdict
from slo.spec import Gate
from slo.wire import checks_of, outcomes_of

__all__ = [
    "SCHEMA_VERSION",
    "CheckResult",
    "CollectOptions",
    "CollectOutcome",
    "EvidencePacket",
    "Gate",
    "GateRun",
    "GatepackError",
    "HttpConfig",
    "HttpTransport",
    "InputError",
    "LoadedGate",
    "PrometheusClient",
    "PrometheusSource",
    "RunContext",
    "Source",
    "SpecError",
    "Verdict",
    "__version__",
    "build_packet",
    "catalog_gates",
    "checks_of",
    "collect",
    "evaluate_gate",
    "load_catalog",
    "load_gates",
    "load_spec_files",
    "outcomes_of",
    "packet_document",
    "seal",
    "to_canonical_json",
    "verify_bytes",
]
