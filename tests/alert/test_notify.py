"""The Alertmanager-shaped webhook against a real HTTP server on 127.0.0.1: payload, retries, failures."""

from __future__ import annotations

import logging
import socket
from datetime import date

import pytest
from alert_receiver import Receiver

from lakeops.alert.notify import TOKEN_ENV, URL_ENV, Notice, Webhook, notify, payload, post, webhook_from_env

DS = date(2024, 3, 5)


def notice(status: str = "firing", slice_value: str | None = None) -> Notice:
    return Notice(status, "incident_risk", "score_drift", "critical", "region" if slice_value else None, slice_value,
                  DS, date(2024, 3, 4), "score PSI 0.310", '{"psi":0.31}', "0123456789abcdef", True)


def test_payload_has_alertmanager_webhook_shape():
    body = payload([notice(), notice(slice_value="eu")], status="firing")
    assert set(body) >= {"version", "status", "receiver", "groupKey", "groupLabels", "commonLabels",
                         "commonAnnotations", "externalURL", "alerts"}
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["commonLabels"] == {"alertname": "score_drift", "model": "incident_risk", "severity": "critical"}
    first, second = body["alerts"]
    assert set(first) == {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
    assert first["startsAt"] == "2024-03-04T00:00:00Z" and first["endsAt"] == "0001-01-01T00:00:00Z"
    assert second["labels"]["region"] == "eu"
    resolved = payload([notice("resolved")], status="resolved")["alerts"][0]
    assert resolved["endsAt"] == "2024-03-05T00:00:00Z"


def test_webhook_from_env_and_secrets_never_in_repr():
    assert webhook_from_env({}) is None
    hook = webhook_from_env({URL_ENV: "https://hooks.example.com/T000/B000/XXXX", TOKEN_ENV: "tok"})
    assert hook.token == "tok" and hook.name == "https://hooks.example.com"
    assert "XXXX" not in repr(hook) and "tok" not in repr(hook)
    with pytest.raises(ValueError, match="http"):
        Webhook(url="file:///etc/passwd")


def test_firing_and_resolved_reach_the_receiver_with_the_token():
    with Receiver() as r:
        hook = Webhook(url=r.url, token="s3cret-token", backoff_seconds=0.01)
        sent = notify([notice(), notice("resolved", "eu")], webhook=hook)
    assert [b["status"] for b in r.requests] == ["firing", "resolved"]
    assert r.headers[0]["Authorization"] == "Bearer s3cret-token"
    assert {d.outcome for d in sent.values()} == {"sent"}


def test_send_resolved_false_keeps_resolutions_in_the_log_only():
    with Receiver() as r:
        notify([notice("resolved")], webhook=Webhook(url=r.url), send_resolved=False)
    assert r.requests == []


def test_a_receiver_that_fails_then_succeeds_is_retried():
    with Receiver(fail_first=2, fail_status=503) as r:
        delivery = post(Webhook(url=r.url, retries=3, backoff_seconds=0.01), payload([notice()], status="firing"))
    assert delivery.outcome == "sent" and delivery.attempts == 3
    assert len(r.requests) == 1


def test_a_receiver_that_keeps_failing_is_recorded_without_url_or_token(caplog):
    caplog.set_level(logging.INFO, logger="lakeops")
    with Receiver(fail_first=100, fail_status=500) as r:
        hook = Webhook(url=r.url, token="s3cret-token", retries=2, backoff_seconds=0.01)
        delivery = notify([notice()], webhook=hook)["0123456789abcdef"]
    assert delivery.outcome == "failed" and delivery.attempts == 3 and r.seen == 3
    assert "HTTP 500" in delivery.error
    for text in (delivery.error, caplog.text):
        assert "s3cret" not in text and "hooks/lakeops" not in text


def test_a_receiver_that_is_down_fails_quickly_and_quietly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    delivery = post(Webhook(url=f"http://127.0.0.1:{port}/x?token=abc", retries=1, backoff_seconds=0.01),
                    payload([notice()], status="firing"))
    assert delivery.outcome == "failed" and delivery.attempts == 2
    assert "abc" not in delivery.error and "127.0.0.1" not in delivery.error
