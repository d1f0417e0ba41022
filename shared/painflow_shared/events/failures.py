"""Which publish failures will never succeed for that record, and how to name one in a log.

Permanent (the relay parks the row): the record itself is wrong for the broker, so sending it
again cannot help, and holding it would stop every later event of its partition:
- ``MessageSizeTooLargeError``: raised by kafka-python's ``send()`` when the record is over the
  producer's ``max_request_size``, or returned by the broker (MESSAGE_TOO_LARGE) when it is
  over the topic's ``max.message.bytes``; ``RecordListTooLargeError`` likewise;
- the broker's ``InvalidRecordError``, ``CorruptRecordError``, ``InvalidTimestampError`` and
  ``InvalidTopicError`` (the row names a topic that cannot exist);
- the key, value or headers cannot be serialized: ``send()`` raises ``TypeError`` or
  ``ValueError`` (``UnicodeError`` included) before anything is sent.

Everything else holds the row, in order, and is retried: what kafka-python marks retriable
(``KafkaTimeoutError``, ``NotLeaderForPartitionError``, ``KafkaConnectionError``, an unknown
topic while it is being created...), and also the non-retriable errors that concern the
producer or the cluster rather than this record (authorization, an unsupported version, a
producer in a failed state): parking would park every row behind them, and an operator's fix
lets them all through in order.
"""

from __future__ import annotations

from kafka import errors

_RECORD_ERRORS: tuple[type[Exception], ...] = (
    errors.MessageSizeTooLargeError,
    errors.RecordListTooLargeError,
    errors.InvalidRecordError,
    errors.CorruptRecordError,
    errors.InvalidTimestampError,
    errors.InvalidTopicError,
)


def is_permanent(error: BaseException) -> bool:
    """Whether publishing this record again can never succeed."""
    if isinstance(error, _RECORD_ERRORS):
        return True
    serialization = isinstance(error, TypeError | ValueError)
    return serialization and not isinstance(error, errors.KafkaError)


def describe(error: BaseException, limit: int = 500) -> str:
    """A short reason for a log line or a column: the error's class and kafka-python's
    message, never the record (an encoding error's text would quote the offending text)."""
    if isinstance(error, UnicodeError):
        message = "the key, value or a header is not encodable as UTF-8"
    else:  # the args, not str(): kafka-python's str() repeats the class name and error code
        message = "; ".join(str(arg) for arg in error.args if arg is not None)
    return f"{type(error).__name__}: {message}"[:limit] if message else type(error).__name__
