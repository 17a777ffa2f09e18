"""``presence_masks``: the usage_presence blocks and bits select exactly the days of a range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dream.analytics.filters import EARLIEST, LATEST, presence_masks

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def selected_days(masks: dict[str, int]) -> set[int]:
    """Every day the masks select, as days since 1970-01-01 (what the SQL test computes)."""
    days = set()
    for block in range(masks["block_from"], masks["block_to"] + 1):
        mask = -1
        if block == masks["block_from"]:
            mask &= masks["first_mask"]
        if block == masks["block_to"]:
            mask &= masks["last_mask"]
        assert -(1 << 63) <= mask < 1 << 63  # fits a bigint
        days.update(block * 64 + bit for bit in range(64) if mask & (1 << bit))
    return days


@given(st.integers(-3000, 3000), st.integers(0, 400))
def test_masks_select_exactly_the_days_of_the_range(start: int, length: int) -> None:
    day_from = EPOCH + timedelta(days=20_000 + start)
    day_to = day_from + timedelta(days=length)
    first = (day_from - EPOCH).days
    assert selected_days(presence_masks(day_from, day_to)) == set(range(first, first + length))


def test_open_ranges_and_days_before_1970() -> None:
    masks = presence_masks(EARLIEST, LATEST)
    first, last = (EARLIEST - EPOCH).days, (LATEST - EPOCH).days - 1
    assert (masks["block_from"], masks["block_to"]) == (first // 64, last // 64)
    low = masks["first_mask"] & -masks["first_mask"]  # its lowest set bit
    assert low.bit_length() - 1 == first % 64
    assert (masks["last_mask"] % (1 << 64)).bit_length() - 1 == last % 64
    before = presence_masks(EPOCH - timedelta(days=65), EPOCH - timedelta(days=63))
    assert selected_days(before) == {-65, -64}
