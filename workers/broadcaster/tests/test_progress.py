import logging

from broadcaster.progress import AT_HEAD_EVERY, CATCH_UP_EVERY, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_catching_up_logs_position_speed_and_time_left_every_few_seconds(caplog):
    clock = Clock()
    progress = Progress(clock)
    with caplog.at_level(logging.INFO):
        for num in range(1000, 1080):
            clock.now += CATCH_UP_EVERY / 40  # 80 blocks in two intervals
            progress.block_done(num, 10, target=10_000)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0] == (
        "catching up: block 1039 of 10000 (8961 behind), 8 blocks/s, 80 ops/s, about 18 min left"
    )


def test_at_the_head_it_logs_once_a_minute_not_per_block(caplog):
    clock = Clock()
    progress = Progress(clock)
    with caplog.at_level(logging.INFO):
        for num in range(1, 41):  # 40 blocks, 3 s apart: two minutes
            clock.now += 3.0
            progress.block_done(num, 5, target=num)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"at the head: block 20, 20 blocks and 100 operations in the last {int(AT_HEAD_EVERY)} s",
        f"at the head: block 40, 20 blocks and 100 operations in the last {int(AT_HEAD_EVERY)} s",
    ]
