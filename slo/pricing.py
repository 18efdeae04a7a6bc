"""GenAI price tables: gatepack's own YAML and importers for LiteLLM's and Langfuse's price files. Pure.

Every format becomes one :class:`PriceTable` of USD **per token** (ours is written per 1M tokens, as
providers publish; OpenLIT-style per-1K tables are a known trap and not accepted silently). A model is
found by exact name first, then by regex in file order; a name with several effective dates takes the
newest one not after the span. Nothing here guesses: an unknown model has no price, and the caller
names it in the reason instead of pricing it as zero.

Tokens follow the OpenTelemetry GenAI conventions: ``gen_ai.usage.input_tokens`` counts *all* input
tokens, cached ones included (``gen_ai.usage.cache_read.input_tokens``, and cache writes
``gen_ai.usage.cache_creation.input_tokens``), so cached tokens are priced at the cached rate and only
the rest at the input rate. The older ``prompt_tokens``/``completion_tokens`` names are accepted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slo.errors import InputError

INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ_KEYS = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cached_input_tokens")
CACHE_WRITE_KEYS = ("gen_ai.usage.cache_creation.input_tokens",)
MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model")
PER_MILLION = 1_000_000


class PricingError(InputError):
    """A price table gatepack cannot use."""


@dataclass(frozen=True)
class Rates:
    """USD per token."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True)
class ModelPrice:
    name: str
    pattern: re.Pattern[str] | None
    rates: Rates
    effective: dt.date | None = None
    large_context_above: int | None = None
    """Input tokens above which ``large_context`` rates apply (Gemini/Claude long-context pricing)."""
    large_context: Rates | None = None

    def rates_for(self, input_tokens: float) -> Rates:
        if self.large_context is not None and self.large_context_above is not None:
            if input_tokens > self.large_context_above:
                return self.large_context
        return self.rates


@dataclass(frozen=True)
class Usage:
    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0

    @property
    def tokens(self) -> float:
        return self.input + self.output


def cost_of(usage: Usage, rates: Rates) -> float:
    """USD for one call: cached input at its own rates, the remaining input and the output at theirs."""
    cache_read = min(usage.cache_read, usage.input)
    cache_write = min(usage.cache_write, usage.input - cache_read)
    fresh = usage.input - cache_read - cache_write
    read_rate = rates.input if rates.cache_read is None else rates.cache_read
    write_rate = rates.input if rates.cache_write is None else rates.cache_write
    return fresh * rates.input + cache_read * read_rate + cache_write * write_rate + usage.output * rates.output


@dataclass(frozen=True)
class PriceTable:
    prices: tuple[ModelPrice, ...]
    format: str
    """gatepack, litellm or langfuse: recorded in the packet next to the file's digest."""

    def __post_init__(self) -> None:
        exact: dict[str, list[ModelPrice]] = {}
        for price in self.prices:
            if price.pattern is None:
                exact.setdefault(price.name, []).append(price)
        for entries in exact.values():
            entries.sort(key=lambda p: p.effective or dt.date.min, reverse=True)
        object.__setattr__(self, "_exact", exact)
        object.__setattr__(self, "_patterns", [p for p in self.prices if p.pattern is not None])
        object.__setattr__(self, "_cache", {})

    def lookup(self, model: str, day: dt.date | None = None) -> ModelPrice | None:
        """The price in force for ``model`` on ``day`` (exact names before regexes); None when unknown."""
        key = (model, day)
        cache: dict[tuple[str, dt.date | None], ModelPrice | None] = self._cache  # type: ignore[attr-defined]
        if key in cache:
            return cache[key]
        found = _in_force(self._exact.get(model, []), day)  # type: ignore[attr-defined]
        if found is None:
            matching = [p for p in self._patterns if p.pattern and p.pattern.search(model)]  # type: ignore[attr-defined]
            found = _in_force(matching, day)
        cache[key] = found
        return found


def _in_force(candidates: list[ModelPrice], day: dt.date | None) -> ModelPrice | None:
    if not candidates:
        return None
    if day is None:
        return candidates[0]
    dated = [p for p in candidates if p.effective is None or p.effective <= day]
    if not dated:
        return None
    undated = [p for p in dated if p.effective is None]
    with_date = sorted((p for p in dated if p.effective is not None), key=lambda p: p.effective, reverse=True)  # type: ignore[arg-type, return-value]
    return (with_date or undated)[0]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


class UsageError(ValueError):
    """A GenAI span whose token counts are not usable numbers."""


def usage_of(attributes: Mapping[str, Any]) -> Usage | None:
    """Token usage of a GenAI span; None when it reports none; :class:`UsageError` when it is malformed."""

    def pick(keys: tuple[str, ...]) -> float | None:
        for key in keys:
            if key in attributes and attributes[key] is not None:
                value = _number(attributes[key])
                if value is None or value < 0:
                    raise UsageError(f"{key}={attributes[key]!r} is not a token count")
                return value
        return None

    input_, output = pick(INPUT_KEYS), pick(OUTPUT_KEYS)
    if input_ is None and output is None:
        return None
    return Usage(
        input=input_ or 0.0,
        output=output or 0.0,
        cache_read=pick(CACHE_READ_KEYS) or 0.0,
        cache_write=pick(CACHE_WRITE_KEYS) or 0.0,
    )


# --- our format -------------------------------------------------------------------------------


class _PriceEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="Exact model name")
    match: str | None = Field(None, description="Regex searched in the model name (when no exact name matches)")
    input: float = Field(ge=0, description="USD per 1M input tokens")
    output: float = Field(ge=0, description="USD per 1M output tokens")
    cached_input: float | None = Field(None, ge=0, description="USD per 1M cache-read input tokens")
    cache_write: float | None = Field(None, ge=0, description="USD per 1M cache-write input tokens")
    effective: dt.date | None = Field(None, description="First day (UTC) this price applies")

    @model_validator(mode="after")
    def _one_name(self) -> _PriceEntry:
        if (self.model is None) == (self.match is None):
            raise ValueError("give exactly one of 'model' (exact name) or 'match' (regex)")
        if self.match is not None:
            try:
                re.compile(self.match)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.match!r}: {exc}") from None
        return self


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    api_version: str = Field("gatepack/v1", alias="apiVersion")
    kind: str = "PriceTable"
    currency: str = "USD"
    unit: str = Field("per_1m_tokens", description="Only per_1m_tokens: say so, because tables differ (OpenLIT: 1K)")
    models: list[_PriceEntry] = Field(min_length=1)


def gatepack_table(document: Any, source: str) -> PriceTable:
    try:
        parsed = _PriceFile.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PricingError(first["msg"], source=source, field=where or None) from None
    if parsed.currency != "USD":
        raise PricingError(f"currency {parsed.currency!r}: only USD tables are supported", source=source)
    if parsed.unit != "per_1m_tokens":
        raise PricingError(f"unit {parsed.unit!r}: write prices per_1m_tokens", source=source)
    prices = []
    for entry in parsed.models:
        rates = Rates(
            input=entry.input / PER_MILLION,
            output=entry.output / PER_MILLION,
            cache_read=None if entry.cached_input is None else entry.cached_input / PER_MILLION,
            cache_write=None if entry.cache_write is None else entry.cache_write / PER_MILLION,
        )
        pattern = re.compile(entry.match) if entry.match is not None else None
        prices.append(ModelPrice(entry.model or entry.match or "", pattern, rates, entry.effective))
    return PriceTable(tuple(prices), "gatepack")


# --- LiteLLM: {"model": {"input_cost_per_token": …, "output_cost_per_token": …}, "sample_spec": {…}} ----


def litellm_table(document: Any, source: str) -> PriceTable:
    if not isinstance(document, dict):
        raise PricingError("a LiteLLM price file is a JSON object of models", source=source)
    prices = []
    for name, entry in document.items():
        if name == "sample_spec" or not isinstance(entry, dict):
            continue  # the field documentation, not a model
        input_, output = _number(entry.get("input_cost_per_token")), _number(entry.get("output_cost_per_token"))
        if input_ is None and output is None:
            continue  # image/audio/per-call models have no token prices
        rates = Rates(
            input=input_ or 0.0,
            output=output or 0.0,
            cache_read=_number(entry.get("cache_read_input_token_cost")),
            cache_write=_number(entry.get("cache_creation_input_token_cost")),
        )
        large = None
        above_in = _number(entry.get("input_cost_per_token_above_200k_tokens"))
        if above_in is not None:
            large = Rates(
                input=above_in,
                output=_number(entry.get("output_cost_per_token_above_200k_tokens")) or rates.output,
                cache_read=_number(entry.get("cache_read_input_token_cost_above_200k_tokens")) or rates.cache_read,
                cache_write=_number(entry.get("cache_creation_input_token_cost_above_200k_tokens"))
                or rates.cache_write,
            )
        prices.append(ModelPrice(str(name), None, rates, None, 200_000 if large else None, large))
    if not prices:
        raise PricingError("no model with token prices in this LiteLLM file", source=source)
    return PriceTable(tuple(prices), "litellm")


# --- Langfuse: [{"modelName", "matchPattern", "pricingTiers": [{"isDefault", "conditions", "prices"}]}] ----

_LANGFUSE_INPUT = ("input", "input_tokens", "prompt_tokens")
_LANGFUSE_OUTPUT = ("output", "output_tokens", "completion_tokens")
_LANGFUSE_CACHE_READ = ("input_cache_read", "input_cached_tokens", "cache_read_input_tokens")
_LANGFUSE_CACHE_WRITE = ("input_cache_creation", "cache_creation_input_tokens")


def _first(prices: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = _number(prices.get(key))
        if value is not None:
            return value
    return None


def _langfuse_rates(prices: Any) -> Rates | None:
    if not isinstance(prices, dict):
        return None
    total = _number(prices.get("total"))
    input_, output = _first(prices, _LANGFUSE_INPUT), _first(prices, _LANGFUSE_OUTPUT)
    if input_ is None and output is None:
        if total is None:
            return None
        input_ = output = total  # embeddings: one price for every token
    return Rates(
        input=input_ or 0.0,
        output=output or 0.0,
        cache_read=_first(prices, _LANGFUSE_CACHE_READ),
        cache_write=_first(prices, _LANGFUSE_CACHE_WRITE),
    )


def langfuse_table(document: Any, source: str) -> PriceTable:
    if not isinstance(document, list):
        raise PricingError("a Langfuse price file is a JSON list of models", source=source)
    prices = []
    for index, entry in enumerate(document):
        if not isinstance(entry, dict) or not isinstance(entry.get("modelName"), str):
            raise PricingError("entry has no modelName", source=source, field=f"[{index}]")
        tiers = entry.get("pricingTiers") or []
        if not isinstance(tiers, list):
            raise PricingError("pricingTiers must be a list", source=source, field=f"[{index}]")
        tiers = [t for t in tiers if isinstance(t, dict)]
        default = next((t for t in tiers if t.get("isDefault")), None)
        rates = _langfuse_rates(default.get("prices") if default else entry.get("prices"))
        if rates is None:
            raise PricingError("no token prices", source=source, field=f"[{index}] {entry['modelName']}")
        large_above, large = None, None
        for tier in tiers:
            # only the usage-size tier is a property of the tokens; service-tier conditions need request params
            conditions = tier.get("conditions") or []
            if not (isinstance(conditions, list) and len(conditions) == 1 and isinstance(conditions[0], dict)):
                continue
            condition = conditions[0]
            threshold = _number(condition.get("value"))
            if condition.get("operator") != "gt" or threshold is None or "usageDetailPattern" not in condition:
                continue
            try:
                applies = re.search(str(condition["usageDetailPattern"]), "input", re.IGNORECASE) is not None
            except re.error:
                raise PricingError("usageDetailPattern does not compile", source=source, field=f"[{index}]") from None
            if applies:
                large_above, large = int(threshold), _langfuse_rates(tier.get("prices"))
        pattern_text = entry.get("matchPattern")
        try:
            pattern = _langfuse_pattern(pattern_text) if isinstance(pattern_text, str) else None
        except re.error as exc:
            raise PricingError(f"matchPattern does not compile: {exc}", source=source, field=f"[{index}]") from None
        prices.append(ModelPrice(entry["modelName"], pattern, rates, None, large_above, large))
    return PriceTable(tuple(prices), "langfuse")


def _langfuse_pattern(text: str) -> re.Pattern[str]:
    """Langfuse writes Postgres regexes with a leading ``(?i)``; Python wants it as a flag."""
    flags = 0
    if text.startswith("(?i)"):
        text, flags = text[4:], re.IGNORECASE
    return re.compile(text, flags)


def detect_table(document: Any, source: str) -> PriceTable:
    """Ours (``models:`` list), LiteLLM (object of ``*_cost_per_token``) or Langfuse (list with ``modelName``)."""
    if isinstance(document, dict) and "models" in document:
        return gatepack_table(document, source)
    if isinstance(document, list):
        return langfuse_table(document, source)
    if isinstance(document, dict):
        if "chat" in document and "embeddings" in document:
            raise PricingError(
                "this looks like an OpenLIT table (USD per 1K tokens): convert it to gatepack's per-1M format",
                source=source,
            )
        return litellm_table(document, source)
    raise PricingError("not a price table (expected gatepack YAML, LiteLLM JSON or Langfuse JSON)", source=source)
