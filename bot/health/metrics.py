"""Prometheus metrics read from the database at scrape time, in our own registry.

Why a custom collector and no module-level metrics: the numbers live in the database (shared
by every instance), so each scrape reads them fresh; and a registry per server (no
``prometheus_client`` global) keeps tests and several services in one process apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.health import report
from bot.health.verdict import aware
from bot.settings import Settings
from storage import health as store
from storage.db import Database


class DsrbotCollector(Collector):
    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings, self._db = settings, db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(UTC)
        with self._db.read_session() as session:
            queues = report.queue_depths(session)
            oldest = report.oldest_unprocessed(session, now)
            cases = report.open_cases(session)
            last = store.last_arrival(session)
            verdict = report.problems(self._settings, session, now)
        depth = GaugeMetricFamily("dsrbot_queue_depth", "Messages waiting, by queue",
                                  labels=["queue"])
        for name, value in queues.items():
            depth.add_metric([name], value)
        yield depth
        yield GaugeMetricFamily("dsrbot_oldest_unprocessed_age_seconds",
                                "Age of the oldest stored message not yet processed",
                                value=oldest["age_seconds"] if oldest else 0)
        yield GaugeMetricFamily("dsrbot_open_cases", "Open cases", value=len(cases))
        yield GaugeMetricFamily(
            "dsrbot_overdue_cases", "Open cases past their due date",
            value=report.overdue_count(cases, now, self._settings.organisation.timezone))
        yield GaugeMetricFamily("dsrbot_outbox_failed", "Letters given up on",
                                value=queues["outbox_failed"])
        yield GaugeMetricFamily("dsrbot_outbox_bounced", "Letters returned by a bounce",
                                value=queues["outbox_bounced"])
        if last is not None and last.arrived_at is not None:
            yield GaugeMetricFamily("dsrbot_canary_round_trip_seconds",
                                    "Round trip of the last canary probe that came back",
                                    value=last.round_trip_seconds or 0.0)
            yield GaugeMetricFamily("dsrbot_canary_last_success_timestamp_seconds",
                                    "When the last canary probe came back (Unix time)",
                                    value=aware(last.arrived_at).timestamp())
        yield GaugeMetricFamily("dsrbot_healthy", "1 when nothing needs a person, else 0",
                                value=1 if verdict.healthy else 0)


def build_registry(settings: Settings, db: Database) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DsrbotCollector(settings, db))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
