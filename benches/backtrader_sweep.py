#!/usr/bin/env python3
"""backtrader's side of the sweep benchmark (`cargo bench --bench backtest_sweep`): the same
100-combination SMA crossover grid over the same 100,000 daily bars, with `optstrategy` on one
CPU (`maxcpus=1`, as one Raptor worker slot), the broker set up as `golden.py` sets it, and the
analyzers Raptor's metrics correspond to (DrawDown, SQN, daily TimeReturn). Measured once, by
hand; CI never runs it:

    python3 -m venv /tmp/bt && /tmp/bt/bin/pip install backtrader
    /tmp/bt/bin/python benches/backtrader_sweep.py

The bars come from the xorshift walk `benches/backtest_sweep.rs` also uses (integer arithmetic
and IEEE doubles, so both produce the same prices).
"""

import datetime
import math
import time

import backtrader as bt

BARS = 100_000
FAST = list(range(5, 55, 5))  # 10 values
SLOW = list(range(60, 160, 10))  # 10 values: 100 combinations, all valid
MASK = (1 << 64) - 1


def cents(x):
    return math.floor(x * 100.0 + 0.5) / 100.0


def bars(n=BARS):
    state = 0x9E3779B97F4A7C15

    def uniform():
        nonlocal state
        state ^= (state << 13) & MASK
        state ^= state >> 7
        state ^= (state << 17) & MASK
        return (state >> 11) / float(1 << 53)

    price = 100.0
    day = datetime.datetime(1750, 1, 1, 5, 0, 0)
    rows = []
    for _ in range(n):
        o = cents(price * (1.0 + (uniform() - 0.5) * 0.004))
        c = cents(o * (1.0 + (uniform() - 0.5) * 0.03))
        h = cents(max(o, c) * (1.0 + uniform() * 0.01))
        l = cents(min(o, c) * (1.0 - uniform() * 0.01))
        rows.append((day, o, max(h, o, c), min(l, o, c), c))
        price = min(max(c, 20.0), 500.0)
        day += datetime.timedelta(days=1)
    return rows


class Rows(bt.feed.DataBase):
    params = (("rows", None),)

    def start(self):
        super().start()
        self._i = 0

    def _load(self):
        if self._i >= len(self.p.rows):
            return False
        t, o, h, l, c = self.p.rows[self._i]
        self._i += 1
        self.lines.datetime[0] = bt.date2num(t)
        self.lines.open[0], self.lines.high[0], self.lines.low[0], self.lines.close[0] = o, h, l, c
        self.lines.volume[0] = 1000.0
        self.lines.openinterest[0] = 0.0
        return True


class SmaCrossover(bt.Strategy):
    params = (("fast", 10), ("slow", 30))

    def __init__(self):
        fast = bt.ind.SMA(self.data.close, period=self.p.fast)
        slow = bt.ind.SMA(self.data.close, period=self.p.slow)
        self.cross = bt.ind.CrossOver(fast, slow)

    def next(self):
        if not self.position:
            if self.cross[0] > 0:
                self.buy()
        elif self.cross[0] < 0:
            self.close()


def main():
    rows = bars()
    cerebro = bt.Cerebro(stdstats=False, maxcpus=1, optreturn=True)
    cerebro.adddata(Rows(rows=rows, timeframe=bt.TimeFrame.Days))
    cerebro.optstrategy(SmaCrossover, fast=FAST, slow=SLOW)
    cerebro.addsizer(bt.sizers.PercentSizerInt, percents=95)
    cerebro.broker.setcash(100000.0)
    cerebro.broker.setcommission(commission=0.001)
    cerebro.broker.set_slippage_perc(5 / 10000.0, slip_open=True, slip_limit=True, slip_match=True, slip_out=False)
    cerebro.broker.set_checksubmit(False)
    cerebro.addanalyzer(bt.analyzers.DrawDown, _name="drawdown")
    cerebro.addanalyzer(bt.analyzers.SQN, _name="sqn")
    cerebro.addanalyzer(bt.analyzers.TimeReturn, timeframe=bt.TimeFrame.Days, _name="daily")
    start = time.perf_counter()
    results = cerebro.run()
    took = time.perf_counter() - start
    print(f"backtrader optstrategy: {len(results)} combinations over {len(rows)} bars in {took:.1f} s")
    print(f"first close {rows[0][4]}, last close {rows[-1][4]}")


if __name__ == "__main__":
    main()
