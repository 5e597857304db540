"""A killed event processor loses and doubles nothing.

A really running Siyu (web server and a separate `siyu process_events`, each its own subprocess, on a
database of their own) receives a stream of 20,000 events in batches of 100, 5% of the batches sent
twice. While the stream flows the processor is SIGKILLed at random moments, mostly half-way through a
chunk, and started again. At the end every event is stored once and every effect — visitor contacts,
per-contact counters, dwell time, per-minute counts — counts each event exactly once.
"""

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.tracking.events import basic_auth, iso
from tests.tracking.live import LiveSiyu, live_siyu

pytestmark = pytest.mark.slow
WRITE_KEY = "wk_live_processor_faults_1"
EVENTS = 20_000
BATCH = 100
VISITORS = 500
REPLAYED = 0.05
KILLS = 4


def _stream(rng: random.Random) -> list[list[dict[str, Any]]]:
    """Batches of realistic events from VISITORS browsers; identify gives each browser its own user."""
    start = datetime.now(UTC) - timedelta(minutes=20)
    events = []
    for n in range(EVENTS):
        anonymous_id = f"anon-{rng.randrange(VISITORS):04d}"
        moment = start + timedelta(milliseconds=n * 50)
        path = rng.choice(["/", "/articles/1", "/articles/2", "/pricing", "/product/a1"])
        page = {"path": path, "url": f"https://shop.example.com{path}", "title": f"页面 {path}"}
        base = {
            "messageId": f"fault-{n}",
            "anonymousId": anonymous_id,
            "originalTimestamp": iso(moment),
            "context": {"page": page, "locale": "zh-CN", "library": {"name": "siyu.js", "version": "1"}},
        }
        roll = rng.random()
        if roll < 0.55:
            events.append({**base, "type": "page", "name": page["title"], "properties": page})
        elif roll < 0.75:
            delta = rng.randrange(1, 15_000)
            properties = {**page, "view_id": f"v-{n}", "dwell_delta_ms": delta, "active_dwell_ms": delta}
            events.append({**base, "type": "track", "event": "Page Engaged", "properties": properties})
        elif roll < 0.95:
            events.append(
                {**base, "type": "track", "event": "Product Viewed", "properties": {"sku": f"SKU-{n % 40}"}}
            )
        else:
            events.append(
                {**base, "type": "identify", "userId": f"user-{anonymous_id}", "traits": {"plan": "a"}}
            )
    return [events[i : i + BATCH] for i in range(0, EVENTS, BATCH)]


def _send_all(url: str, plan: list[list[dict[str, Any]]], failures: list[str]) -> None:
    headers = {"Authorization": basic_auth(WRITE_KEY), "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for batch in plan:
            body = orjson.dumps({"batch": batch, "sentAt": iso(datetime.now(UTC))})
            response = client.post("/v1/batch", content=body)
            if response.status_code != 200 or response.json()["accepted"] != len(batch):
                failures.append(f"{response.status_code}: {response.text[:300]}")


def _wait_for_progress(live: LiveSiyu, processed_before: int) -> None:
    """Until the (re)started processor has finished a chunk: it is past start-up and in its loop."""
    deadline = time.monotonic() + 60
    while live.batch_counts()[1] == processed_before:
        assert time.monotonic() < deadline, f"the processor makes no progress:\n{live.logs()}"
        time.sleep(0.05)


def _start_processor(live: LiveSiyu) -> "subprocess.Popen[bytes]":
    return live.spawn("processor", "process_events", "--idle-sleep", "0.05")


def test_killing_the_processor_mid_stream_and_replaying_batches_stores_and_applies_each_event_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(20240603)
    batches = _stream(rng)
    # 5% of the batches are sent a second time, some soon after the first, some much later.
    plan = list(batches)
    for replay in rng.sample(range(len(batches)), int(len(batches) * REPLAYED)):
        plan.insert(rng.randrange(replay + 1, len(plan) + 1), batches[replay])
    sent = [e for b in batches for e in b]

    with live_siyu(tmp_path, write_key=WRITE_KEY) as live:
        url = live.serve("--no-worker", "--workers-count", "2")
        processor = _start_processor(live)
        failures: list[str] = []
        sender = threading.Thread(target=_send_all, args=(url, plan, failures))
        sender.start()
        kills = 0
        try:
            for _ in range(KILLS):
                _wait_for_progress(live, live.batch_counts()[1])
                # It takes its next chunk at once while work is pending: a kill now lands inside one.
                time.sleep(rng.uniform(0.0, 0.6))
                if live.pending_batches() == 0:
                    break
                os.kill(processor.pid, signal.SIGKILL)
                processor.wait()
                kills += 1
                processor = _start_processor(live)
        finally:
            sender.join()
        assert failures == []
        live.wait_until_processed(timeout=120)
        processor.terminate()
        assert processor.wait(timeout=30) == 0, live.logs()
        dump = live.dump(payloads=False)

    assert kills == KILLS, "the processor ran out of work before it was killed often enough"
    assert dump["batches"] == {"total": len(plan), "pending": 0, "failed": 0}

    # Stored exactly once.
    stored_ids = [e["message_id"] for e in dump["event_rows"]]
    assert len(stored_ids) == len(set(stored_ids)) == dump["events"] == EVENTS
    assert set(stored_ids) == {e["messageId"] for e in sent}

    # One contact per browser, holding all of that browser's events.
    anonymous_ids = {e["anonymousId"] for e in sent}
    assert dump["contacts"] == len(anonymous_ids)
    contact_of: dict[str, set[str]] = defaultdict(set)
    for event in dump["event_rows"]:
        contact_of[event["anonymous_id"]].add(event["contact_id"])
    assert all(len(ids) == 1 for ids in contact_of.values())
    assert len({next(iter(ids)) for ids in contact_of.values()}) == len(anonymous_ids)

    # Applied exactly once: counters equal what the stored events say, and what was sent.
    pages = Counter(e["contact_id"] for e in dump["event_rows"] if e["type"] in ("page", "screen"))
    per_contact = Counter(e["contact_id"] for e in dump["event_rows"])
    dwell: Counter[str] = Counter()
    for event in sent:
        if event.get("event") == "Page Engaged":
            dwell[next(iter(contact_of[event["anonymousId"]]))] += event["properties"]["dwell_delta_ms"]
    activities = {a["contact_id"]: a for a in dump["activity_rows"]}
    assert len(activities) == len(anonymous_ids)
    assert sum(a["events"] for a in activities.values()) == EVENTS
    assert {c: a["events"] for c, a in activities.items()} == dict(per_contact)
    assert {c: a["page_views"] for c, a in activities.items() if a["page_views"]} == dict(pages)
    assert {c: a["active_dwell_ms"] for c, a in activities.items() if a["active_dwell_ms"]} == dict(dwell)
    assert dump["counted_per_minute"] == EVENTS
