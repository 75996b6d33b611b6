-- Nexmark q18.
-- Find the last bid of each bidder on each auction.
-- Rewritten: read at end of input (EMIT FINAL), Flink's final result; corestream's
-- Top-N over an unwindowed input emits then.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT auction, bidder, price, channel, url, dateTime, extra
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rank_number
  FROM bid
)
WHERE rank_number <= 1
EMIT FINAL
