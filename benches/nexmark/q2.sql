-- Nexmark q2.
-- Selection: the bids on a few auctions.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0
