"""The marketplace lists that must agree: the config's choices, the channel classes, accept-first.

A marketplace added in one place and forgotten in another would be silently skipped (no accept
step, its statuses unknown to the reconciliation, no "waiting for acceptance" list): here it fails.
"""

from __future__ import annotations

from typing import get_args

import pytest

from ordersync import config, reconcile
from ordersync.channels import registry
from ordersync.channels.contract import AcceptFirstChannel, Channel
from tests.fuzz.test_hostile_pages import CHANNELS as SAMPLES


def test_every_list_names_the_same_marketplaces():
    choices = set(get_args(config.Entry.model_fields["marketplace"].annotation))
    assert choices == set(config.CHANNELS) == set(registry.STATUS_WORDS)
    assert set(SAMPLES) == choices  # the hostile-page fuzzing covers every channel
    assert set(config.CHANNEL_COUNTRIES) == choices - {"amazon"}  # Amazon's come from its marketplace table
    assert config.ACCEPT_FIRST == set(registry.ACCEPT_FIRST_CLASSES) == set(registry.WAITING_STATUSES)


@pytest.mark.parametrize("name", sorted(config.CHANNELS))
def test_accept_first_is_what_the_channel_implements(name):
    make_channel, _, make_entry, _ = SAMPLES[name]
    channel, entry = make_channel(), make_entry()
    assert isinstance(channel, Channel)
    assert isinstance(channel, AcceptFirstChannel) is (name in config.ACCEPT_FIRST) is entry.accepts_first
    if entry.accepts_first:
        assert type(channel) is registry.ACCEPT_FIRST_CLASSES[name]
        assert registry.WAITING_STATUSES[name] == channel.waiting_statuses
    else:
        assert name not in registry.WAITING_STATUSES


def test_the_reconciliation_knows_every_status_word():
    words = reconcile._normalised()
    for name, statuses in registry.STATUS_WORDS.items():
        for raw, status in statuses.items():
            assert words[raw] == status.value, (name, raw)
