from __future__ import annotations

import pytest

from txlint.config import ConfigError, config_for_file, config_from_mapping, extended_settings, read_config_file


def test_pyproject_section_is_read_with_dashes_or_underscores(write) -> None:
    root = write(
        {
            "pyproject.toml": """
            [tool.txlint]
            dispatchers = ["core.redis.start_job"]
            atomic-contexts = ["core.db.locked"]
            read_only_databases = ["analytics"]
            extend-select = ["TXL204"]
            strict = true
            """
        }
    )
    config = read_config_file(str(root / "pyproject.toml"))
    assert config is not None
    assert config.settings.dispatchers == {"core.redis.start_job"}
    assert config.settings.atomic_contexts == {"core.db.locked"}
    assert config.settings.read_only_databases == {"analytics"}
    assert config.extend_select == ("TXL204",) and config.strict is True


def test_setup_cfg_section_uses_comma_or_newline_lists(write) -> None:
    root = write({"setup.cfg": "[txlint]\ndispatchers =\n    core.redis.start_job,\n    core.jobs.later\nstrict = false\n"})
    config = read_config_file(str(root / "setup.cfg"))
    assert config is not None and config.settings.dispatchers == {"core.redis.start_job", "core.jobs.later"}


def test_nearest_configuration_wins(write) -> None:
    root = write(
        {
            "pyproject.toml": '[tool.txlint]\ndispatchers = ["outer.f"]\n',
            "inner/pyproject.toml": '[tool.txlint]\ndispatchers = ["inner.f"]\n',
            "inner/app/views.py": "",
            "other/pyproject.toml": "[project]\nname = 'x'\n",
            "other/views.py": "",
        }
    )
    assert config_for_file(str(root / "inner/app/views.py")).settings.dispatchers == {"inner.f"}
    assert config_for_file(str(root / "other/views.py")).settings.dispatchers == {"outer.f"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"dispatcher": []}, "unknown option `dispatcher`"),
        ({"dispatchers": "x"}, None),
        ({"dispatchers": [1]}, "must be a list of strings"),
        ({"strict": "maybe"}, "must be true or false"),
    ],
)
def test_bad_values_are_errors(raw, message) -> None:
    if message is None:
        assert config_from_mapping(raw, "pyproject.toml").settings.dispatchers == {"x"}
        return
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(raw, "pyproject.toml")


def test_invalid_toml_is_an_error(write) -> None:
    root = write({"pyproject.toml": "[tool.txlint\n"})
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_config_file(str(root / "pyproject.toml"))


def test_command_line_names_extend_the_file_settings() -> None:
    settings = config_from_mapping({"dispatchers": ["a.f"]}, "x").settings
    assert extended_settings(settings, dispatchers=("b.g",)).dispatchers == {"a.f", "b.g"}
