"""A plugin that needs another declares it (``REQUIRES``) and startup checks it: enabling
the demo without the Amazon plugin, whose marketplaces its orders are placed in, stops
with the config key to fix instead of "Load demo data" storing no order."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core import hookimpl
from core.config import ConfigError
from core.demo import load_demo


def test_the_demo_without_amazon_stops_startup_naming_the_key_to_fix(make_engine):
    with pytest.raises(ConfigError) as err:
        make_engine(plugins={"enabled": ["demo", "sequences"], "entrypoints": False})
    text = str(err.value)
    assert text.startswith("[plugins] enabled: plugin 'demo' needs \"amazon\"")
    assert 'Add "amazon" to [plugins] enabled in config.toml' in text


def test_the_demo_with_amazon_loads_its_orders(make_engine):
    engine = make_engine(plugins={"enabled": ["amazon", "demo"], "entrypoints": False})
    assert load_demo(engine)["orders"] == 300


def test_a_requirement_loaded_by_its_module_path_counts_under_its_entry_point_name(
    make_engine,
):
    engine = make_engine(plugins={"enabled": ["plugins.amazon", "demo"], "entrypoints": False})
    assert "demo" in engine.sources


def _plugin(requires):
    @hookimpl
    def register_rules(engine):
        return []

    return SimpleNamespace(REQUIRES=requires, register_rules=register_rules)


@pytest.mark.parametrize("requires", ["email", ("amazon", "email")])
def test_a_third_party_plugin_may_require_one_plugin_or_several(make_engine, requires):
    with pytest.raises(ConfigError) as err:
        make_engine(extra_plugins=[("needs_email", _plugin(requires))])
    assert "plugin 'needs_email' needs \"email\", which is not enabled" in str(err.value)


def test_a_satisfied_requirement_loads(make_engine):
    engine = make_engine(extra_plugins=[("needs_amazon", _plugin(("amazon",)))])
    assert engine.pm.get_plugin("needs_amazon") is not None


def test_a_requires_that_is_not_names_is_a_startup_error(make_engine):
    with pytest.raises(ConfigError, match="'odd': REQUIRES must be a tuple of plugin names"):
        make_engine(extra_plugins=[("odd", _plugin(3))])
