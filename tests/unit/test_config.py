"""Config validation: good files load, bad ones name the file, the entry and the key."""

from __future__ import annotations

import pytest

from ordersync.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "marketplaces.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads():
    config = load_config()
    it = config.entry("amazon_it")
    assert it.dag_id == "ordersync_amazon_it"
    assert it.conn_id == "amazon_eu" and it.shipped_status == "shipped"
    assert it.carrier_map["brt"] == "BRT"


def test_defaults_apply_and_entries_override(tmp_path):
    path = write(
        tmp_path,
        """
defaults: {overlap_minutes: 45, conn_id: amazon_eu}
entries:
  - {marketplace: amazon, country: it}
  - {marketplace: amazon, country: FR, overlap_minutes: 10, name: outlet}
""",
    )
    config = load_config(path)
    assert [e.key for e in config.entries] == ["amazon_it", "amazon_fr_outlet"]
    assert config.entries[0].overlap_minutes == 45 and config.entries[0].country == "IT"
    assert config.entries[1].overlap_minutes == 10


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  - {marketplace: amazon, country: IT, conn_id: c, schedul: x}", ["entry #1 (amazon_it)", "'schedul'", "unknown key"]),
        ("  - {marketplace: amazon, country: XX, conn_id: c}", ["entry #1 (amazon_xx)", "'country'", "unknown country"]),
        ("  - {marketplace: amazon, country: IT}", ["'conn_id'", "Field required"]),
        ("  - {marketplace: ebay, country: IT, conn_id: c}", ["'marketplace'", "amazon"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, schedule: 'every hour'}", ["'schedule'", "cron"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, page_size: 500}", ["'page_size'", "100"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, fba_extra_days: -1}", ["'fba_extra_days'", "0"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, onboarding: all}", ["'onboarding'", "unshipped"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, retry_delay: soon}", ["'retry_delay'", "'30s'"]),
        ("  - {marketplace: amazon, country: IT, conn_id: c, retries: -1}", ["'retries'", "0"]),
        (
            "  - {marketplace: amazon, country: IT, conn_id: c}\n  - {marketplace: amazon, country: IT, conn_id: d}",
            ["amazon_it", "distinct 'name'"],
        ),
    ],
)
def test_bad_values_name_file_entry_and_key(tmp_path, body, expected):
    path = write(tmp_path, "entries:\n" + body + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, strict=True)
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_inherited_bad_default_is_said_so(tmp_path):
    path = write(tmp_path, "defaults: {overlap_minutes: -1}\nentries:\n  - {marketplace: amazon, country: IT, conn_id: c}\n")
    with pytest.raises(ConfigError, match="inherited from defaults"):
        load_config(path)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "entries: [\n"))
    with pytest.raises(ConfigError, match="unknown top-level key 'entry'"):
        load_config(write(tmp_path, "entry: []\n"))


def test_fba_and_onboarding_defaults(tmp_path):
    path = write(tmp_path, "entries:\n  - {marketplace: amazon, country: IT, conn_id: c, onboarding: none}\n")
    entry = load_config(path).entries[0]
    assert entry.fba_extra_days == 2 and entry.onboarding == "none"
    assert load_config().entry("amazon_it").onboarding == "unshipped"


def test_retries_and_retry_delay(tmp_path):
    from datetime import timedelta

    config = load_config(write(tmp_path, "defaults: {conn_id: c}\nentries:\n  - {marketplace: amazon, country: IT}\n"
                                         "  - {marketplace: amazon, country: FR, retries: 0, retry_delay: 30s}\n"))
    it, fr = config.entries
    assert (it.retries, it.retry_delay) == (2, timedelta(minutes=2))
    assert (fr.retries, fr.retry_delay) == (0, timedelta(seconds=30))


def test_a_bad_entry_is_set_aside_and_the_others_load(tmp_path, monkeypatch):
    path = write(tmp_path, (
        "entries:\n"
        "  - {marketplace: amazon, country: IT, conn_id: c, schedul: x}\n"
        "  - {marketplace: amazon, country: FR, conn_id: c}\n"
        "  - {marketplace: amazon, country: FR, conn_id: d}\n"
    ))
    config = load_config(path, strict=False)
    assert [e.key for e in config.entries] == ["amazon_fr"]
    assert len(config.rejected) == 2
    assert "entry #1 (amazon_it)" in config.rejected[0] and "'schedul'" in config.rejected[0]
    assert "entry #3 (amazon_fr)" in config.rejected[1] and "distinct 'name'" in config.rejected[1]
    with pytest.raises(ConfigError, match="schedul"):
        config.raise_rejected()
    monkeypatch.setenv("ORDERSYNC_STRICT_CONFIG", "1")  # CI: all or nothing
    with pytest.raises(ConfigError, match="entry #1"):
        load_config(path)
