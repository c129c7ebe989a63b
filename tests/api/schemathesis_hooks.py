"""A schemathesis check for Raptor's order stream (tests/api/schemathesis.rs loads this file
through SCHEMATHESIS_HOOKS): schemathesis validates each Server-Sent Event's `event`, `id` and
that `data` is text against `StreamEvent`; this check parses each `data` as JSON and validates
it against the `contentSchema` of a `StreamEvent` branch the event matches (its `event`
pattern, its required `id`), so a `TradeUpdate`, `StreamReset` or `TradingDisabled` that
drifts from the document fails the run.
"""

import json
import re

import jsonschema_rs
import schemathesis


def _events(content):
    """The events of an event-stream body: dicts with `event`, `data` and maybe `id`."""
    events = []
    for block in re.split(r"\r?\n\r?\n", content.decode("utf-8")):
        event, data = {"event": "message"}, []
        for line in re.split(r"\r?\n", block):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field in ("event", "id"):
                event[field] = value
        if data:
            event["data"] = "\n".join(data)
            events.append(event)
    return events


def _matches(branch, event, document):
    properties = branch.get("properties", {})
    if not re.search(properties.get("event", {}).get("pattern", ""), event["event"]):
        return False
    if any(name not in event for name in branch.get("required", [])):
        return False
    content_schema = properties.get("data", {}).get("contentSchema")
    if content_schema is None:
        return True
    schema = dict(content_schema, components=document["components"])
    return jsonschema_rs.validator_for(schema).is_valid(json.loads(event["data"]))


@schemathesis.check
def stream_event_data_conformance(ctx, response, case):
    """Each event's `data` is JSON of the shape its event's `contentSchema` names."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if not content_type.startswith("text/event-stream") or response.status_code != 200:
        return None
    document = case.operation.schema.raw_schema
    branches = document["components"]["schemas"]["StreamEvent"]["anyOf"]
    for event in _events(response.content):
        try:
            json.loads(event["data"])
        except ValueError as error:
            raise AssertionError(f"event {event['event']!r}: data is not JSON ({error})")
        if not any(_matches(branch, event, document) for branch in branches):
            raise AssertionError(
                f"event {event['event']!r}: data does not match its contentSchema: {event['data'][:300]}"
            )
    return None
