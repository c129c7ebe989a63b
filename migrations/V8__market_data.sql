-- Historical bars from Alpaca's Market Data API (issue: market data), shared by every dyno so a
-- range fetched once is served from here. Only bars whose period has closed are stored. `raw`
-- is the bar object exactly as Alpaca sent it (passed through unchanged); the numeric columns
-- serve computation (backtests).
CREATE TABLE market_bars (
    symbol     TEXT NOT NULL,
    timeframe  TEXT NOT NULL,
    adjustment TEXT NOT NULL,
    feed       TEXT NOT NULL,
    t          TIMESTAMPTZ NOT NULL,
    o          DOUBLE PRECISION NOT NULL,
    h          DOUBLE PRECISION NOT NULL,
    l          DOUBLE PRECISION NOT NULL,
    c          DOUBLE PRECISION NOT NULL,
    v          DOUBLE PRECISION NOT NULL,
    n          BIGINT,
    vw         DOUBLE PRECISION,
    raw        TEXT NOT NULL,
    fetched_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (symbol, timeframe, adjustment, feed, t)
);

-- Which ranges have been fetched in full: a bar missing inside a covered range does not exist
-- at Alpaca (a holiday, a halt), so it is not asked for again.
CREATE TABLE market_bar_coverage (
    id           BIGSERIAL PRIMARY KEY,
    symbol       TEXT NOT NULL,
    timeframe    TEXT NOT NULL,
    adjustment   TEXT NOT NULL,
    feed         TEXT NOT NULL,
    covered_from TIMESTAMPTZ NOT NULL,
    covered_to   TIMESTAMPTZ NOT NULL,
    fetched_at   TIMESTAMPTZ NOT NULL,
    CHECK (covered_from <= covered_to)
);
CREATE INDEX market_bar_coverage_key_idx
    ON market_bar_coverage (symbol, timeframe, adjustment, feed, covered_from);
