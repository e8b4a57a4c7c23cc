"""The scaling model (``benchmarks/scale_model.py``) that stands in for what cannot run on this
box: it agrees with this box's measurements before it is trusted beyond them, keeps a striped
cap exact, and shows what striping buys when the pool row is the limit."""

from __future__ import annotations

from benchmarks.scale_model import CLIENT_MS, Machine, Model, capacity


def test_the_model_of_this_box_predicts_the_measured_capacity_within_a_quarter() -> None:
    box = Machine(app_cores=2, db_cores=2, shared=True, client_ms=CLIENT_MS)
    predicted = capacity(box, seed=3, seconds=3.0)
    assert 300 <= predicted <= 500  # measured ~400 orders/s closed loop, quiet box


def test_a_striped_pool_sells_exactly_its_cap_and_refuses_everyone_else() -> None:
    model = Model(Machine(app_cores=16, db_cores=16), [250] * 4, seed=5)
    out = model.run(rate=5_000, seconds=1.0)
    assert out.accepted == 1_000
    assert out.accepted + out.refused == out.offered
    assert model.left == [0, 0, 0, 0]


def test_striping_sells_out_faster_only_while_the_row_is_the_limit() -> None:
    def sell_out(stripes: int, db_cores: int) -> float:
        share = [2_000 // stripes] * stripes
        model = Model(Machine(app_cores=64, db_cores=db_cores), share, seed=7)
        return model.run(rate=20_000, seconds=0.5).last_accept

    # many database cores: one row is the limit, eight stripes sell out much faster
    assert sell_out(8, db_cores=64) < sell_out(1, db_cores=64) / 2
    # two database cores: the CPU is the limit, and stripes barely help
    assert sell_out(8, db_cores=2) > sell_out(1, db_cores=2) * 0.8
