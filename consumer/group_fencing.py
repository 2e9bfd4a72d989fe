"""Is this consumer a member of a group generation? Read from librdkafka's group metadata.

`send_offsets_to_transaction` hands the broker the consumer's group metadata, and the
broker fences a zombie by it (KIP-447): offsets from a member of an old generation are
refused, so its transaction aborts. But a member that librdkafka has just found expired
(session timeout, max.poll.interval, unknown member id) carries generation -1 and no
member id until it rejoins, and the broker takes transactional offsets with generation -1
unchecked: that is how producers older than KIP-447 commit. Such a commit could cover
records that the group has already handed to another member, who redoes them: a result
committed twice. So offsets only go with metadata that names a generation.

The metadata is librdkafka's own serialisation (`rd_kafka_consumer_group_metadata_write`,
which confluent-kafka hands over as bytes): "CGMDv2:", the generation id as an int32 in
host byte order, then the group id and the member id, each NUL-terminated.
"""

from __future__ import annotations

import sys

_MAGIC = b"CGMDv2:"
_GENERATION = slice(len(_MAGIC), len(_MAGIC) + 4)


def in_generation(metadata: object) -> bool | None:
    """True: a generation and a member id; False: neither (the broker would not fence
    these offsets); None: not a format this code knows (a newer librdkafka)."""
    if not isinstance(metadata, bytes) or not metadata.startswith(_MAGIC):
        return None
    fields = metadata[_GENERATION.stop :].split(b"\0")  # group id, member id, the rest
    if len(metadata) < _GENERATION.stop or len(fields) < 3:
        return None
    generation = int.from_bytes(metadata[_GENERATION], sys.byteorder, signed=True)
    member_id = fields[1]
    return generation >= 0 and bool(member_id)
