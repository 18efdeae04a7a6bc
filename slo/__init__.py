"""gatepack's pure core: gate spec models, SLO math, verdicts and the evidence model.

Nothing in this package talks to the network or opens files on its own; callers hand it text and
measurements and get models back. That keeps every number in an evidence packet reproducible from the
packet's own inputs.
"""

__version__ = "0.1.0"
