"""Both documented ways of loading a third-party plugin, end to end.

* The example package in ``examples/followup-example-plugin`` is really installed (pip,
  into a folder put on ``sys.path``) and found through its ``followup`` entry point,
  both by name in ``[plugins] enabled`` and by ``[plugins] entrypoints = true``.
* A plain module is loaded by its import path, dotted or bare (the README's
  ``my_followup_plugin``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.config import ConfigError
from core.models import Campaign, Decision, SellerAccount, Step
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "followup-example-plugin"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory):
    """The example plugin installed by pip into its own site folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
    )
    assert list(target.glob("followup_example_plugin-*.dist-info")), "pip made no dist-info"
    return target


@pytest.fixture
def on_path(monkeypatch):
    def add(folder: Path):
        monkeypatch.syspath_prepend(str(folder))
        # A module loaded by an earlier test must be imported again from this folder.
        for name in [n for n in sys.modules if n.startswith(("followup_example", "my_"))]:
            monkeypatch.delitem(sys.modules, name)

    return add


def excluded_by_plugin_rule(engine, params) -> str:
    """Plan one order through a step using the example's rule; the trace's reason."""
    account = SellerAccount.create(name="S", source="demo")
    data = order_data("US")
    result = store_orders(account, [data], "test", set(engine.marketplaces))
    campaign = Campaign.create(name="C", status="active")
    Step.create(
        **dict(REVIEW_STEP, campaign=campaign, position=1, name="review"),
        rules=[{"rule": "order_total_at_least", "params": params}],
    )
    plan_orders(engine, result.changed_ids)
    decision = Decision.get_or_none()
    return decision.reason if decision else ""


@pytest.mark.parametrize("how", ["enabled by entry-point name", "all entry points"])
def test_the_example_package_loads_through_its_entry_point(
    installed_example, on_path, make_engine, how
):
    on_path(installed_example)
    if how == "all entry points":
        engine = make_engine(plugins={"enabled": ["amazon", "demo"], "entrypoints": True})
    else:
        engine = make_engine(plugins={"enabled": ["amazon", "demo", "example"]})
    assert "example" in engine.plugin_list
    assert "order_total_at_least" in engine.rules

    reason = excluded_by_plugin_rule(engine, {"min_total": "1000000"})
    assert reason.startswith("rule: order total") and "below 1000000.00" in reason

    from core.models import Order

    context = engine.template_context(Order.get(), None)
    assert context["shop_signature"] == "Your shop team"


def test_the_example_rule_refuses_a_bad_value_with_the_field_named(
    installed_example, on_path, make_engine
):
    on_path(installed_example)
    engine = make_engine(plugins={"enabled": ["amazon", "demo", "example"]})
    problems = engine.rules["order_total_at_least"].validate({"min_total": "lots"})
    assert set(problems) == {"min_total"} and "not an amount" in problems["min_total"]


@pytest.mark.parametrize("name", ["my_followup_plugin", "my_plugins.followup_rules"])
def test_a_module_loads_by_its_import_path_bare_or_dotted(tmp_path, on_path, make_engine, name):
    folder = tmp_path / "modules"
    path = folder / (name.replace(".", "/") + ".py")
    path.parent.mkdir(parents=True)
    if "." in name:
        (path.parent / "__init__.py").write_text("")
    path.write_text(
        textwrap.dedent(
            """
            from core import Rule, hookimpl

            @hookimpl
            def register_rules(engine):
                return [Rule("never_by_module", "Never", lambda e, o, p: "rule: module says no")]
            """
        )
    )
    on_path(folder)
    engine = make_engine(plugins={"enabled": ["amazon", "demo", name]})
    assert name in engine.plugin_list
    assert "never_by_module" in engine.rules


def test_an_unknown_plugin_name_stops_startup_naming_it(make_engine):
    with pytest.raises(ConfigError) as err:
        make_engine(plugins={"enabled": ["amazon", "demo", "no_such_followup_plugin"]})
    assert "unknown plugin 'no_such_followup_plugin'" in str(err.value)
    assert "amazon" in str(err.value)  # the installed ones are listed


def test_a_plugin_whose_own_import_fails_says_so(tmp_path, on_path, make_engine):
    (tmp_path / "my_broken_plugin.py").write_text("import not_installed_dependency\n")
    on_path(tmp_path)
    with pytest.raises(ConfigError) as err:
        make_engine(plugins={"enabled": ["amazon", "demo", "my_broken_plugin"]})
    assert "cannot import 'my_broken_plugin'" in str(err.value)
    assert "not_installed_dependency" in str(err.value)
