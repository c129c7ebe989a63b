//! The strategies a backtest can run, each a small state machine that reads one bar's close and
//! says whether to enter or leave. Indicator arithmetic reproduces backtrader's bit for bit
//! (its averages are `math.fsum(window) / period`, its smoothing is `prev × (1 − α) + x × α`),
//! because a crossover decided by one ulp would otherwise put a trade on a different day.
//!
//! Rolling sums are kept exactly in 128-bit fixed point (a price's f64 is an integer multiple
//! of 2⁻⁶⁰ when it is at least 2⁻⁸), so each window's sum, rounded once to f64, equals
//! `fsum`'s correctly rounded result; data outside that range falls back to [`fsum`] per window.

use super::fsum::fsum;
use super::series::Bar;

/// A strategy with its parameters, as a request names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Enter when the fast SMA of closes crosses above the slow one, leave on the opposite cross.
    SmaCrossover { fast: usize, slow: usize },
    /// Enter when Wilder's RSI falls below `lower`, leave when it rises above `upper`.
    RsiReversion {
        period: usize,
        lower: f64,
        upper: f64,
    },
    /// Enter on the first bar and hold.
    BuyAndHold,
}

impl Strategy {
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::SmaCrossover { .. } => "sma_crossover",
            Strategy::RsiReversion { .. } => "rsi_reversion",
            Strategy::BuyAndHold => "buy_and_hold",
        }
    }
}

/// What a strategy wants after a bar's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    None,
    Buy,
    Sell,
}

/// A strategy's running state: called once per bar, in order, with whether a position is open.
pub trait Signals {
    fn on_close(&mut self, bars: &[Bar], i: usize, long: bool) -> Signal;
}

/// `2^60`: the fixed-point scale of exact rolling sums.
const SCALE: f64 = (1u64 << 60) as f64;
/// Below this a price's f64 may have bits finer than 2⁻⁶⁰.
const EXACT_MIN: f64 = 1.0 / 256.0;
/// Above this a window's fixed-point sum could overflow i128.
const EXACT_MAX: f64 = 1e15;

/// A simple moving average of closes over `period` bars, `math.fsum(window) / period`.
struct Sma {
    period: usize,
    exact: bool,
    /// The window's sum in units of 2⁻⁶⁰ (exact mode).
    sum: i128,
    /// `1 / (2⁶⁰ × period)`, for the quick estimate.
    inv: f64,
    /// The average (fallback mode).
    value: f64,
}

impl Sma {
    fn new(period: usize, exact: bool) -> Self {
        Self {
            period,
            exact,
            sum: 0,
            inv: 1.0 / (SCALE * period as f64),
            value: 0.0,
        }
    }

    /// Feeds bar `i`; whether `period` closes have been seen.
    #[inline(always)]
    fn push(&mut self, bars: &[Bar], i: usize) -> bool {
        let ready = i + 1 >= self.period;
        if !self.exact {
            if ready {
                let window = &bars[i + 1 - self.period..=i];
                self.value = fsum(window.iter().map(|b| b.close)) / self.period as f64;
            }
            return ready;
        }
        self.sum += fixed(bars[i].close);
        if i >= self.period {
            self.sum -= fixed(bars[i - self.period].close);
        }
        ready
    }

    /// The average exactly as backtrader computes it.
    #[inline(always)]
    fn value(&self) -> f64 {
        if self.exact {
            self.sum as f64 / SCALE / self.period as f64
        } else {
            self.value
        }
    }

    /// The average within a few ulps, cheaply (no 128-bit conversion).
    #[inline(always)]
    fn estimate(&self) -> f64 {
        if self.exact {
            let high = (self.sum >> 64) as i64 as f64 * 18_446_744_073_709_551_616.0;
            (high + self.sum as u64 as f64) * self.inv
        } else {
            self.value
        }
    }
}

/// `x × 2⁶⁰` as an integer, for `x` zero or within [`EXACT_MIN`, `EXACT_MAX`] (where it is
/// exact), by shifting the mantissa: cheaper than a float-to-i128 conversion.
#[inline(always)]
fn fixed(x: f64) -> i128 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    if exponent == 0 {
        return 0;
    }
    let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
    // x = mantissa × 2^(exponent − 1075); x ≥ 2⁻⁸ makes the shift non-negative.
    (mantissa as i128) << (exponent - 1075 + 60)
}

/// Whether every close can be summed exactly in fixed point.
fn exact_range(bars: &[Bar]) -> bool {
    bars.iter()
        .all(|b| b.close == 0.0 || (b.close >= EXACT_MIN && b.close <= EXACT_MAX))
}

/// backtrader's `SMA` × 2 + `CrossOver`: the last non-zero `fast − slow` before this bar was
/// negative (positive) and `fast > slow` (`fast < slow`) on it.
pub struct SmaCrossover {
    fast: Sma,
    slow: Sma,
    /// The sign of the last non-zero difference, seeded with the first one (backtrader's
    /// `NonZeroDifference`).
    nzd: Option<f64>,
}

impl SmaCrossover {
    pub fn new(bars: &[Bar], fast: usize, slow: usize) -> Self {
        let exact = exact_range(bars);
        Self {
            fast: Sma::new(fast, exact),
            slow: Sma::new(slow, exact),
            nzd: None,
        }
    }

    /// A number with the sign of `fast − slow` as backtrader computes them: the estimate when
    /// the averages are clearly apart (its error is ~1e-16 relative), else the exact values.
    #[inline(always)]
    fn difference(&self) -> f64 {
        let (fast, slow) = (self.fast.estimate(), self.slow.estimate());
        let d = fast - slow;
        if d.abs() > 1e-9 * fast.abs().max(slow.abs()) {
            d
        } else {
            self.fast.value() - self.slow.value()
        }
    }
}

impl Signals for SmaCrossover {
    #[inline(always)]
    fn on_close(&mut self, bars: &[Bar], i: usize, long: bool) -> Signal {
        let fast_ready = self.fast.push(bars, i);
        if !(self.slow.push(bars, i) && fast_ready) {
            return Signal::None;
        }
        let d = self.difference();
        let Some(before) = self.nzd else {
            self.nzd = Some(d);
            return Signal::None;
        };
        if d != 0.0 {
            self.nzd = Some(d);
        }
        if !long && before < 0.0 && d > 0.0 {
            Signal::Buy
        } else if long && before > 0.0 && d < 0.0 {
            Signal::Sell
        } else {
            Signal::None
        }
    }
}

/// backtrader's `RSI` (`MovingAverageSmoothed` of up and down closes, 100 when the down
/// average is 0): buy when flat and RSI < lower, sell when long and RSI > upper.
pub struct RsiReversion {
    period: usize,
    lower: f64,
    upper: f64,
    alpha: f64,
    alpha1: f64,
    up: f64,
    down: f64,
}

impl RsiReversion {
    pub fn new(period: usize, lower: f64, upper: f64) -> Self {
        let alpha = 1.0 / period as f64;
        Self {
            period,
            lower,
            upper,
            alpha,
            alpha1: 1.0 - alpha,
            up: 0.0,
            down: 0.0,
        }
    }

    /// The RSI after bar `i`'s close, once `period` changes have been seen.
    #[inline(always)]
    fn rsi(&mut self, bars: &[Bar], i: usize) -> Option<f64> {
        let p = self.period;
        if i < p {
            return None;
        }
        if i == p {
            let changes = bars[..=p].windows(2);
            let up = fsum(changes.clone().map(|w| up_move(w[0].close, w[1].close)));
            let down = fsum(changes.map(|w| up_move(w[1].close, w[0].close)));
            self.up = up / p as f64;
            self.down = down / p as f64;
        } else {
            let (prev, close) = (bars[i - 1].close, bars[i].close);
            self.up = self.up * self.alpha1 + up_move(prev, close) * self.alpha;
            self.down = self.down * self.alpha1 + up_move(close, prev) * self.alpha;
        }
        Some(if self.down == 0.0 {
            100.0
        } else {
            100.0 - 100.0 / (1.0 + self.up / self.down)
        })
    }
}

/// `max(to − from, 0)`.
#[inline(always)]
fn up_move(from: f64, to: f64) -> f64 {
    let d = to - from;
    if d > 0.0 {
        d
    } else {
        0.0
    }
}

impl Signals for RsiReversion {
    #[inline(always)]
    fn on_close(&mut self, bars: &[Bar], i: usize, long: bool) -> Signal {
        match self.rsi(bars, i) {
            Some(rsi) if !long && rsi < self.lower => Signal::Buy,
            Some(rsi) if long && rsi > self.upper => Signal::Sell,
            _ => Signal::None,
        }
    }
}

/// Buys on the first bar's close (filled at the second bar's open), then holds.
pub struct BuyAndHold;

impl Signals for BuyAndHold {
    #[inline(always)]
    fn on_close(&mut self, _bars: &[Bar], i: usize, long: bool) -> Signal {
        if i == 0 && !long {
            Signal::Buy
        } else {
            Signal::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_rolling_sums_agree_with_fsum() {
        let bars: Vec<Bar> = (0..500)
            .map(|i| {
                let close = 100.0 + ((i * 7919) % 1000) as f64 / 100.0 - 3.33;
                Bar::flat(i as i64 * 86_400, close)
            })
            .collect();
        let mut exact = Sma::new(30, true);
        for i in 0..bars.len() {
            if exact.push(&bars, i) {
                let want = fsum(bars[i - 29..=i].iter().map(|b| b.close)) / 30.0;
                assert_eq!(exact.value(), want, "bar {i}");
                assert!((exact.estimate() - want).abs() < 1e-12 * want);
                assert_eq!(fixed(bars[i].close), (bars[i].close * SCALE) as i128);
            }
        }
    }
}
