-- Issue 26: the exit legs of bracket, oco and oto orders. Alpaca answers such an order with its
-- legs (order objects of their own, with their own ids and client order ids); each is recorded
-- as an order of the parent's owner, linked to the parent. A leg reserves nothing in the book
-- (reserve_price stays NULL): the parent's reservation is the whole order's.
ALTER TABLE orders ADD COLUMN parent_id UUID REFERENCES orders (id) ON DELETE CASCADE;
CREATE INDEX orders_parent_idx ON orders (parent_id) WHERE parent_id IS NOT NULL;
