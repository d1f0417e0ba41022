"""How large one event may be, at each of the three places that limit it.

The limits nest, so that what the door accepts can always be delivered:

1. ``MAX_EVENT_BYTES`` (the ``max_event_bytes`` setting): the largest serialized event value
   (the message Bundle) ``record_event`` stages. A request whose event would be larger is
   refused with 413 and nothing is stored. The 64 KiB below the producer's limit are for the
   key, the CloudEvents and trace headers and the record's framing.
2. ``MAX_RECORD_BYTES``: the producer's ``max_request_size``. kafka-python refuses a larger
   record in ``send()`` itself (``MessageSizeTooLargeError``); the relay parks such a row.
3. ``TOPIC_MAX_MESSAGE_BYTES``: each topic's ``max.message.bytes``, set when we create it (and
   the broker's ``message.max.bytes`` in deploy/kafka/kafka.sh). It is above the producer's
   limit, so the broker never refuses a batch the producer let through.

Consumers fetch up to ``TOPIC_MAX_MESSAGE_BYTES`` per partition (``max_partition_fetch_bytes``),
so the largest batch a topic accepts is never larger than what a consumer asks for.
"""

from __future__ import annotations

_HEADROOM = 64 * 1024
MAX_RECORD_BYTES = 1024 * 1024
MAX_EVENT_BYTES = MAX_RECORD_BYTES - _HEADROOM
TOPIC_MAX_MESSAGE_BYTES = MAX_RECORD_BYTES + _HEADROOM
