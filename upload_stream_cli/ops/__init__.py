"""Ops tooling: inspect the dead-letter topic and replay failed work.

Everything here reads topics with `assign()` and no consumer group, so inspecting or
planning a replay never moves anyone's committed offsets. Modules:

- `topics`: read a topic from its beginning to the high watermark, then stop.
- `dlq_reader`: a dead-lettered record, read leniently (its bytes are hostile).
- `filters`, `lineage`, `history`: which records to act on, replay ids, what was done before.
- `replay`: the plan (pure); `execute`, `publisher`, `ratelimit`, `progress`: carrying it out.
- `text`, `render`: hostile text and bytes made safe for a terminal; `--json` objects.
- `cli_args`: the flags both commands share, and their checks (exit 2).
"""
