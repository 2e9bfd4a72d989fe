"""Backpressure in one place: a fixed number of request slots.

A slot is taken before a message is dispatched and given back when its upload finishes.
When none is free the loop pauses every assigned partition but keeps polling, so the group
still sees a live member however long the uploads take (`max.poll.interval.ms` counts
polls, not progress); it resumes them once a slot is free.
"""

from __future__ import annotations


class Slots:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.used = 0

    @property
    def free(self) -> int:
        return self.capacity - self.used

    def try_acquire(self) -> bool:
        if self.used >= self.capacity:
            return False
        self.used += 1
        return True

    def release(self) -> None:
        if self.used <= 0:
            raise RuntimeError("slot released twice")
        self.used -= 1
