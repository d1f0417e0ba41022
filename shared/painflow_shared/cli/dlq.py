"""``painflow dlq list|show|replay TOPIC`` and ``painflow events tail TOPIC``.

A dead letter is named ``PARTITION:OFFSET`` in ``<topic>.dlq``. ``replay`` publishes it (or a
fixed value) on its original topic with its original headers, so its ``ce_id`` is unchanged and
every consumer group that already handled it skips it through its inbox; the ``x-dlq-*`` headers
are dropped and ``x-replayed-from: <dlq topic>/<partition>@<offset>`` is added.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import click
from kafka import KafkaConsumer, KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition

from painflow_shared.cli.config import kafka_settings
from painflow_shared.events.clients import make_producer
from painflow_shared.events.topics import dlq_topic

_TOPIC = click.argument("topic")


def _dlq_name(topic: str) -> str:
    return topic if topic.endswith(".dlq") else dlq_topic(topic)


def _reader() -> KafkaConsumer:
    return KafkaConsumer(
        client_id="painflow-cli",
        group_id=None,  # reads without joining a group: nothing is committed, nobody rebalances
        enable_auto_commit=False,
        **kafka_settings().kafka_client_config(),
    )


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise click.ClickException(f"no topic {topic} on the broker")
    return [TopicPartition(topic, p) for p in sorted(found)]


def read_all(topic: str) -> Iterator[ConsumerRecord]:
    """Every record of ``topic``, from the beginning to the end offsets seen at the start."""
    consumer = _reader()
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        left = {tp for tp in partitions if consumer.position(tp) < end[tp]}
        while left:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.offset < end[tp]:
                        yield record
                if consumer.position(tp) >= end[tp]:
                    left.discard(tp)
    finally:
        consumer.close()


def _headers(record: ConsumerRecord) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers or []}


def _find(dlq: str, record_id: str) -> ConsumerRecord:
    partition, _, offset = record_id.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise click.BadParameter("PARTITION:OFFSET, as `painflow dlq list` prints it")
    consumer = _reader()
    try:
        tp = TopicPartition(dlq, int(partition))
        consumer.assign([tp])
        consumer.seek(tp, int(offset))
        for records in consumer.poll(timeout_ms=5000, max_records=1).values():
            for record in records:
                if record.offset == int(offset):
                    return record
    finally:
        consumer.close()
    raise click.ClickException(f"no record {record_id} in {dlq}")


@click.group()
def dlq() -> None:
    """Dead letters: list them, show one, replay one after a fix."""


@dlq.command("list")
@_TOPIC
def list_(topic: str) -> None:
    """Every dead letter of TOPIC (reason, consumer group, where it came from; no payload)."""
    name, count = _dlq_name(topic), 0
    for record in read_all(name):
        h = _headers(record)
        origin = (
            f"{h.get('x-dlq-original-topic', '?')}/{h.get('x-dlq-original-partition', '?')}"
            f"@{h.get('x-dlq-original-offset', '?')}"
        )
        click.echo(
            f"{record.partition}:{record.offset}  {h.get('ce_id', '-')}  {h.get('ce_type', '-')}  "
            f"{h.get('x-dlq-reason', '-')}  group={h.get('x-dlq-consumer-group', '-')}  "
            f"from={origin}  {h.get('x-dlq-error', '')[:200]}"
        )
        count += 1
    click.echo(f"{count} dead letter(s) in {name}")


@dlq.command()
@_TOPIC
@click.argument("record_id", metavar="PARTITION:OFFSET")
@click.option("--value", is_flag=True, help="print only the record's value (to fix it)")
def show(topic: str, record_id: str, value: bool) -> None:
    """One dead letter: its headers, or with --value its body (it may hold patient data)."""
    record = _find(_dlq_name(topic), record_id)
    if value:
        click.echo((record.value or b"").decode("utf-8", "replace"), nl=False)
        return
    click.echo(f"key: {(record.key or b'').decode('utf-8', 'replace')}")
    click.echo(f"size: {len(record.value or b'')} bytes")
    for name, text in _headers(record).items():
        click.echo(f"{name}: {text}")


@dlq.command()
@_TOPIC
@click.argument("record_id", metavar="PARTITION:OFFSET")
@click.option(
    "--value-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="the fixed value to publish instead of the dead letter's",
)
def replay(topic: str, record_id: str, value_file: Path | None) -> None:
    """Publish a dead letter again on its original topic, with its original ce_id."""
    dlq_name = _dlq_name(topic)
    record = _find(dlq_name, record_id)
    headers = [(k, v or b"") for k, v in record.headers or [] if not k.startswith("x-dlq-")]
    origin = f"{dlq_name}/{record.partition}@{record.offset}"
    headers.append(("x-replayed-from", origin.encode()))
    target = _headers(record).get("x-dlq-original-topic") or dlq_name.removesuffix(".dlq")
    body = value_file.read_bytes() if value_file else record.value
    producer: KafkaProducer = make_producer(kafka_settings(), client_id="painflow-cli")
    try:
        meta = producer.send(target, key=record.key, value=body, headers=headers).get(timeout=15)
    finally:
        producer.close(timeout=5)
    ce_id = _headers(record).get("ce_id", "-")
    click.echo(f"replayed {origin} as {target}/{meta.partition}@{meta.offset} (ce_id {ce_id})")


@click.group()
def events() -> None:
    """Look at a topic's events (headers only, never their payload)."""


@events.command()
@_TOPIC
@click.option("--from-beginning", is_flag=True, help="start at the oldest record")
@click.option("--count", type=int, default=0, help="stop after this many records (0: never)")
@click.option("--idle", type=float, default=0, help="stop after this many quiet seconds (0: never)")
def tail(topic: str, from_beginning: bool, count: int, idle: float) -> None:
    """Print each new event of TOPIC: partition, offset, ce_type, ce_id, subject, trace."""
    consumer = _reader()
    seen, quiet_since = 0, time.monotonic()
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        (consumer.seek_to_beginning if from_beginning else consumer.seek_to_end)(*partitions)
        while not count or seen < count:
            batch = consumer.poll(timeout_ms=500)
            for record in (r for records in batch.values() for r in records):
                if count and seen >= count:
                    break
                h = _headers(record)
                click.echo(
                    f"{record.partition}@{record.offset}  {h.get('ce_type', '-')}  "
                    f"{h.get('ce_id', '-')}  {h.get('ce_subject', '-')}  "
                    f"{h.get('traceparent', '-')}"
                )
                seen, quiet_since = seen + 1, time.monotonic()
            if idle and time.monotonic() - quiet_since > idle:
                break
    finally:
        consumer.close()
