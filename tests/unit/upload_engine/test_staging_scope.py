"""Staged blobs are bound to their user (schemas/staging_scope.py): a request never reads a
blob staged in another user's scope, whatever producer published it; its own scope and
legacy keys (no scope) are read as before."""

from __future__ import annotations

import re

import pytest

from schemas import FileFailureCode as C
from schemas import StagedOwner, staged_owner, staging_scope
from tests.unit.engine_support import Env

DATA = b"a passport of user 7 " * 20
SOURCE_CALLS = ("head_object", "get_object", "copy_object")


def test_the_scope_is_stable_and_hides_the_user_id() -> None:
    scope = staging_scope("7")
    assert scope == staging_scope("7") != staging_scope("8")
    assert re.fullmatch(r"u[0-9a-f]{16}", scope)
    assert staged_owner(f"{scope}/0123", "7") is StagedOwner.OWN
    assert staged_owner(f"{scope}/0123", "8") is StagedOwner.OTHER
    assert staged_owner("0123456789abcdef0123456789abcdef", "7") is StagedOwner.LEGACY
    assert staged_owner(f"{scope}/", "7") is StagedOwner.LEGACY  # no name below the scope
    assert staged_owner(f"x{scope[1:]}/a", "7") is StagedOwner.LEGACY


@pytest.mark.parametrize("where", ["s3", "file"])
def test_another_users_staged_blob_fails_unread_with_source_not_allowed(
    env: Env, where: str
) -> None:
    name = f"{staging_scope('7')}/blob"
    victim = env.stage_s3(name, DATA) if where == "s3" else env.stage_file(name, DATA)
    flaky = env.flaky()

    outcome = env.engine(client=flaky, reuse_stored_objects=True).upload(
        env.job({"passport": victim}, user_id="8")
    )

    assert outcome.objects == {}
    assert outcome.failures["passport"].code is C.SOURCE_NOT_ALLOWED
    assert "another user's scope" in outcome.failures["passport"].message
    assert not any(flaky.calls.get(call) for call in SOURCE_CALLS), flaky.calls
    listing = env.client.list_objects_v2(Bucket=env.dest)
    assert listing.get("KeyCount", 0) == 0  # nothing copied into user 8's namespace


@pytest.mark.parametrize("where", ["s3", "file"])
def test_the_users_own_scope_and_legacy_keys_are_read(env: Env, where: str) -> None:
    own = f"{staging_scope('7')}/blob"
    legacy = "0123456789abcdef0123456789abcdef"
    stage = env.stage_s3 if where == "s3" else env.stage_file
    files = {"passport": stage(own, DATA), "selfie": stage(legacy, DATA + b"!")}

    outcome = env.engine().upload(env.job(files, user_id="7"))

    assert outcome.failures == {}
    assert sorted(outcome.objects) == ["passport", "selfie"]


def test_a_symlink_to_another_scope_is_judged_by_its_target(env: Env) -> None:
    victim = env.stage_file(f"{staging_scope('7')}/blob", DATA)
    link = env.root / staging_scope("8") / "link"
    link.parent.mkdir(parents=True)
    link.symlink_to(victim.uri.removeprefix("file://"))

    outcome = env.engine().upload(
        env.job({"passport": victim.model_copy(update={"uri": f"file://{link}"})}, user_id="8")
    )

    assert outcome.failures["passport"].code is C.SOURCE_NOT_ALLOWED
