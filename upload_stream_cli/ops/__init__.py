"""Ops tooling: inspect the dead-letter topic and replay failed work.

Everything here reads topics with `assign()` and no consumer group, so inspecting or
planning a replay never moves anyone's committed offsets. Modules:

- `topics`: read a topic from its beginning to the high watermark, then stop.
- `dlq_reader`: a dead-lettered record, read leniently (its bytes are hostile).
- `filters`, `lineage`, `history`: which records to act on, replay ids, what was done before.
- `replay`: the plan (pure); `publisher`, `ratelimit`, `progress`: carrying it out.
- `text`: rendering hostile text and bytes safely for a terminal.
"""
