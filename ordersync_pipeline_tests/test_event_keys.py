"""Event keys stay what they were: a replayed sync must find the events earlier versions wrote."""

from __future__ import annotations

import hashlib
import json

import pytest

from ordersync_pipeline.sync.events import state_vector, status_changed_key

VECTORS = [
    (state_vector("paid", {"1": "paid", "2": "paid"}), state_vector("shipped", {"1": "shipped", "2": "shipped"})),
    (state_vector("accepted", {}), state_vector("cancelled", {})),
    (state_vector("paid", {'a"b': "paid"}), state_vector("paid", {"back\\slash\ttab": "returned"})),
    (state_vector("paid", {"réf-ü-€": "paid"}), state_vector("refunded", {"réf-ü-€": "refunded", "\n": "x"})),
]


@pytest.mark.parametrize(("before", "after"), VECTORS)
def test_a_status_change_key_is_the_digest_of_the_json_of_both_vectors(before, after):
    digest = hashlib.sha256(json.dumps([before, after]).encode()).hexdigest()[:24]
    assert status_changed_key(3, "R-1", before, after) == f"3:R-1:OrderStatusChanged:{digest}"
