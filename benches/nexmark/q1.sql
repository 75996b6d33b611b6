-- Nexmark q1.
-- Currency conversion: bid prices in euros.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT auction, bidder, 0.908 * price AS price, dateTime, extra FROM bid
