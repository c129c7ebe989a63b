-- Alpaca's assets (issue 26 item 5, issue 24 item 8): a copy of `GET /v2/assets` that a worker
-- refreshes daily (job_runs job `asset_refresh`, once across workers), plus the answers of
-- `GET /v2/assets/{symbol}` for a symbol not in the copy, kept a day. Orders are checked
-- against it (asset class, tradable, fractionable) before any broker call.
CREATE TABLE assets (
    symbol         TEXT PRIMARY KEY,           -- as Alpaca spells it: AAPL, BRK.B, BTC/USD
    id             TEXT NOT NULL,              -- Alpaca's asset id
    class          TEXT NOT NULL,              -- us_equity, us_option, crypto
    exchange       TEXT NOT NULL,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,              -- active, inactive
    tradable       BOOLEAN NOT NULL,
    marginable     BOOLEAN NOT NULL,
    shortable      BOOLEAN NOT NULL,
    easy_to_borrow BOOLEAN NOT NULL,
    fractionable   BOOLEAN NOT NULL,
    attributes     TEXT[] NOT NULL DEFAULT '{}',
    -- In the newest daily copy; a row only looked up counts for a day after `fetched_at`.
    listed         BOOLEAN NOT NULL,
    fetched_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX assets_class_status_idx ON assets (class, status);

-- What `GET /v2/assets/{symbol}` answered for a symbol a client asked for: the asset's own
-- symbol (`BTCUSD` is `BTC/USD`), or NULL when Alpaca knows none. Kept a day.
CREATE TABLE asset_lookups (
    asked      TEXT PRIMARY KEY,
    symbol     TEXT,
    fetched_at TIMESTAMPTZ NOT NULL
);

-- Replacements (issue 26 item 1): a replacement's row names the row of the order it replaces;
-- the replaced row names its replacement from the moment the replacement is claimed, so only
-- the replacement counts as open and reserves in the book (unless the broker refuses it, when
-- the link is undone).
ALTER TABLE orders ADD COLUMN replaces UUID, ADD COLUMN replaced_by UUID;

-- Alpaca's trading calendar (issue 26 item 6), fetched a month at a time and kept: a month in
-- `market_calendar_months` was asked (its days, holidays left out, are in `market_calendar`).
CREATE TABLE market_calendar (
    date            DATE PRIMARY KEY,
    open            TEXT NOT NULL,
    close           TEXT NOT NULL,
    session_open    TEXT,
    session_close   TEXT,
    settlement_date DATE
);
CREATE TABLE market_calendar_months (
    month      DATE PRIMARY KEY,
    fetched_at TIMESTAMPTZ NOT NULL
);
