-- Nexmark q12.
-- Processing-time windows: bids per bidder per 10 s window.
-- Rewritten: event time instead of processing time (PROCTIME()), so the result is a
-- function of the input.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT B.bidder, COUNT(*) AS bid_count,
  TUMBLE_START(B.dateTime, INTERVAL '10' SECOND) AS starttime,
  TUMBLE_END(B.dateTime, INTERVAL '10' SECOND) AS endtime
FROM bid B
GROUP BY B.bidder, TUMBLE(B.dateTime, INTERVAL '10' SECOND)
