"""Frame sampling and text ranges on plain data: which frames are read, how readings merge."""

from __future__ import annotations

import pytest

from docframe.connectors.media.frames import (
    ChangeDetector,
    Reading,
    difference,
    merge_ranges,
    same_text,
)

np = pytest.importorskip("numpy")


def picture(seed: int | None = None, value: int = 255) -> np.ndarray:
    """A 256x144 grey copy: plain, or random (a film in motion) with a seed."""
    if seed is None:
        return np.full((144, 256), value, np.uint8)
    return np.random.default_rng(seed).integers(0, 256, (144, 256), dtype=np.uint8)


def with_text(rows: slice) -> np.ndarray:
    """A white slide with a dark band where a line of text is."""
    image = picture()
    image[rows, 32:224] = 40
    return image


def run(detector: ChangeDetector, frames: list[tuple[float, np.ndarray]]) -> list[tuple]:
    out = []
    for t, small in frames:
        sample = detector.offer(t, small)
        if sample is not None:
            out.append((t, *sample))
    return out


def test_difference_counts_pixels_that_moved_past_noise():
    a = np.full((36, 64), 255, np.uint8)
    b = a.copy()
    b[0, :10] = 255 - 10  # compression noise: under the noise level
    assert difference(a, b) == 0.0
    b[1, :23] = 0  # 23 of 2304 pixels really changed
    assert difference(a, b) == pytest.approx(23 / 2304)


def test_a_new_line_of_text_is_sampled_once_settled_and_dated_when_it_appeared():
    detector = ChangeDetector(threshold=0.004, interval_s=10.0)
    one, two = with_text(slice(40, 48)), with_text(slice(40, 48))
    two[80:88, 32:160] = 40  # a second line appears at 3.0 s
    frames = [(i / 10, one if i < 30 else two) for i in range(60)]
    assert run(detector, frames) == [(0.0, 0.0, True), (3.1, 3.0, True)]


def test_a_changed_digit_is_a_change_though_the_64x36_copy_hardly_moves():
    detector = ChangeDetector(threshold=0.004, interval_s=10.0)
    before = with_text(slice(40, 48))
    after = before.copy()
    after[40:48, 200:204] = 255  # a digit's worth: 32 pixels of 36864
    frames = [(0.0, before), (1.0, before), (2.0, after), (2.1, after)]
    # read at once: at 64x36 the picture did not move, so it has nothing to settle
    assert run(detector, frames) == [(0.0, 0.0, True), (2.0, 2.0, True)]


def test_a_still_picture_is_read_again_every_interval():
    detector = ChangeDetector(threshold=0.004, interval_s=2.0)
    frames = [(i / 10, picture()) for i in range(51)]
    assert run(detector, frames) == [(0.0, 0.0, True), (2.0, 2.0, False), (4.0, 4.0, False)]


def test_constant_motion_is_sampled_by_the_interval_only():
    detector = ChangeDetector(threshold=0.004, interval_s=2.0)
    frames = [(i / 10, picture(seed=i)) for i in range(51)]
    got = run(detector, frames)
    assert [t for t, _, _ in got] == [0.0, 2.0, 4.0]
    assert got[1][1] == pytest.approx(0.1)  # the picture began to change at the first look
    assert got[1][2] is True


def test_a_flash_that_returns_to_the_sampled_picture_is_not_a_change():
    detector = ChangeDetector(threshold=0.004, interval_s=10.0)
    flash = [(0.0, picture()), (0.1, picture(value=0)), (0.2, picture()), (0.3, picture())]
    assert run(detector, flash) == [(0.0, 0.0, True)]


def test_same_text_allows_case_spacing_and_ocr_jitter():
    assert same_text("Quarterly  Revenue\ngrew 11%", "quarterly revenue grew 11 %")
    assert same_text(
        "Warehouse robots reduce picking errors", "Warehouse robots reduce picklng errors"
    )
    assert not same_text("Agenda", "Agenda\n1. Revenue and margins")
    assert not same_text("Slide 11: revenue by region", "Slide 12: revenue by region")
    assert not same_text("", "Agenda") and same_text("", "  ")


def test_merge_ranges_joins_equal_readings_and_ends_at_the_next_change():
    readings = [
        Reading(0.0, 0.0, "Agenda for today", 90.0, "a.jpg"),
        Reading(2.0, 2.0, "Agenda for tnday", 70.0, "b.jpg", changed=False),  # OCR jitter
        Reading(4.0, 3.5, "", None, "c.jpg"),  # a blank screen from 3.5 s
        Reading(6.2, 6.0, "Budget 2026", 95.5, "d.jpg"),
        Reading(9.0, 9.0, "budget  2026", 94.0, "e.jpg"),  # the same words, new picture
    ]
    got = merge_ranges(readings, end_s=10.0)
    assert [(e.text, e.start_s, e.end_s) for e in got] == [
        ("Agenda for today", 0.0, 3.5),
        ("Budget 2026", 6.0, 10.0),
    ]
    first, second = got
    assert first.metadata == {
        "stream": "screen",
        "frame_s": 0.0,
        "confidence": 90.0,
        "lang": "eng",
        "frames": 2,
        "thumbnail": "a.jpg",
    }
    assert second.metadata["thumbnail"] == "d.jpg" and second.metadata["frame_s"] == 6.2
    assert merge_ranges([], end_s=5.0) == []


def test_a_changed_picture_with_nearly_the_same_words_is_a_new_range():
    readings = [
        Reading(0.0, 0.0, "Pros of option A: cheaper to run", 95.0),
        Reading(5.0, 4.8, "Pros of option B: cheaper to run", 95.0),  # the picture changed
        Reading(15.0, 15.0, "Pros of option B: cheaper to rnn", 90.0, changed=False),
    ]
    got = merge_ranges(readings, end_s=20.0)
    assert [(e.start_s, e.end_s, e.metadata["frames"]) for e in got] == [
        (0.0, 4.8, 1),
        (4.8, 20.0, 2),
    ]
