"""Params of the validation DAG: defaults, bounds, overrides, ignore lists. Pure."""

from __future__ import annotations

import pytest
from airflow.sdk import Param

from argo_energy.validation.checks import CHECK_NAMES
from argo_energy.validation.config import PARAM_SPECS, ValidationConfig, config_from_params


def test_defaults_make_the_default_config():
    defaults = {name: spec.default for name, spec in PARAM_SPECS.items()}
    assert config_from_params(defaults, known_checks=CHECK_NAMES) == ValidationConfig()
    assert config_from_params({}, known_checks=CHECK_NAMES) == ValidationConfig()


def test_every_default_is_valid_for_its_param_schema():
    for name, spec in PARAM_SPECS.items():
        Param(spec.default, **spec.schema()).resolve()  # raises on a default its schema refuses
        assert name in ValidationConfig.__dataclass_fields__


def test_bad_values_are_all_named():
    with pytest.raises(ValueError, match="invalid validation params") as err:
        config_from_params(
            {"lookback_days": 0, "freshness_hours": "soon", "self_heal": "yes", "ignore_channel_ids": ["x"],
             "severity_overrides": {"nope": "warn", "flatline": "fatal"}},
            known_checks=CHECK_NAMES,
        )
    message = str(err.value)
    for fragment in ("lookback_days must be >= 1", "freshness_hours must be a number", "self_heal must be true",
                     "ignore_channel_ids contains 'x'", "unknown check 'nope'", "severity_overrides['flatline']"):
        assert fragment in message, message


def test_overrides_and_ignored_channels():
    cfg = config_from_params(
        {"severity_overrides": {"flatline": "error"}, "ignore_channel_ids": ["7", 3, 7]},
        known_checks=CHECK_NAMES, extra_ignored=(11,),
    )
    assert cfg.severity("flatline", "warn") == "error"
    assert cfg.severity("freshness", "error") == "error"
    assert cfg.ignore_channel_ids == (3, 7, 11)
