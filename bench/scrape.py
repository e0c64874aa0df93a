"""What a server's /metrics says after a benchmark: the figures docs/operations.md's "What to
watch" calls normal, estimated from the histograms as Prometheus' histogram_quantile does."""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["summary"]


def summary(http_url: str) -> list[str]:
    text = urllib.request.urlopen(f"{http_url}/metrics", timeout=10).read().decode()
    buckets: dict[tuple[str, str], dict[float, float]] = defaultdict(dict)
    lag = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                label = sample.labels.get("command") or sample.labels.get("stream") or ""
                if sample.labels.get("outcome", "ok") != "ok":
                    continue
                key = (sample.name.removesuffix("_bucket"), label)
                le = float(sample.labels["le"])
                buckets[key][le] = buckets[key].get(le, 0.0) + sample.value
            elif sample.name == "tidings_pipeline_lag_events":
                lag = max(lag, sample.value)
    lines = []
    for (name, label), counts in sorted(buckets.items()):
        total = counts.get(math.inf, 0.0)
        if not total or name == "tidings_resume_replayed_events":
            continue
        p50, p99 = (_quantile(q, counts) * 1000 for q in (0.5, 0.99))
        lines.append(f"{name}{{{label}}}: n={total:.0f} p50≈{p50:.1f} ms p99≈{p99:.1f} ms")
    lines.append(f"tidings_pipeline_lag_events (max): {lag:.0f}")
    return lines


def _quantile(q: float, counts: dict[float, float]) -> float:
    """Linear interpolation within the bucket holding the q-quantile."""
    ordered = sorted(counts.items())
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound
