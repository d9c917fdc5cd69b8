"""schemas.routes is the API's one list of routes: the template declares exactly these, and every id in a path
has a pattern."""

from __future__ import annotations

import re

import pytest

from local_stack.template import load_app
from schemas import routes
from schemas.patterns import ID_PATTERN

PUBLIC_PARAMETERS = {"asset"}  # a dashboard file name, looked up and never used as a key


def parameters(route_key: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", route_key))


def test_the_template_declares_exactly_the_routes_of_schemas_routes():
    in_template = {route.route_key for route in load_app().http_routes}
    assert in_template == routes.ROUTE_KEYS


def test_every_route_constant_is_a_route():
    paths = {v for name, v in vars(routes).items() if name.isupper() and isinstance(v, str) and v.startswith("/")}
    assert paths == {key.split(" ", 1)[1] for key in routes.ROUTE_KEYS}


def test_every_path_parameter_has_a_pattern():
    used = set().union(*(parameters(key) for key in routes.ROUTE_KEYS))
    assert used - PUBLIC_PARAMETERS == set(routes.PATH_PARAMETERS)


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("summary_id", "pln-2025.03:1", "has space"),
        ("system", "planner_v2", "Planner"),
        ("version_id", "schema:0123abc", "schema"),
        ("request_id", "rf-0a1b", "key:0a1b"),
        ("query_id", "q-" + "0" * 40, "q/1"),
    ],
)
def test_path_parameter_patterns(name, good, bad):
    pattern = re.compile(routes.PATH_PARAMETERS[name])
    assert pattern.fullmatch(good) and not pattern.fullmatch(bad)
    if name.endswith("_id") and name not in ("version_id", "request_id"):
        assert routes.PATH_PARAMETERS[name] == ID_PATTERN


def test_a_path_is_filled_with_each_parameter_as_one_encoded_segment():
    assert routes.path(routes.EDGE_REGISTRY, version_id="schema:0a1b") == "/edge/registry/schema:0a1b"
    assert routes.path(routes.EDGE_RECORD, summary_id="a/b c", system="planner") == (
        "/edge/summaries/a%2Fb%20c/systems/planner"
    )
    with pytest.raises(ValueError, match="summary_id"):
        routes.path(routes.EDGE_RECORD, system="planner")
    with pytest.raises(ValueError, match="extra"):
        routes.path(routes.EDGE_HEARTBEAT, extra="x")
