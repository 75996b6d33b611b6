-- Nexmark q7.
-- Highest bid: the bids with the highest price of their 10 s window.
-- Rewritten: TUMBLE_END for Flink's TUMBLE_ROWTIME, which is 1 ms before it, so the
-- bound is shifted by 1 ms to keep Flink's.
CREATE STREAM bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
  dateTime TIMESTAMP, extra VARCHAR)
  WITH (event_time = 'dateTime', watermark = '4s');
SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
FROM bid B
JOIN (
  SELECT MAX(B1.price) AS maxprice, TUMBLE_END(B1.dateTime, INTERVAL '10' SECOND) AS dateTime
  FROM bid B1
  GROUP BY TUMBLE(B1.dateTime, INTERVAL '10' SECOND)
) B1
ON B.price = B1.maxprice
WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10001' MILLISECOND
  AND B1.dateTime - INTERVAL '1' MILLISECOND
