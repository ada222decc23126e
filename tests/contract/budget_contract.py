"""The BudgetStore contract: at most ``limit`` takes per key in any window, across threads.

Subclass ``BudgetContract`` and provide a ``budget`` fixture returning a fresh store.
"""

from __future__ import annotations

import threading

from acrsync.ports import BudgetStore


class BudgetContract:
    def test_takes_up_to_the_limit_then_says_how_long_to_wait(self, budget: BudgetStore) -> None:
        # GIVEN a budget of 3 per 10 s
        waits = [budget.take("acr", limit=3, window_s=10.0, now=100.0 + i) for i in range(4)]
        # THEN three are taken and the fourth waits until the first token returns (t=110)
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert abs(waits[3] - 7.0) < 1e-6

    def test_a_token_comes_back_one_window_after_it_was_spent(self, budget: BudgetStore) -> None:
        for _ in range(2):
            assert budget.take("k", limit=2, window_s=60.0, now=0.0) == 0.0
        assert budget.take("k", limit=2, window_s=60.0, now=59.0) > 0.0
        assert budget.take("k", limit=2, window_s=60.0, now=60.0) == 0.0

    def test_a_batch_is_taken_whole_or_not_at_all(self, budget: BudgetStore) -> None:
        # GIVEN 5 per 10 s, 3 spent at t=0 and t=1
        assert budget.take("b", limit=5, window_s=10.0, now=0.0, count=2) == 0.0
        assert budget.take("b", limit=5, window_s=10.0, now=1.0) == 0.0
        # WHEN 3 more are asked for, only 2 are free: nothing is spent, and the wait is until t=10
        assert abs(budget.take("b", limit=5, window_s=10.0, now=2.0, count=3) - 8.0) < 1e-6
        # THEN the 2 free tokens are still there
        assert budget.take("b", limit=5, window_s=10.0, now=2.0, count=2) == 0.0
        assert budget.take("b", limit=5, window_s=10.0, now=2.0) > 0.0

    def test_keys_have_independent_budgets(self, budget: BudgetStore) -> None:
        assert budget.take("a", limit=1, window_s=60.0, now=0.0) == 0.0
        assert budget.take("b", limit=1, window_s=60.0, now=0.0) == 0.0
        assert budget.take("a", limit=1, window_s=60.0, now=1.0) > 0.0

    def test_concurrent_takers_never_exceed_the_limit(self, budget: BudgetStore) -> None:
        # GIVEN 8 threads each trying 10 takes within one window of a budget of 20
        taken: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def worker() -> None:
            barrier.wait()
            for _ in range(10):
                if budget.take("dingtalk", limit=20, window_s=60.0, now=500.0) == 0.0:
                    with lock:
                        taken.append(1)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # THEN exactly the budget was spent, no more
        assert len(taken) == 20
