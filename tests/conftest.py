"""Loaded first by pytest: the edge's BLAS choice is made before any test module imports MLX."""

import edge_worker  # noqa: F401

# The slowest files first (by `--durations` on the 2-core machine): xdist's `--dist loadfile` hands whole files to
# the workers in collection order, so both finish together instead of one running a slow file alone at the end.
SLOWEST_FIRST = (
    "tests/edge/test_translator_real_model.py",
    "tests/daemon/test_edge_faults.py",
    "tests/bench/test_bench_quick.py",
    "tests/security/test_hostile_input.py",
    "tests/cloud/test_summarize_faults.py",
    "tests/stack/test_record_changes.py",
    "tests/reliability/test_cloud_faults.py",
    "tests/reliability/test_user_deletion_faults.py",
    "tests/dashboard/test_dashboard_browser.py",
    "tests/dashboard/test_dashboard_views.py",
    "tests/stack/test_user_data.py",
    "tests/cloud/test_summarize_exactly_once.py",
    "tests/daemon/test_search_end_to_end.py",
    "tests/stack/test_local_data_kept.py",
    "tests/stack/test_up_first_run.py",
    "tests/stack/test_template_tools.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: n for n, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
