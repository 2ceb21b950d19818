"""Workers map in the items' order, fork where they can, and leave nothing behind."""

from __future__ import annotations

import os

import pytest

from txlint import parallel
from txlint.parallel import Workers


def square(number: int) -> int:
    return number * number


def squares_of_two(number: int) -> int:
    """A worker that maps in turn."""
    with Workers(2) as workers:
        return sum(workers.map(square, [number, number + 1]))


def fails_on_three(number: int) -> int:
    if number == 3:
        raise ValueError(number)
    return number


@pytest.mark.parametrize("forks", [True, False])
def test_results_come_in_the_items_order(monkeypatch, forks: bool) -> None:
    monkeypatch.setattr(parallel, "FORKS", forks)
    with Workers(2) as workers:
        assert workers.map(square, list(range(40))) == [number * number for number in range(40)]


def test_the_first_map_is_inherited_and_the_next_ones_are_sent_to_the_same_workers() -> None:
    offset = 1000
    with Workers(2) as workers:
        # A closure cannot be pickled: the forked workers inherit it.
        first = workers.map(lambda number: (number + offset, os.getpid()), list(range(20)))
        second = workers.map(pid_of, list(range(20)))
    assert [value for value, _ in first] == list(range(1000, 1020))
    assert set(second) <= {pid for _, pid in first} and os.getpid() not in second


def pid_of(number: int) -> int:
    return os.getpid()


def test_a_worker_that_maps_in_turn_gets_its_own_work_back() -> None:
    with Workers(2) as workers:
        assert workers.map(squares_of_two, list(range(6))) == [n * n + (n + 1) * (n + 1) for n in range(6)]
    assert parallel._shared is None


def test_an_error_in_a_worker_reaches_the_caller_and_the_work_is_let_go() -> None:
    with pytest.raises(ValueError), Workers(2) as workers:
        workers.map(fails_on_three, list(range(8)))
    assert parallel._shared is None


def test_one_job_or_one_item_runs_here() -> None:
    assert Workers(1).map(square, [1, 2, 3]) == [1, 4, 9]
    assert Workers(4).map(squares_of_two, [2]) == [13]
