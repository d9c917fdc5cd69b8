"""A user's edits over fakes: RFC 6902 patches against a named version, checked by the schema, authored by the
user; a later translation waits beside the edit as a proposal unless the refresh forces it."""

from __future__ import annotations

import pytest
from cloud_fakes import ApiWorld, add_summarized, system_definition

from functions.errors import ClientError
from functions.http.auth import Principal
from schemas.contracts import Lineage, RefreshSelector
from schemas.edge_api import RecordUpload
from schemas.system_definition import SystemDefinition

DEFINITION = SystemDefinition.from_dict(system_definition())
LINEAGE = {
    "translator_model_version": "translator-model:m1",
    "translator_prompt_version": "translator-prompt:p1",
    "schema_version": DEFINITION.schema_version,
}
ME = Principal("me", frozenset({"edit"}), None)


@pytest.fixture
def world() -> ApiWorld:
    world = ApiWorld()
    add_summarized(world.sessions, "s-1")
    world.edge.publish_system("planner", system_definition())
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist"}, 0), "local-edge")
    return world


def upload(document: dict, expected: int, request_id: str | None = None) -> RecordUpload:
    return RecordUpload(document=document, lineage=LINEAGE, expected_version=expected, request_id=request_id)


def refused(call) -> tuple[int, str]:
    with pytest.raises(ClientError) as error:
        call()
    return error.value.status, error.value.code


def stored(world: ApiWorld) -> tuple[int, dict, str]:
    item = world.records.get("s-1", "planner")
    return int(item["version"]), world.records.document(item), item["author"]


RENAME = [{"op": "replace", "path": "/title", "value": "Dentist at 9"}]


def test_an_edit_names_the_version_it_changes(world):
    assert refused(lambda: world.edits.edit("s-1", "planner", RENAME, None, ME)) == (428, "precondition_required")
    assert refused(lambda: world.edits.edit("s-1", "planner", RENAME, "v1", ME)) == (400, "invalid_if_match")
    assert refused(lambda: world.edits.edit("s-1", "planner", RENAME, '"2"', ME)) == (412, "precondition_failed")
    view = world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    assert (view["version"], view["document"], view["author"], view["author_name"]) == (
        2,
        {"title": "Dentist at 9"},
        "user",
        "me",
    )
    assert refused(lambda: world.edits.edit("s-1", "planner", RENAME, '"1"', ME)) == (412, "precondition_failed")


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ({"op": "replace"}, (422, "invalid_patch")),
        ([{"op": "frobnicate", "path": "/title"}], (422, "invalid_patch")),
        ([{"op": "remove", "path": "/nothing"}], (422, "invalid_patch")),
        ([{"op": "add", "path": "title", "value": 1}], (422, "invalid_patch")),
        ([{"op": "test", "path": "/title", "value": "Other"}, *RENAME], (409, "patch_test_failed")),
        ([{"op": "replace", "path": "", "value": ["not", "an", "object"]}], (422, "invalid_patch")),
        ([{"op": "add", "path": "/extra", "value": 1}], (422, "schema_violation")),
        ([{"op": "remove", "path": "/title"}], (422, "schema_violation")),
        ([{"op": "add", "path": "/day", "value": "next Tuesday"}], (422, "schema_violation")),
    ],
)
def test_a_bad_patch_is_refused_and_nothing_changes(world, operations, expected):
    before, history = stored(world), list(world.records.history)
    assert refused(lambda: world.edits.edit("s-1", "planner", operations, '"1"', ME)) == expected
    assert stored(world) == before and world.records.history == history


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        (
            [*RENAME, {"op": "test", "path": "/title", "value": "Other"}],
            "operation 1 (test '/title'): the document holds another value there",
        ),
        ([{"op": "remove", "path": "/nothing"}], "operation 0 (remove '/nothing') cannot be applied: can't remove"),
        (["not an operation"], "operation 0 cannot be applied: "),
    ],
)
def test_a_refused_patch_names_its_operation_without_python_reprs(world, operations, message):
    with pytest.raises(ClientError) as error:
        world.edits.edit("s-1", "planner", operations, '"1"', ME)
    assert error.value.message.startswith(message) and "<class" not in error.value.message, error.value.message


def test_the_history_and_the_feed_say_who_made_each_version(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    history = world.reads.history("s-1", "planner", 10, None)["items"]
    assert [(h["version"], h["author"]) for h in history] == [(2, "user"), (1, "edge")]
    assert history[0]["patch"] == RENAME
    feed = world.reads.system_changes("planner", "0", 10)
    assert [(c.seq, c.change, c.author) for c in feed.items] == [(1, "created", "edge"), (2, "updated", "user")]


def test_a_retranslation_waits_beside_the_users_version_until_accepted(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    _, request = world.refresh.request(RefreshSelector(summary_id="s-1", system="planner"))
    answer = world.edge.put_record("s-1", "planner", upload({"title": "Dentist, Friday"}, 2, request["request_id"]))
    assert (answer.outcome, answer.version) == ("proposed", 2)
    assert stored(world) == (2, {"title": "Dentist at 9"}, "user")
    record = world.reads.summary("s-1")["records"][0]
    assert record["proposal"]["document"] == {"title": "Dentist, Friday"}
    assert world.refresh.get(request["request_id"])["status"] == "done"

    assert refused(lambda: world.edits.accept_proposal("s-1", "planner", '"1"')) == (412, "precondition_failed")
    accepted = world.edits.accept_proposal("s-1", "planner", '"2"')
    assert (accepted["version"], accepted["author"], "proposal" in accepted) == (3, "edge", False)
    assert stored(world) == (3, {"title": "Dentist, Friday"}, "edge")


def test_a_proposal_is_remembered_as_the_latest_translation_so_it_is_not_made_again(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    newer = RecordUpload(
        document={"title": "Dentist on Friday"},
        lineage={**LINEAGE, "translator_prompt_version": "translator-prompt:p2"},
        expected_version=2,
    )
    assert world.edge.put_record("s-1", "planner", newer).outcome == "proposed"
    state = world.edge.summary("s-1").systems["planner"]
    assert (state.version, state.translator_prompt_version) == (2, "translator-prompt:p2")
    assert stored(world) == (2, {"title": "Dentist at 9"}, "user")
    world.edits.dismiss_proposal("s-1", "planner", '"2"')
    assert world.edge.summary("s-1").systems["planner"].translator_prompt_version == "translator-prompt:p2"
    world.edits.edit("s-1", "planner", [{"op": "replace", "path": "/title", "value": "Dentist at 10"}], '"2"', ME)
    state = world.edge.summary("s-1").systems["planner"]  # another edit does not ask for the same proposal again
    assert (state.version, state.translator_prompt_version) == (3, "translator-prompt:p2")
    assert world.records.get("s-1", "planner")["translator_prompt_version"] == "translator-prompt:p1"


@pytest.mark.parametrize("lands", ["before the record is read", "after the record is read"])
def test_a_proposal_stored_while_an_edit_is_under_way_is_kept_or_made_again(world, lands):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    newer = RecordUpload(
        document={"title": "Dentist on Friday"},
        lineage={**LINEAGE, "translator_prompt_version": "translator-prompt:p2"},
        expected_version=2,
    )
    read, store = world.records.get, world.records.store_version

    def upload_first(*args, **kwargs):
        world.records.get = read
        assert world.edge.put_record("s-1", "planner", newer).outcome == "proposed"
        return read(*args, **kwargs)

    def upload_then_store(*args, **kwargs):
        world.records.store_version = store
        assert world.edge.put_record("s-1", "planner", newer).outcome == "proposed"
        return store(*args, **kwargs)

    if lands == "before the record is read":
        world.records.get = upload_first
    else:
        world.records.store_version = upload_then_store
    world.edits.edit("s-1", "planner", [{"op": "replace", "path": "/title", "value": "Dentist at 10"}], '"2"', ME)
    record, state = world.records.get("s-1", "planner"), world.edge.summary("s-1").systems["planner"]
    assert int(record["version"]) == 3
    if lands == "before the record is read":  # the edit read it and keeps it waiting
        assert world.records.proposal_document(record["proposal"]) == {"title": "Dentist on Friday"}
    else:  # overwritten by the edit, but the state still asks the edge for it again
        assert state.translator_prompt_version == "translator-prompt:p1"


def test_a_translation_that_agrees_with_the_users_version_withdraws_the_waiting_proposal(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    assert world.edge.put_record("s-1", "planner", upload({"title": "Dentist on Friday"}, 2)).outcome == "proposed"
    agrees = RecordUpload(
        document={"title": "Dentist at 9"},
        lineage={**LINEAGE, "translator_prompt_version": "translator-prompt:p3"},
        expected_version=2,
    )
    assert world.edge.put_record("s-1", "planner", agrees).outcome == "unchanged"
    assert "proposal" not in world.records.get("s-1", "planner") and stored(world) == (
        2,
        {"title": "Dentist at 9"},
        "user",
    )
    assert world.edge.summary("s-1").systems["planner"].translator_prompt_version == "translator-prompt:p3"


def test_a_dismissed_proposal_leaves_the_users_version(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    world.edge.put_record("s-1", "planner", upload({"title": "Model title"}, 2))
    view = world.edits.dismiss_proposal("s-1", "planner", '"2"')
    assert ("proposal" in view, view["version"]) == (False, 2)
    assert refused(lambda: world.edits.dismiss_proposal("s-1", "planner", '"2"')) == (404, "not_found")
    assert refused(lambda: world.edits.accept_proposal("s-1", "planner", '"2"')) == (404, "not_found")


def test_an_edit_keeps_a_waiting_proposal(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    world.edge.put_record("s-1", "planner", upload({"title": "Model title"}, 2))
    view = world.edits.edit("s-1", "planner", [{"op": "replace", "path": "/title", "value": "Mine"}], '"2"', ME)
    assert view["proposal"]["document"] == {"title": "Model title"}


def test_an_edit_that_makes_the_record_say_what_the_proposal_says_settles_it(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    world.edge.put_record("s-1", "planner", upload({"title": "Model title"}, 2))
    view = world.edits.edit(
        "s-1", "planner", [{"op": "replace", "path": "", "value": {"title": "Model title"}}], '"2"', ME
    )
    assert (view["version"], "proposal" in view) == (3, False)
    assert "proposal" not in world.records.get("s-1", "planner")


def test_accepting_a_proposal_the_record_already_says_stores_no_empty_version(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    world.edge.put_record("s-1", "planner", upload({"title": "Model title"}, 2))
    record = world.records.get("s-1", "planner")  # as a record stored before edits settled an equal proposal
    world.records.store_version(
        summary_id="s-1",
        system="planner",
        expected_version=2,
        document={"title": "Model title"},
        patch=[],
        lineage=Lineage(**LINEAGE),
        request_id=None,
        author="user",
        keep={"proposal": record["proposal"]},
    )
    history = len(world.records.history)
    view = world.edits.accept_proposal("s-1", "planner", '"3"')
    assert (view["version"], "proposal" in view, len(world.records.history)) == (3, False, history)


def test_a_forced_refresh_replaces_the_users_version(world):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)
    _, request = world.refresh.request(RefreshSelector(summary_id="s-1", system="planner", force=True))
    answer = world.edge.put_record("s-1", "planner", upload({"title": "Model title"}, 2, request["request_id"]))
    assert (answer.outcome, answer.version) == ("updated", 3)
    assert stored(world) == (3, {"title": "Model title"}, "edge")


def test_an_unchanged_edit_stores_nothing(world):
    same = [{"op": "replace", "path": "/title", "value": "Dentist"}]
    assert world.edits.edit("s-1", "planner", same, '"1"', ME)["version"] == 1
    assert len(world.records.history) == 1


def test_a_record_of_a_session_being_deleted_cannot_be_edited(world):
    world.sessions.items["s-1"]["status"] = "DELETING"
    assert refused(lambda: world.edits.edit("s-1", "planner", RENAME, '"1"', ME)) == (404, "not_found")
    assert refused(lambda: world.edge.put_record("s-1", "planner", upload({"title": "x"}, 1))) == (404, "not_found")


def test_a_record_of_a_system_never_published_is_named_as_such(world):
    assert refused(lambda: world.edits.edit("s-1", "fitness", RENAME, '"1"', ME)) == (404, "unknown_system")
    assert refused(lambda: world.edits.dismiss_proposal("s-1", "fitness", '"1"')) == (404, "unknown_system")
    assert refused(lambda: world.edits.accept_proposal("s-1", "fitness", '"1"')) == (404, "unknown_system")


HUGE = 500_000


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "add", "path": "/day", "value": "d" * HUGE}],  # not a date
        [{"op": "add", "path": "/" + "k" * HUGE, "value": 1}],  # a property the schema does not allow
        [{"op": "replace", "path": "/title", "value": ["t" * HUGE]}],  # not a string
        [{"op": "remove", "path": "/" + "k" * HUGE}],  # nothing there
        [{"op": "o" * HUGE, "path": "/title"}],
    ],
)
def test_a_refusal_quotes_a_huge_value_by_its_start_and_length(world, operations):
    with pytest.raises(ClientError) as error:
        world.edits.edit("s-1", "planner", operations, '"1"', ME)
    shown = error.value.message + "".join(d["problem"] for d in error.value.details or [])
    assert len(shown) < 2_000, shown[:300]
    assert "characters)" in error.value.message, error.value.message


@pytest.mark.parametrize("action", ["edit", "accept", "dismiss"])
def test_a_writer_that_got_in_after_the_read_makes_it_a_412_like_an_old_if_match(world, action):
    world.edits.edit("s-1", "planner", RENAME, '"1"', ME)  # v2, the user's
    world.edge.put_record("s-1", "planner", upload({"title": "Dentist at 8"}, 2), "local-edge")  # a proposal
    write = world.records.store_version if action != "dismiss" else world.records.clear_proposal

    def rival_first(*args, **kwargs):  # another request stores v3 between this one's read and its write
        world.records.store_version = real_store
        world.records.clear_proposal = real_clear
        other = [{"op": "replace", "path": "/title", "value": "Rival"}]
        world.edits.edit("s-1", "planner", other, '"2"', Principal("other", frozenset({"edit"}), None))
        return write(*args, **kwargs)

    real_store, real_clear = world.records.store_version, world.records.clear_proposal
    setattr(world.records, "store_version" if action != "dismiss" else "clear_proposal", rival_first)
    call = {
        "edit": lambda: world.edits.edit("s-1", "planner", [RENAME[0] | {"value": "Mine"}], '"2"', ME),
        "accept": lambda: world.edits.accept_proposal("s-1", "planner", '"2"'),
        "dismiss": lambda: world.edits.dismiss_proposal("s-1", "planner", '"2"'),
    }[action]
    assert refused(call) == (412, "precondition_failed")
    assert stored(world)[1] == {"title": "Rival"}


def test_the_record_is_read_where_it_is_edited_with_the_version_to_name(world):
    view = world.edits.view("s-1", "planner")
    assert (view["version"], view["document"], view["author"]) == (1, {"title": "Dentist"}, "edge")
    world.edits.edit("s-1", "planner", RENAME, f'"{view["version"]}"', ME)
    assert world.edits.view("s-1", "planner")["version"] == 2
    assert refused(lambda: world.edits.view("s-1", "nudge")) == (404, "unknown_system")
    assert refused(lambda: world.edits.view("s-404", "planner")) == (404, "not_found")
